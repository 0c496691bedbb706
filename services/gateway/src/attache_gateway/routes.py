"""The CRM attachment flow (seed 000) and the customers it belongs to."""

from __future__ import annotations

from aiohttp import web

from attache_core.web import json_response, parse_body
from attache_gateway import uploads
from attache_gateway.api import api, authenticate, path_uuid, path_uuid_text
from attache_gateway.domain import Attachment, ConfirmRequest, PresignRequest, PresignResponse
from attache_gateway.keys import CATALOG, UPLOADS
from attache_gateway.proxied import (
    AttachmentPage,
    Customer,
    CustomerCreate,
    CustomerPage,
    CustomerQuery,
    PageQuery,
)


@api.operation(
    "POST",
    "/v1/customers/{customer_id}/attachments/presign",
    "Get a presigned PUT URL for a new attachment",
    request=PresignRequest,
    response=PresignResponse,
    errors=(400, 404, 415),
    tags=("attachments",),
)
async def presign_attachment(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    customer_id = path_uuid_text(request, "customer_id", "Customer")
    body = await parse_body(request, PresignRequest)
    result = await uploads.presign_upload(
        request.app[UPLOADS], principal, request.headers["Authorization"], customer_id, body
    )
    return json_response(result)


@api.operation(
    "POST",
    "/v1/customers/{customer_id}/attachments/confirm",
    "Verify an uploaded object and register the attachment (idempotent)",
    request=ConfirmRequest,
    response=Attachment,
    status=201,
    errors=(400, 404, 410, 422, 502),
    tags=("attachments",),
)
async def confirm_attachment(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    customer_id = path_uuid(request, "customer_id", "Customer")
    body = await parse_body(request, ConfirmRequest)
    attachment, created = await uploads.confirm_upload(
        request.app[UPLOADS], principal, request.headers["Authorization"], customer_id, body
    )
    return json_response(attachment, status=201 if created else 200)


async def _forward(request: web.Request) -> web.Response:
    await authenticate(request)  # reject bad tokens here; the catalog checks the tenant again
    return await request.app[CATALOG].forward(request)


@api.operation(
    "GET",
    "/v1/customers/{customer_id}/attachments",
    "List a customer's attachments, newest first",
    query=PageQuery,
    response=AttachmentPage,
    tags=("attachments",),
)
async def list_customer_attachments(request: web.Request) -> web.Response:
    return await _forward(request)


@api.operation(
    "POST",
    "/v1/customers",
    "Create a customer (admin, agent)",
    request=CustomerCreate,
    response=Customer,
    status=201,
    errors=(400, 404, 409),
    tags=("customers",),
)
async def create_customer(request: web.Request) -> web.Response:
    return await _forward(request)


@api.operation(
    "GET",
    "/v1/customers",
    "List or search customers (admin, agent)",
    query=CustomerQuery,
    response=CustomerPage,
    tags=("customers",),
)
async def list_customers(request: web.Request) -> web.Response:
    return await _forward(request)


@api.operation(
    "GET", "/v1/customers/{customer_id}", "Get a customer", response=Customer, tags=("customers",)
)
async def get_customer(request: web.Request) -> web.Response:
    return await _forward(request)
