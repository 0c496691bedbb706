"""Catalog HTTP API of the attachment library (seed 004), reached through the gateway."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from attache_catalog import library
from attache_catalog.keys import POOL, SETTINGS, VERIFIER
from attache_catalog.library_domain import LibraryQuery
from attache_catalog.routes import _require_gateway
from attache_core.auth import Principal
from attache_core.errors import NotFound
from attache_core.web import json_response, parse_body

routes = web.RouteTableDef()


async def _principal(request: web.Request) -> Principal:
    return await request.app[VERIFIER].authenticate(request.headers.get("Authorization"))


def _attachment_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["attachment_id"])
    except ValueError as exc:
        raise NotFound("Attachment not found") from exc


@routes.get("/v1/library/attachments")
async def list_attachments(request: web.Request) -> web.Response:
    principal = await _principal(request)
    query = LibraryQuery.parse(dict(request.query))
    return json_response(await library.list_attachments(request.app[POOL], principal, query))


@routes.get("/v1/library/stats")
async def stats(request: web.Request) -> web.Response:
    principal = await _principal(request)
    return json_response({"data": await library.stats(request.app[POOL], principal)})


@routes.get("/v1/library/smart-filters")
async def smart_filters(request: web.Request) -> web.Response:
    principal = await _principal(request)
    return json_response(await library.smart_filters(request.app[POOL], principal))


@routes.get("/v1/library/attachments/{attachment_id}")
async def get_attachment(request: web.Request) -> web.Response:
    principal = await _principal(request)
    found = await library.get_attachment(request.app[POOL], principal, _attachment_id(request))
    return json_response({"data": found})


@routes.post("/internal/v1/library/attachments/{attachment_id}/access")
async def record_access(request: web.Request) -> web.Response:
    _require_gateway(request)
    principal = await _principal(request)
    found = await library.record_access(request.app[POOL], principal, _attachment_id(request))
    return json_response({"data": found})


class ReprocessBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    priority: int = Field(default=5, ge=1, le=10)


@routes.post("/internal/v1/library/attachments/{attachment_id}/reprocess")
async def reprocess(request: web.Request) -> web.Response:
    _require_gateway(request)
    principal = await _principal(request)
    body = await parse_body(request, ReprocessBody) if request.can_read_body else ReprocessBody()
    job_id = await library.request_reprocess(
        request.app[POOL],
        principal,
        _attachment_id(request),
        body.priority,
        request.app[SETTINGS].ai_quota(principal.tier),
    )
    return json_response(
        {"message": "Attachment queued for reprocessing", "jobId": job_id}, status=202
    )


@routes.get("/v1/library/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    principal = await _principal(request)
    try:
        job_id = uuid.UUID(request.match_info["job_id"])
    except ValueError as exc:
        raise NotFound("Job not found") from exc
    return json_response(
        {"data": await library.get_reprocess_job(request.app[POOL], principal, job_id)}
    )
