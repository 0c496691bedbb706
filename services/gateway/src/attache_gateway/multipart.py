"""Large files: S3 multipart upload with presigned part URLs.

start → sign parts (as often as needed) → the client PUTs each part straight to S3 →
complete, which checks the parts (all there, each of its size, so the object is the
declared size), has S3 assemble them, then verifies and registers the object exactly
like a confirm (uploads.verify_and_register). Listing the parts lets a restarted
client resume; abort drops the upload. The upload id is the session id and the
attachment id, so a repeated complete returns the same attachment.

Expired sessions are aborted in S3 and deleted by the sweeper, which also aborts S3
multipart uploads no pending session owns (abort_orphaned_uploads).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from attache_core import filenames
from attache_core.auth import Principal
from attache_core.errors import Conflict, InvalidInput, NotFound
from attache_core.s3 import BlobStore
from attache_gateway import multipart_repository as mrepo
from attache_gateway import multipart_storage as storage
from attache_gateway import uploads
from attache_gateway.catalog_client import CatalogClient
from attache_gateway.domain import Attachment
from attache_gateway.multipart_domain import (
    CompleteRequest,
    MultipartStartRequest,
    MultipartUpload,
    MultipartUploadState,
    PartUrl,
    PartUrls,
    PartUrlsRequest,
    UploadedPart,
    choose_parts,
    current_parts,
    expected_part_size,
    missing_part_numbers,
    part_count,
    plan_part_size,
)
from attache_gateway.settings import GatewaySettings

log = structlog.get_logger("attache.gateway.multipart")


@dataclass(frozen=True)
class MultipartContext:
    settings: GatewaySettings
    pool: asyncpg.Pool
    blobs: BlobStore
    catalog: CatalogClient


async def _owned_session(
    conn: asyncpg.Connection | asyncpg.Pool,
    principal: Principal,
    customer_id: uuid.UUID,
    upload_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> asyncpg.Record:
    """The caller's multipart session of this customer; anything else is not found."""
    principal.require_customer_access(str(customer_id))
    lookup = mrepo.get_multipart_session_for_update if for_update else mrepo.get_multipart_session
    session = await lookup(conn, principal.org_id, upload_id)
    if session is None or session["customer_id"] != customer_id:
        raise NotFound("Upload not found")
    return session


def _require_open(session: asyncpg.Record, now: datetime) -> None:
    """Parts may be signed and the upload completed only while it is pending."""
    status = session["status"]
    if status == "confirmed":
        raise Conflict("The upload is already complete")
    if status == "aborted":
        raise Conflict("The upload was aborted; start a new one")
    if status == "rejected":
        raise uploads.UploadRejected(f"Upload was rejected: {session['reject_reason']}")
    if session["expires_at"] <= now:
        raise uploads.UploadExpired("Upload expired; start a new one")


async def start_upload(
    ctx: MultipartContext,
    principal: Principal,
    authorization: str,
    customer_id: uuid.UUID,
    req: MultipartStartRequest,
) -> MultipartUpload:
    principal.require_customer_access(str(customer_id))
    content_type = uploads.check_allowed(ctx.settings, req.content_type)
    if req.size > ctx.settings.multipart_max_upload_bytes:
        raise InvalidInput(
            "Invalid parameters",
            details={"size": f"Must be at most {ctx.settings.multipart_max_upload_bytes} bytes"},
        )
    filename = filenames.display_name(req.filename)
    await ctx.catalog.ensure_customer(authorization, principal.org_id, customer_id)

    session_id = uuid.uuid4()
    bucket = ctx.settings.s3_bucket
    key = uploads._object_key(principal.org_id, customer_id, session_id, filename)
    part_size = plan_part_size(req.size, ctx.settings.multipart_part_size_bytes)
    expires_at = datetime.now(UTC) + timedelta(seconds=ctx.settings.multipart_expiry_seconds)
    s3_upload_id = await storage.create_upload(ctx.blobs, bucket, key, content_type)
    try:
        await mrepo.insert_multipart_session(
            ctx.pool,
            session_id=session_id,
            org_id=principal.org_id,
            customer_id=customer_id,
            created_by=principal.sub,
            bucket=bucket,
            object_key=key,
            filename=filename,
            content_type=content_type,
            declared_size=req.size,
            s3_upload_id=s3_upload_id,
            part_size=part_size,
            expires_at=expires_at,
        )
    except BaseException:
        # Without its session nobody could finish it; the sweeper would abort it later.
        with contextlib.suppress(Exception):
            await storage.abort_upload(ctx.blobs, bucket, key, s3_upload_id)
        raise
    log.info("multipart_started", session_id=str(session_id), size=req.size, part_size=part_size)
    return MultipartUpload(
        upload_id=session_id,
        object_key=key,
        part_size=part_size,
        part_count=part_count(req.size, part_size),
        expires_at=expires_at,
    )


