"""aiohttp building blocks every HTTP service shares.

- `error_middleware`: the one place exceptions become responses. Domain errors
  map to their status and the documented body; anything unexpected is logged
  once with its traceback and becomes a 500 that leaks nothing.
- request ids, access metrics, /health, /ready and /metrics.
- `parse_body` / `parse_query`: pydantic validation with 400s that name each field.
"""

from __future__ import annotations

import bisect
import contextvars
import itertools
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pydantic_core
import structlog
from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from pydantic import BaseModel, ValidationError

from attache_core.db import create_pool, migrate
from attache_core.errors import AttacheError, InvalidInput, PayloadTooLarge
from attache_core.settings import CommonSettings

log = structlog.get_logger("attache.web")

Model = TypeVar("Model", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ReadinessCheck = Callable[[], Awaitable[None]]
# Renders an AttacheError for a route family whose documented error shape differs.
ErrorRenderer = Callable[[AttacheError], web.Response]

REQUEST_ID_HEADER = "X-Request-ID"
METRICS_REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)
READINESS_CHECKS_KEY = web.AppKey("readiness_checks", dict)
ERROR_RENDERERS_KEY = web.AppKey("error_renderers", list)

JSON_CONTENT_TYPE = "application/json"


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON of a model, or of plain data that may hold models, datetimes, UUIDs, decimals."""
    if isinstance(body, BaseModel):
        # What model_dump_json(by_alias=True) gives, as the bytes it decodes into a str.
        data = body.__pydantic_serializer__.to_json(body, by_alias=True)
    else:
        data = pydantic_core.to_json(body, by_alias=True)
    return web.Response(body=data, status=status, content_type=JSON_CONTENT_TYPE, headers=headers)


def render_error(err: AttacheError) -> web.Response:
    """The platform's error body: {"error": message, "code": ..., "details"?: {...}}."""
    body: dict[str, Any] = {"error": err.message, "code": err.code}
    if err.status >= 500 and err.code == "internal_error":
        body["message"] = "An unexpected error occurred"  # seed 004's 500 body
    if err.details:
        body["details"] = err.details
    headers = {}
    retry_after = getattr(err, "retry_after", None)
    if retry_after is not None:
        body["retryAfter"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return json_response(body, status=err.status, headers=headers)


def _renderer_for(request: web.Request) -> ErrorRenderer:
    for prefix, renderer in request.app.get(ERROR_RENDERERS_KEY, []):
        if request.path.startswith(prefix):
            return renderer
    return render_error


def _request_ids() -> Callable[[], str]:
    """Request ids unique across processes without a syscall per request."""
    prefix = uuid.uuid4().hex[:12]
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):x}"


def _structlog_context_var(key: str) -> contextvars.ContextVar[Any]:
    """The context variable structlog binds `key` with (bound once and reset, to get it)."""
    token = structlog.contextvars.bind_contextvars(**{key: None})[key]
    token.var.reset(token)
    return token.var


