"""POST /api/v1/storage/upload: the storage backend's direct upload (seed 001).

Its documented contract: multipart/form-data, an extension allowlist, the key
layout `{customerId}/assets/chat/1/{timestamp}_{uuid8}_{safe_name}` (or just
`{safe_name}` with `force_filename`), and the `ApiResponse` envelope for
success and every error. Deviation: objects stay private, so `url`/`result` are
short-lived presigned GET URLs (or under ATTACHE_PUBLIC_BASE_URL, for a CDN).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from attache_core import filenames
from attache_core.errors import AttacheError, InvalidInput, UnsupportedMediaType
from attache_core.ids import new_uuid
from attache_core.web import json_response
from attache_gateway import files
from attache_gateway.api import api, authenticate
from attache_gateway.files_domain import (
    StorageUploadData,
    StorageUploadForm,
    StorageUploadMeta,
    StorageUploadResponse,
)
from attache_gateway.form_uploads import FileArrival, discard, receive_form
from attache_gateway.keys import BLOBS, CATALOG, SETTINGS
from attache_gateway.streaming import StoredObject

PATH = "/api/v1/storage/upload"
DEFAULT_DISCUSSION_ID = 1  # the seed's constant path segment


def render_envelope_error(err: AttacheError) -> web.Response:
    """Errors of this endpoint in its ApiResponse envelope."""
    body: dict[str, Any] = {
        "code": err.status,
        "success": False,
        "message": err.message,
        "data": None,
        "meta": {"error": err.code, **({"details": err.details} if err.details else {})},
    }
    return json_response(body, status=err.status)


def _json_field(fields: dict[str, str], name: str) -> dict[str, Any]:
    raw = fields.get(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"Invalid JSON in {name}", details={name: "Not valid JSON"}) from exc
    if not isinstance(value, dict):
        raise InvalidInput(f"Invalid JSON in {name}", details={name: "Must be a JSON object"})
    return value


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value or len(value) > 100:
        raise InvalidInput(
            "Invalid parameters", details={name: "Field required (1-100 characters)"}
        )
    return value


def _key(customer_id: uuid.UUID, safe_name: str, force_filename: bool) -> str:
    folder = f"{customer_id}/assets/chat/{DEFAULT_DISCUSSION_ID}"
    if force_filename:
        return f"{folder}/{safe_name}"
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return f"{folder}/{stamp}_{new_uuid().hex[:8]}_{safe_name}"


@api.operation(
    "POST",
    PATH,
    "Upload a file (multipart/form-data) and get its URL, in the ApiResponse envelope",
    request=StorageUploadForm,
    request_content_type="multipart/form-data",
    response=StorageUploadResponse,
    errors=(400, 404, 413, 502),
    tags=("storage",),
)
async def storage_upload(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    ctx = files.FilesContext(request.app[SETTINGS], request.app[BLOBS], request.app[CATALOG])
    placed: dict[str, Any] = {}

    async def store(arrival: FileArrival) -> StoredObject:
        name, ext, expected = files.checked_name(
            arrival.filename, ctx.settings.storage_extension_set
        )
        early = arrival.fields_before
        # The key needs customerId and userInput; when they come after the file, the
        # object waits in the temp bucket and is copied once the form is complete.
        known = "customerId" in early and "userInput" in early
        customer_id = _customer_id(early) if known else None
        force = bool(_json_field(early, "userInput").get("force_filename")) if known else False
        safe = filenames.key_component(name)
        if customer_id is not None:
            bucket, key = ctx.settings.s3_bucket, _key(customer_id, safe, force)
        else:
            bucket, key = ctx.settings.bucket_temp, f"incoming/{new_uuid()}/{safe}"
        placed.update(name=name, ext=ext, expected=expected, safe=safe)
        return await files.store_streamed(ctx, bucket, key, arrival, expected, overwrite=not force)

    try:
        form = await receive_form(
            request, max_file_bytes=ctx.settings.max_file_bytes, store=store, blobs=ctx.blobs
        )
    except UnsupportedMediaType as exc:  # the seed's "unsupported" is a 400
        raise InvalidInput(exc.message, details=exc.details) from exc
    stored = form.stored
    assert stored is not None
    try:
        category = _required(form.fields, "category")
        action = _required(form.fields, "action")
        customer_id = _customer_id(form.fields)
        user_input = _json_field(form.fields, "userInput")
        user_settings = _json_field(form.fields, "userSettings")
        asset_input = _json_field(form.fields, "assetInput")
        principal.require_customer_access(str(customer_id))
        if stored.bucket == ctx.settings.bucket_temp:
            key = _key(customer_id, placed["safe"], bool(user_input.get("force_filename")))
            stored = await files.relocate(ctx, stored, ctx.settings.s3_bucket, key)
        await ctx.catalog.register_attachment(
            request.headers["Authorization"],
            {
                "id": str(new_uuid()),
                "customer_id": str(customer_id),
                "bucket": stored.bucket,
                "object_key": stored.key,
                "filename": placed["name"],
                "content_type": placed["expected"],
                "size_bytes": stored.size,
                "etag": stored.etag,
                "checksum_sha256": stored.sha256,
                "checksum_md5": stored.md5,
                "detected_mime_type": stored.sniffed_type,
                "file_type": category,
                "metadata": {
                    "category": category,
                    "action": action,
                    "userSettings": user_settings,
                    "assetInput": asset_input,
                },
            },
        )
    except BaseException:
        await discard(ctx.blobs, stored)
        raise
    url, _ = files.download_url(ctx, stored.bucket, stored.key, placed["name"], placed["expected"])
    return json_response(
        StorageUploadResponse(
            data=StorageUploadData(url=url, result=url, filename=stored.key.rsplit("/", 1)[-1]),
            meta=StorageUploadMeta(
                category=category,
                action=action,
                extension=placed["ext"],
                content_type=placed["expected"],
            ),
        )
    )


def _customer_id(fields: dict[str, str]) -> uuid.UUID:
    try:
        return uuid.UUID(fields.get("customerId", "").strip())
    except ValueError as exc:
        raise InvalidInput(
            "Invalid parameters", details={"customerId": "Field required: the customer's id"}
        ) from exc
