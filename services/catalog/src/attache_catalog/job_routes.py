"""Catalog HTTP API of background jobs (reached through the gateway's /files/* routes)."""

from __future__ import annotations

import hmac
import uuid

from aiohttp import web

from attache_catalog import jobs
from attache_catalog.job_domain import CleanupRuns, ImportCreate, JobQuery
from attache_catalog.keys import POOL, SETTINGS, VERIFIER
from attache_core.auth import Principal
from attache_core.errors import NotFound
from attache_core.web import json_response, parse_body, parse_query

job_routes = web.RouteTableDef()

INTERNAL_SECRET_HEADER = "X-Attache-Internal-Secret"


async def _principal(request: web.Request) -> Principal:
    return await request.app[VERIFIER].authenticate(request.headers.get("Authorization"))


@job_routes.post("/v1/imports")
async def request_import(request: web.Request) -> web.Response:
    principal = await _principal(request)
    body = await parse_body(request, ImportCreate)
    accepted = await jobs.request_import(request.app[POOL], principal, body)
    return json_response(accepted, status=202)


@job_routes.get("/v1/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    principal = await _principal(request)
    query = parse_query(request, JobQuery)
    found = await jobs.list_jobs(request.app[POOL], principal, query)
    return json_response([j.model_dump(mode="json") for j in found])


@job_routes.get("/v1/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    principal = await _principal(request)
    try:
        job_id = uuid.UUID(request.match_info["job_id"])
    except ValueError as exc:
        raise NotFound("Job not found") from exc
    return json_response(await jobs.get_job(request.app[POOL], principal, job_id))


@job_routes.post("/internal/v1/jobs/file-cleanup")
async def record_cleanup_runs(request: web.Request) -> web.Response:
    given = request.headers.get(INTERNAL_SECRET_HEADER, "")
    expected = request.app[SETTINGS].internal_secret.get_secret_value()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotFound("Not found")
    body = await parse_body(request, CleanupRuns)
    return json_response({"recorded": await jobs.record_cleanup_runs(request.app[POOL], body)})
