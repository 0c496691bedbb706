"""The catalog's internal profile API (seed 003), called only by the gateway.

The gateway forwards the caller's token, so the profile is always the token's
user's; the shared secret proves the caller is the gateway, which alone has
verified the image objects it sets.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from attache_catalog import profiles
from attache_catalog.keys import POOL, SETTINGS, VERIFIER
from attache_catalog.profile_domain import ProfileChanges
from attache_core.errors import NotFound
from attache_core.web import json_response, parse_body

profile_routes = web.RouteTableDef()

INTERNAL_SECRET_HEADER = "X-Attache-Internal-Secret"


def _require_gateway(request: web.Request) -> None:
    given = request.headers.get(INTERNAL_SECRET_HEADER, "")
    expected = request.app[SETTINGS].internal_secret.get_secret_value()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotFound("Not found")


@profile_routes.get("/internal/v1/profile")
async def get_profile(request: web.Request) -> web.Response:
    _require_gateway(request)
    principal = await request.app[VERIFIER].authenticate(request.headers.get("Authorization"))
    return json_response(await profiles.get_profile(request.app[POOL], principal))


@profile_routes.patch("/internal/v1/profile")
async def update_profile(request: web.Request) -> web.Response:
    _require_gateway(request)
    principal = await request.app[VERIFIER].authenticate(request.headers.get("Authorization"))
    changes = await parse_body(request, ProfileChanges)
    return json_response(await profiles.update_profile(request.app[POOL], principal, changes))
