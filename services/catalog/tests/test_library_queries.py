"""The library's query paths (library.query_page) against plain SQL over the same rows:
the ids-first page, and phrase searches read month by month with the phrase keys of
migration 011 — same rows, same order, same totals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from attache_catalog import library
from attache_catalog.app import MIGRATIONS
from attache_catalog.library_domain import LibraryQuery
from attache_core.auth import Principal
from attache_core.db import create_pool, migrate
from attache_devstack import infra
from attache_devstack.seed import copy_rows, generate

N = 3000
PHRASES = [
    '"your acme receipt"',  # common words, every month
    '"q3 2025 report"',  # a few months only
    '"acme agreement for signature"',
    '"photos from ada"',
    '"acme follow-up"',  # a compound word: "follow-up", "follow", "up"
    '"nothing like this"',
]


@pytest.fixture(scope="module")
async def seeded(database_url, run_id):
    """A database of its own: N rows in one organisation, N // 3 in another."""
    admin = infra.with_database(database_url, "postgres")
    name = f"attache_test_{run_id}_{uuid.uuid4().hex[:6]}"
    url = await infra.create_database(admin, name)
    await migrate(url, "catalog", MIGRATIONS)
    org = f"org-q-{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(url)
    try:
        await copy_rows(conn, list(generate(org, N, seed=5)))
        await copy_rows(conn, list(generate("org-other", N // 3, seed=6)))
        # A tombstone and an expired row must stay out of every path.
        await conn.execute(
            """UPDATE catalog.attachments SET deleted_at = now()
               WHERE id = (SELECT id FROM catalog.attachments WHERE org_id = $1
                           AND email_subject ILIKE 'your acme receipt%' LIMIT 1)""",
            org,
        )
        await conn.execute(
            """UPDATE catalog.attachments SET expires_at = now() - interval '1 day'
               WHERE id = (SELECT id FROM catalog.attachments WHERE org_id = $1
                           AND email_subject ILIKE 'your acme receipt%' OFFSET 3 LIMIT 1)""",
            org,
        )
        await conn.execute("ANALYZE catalog.attachments")
    finally:
        await conn.close()
    pool = await create_pool(url)
    yield pool, org
    await pool.close()
    await infra.drop_database(admin, name)


def principal(org: str) -> Principal:
    return Principal(sub="tester", org_id=org, roles=frozenset({"admin"}), tier="pro")


async def expected(pool, org: str, params: dict[str, str]) -> list[str]:
    """Every matching id in order: the filters of library._where, sorted by plain SQL."""
    q = LibraryQuery.parse(params)
    where = library._where(principal(org), q)
    expr = library._SORT_EXPRESSIONS[q.sort_by]
    direction = "DESC" if q.sort_order == "desc" else "ASC"
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT id FROM catalog.attachments WHERE {where.sql()}"
            f" ORDER BY {expr} {direction}, id {direction}",
            *where.args,
        )
    return [str(r["id"]) for r in rows]


async def walk(pool, org: str, params: dict[str, str]) -> tuple[list[str], list[tuple[int, bool]]]:
    """Every id the list returns, following nextCursor; and each page's total."""
    ids, totals, cursor = [], [], None
    while True:
        q = LibraryQuery.parse({**params, **({"cursor": cursor} if cursor else {})})
        page = await library.list_attachments(pool, principal(org), q)
        ids += [str(a.id) for a in page.data]
        totals.append((page.pagination.total, page.pagination.totalIsEstimate))
        cursor = page.pagination.nextCursor
        if not cursor:
            return ids, totals


async def test_phrase_pairs_only_for_a_single_phrase(seeded):
    pool, _ = seeded
    cases = {
        '"your acme receipt"': ["your acme", "acme receipt"],
        '"acme follow-up"': ["acme follow-up", "follow-up follow", "follow up"],
        '"Müller invoice 20250101 from"': ["müller invoice"],  # no long numbers
        '"Q3 2025 report"': ["q3 2025", "2025 report"],
        "acme receipt": None,  # terms
        '"q3 report" acme': None,  # a phrase among terms
        '"q3 report" or acme': None,
        '-"q3 report"': None,
        '"INV-2025-12345"': None,  # no pair of words
        '"invoice"': None,
    }
    async with pool.acquire() as conn:
        for search, pairs in cases.items():
            got = await conn.fetchval(
                "SELECT catalog.phrase_pairs(websearch_to_tsquery('simple', $1))", search
            )
            assert got == pairs, search


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("search", PHRASES)
async def test_phrase_search_reads_the_same_rows_as_plain_sql(seeded, search, order):
    pool, org = seeded
    params = {"search": search, "sortOrder": order, "limit": "7"}
    want = await expected(pool, org, params)
    ids, totals = await walk(pool, org, params)
    assert ids == want
    # Up to the cap, the total is exact on every page.
    assert len(want) <= library.PHRASE_EXACT_COUNT_LIMIT
    assert set(totals) == {(len(want), False)}
    # page=N gives the same slices as the cursor.
    for page in (1, 2, 5):
        q = LibraryQuery.parse({**params, "page": str(page)})
        got = await library.list_attachments(pool, principal(org), q)
        assert [str(a.id) for a in got.data] == want[(page - 1) * 7 : page * 7]


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_phrase_totals_above_the_cap_are_estimates_and_pages_stay_exact(
    seeded, monkeypatch, order
):
    pool, org = seeded
    monkeypatch.setattr(library, "PHRASE_EXACT_COUNT_LIMIT", 5)
    params = {"search": '"your acme receipt"', "sortOrder": order, "limit": "4"}
    want = await expected(pool, org, params)
    want_desc = await expected(pool, org, {**params, "sortOrder": "desc"})
    assert len(want) > 5
    ids, totals = await walk(pool, org, params)
    assert ids == want  # months before a cursor skipped once the total is decided
    assert all(estimated and total > 5 for total, estimated in totals)
    # A filter narrowing the phrase to a few rows gives an exact total again.
    async with pool.acquire() as conn:
        third_newest = await conn.fetchval(
            "SELECT sort_date FROM catalog.attachments WHERE id = $1", uuid.UUID(want_desc[2])
        )
    few = {**params, "dateFrom": third_newest.isoformat()}
    want = await expected(pool, org, few)
    assert 3 <= len(want) <= 5
    ids, totals = await walk(pool, org, few)
    assert ids == want and totals[0] == (len(want), False)


async def test_phrase_search_stays_in_its_tenant(seeded):
    pool, org = seeded
    ids, _ = await walk(pool, org, {"search": '"your acme receipt"', "limit": "200"})
    async with pool.acquire() as conn:
        orgs = await conn.fetch(
            "SELECT DISTINCT org_id FROM catalog.attachments WHERE id = ANY($1::uuid[])", ids
        )
    assert [r["org_id"] for r in orgs] == [org]


@pytest.mark.parametrize(
    "params",
    [
        {"documentTypes": "report", "fileCategories": "document", "sortBy": "size"},
        {"documentTypes": "invoice,contract", "dateFrom": "2024-06-01", "sortBy": "size"},
        {"fileTypes": "pdf", "sortBy": "name", "sortOrder": "asc"},
        {"minSize": "100000", "sortBy": "sender"},
        {"search": "acme", "sortBy": "type", "sortOrder": "asc"},
        {"search": '"your acme receipt"', "sortBy": "size"},
        {},
    ],
)
async def test_ids_first_pages_are_the_plain_sort(seeded, params):
    pool, org = seeded
    params = {**params, "limit": "50"}
    want = await expected(pool, org, params)
    ids, totals = await walk(pool, org, params)
    assert ids == want
    total, estimated = totals[0]
    assert estimated or total == len(want)


async def test_phrase_search_follows_date_changes(seeded):
    """Phrase keys carry the month: an update of the date moves the row's keys."""
    pool, org = seeded
    params = {"search": '"your acme receipt"'}
    async with pool.acquire() as conn:
        moved = await conn.fetchval(
            """UPDATE catalog.attachments SET email_date = $2
               WHERE id = (SELECT id FROM catalog.attachments WHERE org_id = $1
                           AND deleted_at IS NULL AND expires_at IS NULL
                           AND email_subject ILIKE 'your acme receipt%'
                           ORDER BY sort_date LIMIT 1)
               RETURNING id""",
            org,
            datetime.now(UTC),
        )
    q = LibraryQuery.parse(params)
    page = await library.list_attachments(pool, principal(org), q)
    assert str(page.data[0].id) == str(moved)
    assert [str(a.id) for a in page.data] == (await expected(pool, org, params))[:50]
