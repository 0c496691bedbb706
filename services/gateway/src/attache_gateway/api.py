"""The gateway's API description and what every route module shares.

Route modules register their handlers on `api` (routes.py: the CRM flow and
customers); `api.add_routes` wires them all, and `/openapi.json` is generated
from the same registrations, so the document can't miss an endpoint.
"""

from __future__ import annotations

import re
import uuid

from aiohttp import web

from attache_core.auth import Principal
from attache_core.errors import NotFound
from attache_core.openapi import ApiSpec
from attache_core.web import json_response
from attache_gateway.keys import VERIFIER

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

api = ApiSpec(
    title="Attache API",
    version="1.0.0",
    description="Attachments for business applications: presigned uploads to private object "
    "storage, verified on confirm, catalogued, searchable and enriched.",
)


async def authenticate(request: web.Request) -> Principal:
    return await request.app[VERIFIER].authenticate(request.headers.get("Authorization"))


def path_uuid(request: web.Request, name: str, what: str) -> uuid.UUID:
    """A UUID path parameter; anything else is simply not found."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError as exc:
        raise NotFound(f"{what} not found") from exc


def path_uuid_text(request: web.Request, name: str, what: str) -> str:
    """A UUID path parameter as str(UUID) would write it, for use cases that only need the
    text: the canonical form, the common case, is checked and kept as it is."""
    raw = request.match_info[name]
    if _CANONICAL_UUID.fullmatch(raw):
        return raw
    return str(path_uuid(request, name, what))


async def openapi_document(_request: web.Request) -> web.Response:
    return json_response(api.document())
