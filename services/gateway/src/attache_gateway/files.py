"""The files API (seed 002) and the direct storage upload (seed 001): uploads that
stream through the gateway, downloads it serves itself, deletion, and the sweeper
that deletes files whose `expires_at` has passed.

Every uploaded file is checked by its magic bytes against the extension it came
with and the allowlist before a byte is stored; checksums (MD5, SHA-256) are
computed on the way and kept with the record.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from attache_core import filenames, sniffing
from attache_core.auth import Principal
from attache_core.errors import InvalidInput, NotFound, UnsupportedMediaType, UpstreamFailed
from attache_core.ids import new_uuid
from attache_core.s3 import BlobStore, is_not_found
from attache_gateway.catalog_client import CatalogClient
from attache_gateway.files_domain import Checksums, FileRecord
from attache_gateway.form_uploads import FileArrival, discard, receive_form
from attache_gateway.settings import GatewaySettings
from attache_gateway.streaming import StoredObject, stream_to_s3

log = structlog.get_logger("attache.gateway.files")

# Extensions whose type libmagic can't tell from the bytes (or names differently).
_EXTRA_TYPES = {
    "csv": "text/csv",
    "txt": "text/plain",
    "pcm": "audio/pcm",
    "mpga": "audio/mpeg",
    "m4a": "audio/mp4",
    "opus": "audio/opus",
    "webm": "audio/webm",
    "jpg": "image/jpeg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def type_for_extension(ext: str) -> str:
    return _EXTRA_TYPES.get(ext) or mimetypes.types_map.get(f".{ext}", "application/octet-stream")


@dataclass(frozen=True)
class FilesContext:
    settings: GatewaySettings
    blobs: BlobStore
    catalog: CatalogClient


def checked_name(raw: str | None, allowed_extensions: frozenset[str]) -> tuple[str, str, str]:
    """(display name, extension, expected MIME type), or a 400 naming the problem."""
    name = filenames.display_name(raw or "")
    ext = filenames.extension(name)
    if ext not in allowed_extensions:
        allowed = ", ".join(sorted(allowed_extensions))
        problem = f"'.{ext}' is not accepted" if ext else "The filename has no extension"
        raise InvalidInput(
            "Unsupported file extension", details={"file": f"{problem}; allowed: {allowed}"}
        )
    return name, ext, type_for_extension(ext)


def content_check(expected: str) -> Any:
    """Refuses bytes that are not what the extension says (a .pdf that is HTML, an .exe)."""

    def check(prefix: bytes) -> str:
        sniffed = sniffing.sniff(prefix)
        if not sniffing.matches_declared(expected, sniffed):
            raise UnsupportedMediaType(
                "File content does not match its type",
                details={"file": f"Content is {sniffed}, not {expected}"},
            )
        return sniffed

    return check


async def store_streamed(
    ctx: FilesContext,
    bucket: str,
    key: str,
    arrival: FileArrival,
    expected: str,
    *,
    overwrite: bool = True,
) -> StoredObject:
    return await stream_to_s3(
        ctx.blobs.client,
        bucket,
        key,
        arrival.chunks,
        content_type=expected,
        max_bytes=ctx.settings.max_file_bytes,
        part_bytes=ctx.settings.stream_part_bytes,
        check_prefix=content_check(expected),
        overwrite=overwrite,
    )


async def relocate(ctx: FilesContext, stored: StoredObject, bucket: str, key: str) -> StoredObject:
    """Move an object stored before the form said where it belongs (server-side copy)."""
    if (stored.bucket, stored.key) == (bucket, key):
        return stored
    try:
        await ctx.blobs.client.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": stored.bucket, "Key": stored.key}
        )
    except (ClientError, BotoCoreError) as exc:
        raise UpstreamFailed("Object storage failed while storing the file") from exc
    await discard(ctx.blobs, stored)
    return StoredObject(
        bucket, key, stored.size, stored.md5, stored.sha256, stored.etag, stored.sniffed_type
    )


def download_url(
    ctx: FilesContext, bucket: str, key: str, filename: str, mime: str
) -> tuple[str, datetime]:
    ttl = ctx.settings.download_url_ttl_seconds
    now = datetime.now(UTC)
    if ctx.settings.public_base_url:  # a CDN in front of the bucket serves it
        return f"{ctx.settings.public_base_url.rstrip('/')}/{bucket}/{key}", now + timedelta(
            days=3650
        )
    url = ctx.blobs.presigner.presign_get(
        bucket,
        key,
        expires_in=ttl,
        now=now,
        response_content_disposition=filenames.content_disposition(
            filename, inline=sniffing.inline_safe(mime)
        ),
        response_content_type=mime,
    )
    return url, now + timedelta(seconds=ttl)


def to_file_record(ctx: FilesContext, attachment: dict[str, Any]) -> FileRecord:
    url, url_expires_at = download_url(
        ctx,
        attachment["bucket"],
        attachment["object_key"],
        attachment["filename"],
        attachment["content_type"],
    )
    return FileRecord(
        id=attachment["id"],
        filename=attachment["filename"],
        file_size=attachment["size_bytes"],
        mime_type=attachment["content_type"],
        file_type=attachment.get("file_type"),
        url=url,
        url_expires_at=url_expires_at,
        created_at=attachment["created_at"],
        customer_id=attachment.get("customer_id"),
        ticket_id=attachment.get("ticket_id"),
        service_id=attachment.get("service_id"),
        metadata=attachment.get("metadata") or {},
        expires_at=attachment.get("expires_at"),
        bucket=attachment["bucket"],
        checksums=Checksums(
            md5=attachment.get("checksum_md5"), sha256=attachment.get("checksum_sha256")
        ),
    )


# ---- POST /files/upload ----------------------------------------------------------------


class FileFields(BaseModel):
    """The text fields of a files API upload, validated once the form is complete."""

    model_config = ConfigDict(extra="forbid")

    file_type: str | None = Field(
        default=None, min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$"
    )
    customer_id: uuid.UUID | None = None
    ticket_id: str | None = Field(default=None, min_length=1, max_length=100)
    service_id: str | None = Field(default=None, min_length=1, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)
    expires_at: AwareDatetime | None = None

    @classmethod
    def parse(cls, fields: dict[str, str]) -> FileFields:
        values: dict[str, Any] = {k: v for k, v in fields.items() if v != ""}
        if "metadata" in values:
            try:
                values["metadata"] = json.loads(values["metadata"])
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    "Invalid parameters", details={"metadata": "Not valid JSON"}
                ) from exc
            if not isinstance(values["metadata"], dict):
                raise InvalidInput(
                    "Invalid parameters", details={"metadata": "Must be a JSON object"}
                )
        try:
            parsed = cls.model_validate(values)
        except ValidationError as exc:
            details = {".".join(map(str, e["loc"])) or "form": e["msg"] for e in exc.errors()}
            raise InvalidInput("Invalid parameters", details=details) from exc
        if parsed.expires_at is not None and parsed.expires_at <= datetime.now(UTC):
            raise InvalidInput(
                "Invalid parameters", details={"expires_at": "Must be in the future"}
            )
        return parsed


def bucket_for(settings: GatewaySettings, file_type: str | None, ticket_id: str | None) -> str:
    """Buckets by purpose (seed 002)."""
    if ticket_id:
        return settings.bucket_ticket_media
    if file_type == "csv":
        return settings.bucket_csv_imports
    return settings.s3_bucket


async def upload_file(
    ctx: FilesContext, principal: Principal, authorization: str, request: web.Request
) -> FileRecord:
    file_id = new_uuid()
    name_holder: dict[str, str] = {}

    async def store(arrival: FileArrival) -> StoredObject:
        name, _ext, expected = checked_name(arrival.filename, ctx.settings.file_extension_set)
        name_holder.update(name=name, expected=expected)
        # Stored where the fields seen so far point; moved if later fields disagree.
        early = arrival.fields_before
        bucket = bucket_for(ctx.settings, early.get("file_type"), early.get("ticket_id"))
        return await store_streamed(
            ctx, bucket, _file_key(principal, file_id, name), arrival, expected
        )

    form = await receive_form(
        request, max_file_bytes=ctx.settings.max_file_bytes, store=store, blobs=ctx.blobs
    )
    stored = form.stored
    assert stored is not None
    try:
        fields = FileFields.parse(form.fields)
        customer_id = fields.customer_id
        if customer_id is None and not principal.is_staff:
            customer_id = uuid.UUID(principal.customer_id) if principal.customer_id else None
        if customer_id is not None:
            principal.require_customer_access(str(customer_id))
        stored = await relocate(
            ctx, stored, bucket_for(ctx.settings, fields.file_type, fields.ticket_id), stored.key
        )
        registered = await ctx.catalog.register_attachment(
            authorization,
            {
                "id": str(file_id),
                "customer_id": str(customer_id) if customer_id else None,
                "bucket": stored.bucket,
                "object_key": stored.key,
                "filename": name_holder["name"],
                "content_type": name_holder["expected"],
                "size_bytes": stored.size,
                "etag": stored.etag,
                "checksum_sha256": stored.sha256,
                "checksum_md5": stored.md5,
                "detected_mime_type": stored.sniffed_type,
                "file_type": fields.file_type or _default_file_type(name_holder["expected"]),
                "ticket_id": fields.ticket_id,
                "service_id": fields.service_id,
                "metadata": fields.metadata,
                "expires_at": fields.expires_at.isoformat() if fields.expires_at else None,
            },
        )
    except BaseException:
        await discard(ctx.blobs, stored)
        raise
    log.info("file_uploaded", file_id=str(file_id), size=stored.size, bucket=stored.bucket)
    return to_file_record(ctx, registered)


def _file_key(principal: Principal, file_id: uuid.UUID, name: str) -> str:
    org = filenames.key_component(principal.org_id, limit=64)
    return f"orgs/{org}/files/{file_id}/{filenames.key_component(name)}"


def _default_file_type(mime: str) -> str:
    if mime == "text/csv":
        return "csv"
    if mime.startswith("image/"):
        return "image"
    return "document"


# ---- GET /files/download/{id} ----------------------------------------------------------


async def download_file(
    ctx: FilesContext, authorization: str, file_id: uuid.UUID, request: web.Request
) -> web.StreamResponse:
    attachment = await ctx.catalog.request_json(
        "GET", f"/v1/attachments/{file_id}", authorization=authorization
    )
    params: dict[str, Any] = {"Bucket": attachment["bucket"], "Key": attachment["object_key"]}
    range_header = request.headers.get("Range")
    if range_header:
        params["Range"] = range_header
    try:
        obj = await ctx.blobs.client.get_object(**params)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "InvalidRange":
            return web.Response(
                status=416, headers={"Content-Range": f"bytes */{attachment['size_bytes']}"}
            )
        if is_not_found(exc):
            raise NotFound("File not found") from exc
        raise UpstreamFailed("Object storage request failed") from exc
    except BotoCoreError as exc:
        raise UpstreamFailed("Object storage unavailable") from exc

    partial = "ContentRange" in obj
    response = web.StreamResponse(
        status=206 if partial else 200,
        headers={
            "Content-Type": attachment["content_type"],
            "Content-Disposition": filenames.content_disposition(attachment["filename"]),
            "X-Content-Type-Options": "nosniff",
            "Accept-Ranges": "bytes",
            "ETag": obj.get("ETag") or "",
            "Cache-Control": "private, no-store",
        },
    )
    response.content_length = obj["ContentLength"]
    if partial:
        response.headers["Content-Range"] = obj["ContentRange"]
    body = obj["Body"]
    async with body:
        await response.prepare(request)
        async for chunk in body.iter_chunks(256 * 1024):
            await response.write(chunk)
    await response.write_eof()
    return response


# ---- lists and delete --------------------------------------------------------------------


async def list_files(
    ctx: FilesContext,
    authorization: str,
    *,
    customer_id: uuid.UUID | None = None,
    ticket_id: str | None = None,
    query: dict[str, str],
) -> list[FileRecord]:
    params = {k: v for k, v in query.items() if k in {"limit", "offset"}}
    if customer_id is not None:
        params["customer_id"] = str(customer_id)
    if ticket_id is not None:
        params["ticket_id"] = ticket_id
    items = await ctx.catalog.request_json(
        "GET", "/v1/files", authorization=authorization, params=params
    )
    return [to_file_record(ctx, item) for item in items]


async def delete_file(ctx: FilesContext, authorization: str, file_id: uuid.UUID) -> None:
    """Tombstone (and announce) the record, delete the object, then drop the record.
    If the object can't be deleted now, the tombstone stays and the sweeper retries."""
    due = await ctx.catalog.request_json(
        "DELETE", f"/internal/v1/attachments/{file_id}", authorization=authorization, internal=True
    )
    try:
        await ctx.blobs.delete(due["bucket"], due["object_key"])
    except UpstreamFailed:
        log.warning("file_object_delete_deferred", file_id=str(file_id))
        return
    await ctx.catalog.request_json(
        "POST", "/internal/v1/sweep/purge", internal=True, json_body={"ids": [str(file_id)]}
    )


