"""Per-user rate limits by tier (seed 004), counted in the real PostgreSQL.

Gateways started here limit `/files/jobs` and call `/files/jobs/not-a-job`, which the
gateway answers itself with a 404 once the limiter lets it by (no catalog call), and a
refused request is a 429: the tests don't depend on the library routes.
Their clock is injected (a window-aligned time a few minutes ahead, which the purger of
the stack's gateway never reaches), so nothing sleeps and no window edge is crossed by
accident.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import jwt
import pytest

from attache_gateway.keys import POOL
from attache_gateway.rate_limits import (
    RATE_LIMITER,
    purge_windows,
    retry_after_seconds,
)

PREFIX = "/files/jobs"
LIMITED = f"{PREFIX}/not-a-job"
ADMITTED = 404  # that job id is no UUID: the handler's answer once the limiter let it by


class FakeClock:
    """Time at the start of a window a few minutes ahead, moved by the test."""

    def __init__(self) -> None:
        self.base = datetime.fromtimestamp((int(time.time()) // 60 + 5) * 60, UTC)
        self.now = self.base

    def at(self, seconds: float) -> None:
        self.now = self.base + timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(stack, gateway_with, clock):
    """Starts a gateway limiting PREFIX on the test's clock: `url = await limited(**settings)`."""

    async def start(**settings) -> str:
        app, url = await gateway_with(stack, rate_limited_prefixes=[PREFIX], **settings)
        app[RATE_LIMITER].clock = clock
        return url

    return start


async def call(http, url, headers=None, path=LIMITED):
    async with http.get(f"{url}{path}", headers=headers) as resp:
        return resp.status, await resp.json(), resp.headers


async def statuses(http, urls, headers, n, path=LIMITED):
    """n requests, one after the other, cycling through the gateways at `urls`."""
    result = []
    for url in itertools.islice(itertools.cycle(urls), n):
        status, _, _ = await call(http, url, headers, path)
        result.append(status)
    return result


async def burst(http, urls, headers, n):
    """n requests at once, spread over the gateways at `urls`."""
    calls = [call(http, url, headers) for url in itertools.islice(itertools.cycle(urls), n)]
    return sorted(status for status, _, _ in await asyncio.gather(*calls))


async def counted(db, org, sub="user-1"):
    return await db.fetchval(
        "SELECT COALESCE(sum(count), 0) FROM gateway.rate_limit_windows"
        " WHERE org_id = $1 AND user_id = $2",
        org,
        sub,
    )


async def test_free_user_gets_60_a_minute_then_429(stack, http, db, org, limited, clock):
    url = await limited()
    user = stack.auth(org=org, tier="free")
    clock.at(10)

    assert await statuses(http, [url], user, 60) == [ADMITTED] * 60
    status, body, headers = await call(http, url, user)

    assert status == 429
    # Full until the window ends (50 s) and one second of the next one has passed.
    assert body == {"error": "Rate limit exceeded", "code": "rate_limited", "retryAfter": 51}
    assert headers["Retry-After"] == "51"
    assert headers["Content-Type"].startswith("application/json")
    # Refusals are no work done: they don't count.
    assert await statuses(http, [url], user, 5) == [429] * 5
    assert await counted(db, org) == 60
    async with http.get(f"{url}/metrics") as resp:
        assert 'rate_limited_requests_total{tier="free"} 6.0' in await resp.text()


async def test_pro_user_gets_300_a_minute(stack, http, db, org, limited, clock):
    url = await limited()
    user = stack.auth(org=org, tier="pro")
    clock.at(10)

    for _ in range(6):
        assert await burst(http, [url], user, 50) == [ADMITTED] * 50
    status, body, headers = await call(http, url, user)

    assert status == 429
    assert body["retryAfter"] == 51  # 50 s, then 0.2 s into the next window, rounded up
    assert headers["Retry-After"] == "51"
    assert await counted(db, org) == 300


async def test_limits_are_settings(stack, http, org, limited, clock):
    url = await limited(rate_limit_free_per_minute=3, rate_limit_pro_per_minute=5)
    clock.at(0)

    assert await statuses(http, [url], stack.auth(org=org, sub="f"), 4) == [ADMITTED] * 3 + [429]
    pro = stack.auth(org=org, sub="p", tier="pro")
    assert await statuses(http, [url], pro, 6) == [ADMITTED] * 5 + [429]


