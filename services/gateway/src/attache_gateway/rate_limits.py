"""Per-user rate limits by tier (seed 004: free 60, pro 300 requests a minute).

The counters live in PostgreSQL (`gateway.rate_limit_windows`), so the limit holds for a
user however many gateway replicas share the load; one statement per request decides and
counts atomically.

The algorithm is the sliding-window approximation: one counter per user and one-minute
window (aligned on the minute), and a request at `elapsed` seconds into window k is
admitted when

    (count(k) + 1) * 60 + count(k - 1) * (60 - elapsed)  <=  limit * 60

i.e. the previous window's count weighted by how much of it still lies in the last 60
seconds. Unlike a fixed window this has no burst of twice the limit across a window edge,
and it costs one more primary-key lookup in the same statement. The arithmetic is exact
(numeric seconds in SQL, integer microseconds in Python), so nothing is refused or let
through by a rounding error at a boundary.

Only admitted requests are counted: the increment is conditional (`ON CONFLICT … DO
UPDATE … WHERE`), so a client hammering away while refused doesn't push its own window
further out, and `retryAfter` is exact — at that time the next request is admitted (if no
other request of the user's got in first).

Time is the database's clock by default (the same for every replica); tests inject one.
Only requests to routes under `rate_limited_prefixes` are counted, and only authenticated
ones: the guard around their handlers verifies the token itself (the verifier caches
verified tokens, so the handler verifying it again is a dictionary lookup) and leaves
unauthenticated requests to the handler's 401. If PostgreSQL can't be reached the request
is let through (and logged): the limiter protects the service and must not become its
outage.

Windows before the previous one are useless and deleted every minute by every replica's
purger; the DELETE is idempotent, so replicas running it at once only overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog
from aiohttp import web
from prometheus_client import Counter

from attache_core.auth import Principal, Tier
from attache_core.errors import RateLimited, Unauthenticated
from attache_core.web import METRICS_REGISTRY_KEY, Handler
from attache_gateway.keys import POOL, SETTINGS, VERIFIER
from attache_gateway.settings import GatewaySettings

log = structlog.get_logger("attache.gateway.rate_limits")

WINDOW = timedelta(minutes=1)
PURGE_INTERVAL_SECONDS = 60.0
_US = 1_000_000
_WINDOW_US = 60 * _US

# $1 org_id, $2 user_id, $3 now (NULL: the database's clock), $4 the limit per window.
# `carried` is the previous window's count times the seconds of it still inside the last
# minute (request-seconds, numeric: exact).
_HIT = """
WITH clock AS (
    SELECT COALESCE($3::timestamptz, statement_timestamp()) AS now
), win AS (
    SELECT now, to_timestamp(floor(extract(epoch FROM now) / 60) * 60) AS start FROM clock
), quota AS (
    SELECT win.now, win.start, COALESCE(prev.count, 0) AS previous,
           COALESCE(prev.count, 0) * (60 - extract(epoch FROM win.now - win.start)) AS carried
    FROM win
    LEFT JOIN gateway.rate_limit_windows prev
        ON prev.org_id = $1 AND prev.user_id = $2
       AND prev.window_start = win.start - interval '1 minute'
), admitted AS (
    INSERT INTO gateway.rate_limit_windows AS w (org_id, user_id, window_start, count)
    SELECT $1, $2, quota.start, 1 FROM quota WHERE 60 + quota.carried <= $4::int * 60
    ON CONFLICT (org_id, user_id, window_start) DO UPDATE SET count = w.count + 1
        WHERE (w.count + 1) * 60 + (SELECT carried FROM quota) <= $4::int * 60
    RETURNING w.count
)
SELECT quota.now, quota.start, quota.previous,
       (SELECT count FROM admitted) AS admitted,
       (SELECT cur.count FROM gateway.rate_limit_windows cur
         WHERE cur.org_id = $1 AND cur.user_id = $2 AND cur.window_start = quota.start)
           AS current
