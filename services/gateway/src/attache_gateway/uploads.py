"""Upload use cases: presign an upload, confirm it.

The attachment id is the upload session's id, so every confirm of one upload
registers the same attachment (the catalog ignores a repeat with that id).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from attache_core import filenames, sniffing
from attache_core.auth import Principal
from attache_core.batching import BatchWriter
from attache_core.errors import (
    AttacheError,
    InvalidInput,
    NotFound,
    Unprocessable,
    UnsupportedMediaType,
)
from attache_core.ids import new_uuid_text
from attache_core.s3 import BlobStore
from attache_gateway import repository as repo
from attache_gateway.catalog_client import CatalogClient
from attache_gateway.domain import Attachment, ConfirmRequest, PresignRequest, PresignResponse
from attache_gateway.settings import GatewaySettings

log = structlog.get_logger("attache.gateway.uploads")


class UploadExpired(AttacheError):
    status = 410
    code = "upload_expired"


class UploadRejected(Unprocessable):
    code = "upload_rejected"


@dataclass(frozen=True)
class UploadContext:
    settings: GatewaySettings
    pool: asyncpg.Pool
    blobs: BlobStore
    catalog: CatalogClient
    # Presign's session inserts, group-committed (the presign hot path).
    session_writer: BatchWriter[repo.NewSession]

    # Built once: timedelta(seconds=...) is dear enough to show on the presign hot path.
    @functools.cached_property
    def url_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.upload_url_ttl_seconds)

    @functools.cached_property
    def session_ttl(self) -> timedelta:
        """How long a presigned session waits for its confirm: the URL's life and a grace."""
        settings = self.settings
        return timedelta(seconds=settings.upload_url_ttl_seconds + settings.confirm_grace_seconds)


@functools.lru_cache(maxsize=4096)
def _org_key_component(org_id: str) -> str:
    return filenames.key_component(org_id, limit=64)  # the same few orgs, over and over


def _object_key(
    org_id: str, customer_id: uuid.UUID | str, session_id: uuid.UUID | str, filename: str
) -> str:
    return (
        f"orgs/{_org_key_component(org_id)}/customers/{customer_id}"
        f"/{session_id}/{filenames.key_component(filename)}"
    )


def check_allowed(settings: GatewaySettings, content_type: str) -> str:
    normalised = sniffing.normalise(content_type)
    if normalised not in settings.allowed_content_type_set:
        raise UnsupportedMediaType(
            "Content type not allowed", details={"content_type": f"{content_type} is not accepted"}
        )
    return normalised


async def presign_upload(
    ctx: UploadContext,
    principal: Principal,
    authorization: str,
    customer_id: str,
    req: PresignRequest,
) -> PresignResponse:
    """`customer_id` in its canonical text form (str(UUID)): it is only ever used as text."""
    principal.require_customer_access(customer_id)
    content_type = check_allowed(ctx.settings, req.content_type)
    if req.size > ctx.settings.multipart_threshold_bytes:
        raise InvalidInput(
            f"Files over {ctx.settings.multipart_threshold_bytes} bytes are uploaded in parts: "
            f"POST /v1/customers/{customer_id}/attachments/multipart",
            details={"size": "Too large for one PUT: use the multipart upload"},
        )
    if req.size > ctx.settings.max_upload_bytes:
        raise InvalidInput(
            "Invalid parameters",
            details={"size": f"Must be at most {ctx.settings.max_upload_bytes} bytes"},
        )
    filename = filenames.display_name(req.filename)
    await ctx.catalog.ensure_customer(authorization, principal.org_id, customer_id)

    session_id = new_uuid_text()
    bucket = ctx.settings.s3_bucket
    key = _object_key(principal.org_id, customer_id, session_id, filename)
    now = datetime.now(UTC)
    url = ctx.blobs.presigner.presign_put(
        bucket,
        key,
        expires_in=ctx.settings.upload_url_ttl_seconds,
        content_type=content_type,
        content_length=req.size,
        content_md5=req.content_md5,
        checksum_sha256=req.checksum_sha256,
        now=now,
    )
    await ctx.session_writer.write(
        repo.NewSession(
            id=session_id,
            org_id=principal.org_id,
            customer_id=customer_id,
            created_by=principal.sub,
            bucket=bucket,
            object_key=key,
            filename=filename,
            content_type=content_type,
            declared_size=req.size,
            checksum_sha256=req.checksum_sha256,
            content_md5=req.content_md5,
            expires_at=now + ctx.session_ttl,
        )
    )
    headers = {"Content-Type": content_type}
    if req.content_md5:
        headers["Content-MD5"] = req.content_md5
    if req.checksum_sha256:
        headers["x-amz-checksum-sha256"] = req.checksum_sha256
    return PresignResponse(url=url, object_key=key, headers=headers, expires_at=now + ctx.url_ttl)


