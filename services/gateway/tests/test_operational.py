"""Operational endpoints and the API description."""

from __future__ import annotations

import uuid

import pytest
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate

from attache_core.errors import NotFound
from attache_gateway import routes
from attache_gateway.api import api, path_uuid, path_uuid_text
from attache_gateway.app import create_app
from attache_gateway.settings import GatewaySettings

OPERATIONAL = {"/health", "/ready", "/metrics", "/openapi.json"}


async def test_openapi_is_valid_and_covers_every_route(stack, http):
    async with http.get(f"{stack.gateway_url}/openapi.json") as resp:
        assert resp.status == 200
        document = await resp.json()
    validate(document)
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    routed = {
        (route.method, route.resource.canonical)
        for route in stack.gateway_app.router.routes()
        if route.method != "HEAD" and route.resource.canonical not in OPERATIONAL
    }
    assert routed == documented
    assert len(api.operations) == len(documented)


@pytest.mark.parametrize("service", ["gateway", "catalog"])
async def test_health_ready_metrics(stack, http, service):
    base = stack.gateway_url if service == "gateway" else stack.catalog_url
    async with http.get(f"{base}/health") as resp:
        assert resp.status == 200 and (await resp.json())["status"] == "ok"
    async with http.get(f"{base}/ready") as resp:
        body = await resp.json()
        assert resp.status == 200, body
        assert set(body["checks"]) >= {"postgres", "rabbitmq"}
        assert all(v == "ok" for v in body["checks"].values())
    async with http.get(f"{base}/metrics") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert "http_requests_total" in await resp.text()


async def test_unknown_route_is_404_in_the_error_shape(stack, http):
    async with http.get(f"{stack.gateway_url}/nope") as resp:
        assert resp.status == 404
        body = await resp.json()
        assert body["code"] == "not_found" and resp.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("handler", "action"),
    [(routes.presign_attachment, "presign"), (routes.confirm_attachment, "confirm")],
)
async def test_hot_routes_come_first_and_no_other_route_matches_their_paths(handler, action):
    """create_app adds presign and confirm ahead of the other routes; that is only safe
    while no other route matches their paths, whatever the method."""
    app = create_app(GatewaySettings(), background=False)
    request = make_mocked_request(
        "POST", f"/v1/customers/{uuid.uuid4()}/attachments/{action}", app=app
    )
    assert (await app.router.resolve(request)).handler is handler
    customers = [r.canonical for r in app.router.resources() if r.canonical.startswith("/v1/")]
    assert customers.index(f"/v1/customers/{{customer_id}}/attachments/{action}") < 2
    for resource in app.router.resources():
        match, allowed = await resource.resolve(request)
        if match is None or match.handler is not handler:
            assert match is None and not allowed, resource.canonical


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("0f8fad5bd9cb469fa16570867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("{0f8fad5b-d9cb-469f-a165-70867728950e}", "0f8fad5b-d9cb-469f-a165-70867728950e"),
    ],
)
def test_path_uuid_text_is_what_str_of_the_uuid_gives(raw, text):
    request = make_mocked_request("GET", "/", match_info={"id": raw})
    assert path_uuid_text(request, "id", "Thing") == text == str(path_uuid(request, "id", "T"))


@pytest.mark.parametrize("raw", ["nope", "0f8fad5b-d9cb-469f-a165-70867728950", ""])
def test_path_uuid_text_of_anything_else_is_not_found(raw):
    request = make_mocked_request("GET", "/", match_info={"id": raw})
    with pytest.raises(NotFound):
        path_uuid_text(request, "id", "Thing")