async def sign_parts(
    ctx: MultipartContext,
    principal: Principal,
    customer_id: uuid.UUID,
    upload_id: uuid.UUID,
    req: PartUrlsRequest,
) -> PartUrls:
    session = await _owned_session(ctx.pool, principal, customer_id, upload_id)
    now = datetime.now(UTC)
    _require_open(session, now)
    size, part_size = session["declared_size"], session["part_size"]
    count = part_count(size, part_size)
    numbers = list(dict.fromkeys(req.part_numbers))
    if any(n > count for n in numbers):
        raise InvalidInput(
            "Invalid parameters",
            details={"part_numbers": f"This upload has parts 1 to {count}"},
        )
    # Short-lived URLs, never outliving the upload itself.
    ttl = min(
        ctx.settings.upload_url_ttl_seconds, int((session["expires_at"] - now).total_seconds())
    )
    if ttl < 1:
        raise uploads.UploadExpired("Upload expired; start a new one")
    presign = ctx.blobs.presigner.presign_upload_part
    parts = [
        PartUrl(
            part_number=n,
            url=presign(
                session["bucket"],
                session["object_key"],
                upload_id=session["s3_upload_id"],
                part_number=n,
                expires_in=ttl,
                now=now,
            ),
            size=expected_part_size(size, part_size, n),
        )
        for n in numbers
    ]
    return PartUrls(upload_id=upload_id, parts=parts, expires_at=now + timedelta(seconds=ttl))


async def describe_upload(
    ctx: MultipartContext, principal: Principal, customer_id: uuid.UUID, upload_id: uuid.UUID
) -> MultipartUploadState:
    """The upload's state and the parts S3 holds, for a client resuming after a restart."""
    session = await _owned_session(ctx.pool, principal, customer_id, upload_id)
    size, part_size = session["declared_size"], session["part_size"]
    status = session["status"]
    current = {}
    missing: list[int] = []
    if status == "pending" and session["expires_at"] <= datetime.now(UTC):
        status = "expired"
    elif status == "pending":
        stored = await storage.list_parts(
            ctx.blobs, session["bucket"], session["object_key"], session["s3_upload_id"]
        )
        # None: S3 has forgotten the upload, e.g. an earlier complete assembled it and then
        # failed. Nothing can be uploaded any more; complete finishes it (or says it's gone).
        if stored is not None:
            current = current_parts(stored, size, part_size)
            missing = missing_part_numbers(current, size, part_size)
    return MultipartUploadState(
        upload_id=upload_id,
        object_key=session["object_key"],
        status=status,
        size=size,
        part_size=part_size,
        part_count=part_count(size, part_size),
        expires_at=session["expires_at"],
        parts=[
            UploadedPart(part_number=p.number, size=p.size, etag=p.etag) for p in current.values()
        ],
        missing_part_numbers=missing,
    )


