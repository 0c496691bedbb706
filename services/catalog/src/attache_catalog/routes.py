"""Catalog HTTP API. Reached only through the gateway, which forwards the caller's token."""

from __future__ import annotations

import hmac
import uuid

from aiohttp import web

from attache_catalog import service
from attache_catalog.domain import (
    AttachmentRegistration,
    CustomerCreate,
    CustomerQuery,
    FileQuery,
    PageQuery,
    SweepClaim,
    SweepPurge,
)
from attache_catalog.keys import POOL, SETTINGS, VERIFIER
from attache_core.auth import Principal
from attache_core.errors import NotFound
from attache_core.web import json_response, parse_body, parse_query

routes = web.RouteTableDef()

INTERNAL_SECRET_HEADER = "X-Attache-Internal-Secret"


async def _principal(request: web.Request) -> Principal:
    return await request.app[VERIFIER].authenticate(request.headers.get("Authorization"))


def _uuid(request: web.Request, name: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError as exc:
        raise NotFound(f"{what} not found") from exc


@routes.post("/v1/customers")
async def create_customer(request: web.Request) -> web.Response:
    principal = await _principal(request)
    body = await parse_body(request, CustomerCreate)
    customer = await service.create_customer(request.app[POOL], principal, body)
    return json_response(customer, status=201)


@routes.get("/v1/customers")
async def list_customers(request: web.Request) -> web.Response:
    principal = await _principal(request)
    query = parse_query(request, CustomerQuery)
    return json_response(await service.list_customers(request.app[POOL], principal, query))


@routes.get("/v1/customers/{customer_id}")
async def get_customer(request: web.Request) -> web.Response:
    principal = await _principal(request)
    customer_id = _uuid(request, "customer_id", "Customer")
    return json_response(await service.get_customer(request.app[POOL], principal, customer_id))


@routes.get("/v1/customers/{customer_id}/attachments")
async def list_customer_attachments(request: web.Request) -> web.Response:
    principal = await _principal(request)
    customer_id = _uuid(request, "customer_id", "Customer")
    query = parse_query(request, PageQuery)
    page = await service.list_customer_attachments(request.app[POOL], principal, customer_id, query)
    return json_response(page)


def _require_gateway(request: web.Request) -> None:
    """Only the gateway (which holds the shared secret) may call internal endpoints."""
    given = request.headers.get(INTERNAL_SECRET_HEADER, "")
    expected = request.app[SETTINGS].internal_secret.get_secret_value()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotFound("Not found")


@routes.get("/v1/attachments/{attachment_id}")
async def get_attachment(request: web.Request) -> web.Response:
    principal = await _principal(request)
    attachment_id = _uuid(request, "attachment_id", "Attachment")
    return json_response(await service.get_attachment(request.app[POOL], principal, attachment_id))


@routes.get("/v1/files")
async def list_files(request: web.Request) -> web.Response:
    principal = await _principal(request)
    query = parse_query(request, FileQuery)
    files = await service.list_files(request.app[POOL], principal, query)
    return json_response([f.model_dump(mode="json") for f in files])


@routes.delete("/internal/v1/attachments/{attachment_id}")
async def delete_attachment(request: web.Request) -> web.Response:
    _require_gateway(request)
    principal = await _principal(request)
    attachment_id = _uuid(request, "attachment_id", "Attachment")
    return json_response(
        await service.delete_attachment(request.app[POOL], principal, attachment_id)
    )


@routes.post("/internal/v1/sweep/claim")
async def claim_due(request: web.Request) -> web.Response:
    _require_gateway(request)
    claim = await parse_body(request, SweepClaim)
    due = await service.claim_due(request.app[POOL], claim)
    return json_response([d.model_dump(mode="json") for d in due])


@routes.post("/internal/v1/sweep/purge")
async def purge(request: web.Request) -> web.Response:
    _require_gateway(request)
    body = await parse_body(request, SweepPurge)
    return json_response({"purged": await service.purge(request.app[POOL], body.ids)})


@routes.post("/internal/v1/attachments")
async def register_attachment(request: web.Request) -> web.Response:
    _require_gateway(request)  # only the gateway, which verified the object, registers it
    principal = await _principal(request)
    body = await parse_body(request, AttachmentRegistration)
    attachment, created = await service.register_attachment(
        request.app[POOL], principal, body, request.app[SETTINGS].ai_quota(principal.tier)
    )
    return json_response(attachment, status=201 if created else 200)
