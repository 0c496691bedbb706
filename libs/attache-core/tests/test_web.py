"""The service middleware: request ids, log context and request metrics, over real HTTP."""

from __future__ import annotations

import aiohttp
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from attache_core.errors import NotFound
from attache_core.web import (
    METRICS_REGISTRY_KEY,
    REQUEST_ID_HEADER,
    RequestMetrics,
    create_base_app,
)


async def _item(request: web.Request) -> web.Response:
    if request.match_info["id"] == "missing":
        raise NotFound("Item not found")
    return web.json_response({"id": request.match_info["id"]})


async def _context(request: web.Request) -> web.Response:
    """What a log line written now would carry; binds more when asked to."""
    seen = structlog.contextvars.get_contextvars()
    if "bind" in request.query:
        structlog.contextvars.bind_contextvars(org_id=request.query["bind"])
    return web.json_response(seen)


def _app() -> web.Application:
    app = create_base_app()
    app.router.add_get("/items/{id}", _item)
    app.router.add_get("/context", _context)
    return app


async def test_requests_are_counted_by_method_route_and_status_sent():
    app = _app()
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        for path in ("/items/a", "/items/b", "/items/a", "/items/missing", "/nope"):
            async with http.get(server.make_url(path)) as resp:
                await resp.read()
        async with http.post(server.make_url("/items/a")) as resp:
            assert resp.status == 405

    registry = app[METRICS_REGISTRY_KEY]

    def count(method: str, route: str, status: str) -> float | None:
        labels = {"method": method, "route": route, "status": status}
        return registry.get_sample_value("http_requests_total", labels)

    def observed(method: str, route: str) -> float | None:
        labels = {"method": method, "route": route}
        return registry.get_sample_value("http_request_duration_seconds_count", labels)

    assert count("GET", "/items/{id}", "200") == 3
    assert count("GET", "/items/{id}", "404") == 1
    assert count("GET", "unmatched", "404") == 1
    assert count("POST", "unmatched", "405") == 1
    assert observed("GET", "/items/{id}") == 4
    assert observed("GET", "unmatched") == 1


def test_request_metrics_expose_what_prometheus_clients_own_metrics_would():
    # Durations on, between and beyond the bucket bounds, and two label sets.
    observations = [
        ("GET", "/items/{id}", 200, 0.0),
        ("GET", "/items/{id}", 200, 0.005),
        ("GET", "/items/{id}", 200, 0.0050001),
        ("GET", "/items/{id}", 404, 0.3),
        ("POST", "unmatched", 405, 10.0),
        ("POST", "unmatched", 405, 42.5),
        ("GET", "/items/{id}", 200, 0.0123),
    ]
    ours = CollectorRegistry()
    metrics = RequestMetrics()
    ours.register(metrics)
    theirs = CollectorRegistry()
    requests = Counter(
        "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=theirs
    )
    latency = Histogram(
        "http_request_duration_seconds",
        "HTTP request latency",
        ["method", "route"],
        registry=theirs,
    )
    for method, route, status, seconds in observations:
        metrics.record(method, route, status, seconds)
        requests.labels(method, route, str(status)).inc()
        latency.labels(method, route).observe(seconds)

    def exposition(registry: CollectorRegistry) -> list[str]:
        text = generate_latest(registry).decode()
        return sorted(line for line in text.splitlines() if "_created" not in line)

    assert exposition(ours) == exposition(theirs)


async def test_request_id_is_kept_when_sensible_and_generated_otherwise():
    async with TestServer(_app()) as server, aiohttp.ClientSession() as http:
        given = {REQUEST_ID_HEADER: "client-chosen-id"}
        async with http.get(server.make_url("/items/a"), headers=given) as resp:
            assert resp.headers[REQUEST_ID_HEADER] == "client-chosen-id"
        ids = set()
        for headers in ({}, {REQUEST_ID_HEADER: "x" * 101}, {}):
            async with http.get(server.make_url("/items/missing"), headers=headers) as resp:
                assert resp.status == 404
                ids.add(resp.headers[REQUEST_ID_HEADER])
        assert len(ids) == 3 and all(0 < len(i) <= 100 for i in ids)


async def test_log_context_has_this_request_id_and_nothing_an_earlier_request_bound():
    app = _app()
    assert "request_id" not in structlog.contextvars.get_contextvars()  # nothing outside
    # One keep-alive connection: the second request runs on the same connection.
    connector = aiohttp.TCPConnector(limit=1)
    async with TestServer(app) as server, aiohttp.ClientSession(connector=connector) as http:
        first = {REQUEST_ID_HEADER: "first"}
        async with http.get(server.make_url("/context?bind=org-1"), headers=first) as resp:
            assert await resp.json() == {"request_id": "first"}
        second = {REQUEST_ID_HEADER: "second"}
        async with http.get(server.make_url("/context"), headers=second) as resp:
            assert await resp.json() == {"request_id": "second"}
