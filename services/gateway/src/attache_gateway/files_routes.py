"""HTTP routes of the files API (seed 002)."""

from __future__ import annotations

from aiohttp import web

from attache_core.web import json_response
from attache_gateway import files
from attache_gateway.api import api, authenticate, path_uuid
from attache_gateway.files_domain import FileRecord, FileUploadForm
from attache_gateway.keys import BLOBS, CATALOG, SETTINGS

FILE_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/FileRecord"}}


def _context(request: web.Request) -> files.FilesContext:
    return files.FilesContext(request.app[SETTINGS], request.app[BLOBS], request.app[CATALOG])


@api.operation(
    "POST",
    "/files/upload",
    "Upload a file (multipart/form-data, streamed to storage)",
    request=FileUploadForm,
    request_content_type="multipart/form-data",
    response=FileRecord,
    status=201,
    errors=(400, 404, 413, 415, 502),
    tags=("files",),
)
async def upload_file(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    record = await files.upload_file(
        _context(request), principal, request.headers["Authorization"], request
    )
    return json_response(record, status=201)


@api.operation(
    "GET",
    "/files/download/{file_id}",
    "Download a file's content (Range supported)",
    response_schema={"type": "string", "format": "binary"},
    response_content_type="application/octet-stream",
    errors=(404, 416, 502),
    tags=("files",),
)
async def download_file(request: web.Request) -> web.StreamResponse:
    await authenticate(request)
    file_id = path_uuid(request, "file_id", "File")
    return await files.download_file(
        _context(request), request.headers["Authorization"], file_id, request
    )


@api.operation(
    "GET",
    "/files/customer/{customer_id}",
    "A customer's files, newest first",
    response_schema=FILE_LIST,
    tags=("files",),
)
async def list_customer_files(request: web.Request) -> web.Response:
    await authenticate(request)
    customer_id = path_uuid(request, "customer_id", "Customer")
    records = await files.list_files(
        _context(request),
        request.headers["Authorization"],
        customer_id=customer_id,
        query=dict(request.query),
    )
    return json_response([r.model_dump(mode="json") for r in records])


@api.operation(
    "GET",
    "/files/ticket/{ticket_id}",
    "A ticket's media, newest first",
    response_schema=FILE_LIST,
    tags=("files",),
)
async def list_ticket_files(request: web.Request) -> web.Response:
    await authenticate(request)
    records = await files.list_files(
        _context(request),
        request.headers["Authorization"],
        ticket_id=request.match_info["ticket_id"],
        query=dict(request.query),
    )
    return json_response([r.model_dump(mode="json") for r in records])


@api.operation(
    "DELETE",
    "/files/{file_id}",
    "Delete a file (object and record; emits attachment.deleted)",
    status=204,
    errors=(404, 502),
    tags=("files",),
)
async def delete_file(request: web.Request) -> web.Response:
    await authenticate(request)
    file_id = path_uuid(request, "file_id", "File")
    await files.delete_file(_context(request), request.headers["Authorization"], file_id)
    return web.Response(status=204)