# ---- the sweeper of due files --------------------------------------------------------------


async def sweep_due_files(
    catalog: CatalogClient,
    blobs: BlobStore,
    *,
    batch: int = 100,
    runs: dict[str, list[int]] | None = None,
) -> int:
    """Delete objects of expired and tombstoned files, then their records. Safe with many
    replicas: the catalog leases each row to one sweeper at a time. `runs` collects
    [deleted, failed] per organisation (recorded as file_cleanup jobs)."""
    purged = 0
    while True:
        due = await catalog.request_json(
            "POST", "/internal/v1/sweep/claim", internal=True, json_body={"limit": batch}
        )
        if not due:
            return purged
        gone = []
        for item in due:
            try:
                await blobs.delete(item["bucket"], item["object_key"])
                gone.append(item["id"])
                if runs is not None:
                    runs.setdefault(item["org_id"], [0, 0])[0] += 1
            except UpstreamFailed:
                log.warning("due_file_delete_failed", file_id=item["id"])
                if runs is not None:
                    runs.setdefault(item["org_id"], [0, 0])[1] += 1
        if gone:
            result = await catalog.request_json(
                "POST", "/internal/v1/sweep/purge", internal=True, json_body={"ids": gone}
            )
            purged += result["purged"]
        if len(due) < batch:
            return purged