async def complete_upload(
    ctx: MultipartContext,
    principal: Principal,
    authorization: str,
    customer_id: uuid.UUID,
    upload_id: uuid.UUID,
    req: CompleteRequest,
) -> tuple[Attachment, bool]:
    """Assemble, verify and register the upload. Returns (attachment, newly_completed)."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        session = await _owned_session(conn, principal, customer_id, upload_id, for_update=True)
        if session["status"] == "confirmed":
            return await uploads.register_again(ctx.catalog, authorization, session), False
        _require_open(session, datetime.now(UTC))
        bucket, key = session["bucket"], session["object_key"]
        s3_upload_id = session["s3_upload_id"]

        stored = await storage.list_parts(ctx.blobs, bucket, key, s3_upload_id)
        if stored is not None:
            parts = choose_parts(
                stored,
                size=session["declared_size"],
                part_size=session["part_size"],
                requested=req.parts,
            )
            assembled = await storage.complete_upload(ctx.blobs, bucket, key, s3_upload_id, parts)
        else:
            assembled = False
        # S3 forgets an upload once it is assembled: if an earlier complete got that far and
        # then failed, the object is there (only this gateway can complete: clients hold
        # part URLs only) and goes through the checks below like a fresh one.
        if not assembled and await ctx.blobs.head(bucket, key) is None:
            raise Conflict("The upload no longer exists in object storage; start a new one")
        registered, rejection = await uploads.verify_and_register(
            conn, ctx.blobs, ctx.catalog, authorization, session
        )
    # Raised after the commit, so the rejection itself is recorded.
    if rejection is not None:
        raise uploads.UploadRejected(f"Upload rejected: {rejection}")
    log.info("multipart_completed", session_id=str(upload_id))
    return Attachment.model_validate(registered), True


async def abort_upload(
    ctx: MultipartContext, principal: Principal, customer_id: uuid.UUID, upload_id: uuid.UUID
) -> None:
    """Drop the upload and whatever S3 holds of it. Repeating it is harmless."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        session = await _owned_session(conn, principal, customer_id, upload_id, for_update=True)
        if session["status"] == "confirmed":
            raise Conflict("The upload is complete; it is an attachment now")
        if session["status"] != "pending":
            return  # aborted already, or rejected (its object deleted then)
        bucket, key = session["bucket"], session["object_key"]
        await storage.abort_upload(ctx.blobs, bucket, key, session["s3_upload_id"])
        # An earlier complete may have assembled the object before failing: it goes too.
        await ctx.blobs.delete(bucket, key)
        await mrepo.mark_aborted(conn, session["id"])
    log.info("multipart_aborted", session_id=str(upload_id))


async def abort_orphaned_uploads(
    pool: asyncpg.Pool, blobs: BlobStore, bucket: str, *, older_than: timedelta
) -> int:
    """Abort the bucket's S3 multipart uploads that started before `older_than` ago and that
    no pending session owns: a start that failed half-way, parts that raced an abort, or
    uploads of any other writer left behind. Pending sessions are the expiry sweep's.

    Replica-safe: one replica scans at a time (an advisory lock; the others skip the round),
    and an abort is idempotent anyway. Returns how many uploads were aborted.
    """
    cutoff = datetime.now(UTC) - older_than
    aborted = 0
    async with pool.acquire() as conn, conn.transaction():
        if not await mrepo.try_lock_orphan_scan(conn):
            return 0
        async for page in storage.list_uploads(blobs, bucket):
            # SeaweedFS reports Initiated in whole seconds (the time of CreateMultipartUpload).
            stale = [u for u in page if u.initiated < cutoff]
            if not stale:
                continue
            owned = await mrepo.pending_upload_ids(conn, [u.upload_id for u in stale])
            for upload in stale:
                if upload.upload_id not in owned:
                    await storage.abort_upload(blobs, bucket, upload.key, upload.upload_id)
                    aborted += 1
    return aborted