def _error_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The documented error body for anything a handler raised."""
    if isinstance(exc, AttacheError):
        err = exc
    elif isinstance(exc, web.HTTPRequestEntityTooLarge):
        err = PayloadTooLarge("Request body too large")
    elif isinstance(exc, web.HTTPException) and exc.status >= 400:
        # aiohttp's own 404/405 for unknown routes and methods, in our shape.
        err = AttacheError(exc.reason)
        err.status, err.code = exc.status, exc.reason.lower().replace(" ", "_")
    else:
        log.exception("unhandled_error", method=request.method, path=request.path)
        err = AttacheError("Internal server error")
    return _renderer_for(request)(err)


class RequestMetrics(Collector):
    """`http_requests_total` {method, route, status} and `http_request_duration_seconds`
    {method, route}, counted in plain dicts and handed to Prometheus when it scrapes.

    A prometheus_client Counter and Histogram child take a lock and run their bucket
    search in Python on every request: about 20k instructions of a presign's 505k
    (callgrind). Requests are recorded on the event loop's thread only.
    """

    def __init__(self, buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS) -> None:
        self._bounds = tuple(float(b) for b in buckets)
        if self._bounds[-1] != math.inf:
            self._bounds += (math.inf,)
        self._counts: dict[tuple[str, str, int], int] = {}
        # (method, route) → one count per bucket (not cumulative), then the sum.
        self._latencies: dict[tuple[str, str], list[float]] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        observed = self._latencies.get((method, route))
        if observed is None:
            observed = self._latencies[method, route] = [0] * (len(self._bounds) + 1)
        observed[bisect.bisect_left(self._bounds, seconds)] += 1  # le: bound >= seconds
        observed[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "http_requests", "HTTP requests", labels=["method", "route", "status"]
        )
        for (method, route, status), n in list(self._counts.items()):
            requests.add_metric([method, route, str(status)], n)
        latency = HistogramMetricFamily(
            "http_request_duration_seconds", "HTTP request latency", labels=["method", "route"]
        )
        for (method, route), observed in list(self._latencies.items()):
            cumulative = list(itertools.accumulate(observed[:-1]))
            latency.add_metric(
                [method, route],
                buckets=[
                    (floatToGoString(b), n) for b, n in zip(self._bounds, cumulative, strict=True)
                ],
                sum_value=observed[-1],
            )
        yield requests
        yield latency


def service_middleware(registry: CollectorRegistry) -> Callable:
    """The one middleware of every service: request id and log context, the mapping of
    exceptions to the error body, and request metrics (with the status actually sent)."""
    metrics = RequestMetrics()
    registry.register(metrics)
    record = metrics.record
    new_request_id = _request_ids()
    request_id_var = _structlog_context_var("request_id")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = request.headers.get(REQUEST_ID_HEADER)
        if not request_id or len(request_id) > 100 or not request_id.isascii():
            request_id = new_request_id()
        # Bound for the log lines of this request, like bind_contextvars(request_id=...)
        # without its lookups. No clear_contextvars() first: aiohttp runs every request in
        # a task of its own, on a copy of the connection's context, so no earlier request's
        # binding is here.
        request_id_var.set(request_id)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise  # redirects pass through
            response = _error_response(request, exc)
        except Exception as exc:
            response = _error_response(request, exc)
        response.headers[REQUEST_ID_HEADER] = request_id
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        record(request.method, route, response.status, time.perf_counter() - started)
        return response

    return middleware


async def _health(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _ready(request: web.Request) -> web.Response:
    checks: dict[str, ReadinessCheck] = request.app[READINESS_CHECKS_KEY]
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await check()
            results[name] = "ok"
        except Exception as exc:  # readiness reports, it never raises
            results[name] = f"unavailable: {type(exc).__name__}"
    ok = all(v == "ok" for v in results.values())
    return json_response(
        {"status": "ok" if ok else "unavailable", "checks": results}, status=200 if ok else 503
    )


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def create_base_app(*, client_max_size: int = 1024 * 1024) -> web.Application:
    """An application with the shared middlewares and operational endpoints."""
    registry = CollectorRegistry()
    app = web.Application(
        middlewares=[service_middleware(registry)],
        client_max_size=client_max_size,
    )
    app[METRICS_REGISTRY_KEY] = registry
    app[READINESS_CHECKS_KEY] = {}
    app[ERROR_RENDERERS_KEY] = []
    app.router.add_get("/health", _health)
    app.router.add_get("/ready", _ready)
    app.router.add_get("/metrics", _metrics)
    return app


def _field_errors(exc: ValidationError) -> dict[str, str]:
    details: dict[str, str] = {}
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "body"
        details.setdefault(field, error["msg"])
    return details


async def parse_body(request: web.Request, model: type[Model]) -> Model:
    # The exact header is the common case; aiohttp parses any other (charset, case...).
    content_type = request.headers.get(hdrs.CONTENT_TYPE)
    if content_type != JSON_CONTENT_TYPE and request.content_type != JSON_CONTENT_TYPE:
        raise InvalidInput("Expected a JSON body (Content-Type: application/json)")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge("Request body too large") from exc
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidInput("Malformed JSON body") from exc
        raise InvalidInput("Invalid parameters", details=_field_errors(exc)) from exc


def parse_query(request: web.Request, model: type[Model]) -> Model:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise InvalidInput("Invalid parameters", details=_field_errors(exc)) from exc


def postgres_context(
    settings: CommonSettings, pool_key: web.AppKey[asyncpg.Pool], schema: str, migrations: Path
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that migrates `schema`, opens the pool and reports it in /ready."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        await migrate(settings.database_url, schema, migrations)
        pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        app[pool_key] = pool

        async def check() -> None:
            await pool.fetchval("SELECT 1")

        app[READINESS_CHECKS_KEY]["postgres"] = check
        yield
        await pool.close()

    return context


def serve(app: web.Application, host: str, port: int) -> None:
    """Run an HTTP service until SIGINT/SIGTERM, on uvloop (libuv's faster event loop)."""
    import uvloop

    web.run_app(
        app, host=host, port=port, access_log=None, print=None, loop=uvloop.new_event_loop()
    )
