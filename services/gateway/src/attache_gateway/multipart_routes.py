"""HTTP endpoints of multipart uploads (large files), beside the CRM presign/confirm flow."""

from __future__ import annotations

from aiohttp import web

from attache_core.web import json_response, parse_body
from attache_gateway import multipart
from attache_gateway.api import api, authenticate, path_uuid
from attache_gateway.domain import Attachment
from attache_gateway.keys import BLOBS, CATALOG, POOL, SETTINGS
from attache_gateway.multipart_domain import (
    CompleteRequest,
    MultipartStartRequest,
    MultipartUpload,
    MultipartUploadState,
    PartUrls,
    PartUrlsRequest,
)

BASE = "/v1/customers/{customer_id}/attachments/multipart"


def _context(request: web.Request) -> multipart.MultipartContext:
    app = request.app
    return multipart.MultipartContext(app[SETTINGS], app[POOL], app[BLOBS], app[CATALOG])


@api.operation(
    "POST",
    BASE,
    "Start a multipart upload of a large file",
    request=MultipartStartRequest,
    response=MultipartUpload,
    status=201,
    errors=(400, 404, 415, 502),
    tags=("attachments",),
)
async def start_multipart_upload(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    customer_id = path_uuid(request, "customer_id", "Customer")
    body = await parse_body(request, MultipartStartRequest)
    upload = await multipart.start_upload(
        _context(request), principal, request.headers["Authorization"], customer_id, body
    )
    return json_response(upload, status=201)


@api.operation(
    "POST",
    BASE + "/{upload_id}/parts",
    "Presigned PUT URLs for parts of a multipart upload",
    request=PartUrlsRequest,
    response=PartUrls,
    errors=(400, 404, 409, 410, 422),
    tags=("attachments",),
)
async def sign_multipart_parts(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    customer_id = path_uuid(request, "customer_id", "Customer")
    upload_id = path_uuid(request, "upload_id", "Upload")
    body = await parse_body(request, PartUrlsRequest)
    urls = await multipart.sign_parts(_context(request), principal, customer_id, upload_id, body)
    return json_response(urls)


@api.operation(
    "GET",
    BASE + "/{upload_id}/parts",
    "The state of a multipart upload and the parts S3 holds (to resume)",
    response=MultipartUploadState,
    errors=(404, 502),
    tags=("attachments",),
)
async def list_multipart_parts(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    customer_id = path_uuid(request, "customer_id", "Customer")
    upload_id = path_uuid(request, "upload_id", "Upload")
    state = await multipart.describe_upload(_context(request), principal, customer_id, upload_id)
    return json_response(state)


@api.operation(
    "POST",
    BASE + "/{upload_id}/complete",
    "Assemble, verify and register a multipart upload (idempotent)",
    request=CompleteRequest,
    response=Attachment,
    status=201,
    errors=(400, 404, 409, 410, 422, 502),
    tags=("attachments",),
)
async def complete_multipart_upload(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    customer_id = path_uuid(request, "customer_id", "Customer")
    upload_id = path_uuid(request, "upload_id", "Upload")
    # The body is optional: none (or `{}`) completes with the parts S3 holds.
    raw = await request.read() if request.body_exists else b""
    body = await parse_body(request, CompleteRequest) if raw.strip() else CompleteRequest()
    attachment, created = await multipart.complete_upload(
        _context(request),
        principal,
        request.headers["Authorization"],
        customer_id,
        upload_id,
        body,
    )
    return json_response(attachment, status=201 if created else 200)


@api.operation(
    "DELETE",
    BASE + "/{upload_id}",
    "Abort a multipart upload and drop its parts",
    status=204,
    errors=(404, 409, 502),
    tags=("attachments",),
)
async def abort_multipart_upload(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    customer_id = path_uuid(request, "customer_id", "Customer")
    upload_id = path_uuid(request, "upload_id", "Upload")
    await multipart.abort_upload(_context(request), principal, customer_id, upload_id)
    return web.Response(status=204)