def _registration(
    session: asyncpg.Record,
    *,
    etag: str | None,
    detected: str,
    source: dict[str, Any] | None = None,
) -> dict:
    return {
        "source": source,
        "id": str(session["id"]),
        "customer_id": str(session["customer_id"]),
        "bucket": session["bucket"],
        "object_key": session["object_key"],
        "filename": session["filename"],
        "content_type": session["content_type"],
        "size_bytes": session["declared_size"],
        "etag": etag,
        "checksum_sha256": session["checksum_sha256"],
        "detected_mime_type": detected,
    }


async def register_again(
    catalog: CatalogClient, authorization: str, session: asyncpg.Record
) -> Attachment:
    """A confirmed session's attachment (the catalog ignores the repeat and returns it)."""
    registered = await catalog.register_attachment(
        authorization,
        _registration(session, etag=session["etag"], detected=session["detected_mime_type"]),
    )
    return Attachment.model_validate(registered)


async def verify_and_register(
    conn: asyncpg.Connection,
    blobs: BlobStore,
    catalog: CatalogClient,
    authorization: str,
    session: asyncpg.Record,
    source: dict[str, Any] | None = None,
) -> tuple[dict | None, str | None]:
    """Check the stored object against its (locked, pending) session — size, magic bytes —
    then register it and mark the session confirmed, or delete it and mark the session
    rejected. Returns (registered attachment, None) or (None, rejection reason); the caller
    raises UploadRejected after its transaction commits, so the rejection is recorded.
    """
    probed = await blobs.probe(session["bucket"], session["object_key"], sniffing.SNIFF_BYTES)
    if probed is None:
        raise Unprocessable(
            "The object has not been uploaded yet",
            details={"object_key": "No object at this key"},
        )
    head, prefix = probed
    detected = sniffing.sniff(prefix)
    rejection: str | None = None
    if head.size == 0 or detected == sniffing.EMPTY:
        rejection = "the file is empty"
    elif head.size != session["declared_size"]:
        rejection = f"size {head.size} differs from the declared {session['declared_size']}"
    elif not sniffing.matches_declared(session["content_type"], detected):
        rejection = f"content is {detected}, not the declared {session['content_type']}"

    if rejection is not None:
        await blobs.delete(session["bucket"], session["object_key"])
        await repo.mark_rejected(conn, session["id"], rejection)
        log.info("upload_rejected", session_id=str(session["id"]), reason=rejection)
        return None, rejection
    registered = await catalog.register_attachment(
        authorization, _registration(session, etag=head.etag, detected=detected, source=source)
    )
    await repo.mark_confirmed(conn, session["id"], etag=head.etag, detected_mime_type=detected)
    return registered, None


async def confirm_upload(
    ctx: UploadContext,
    principal: Principal,
    authorization: str,
    customer_id: uuid.UUID,
    req: ConfirmRequest,
) -> tuple[Attachment, bool]:
    """Verify the uploaded object and register it. Returns (attachment, newly_confirmed)."""
    principal.require_customer_access(str(customer_id))
    async with ctx.pool.acquire() as conn, conn.transaction():
        session = await repo.get_session_for_update(
            conn, principal.org_id, ctx.settings.s3_bucket, req.object_key
        )
        if session is None or session["customer_id"] != customer_id:
            raise NotFound("Upload not found")
        if req.content_type and sniffing.normalise(req.content_type) != session["content_type"]:
            raise UploadRejected(
                "Content type differs from the presigned upload",
                details={"content_type": f"Presigned as {session['content_type']}"},
            )
        if session["status"] == "rejected":
            raise UploadRejected(f"Upload was rejected: {session['reject_reason']}")
        if session["status"] == "confirmed":
            return await register_again(ctx.catalog, authorization, session), False
        if session["expires_at"] < datetime.now(UTC):
            raise UploadExpired("Upload expired; request a new upload URL")

        source = (
            req.source.model_dump(mode="json", by_alias=True, exclude_none=True)
            if req.source
            else None
        )
        registered, rejection = await verify_and_register(
            conn, ctx.blobs, ctx.catalog, authorization, session, source
        )
    # Raised after the commit, so the rejection itself is recorded.
    if rejection is not None:
        raise UploadRejected(f"Upload rejected: {rejection}")
    return Attachment.model_validate(registered), True