async def test_users_and_tenants_have_budgets_of_their_own(stack, http, org, limited, clock):
    url = await limited()
    clock.at(30)
    assert await statuses(http, [url], stack.auth(org=org, sub="alice"), 61) == (
        [ADMITTED] * 60 + [429]
    )

    # Another user of the tenant, and the same user id in another tenant.
    assert await statuses(http, [url], stack.auth(org=org, sub="bob"), 60) == [ADMITTED] * 60
    other_org = f"{org}-other"
    assert await statuses(http, [url], stack.auth(org=other_org, sub="alice"), 60) == (
        [ADMITTED] * 60
    )
    assert (await call(http, url, stack.auth(org=org, sub="alice")))[0] == 429


async def test_the_limit_holds_across_two_gateways(stack, http, db, org, limited, clock):
    first, second = await limited(), await limited()
    clock.at(5)
    user = stack.auth(org=org, sub="alternating")

    results = await statuses(http, [first, second], user, 62)

    assert results == [ADMITTED] * 60 + [429, 429]  # the 61st (on `first`) and the 62nd
    assert await counted(db, org, "alternating") == 60


async def test_a_concurrent_burst_over_two_gateways_admits_exactly_the_limit(
    stack, http, db, org, limited, clock
):
    first, second = await limited(), await limited()
    clock.at(20)

    results = await burst(http, [first, second], stack.auth(org=org, sub="burst"), 90)

    assert results == [ADMITTED] * 60 + [429] * 30
    assert await counted(db, org, "burst") == 60


async def test_the_window_frees_up(stack, http, org, limited, clock):
    url = await limited()
    user = stack.auth(org=org)
    clock.at(10)
    assert await statuses(http, [url], user, 60) == [ADMITTED] * 60

    clock.at(59)
    assert (await call(http, url, user))[1]["retryAfter"] == 2
    clock.at(60)  # the next window, but the last 60 s still hold all 60 requests
    assert (await call(http, url, user))[1]["retryAfter"] == 1
    clock.at(61)  # one second of them has slid out: one request
    assert await statuses(http, [url], user, 2) == [ADMITTED, 429]
    clock.at(181)  # the window before this one is empty: the whole budget again
    assert await statuses(http, [url], user, 61) == [ADMITTED] * 60 + [429]


async def test_no_burst_of_twice_the_limit_at_a_window_edge(stack, http, org, limited, clock):
    url = await limited()
    user = stack.auth(org=org)
    clock.at(59)
    assert await statuses(http, [url], user, 60) == [ADMITTED] * 60

    # Half a minute into the next window, half of the previous one still counts.
    clock.at(90)
    assert await statuses(http, [url], user, 31) == [ADMITTED] * 30 + [429]


async def test_retry_after_is_when_the_next_request_is_admitted(stack, http, org, limited, clock):
    url = await limited(rate_limit_free_per_minute=7)
    user = stack.auth(org=org)
    clock.at(13.25)
    assert await statuses(http, [url], user, 7) == [ADMITTED] * 7
    elapsed = 13.25
    for _ in range(12):
        status, body, _ = await call(http, url, user)
        assert status == 429
        wait = body["retryAfter"]
        if wait > 1:  # a second earlier is still too early
            clock.at(elapsed + wait - 1)
            assert (await call(http, url, user))[0] == 429
        elapsed += wait
        clock.at(elapsed)
        assert (await call(http, url, user))[0] == ADMITTED