FROM quota
"""

_PURGE = """
DELETE FROM gateway.rate_limit_windows
WHERE window_start < statement_timestamp() - interval '2 minutes'
"""

_CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def retry_after_seconds(limit: int, previous: int, current: int, elapsed: timedelta) -> int:
    """Whole seconds until a refused request would be admitted, if nothing else is.

    `current` requests were admitted in this window, `previous` in the one before, and
    the refusal came `elapsed` into this window (see the module's formula)."""
    elapsed_us = elapsed // timedelta(microseconds=1)
    room = limit - current - 1
    if room >= 0:
        # This window has room: wait until the previous window's weight has fallen enough,
        # at `elapsed` = 60 * (previous - room) / previous.
        if previous <= room:  # admitted already (a concurrent request's count was seen)
            return 1
        wait_us = _ceil_div(_WINDOW_US * (previous - room), previous) - elapsed_us
    else:
        # This window is full: wait for the next one, where this one's count is weighted,
        # until 60 * (current - limit + 1) / current into it.
        wait_us = (_WINDOW_US - elapsed_us) + _ceil_div(_WINDOW_US * (current - limit + 1), current)
    return max(1, _ceil_div(wait_us, _US))


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    limit: int
    retry_after: int = 0


class RateLimiter:
    """Decides and counts one request of a user, in one statement."""

    def __init__(
        self, settings: GatewaySettings, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.limits = {
            Tier.FREE: settings.rate_limit_free_per_minute,
            Tier.PRO: settings.rate_limit_pro_per_minute,
        }
        prefixes = [p.rstrip("/") for p in settings.rate_limited_prefixes]
        # Every request asks: one set lookup and one startswith over a tuple, no loop.
        self._paths = frozenset(prefixes)
        self._subpath_prefixes = tuple(p + "/" for p in prefixes)
        # None: the database's clock, which every replica shares. Tests set their own
        # (returning timezone-aware datetimes).
        self.clock = clock

    def applies_to(self, path: str) -> bool:
        """`/api/attachments` and paths below it, not `/api/attachmentsfoo`."""
        return path in self._paths or path.startswith(self._subpath_prefixes)

    async def hit(self, pool: asyncpg.Pool, principal: Principal) -> Decision:
        limit = self.limits[principal.tier]
        now = self.clock() if self.clock is not None else None
        row = await pool.fetchrow(_HIT, principal.org_id, principal.sub, now, limit)
        if row["admitted"] is not None:
            return Decision(True, limit)
        retry_after = retry_after_seconds(
            limit, row["previous"], row["current"] or 0, row["now"] - row["start"]
        )
        return Decision(False, limit, retry_after)


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)


def rate_limit_guard(app: web.Application) -> Callable[[str, Handler], Handler]:
    """For api.add_routes: wraps the handler of each route under `rate_limited_prefixes`
    in the limiter, and leaves the others as they are (the limiter's RateLimiter goes to
    app[RATE_LIMITER]). As a middleware it cost every request, presign's included, a
    coroutine frame and a path check (about 7k instructions of a presign's 490k).

    The 429 is raised inside the handler, so the service middleware renders it like any
    error."""
    limiter = app[RATE_LIMITER] = RateLimiter(app[SETTINGS])
    refused = Counter(
        "rate_limited_requests_total",
        "Requests refused by the per-user rate limits",
        ["tier"],
        registry=app[METRICS_REGISTRY_KEY],
    )

    def guard(path: str, handler: Handler) -> Handler:
        if not limiter.applies_to(path):
            return handler

        @functools.wraps(handler)
        async def limited(request: web.Request) -> web.StreamResponse:
            try:
                principal = await request.app[VERIFIER].authenticate(
                    request.headers.get("Authorization")
                )
            except Unauthenticated:
                return await handler(request)  # not counted; the handler answers 401
            try:
                decision = await limiter.hit(request.app[POOL], principal)
            except _CONNECTION_ERRORS:
                log.warning("rate_limit_unavailable", exc_info=True)
                return await handler(request)
            if not decision.admitted:
                refused.labels(principal.tier.value).inc()
                raise RateLimited("Rate limit exceeded", retry_after=decision.retry_after)
            return await handler(request)

        return limited

    return guard


async def purge_windows(pool: asyncpg.Pool) -> int:
    """Deletes the windows no decision reads any more; returns how many."""
    status = await pool.execute(_PURGE)
    return int(status.rsplit(" ", 1)[-1])


async def purge_windows_periodically(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: `purge_windows` every minute."""

    async def loop() -> None:
        while True:
            try:
                await purge_windows(app[POOL])
            except Exception:
                log.exception("rate_limit_purge_failed")
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)

    task = asyncio.create_task(loop(), name="rate-limit-purger")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
