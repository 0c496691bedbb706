"""The attachment library API (seed 004) at its documented paths.

Reads are answered by the catalog (the gateway relays them with the caller's
token); preview and download URLs are signed here, where the S3 credentials are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from attache_core import filenames, sniffing
from attache_core.web import json_response, parse_body
from attache_gateway.api import api, authenticate, path_uuid
from attache_gateway.keys import BLOBS, CATALOG, SETTINGS

_OBJECT = {"type": "object"}
_PREVIEW_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


class PreviewResponse(BaseModel):
    url: str | None
    type: str  # image | pdf | thumbnail | unsupported
    expiresAt: datetime | None


class DownloadResponse(BaseModel):
    url: str
    filename: str
    mimeType: str
    sizeBytes: int
    expiresAt: datetime


@api.operation(
    "GET",
    "/api/attachments",
    "List, search and filter attachments (seed 004)",
    response_schema=_OBJECT,
    errors=(400, 429),
    tags=("library",),
)
async def list_attachments(request: web.Request) -> web.Response:
    await authenticate(request)
    return await request.app[CATALOG].forward(request, "/v1/library/attachments")


@api.operation(
    "GET",
    "/api/attachments/stats",
    "Storage statistics of the organisation",
    response_schema=_OBJECT,
    errors=(404, 429),
    tags=("library",),
)
async def attachment_stats(request: web.Request) -> web.Response:
    await authenticate(request)
    return await request.app[CATALOG].forward(request, "/v1/library/stats")


@api.operation(
    "GET",
    "/api/attachments/smart-filters",
    "Predefined filters with their counts",
    response_schema=_OBJECT,
    errors=(429,),
    tags=("library",),
)
async def smart_filters(request: web.Request) -> web.Response:
    await authenticate(request)
    return await request.app[CATALOG].forward(request, "/v1/library/smart-filters")


class ReprocessRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    priority: int = Field(default=5, ge=1, le=10, description="1 (low) to 10 (urgent)")


class ReprocessAccepted(BaseModel):
    message: str
    jobId: str


@api.operation(
    "GET",
    "/api/attachments/jobs/{job_id}",
    "The state of a reprocessing job",
    response_schema=_OBJECT,
    errors=(404, 429),
    tags=("library",),
)
async def get_reprocess_job(request: web.Request) -> web.Response:
    await authenticate(request)
    job_id = path_uuid(request, "job_id", "Job")
    return await request.app[CATALOG].forward(request, f"/v1/library/jobs/{job_id}")


@api.operation(
    "GET",
    "/api/attachments/{attachment_id}",
    "One attachment",
    response_schema=_OBJECT,
    errors=(404, 429),
    tags=("library",),
)
async def get_attachment(request: web.Request) -> web.Response:
    await authenticate(request)
    attachment_id = path_uuid(request, "attachment_id", "Attachment")
    return await request.app[CATALOG].forward(request, f"/v1/library/attachments/{attachment_id}")


async def _attachment(request: web.Request) -> dict[str, Any]:
    await authenticate(request)
    attachment_id = path_uuid(request, "attachment_id", "Attachment")
    found = await request.app[CATALOG].request_json(
        "GET",
        f"/v1/library/attachments/{attachment_id}",
        authorization=request.headers["Authorization"],
    )
    return found["data"]


def _signed(
    request: web.Request, bucket: str, key: str, filename: str, mime: str, *, inline: bool
) -> tuple[str, datetime]:
    ttl = request.app[SETTINGS].download_url_ttl_seconds
    now = datetime.now(UTC)
    url = request.app[BLOBS].presigner.presign_get(
        bucket,
        key,
        expires_in=ttl,
        now=now,
        response_content_type=mime,
        response_content_disposition=filenames.content_disposition(filename, inline=inline),
    )
    return url, now + timedelta(seconds=ttl)


@api.operation(
    "GET",
    "/api/attachments/{attachment_id}/preview",
    "A short-lived URL to preview the attachment (image, pdf or thumbnail)",
    response=PreviewResponse,
    errors=(404, 429),
    tags=("library",),
)
async def preview_attachment(request: web.Request) -> web.Response:
    a = await _attachment(request)
    mime = sniffing.normalise(a["mimeType"])
    bucket = a["storageBucket"]
    if mime in _PREVIEW_IMAGE_TYPES or mime == "application/pdf":
        kind = "image" if mime in _PREVIEW_IMAGE_TYPES else "pdf"
        url, expires = _signed(request, bucket, a["storagePath"], a["filename"], mime, inline=True)
    elif a.get("thumbnailPath"):
        kind = "thumbnail"
        url, expires = _signed(
            request, bucket, a["thumbnailPath"], f"{a['filename']}.webp", "image/webp", inline=True
        )
    else:
        return json_response(PreviewResponse(url=None, type="unsupported", expiresAt=None))
    return json_response(PreviewResponse(url=url, type=kind, expiresAt=expires))


@api.operation(
    "GET",
    "/api/attachments/{attachment_id}/download",
    "A short-lived download URL; counts the access and emits attachment.accessed",
    response=DownloadResponse,
    errors=(404, 429),
    tags=("library",),
)
async def download_attachment(request: web.Request) -> web.Response:
    await authenticate(request)
    attachment_id = path_uuid(request, "attachment_id", "Attachment")
    counted = await request.app[CATALOG].request_json(
        "POST",
        f"/internal/v1/library/attachments/{attachment_id}/access",
        authorization=request.headers["Authorization"],
        internal=True,
    )
    a = counted["data"]
    # Always an attachment: a download never renders in the browser, whatever its type.
    url, expires = _signed(
        request, a["storageBucket"], a["storagePath"], a["filename"], a["mimeType"], inline=False
    )
    return json_response(
        DownloadResponse(
            url=url,
            filename=a["filename"],
            mimeType=a["mimeType"],
            sizeBytes=a["fileSizeBytes"],
            expiresAt=expires,
        )
    )


@api.operation(
    "POST",
    "/api/attachments/{attachment_id}/reprocess",
    "Run AI enrichment again, with a priority (202; read the job back by its id)",
    request=ReprocessRequest,
    response=ReprocessAccepted,
    status=202,
    errors=(400, 403, 404, 429),
    tags=("library",),
)
async def reprocess_attachment(request: web.Request) -> web.Response:
    await authenticate(request)
    attachment_id = path_uuid(request, "attachment_id", "Attachment")
    body = (
        await parse_body(request, ReprocessRequest) if request.can_read_body else ReprocessRequest()
    )
    accepted = await request.app[CATALOG].request_json(
        "POST",
        f"/internal/v1/library/attachments/{attachment_id}/reprocess",
        authorization=request.headers["Authorization"],
        internal=True,
        json_body=body.model_dump(),
    )
    return json_response(accepted, status=202)