async def test_unauthenticated_requests_are_not_counted(stack, http, db, org, limited, clock):
    url = await limited()
    clock.at(0)
    forged = jwt.encode(
        {"sub": "user-1", "org_id": org, "exp": int(time.time()) + 60, "tier": "free"},
        "not-the-secret-not-the-secret-not-the-secret",
        algorithm="HS256",
    )
    expired = stack.token(org=org)
    expired = jwt.encode(
        {**jwt.decode(expired, options={"verify_signature": False}), "exp": 1000},
        stack.settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    # Let through to the handler, which refuses them: 401, never 429.
    for headers in (None, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic x"}):
        assert await statuses(http, [url], headers, 25) == [401] * 25
    for token in (forged, expired):
        headers = {"Authorization": f"Bearer {token}"}
        assert await statuses(http, [url], headers, 70) == [401] * 70

    assert await counted(db, org) == 0
    # The user whose identity they claimed still has the whole budget.
    assert await statuses(http, [url], stack.auth(org=org), 61) == [ADMITTED] * 60 + [429]


async def test_only_paths_under_the_prefixes_are_counted(stack, http, db, org, limited, clock):
    url = await limited(rate_limit_free_per_minute=2)
    user = stack.auth(org=org)
    clock.at(0)
    # Paths beside the prefix, one outside it ending like it, no route at all, another route.
    for path in ("/files/jobsx/1", "/v1/files/jobs/1", "/files/jobs-not/1", "/health"):
        assert 429 not in await statuses(http, [url], user, 5, path=path)
    assert await counted(db, org) == 0

    assert await statuses(http, [url], user, 3) == [ADMITTED] * 2 + [429]


async def test_the_library_api_is_limited_by_default(stack, http, db, org, gateway_with):
    # The default prefix, the database's clock, and whatever the library routes answer.
    assert stack.settings.rate_limited_prefixes == ["/api/attachments"]
    _, url = await gateway_with(stack, rate_limit_free_per_minute=2)
    user = stack.auth(org=org)

    first = await statuses(http, [url], user, 2, path="/api/attachments")
    status, body, headers = await call(http, url, user, path="/api/attachments")

    assert 429 not in first
    assert status == 429
    assert body["error"] == "Rate limit exceeded"
    # The rest of this window, then 30 s of the next: one of the two has slid out by then.
    assert 30 < body["retryAfter"] <= 90
    assert headers["Retry-After"] == str(body["retryAfter"])
    assert await counted(db, org) == 2
    # The stack's own gateway counts them too.
    await call(http, stack.gateway_url, stack.auth(org=org, sub="other"), path="/api/attachments")
    assert await counted(db, org, "other") == 1


async def test_old_windows_are_purged(stack, db, org):
    now = await db.fetchval("SELECT date_trunc('minute', now())")
    for minutes_ago in (0, 1, 2, 3, 10):
        await db.execute(
            "INSERT INTO gateway.rate_limit_windows (org_id, user_id, window_start, count)"
            " VALUES ($1, 'user-1', $2, 1)",
            org,
            now - timedelta(minutes=minutes_ago),
        )

    await purge_windows(stack.gateway_app[POOL])

    kept = await db.fetch(
        "SELECT window_start FROM gateway.rate_limit_windows WHERE org_id = $1"
        " ORDER BY window_start DESC",
        org,
    )
    # The current window and the previous one (which the next decision still weighs).
    assert [r["window_start"] for r in kept][:2] == [now, now - timedelta(minutes=1)]
    assert all(r["window_start"] >= now - timedelta(minutes=2) for r in kept)


def _admitted(limit: int, previous: int, current: int, elapsed_us: int) -> bool:
    """The admission rule, written out in integers (microseconds)."""
    if elapsed_us >= 60_000_000:  # the next window: this one's count is the previous one
        elapsed_us -= 60_000_000
        previous, current = current, 0
    return (current + 1) * 60_000_000 + previous * (60_000_000 - elapsed_us) <= limit * 60_000_000


@pytest.mark.parametrize("limit", [1, 2, 7, 60, 300])
def test_retry_after_is_the_first_whole_second_a_request_is_admitted(limit):
    for previous in sorted({0, 1, limit // 2, limit - 1, limit, limit + 3}):
        for current in sorted({0, 1, limit // 2, limit - 1, limit}):
            for elapsed_us in (0, 1, 999_999, 12_345_678, 30_000_000, 59_999_999):
                if current < 0 or _admitted(limit, previous, current, elapsed_us):
                    continue
                wait = retry_after_seconds(
                    limit, previous, current, timedelta(microseconds=elapsed_us)
                )
                assert _admitted(limit, previous, current, elapsed_us + wait * 1_000_000)
                if wait > 1:
                    assert not _admitted(
                        limit, previous, current, elapsed_us + (wait - 1) * 1_000_000
                    )
