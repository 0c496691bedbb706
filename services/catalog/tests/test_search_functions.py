"""Migration 014 redefines the functions behind the attachments' generated columns and
phrase index so that PostgreSQL plans them once per connection (or inlines them) instead
of once per statement. The stored values and index entries of existing rows were made by
the bodies of migrations 007 and 011, so the new bodies must give exactly their results:
here both run side by side (the old ones as temporary functions) over seeded rows and
edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest

from attache_catalog.app import MIGRATIONS
from attache_core.db import migrate
from attache_devstack.seed import COLUMNS, generate


def old_definitions() -> str:
    """The three functions as migrations 007 and 011 created them, as pg_temp.*_old."""
    statements = []
    for migration, name in (
        ("007_library_search.sql", "search_document"),
        ("007_library_search.sql", "metadata_amount"),
        ("011_library_covering_and_phrases.sql", "phrase_keys"),
    ):
        text = (MIGRATIONS / migration).read_text()
        start = text.index(f"CREATE FUNCTION catalog.{name}(")
        end = text.index("$$;", text.index("$$", start) + 2) + 3
        statements.append(text[start:end].replace(f"catalog.{name}(", f"pg_temp.{name}_old(", 1))
    return "\n".join(statements)


EDGE_CASES = [
    # filename, sender_name, sender_email, email_subject, key_terms, extracted_metadata
    (None, None, None, None, None, None),
    ("", "", "", "", [], {}),
    ("Q3 report (final).PDF", "Ada", "ada@example.com", "Your Q3 2025 report", ["q3"], None),
    ("a.b", None, "x@y.co", "follow-up: the follow-up", None, {"amount": "12.50"}),
    ("n", None, None, "12345 99 -4 a/b c@d.e 1.5", ["two words"], {"total": "-7"}),
    ("n", None, None, "müller straße", None, {"amount": "1234567890123456"}),
    ("n", None, None, None, None, {"amount": "1.1234567", "total": "3"}),
    ("n", None, None, None, None, {"amount": None, "total": "3"}),
    ("n", None, None, None, None, {"amount": 42}),
    ("n", None, None, None, None, {"amount": "abc", "isPaid": "false"}),
    ("n", None, None, None, None, {"nested": {"amount": "5"}, "vendor": "Acme, Inc."}),
]


@pytest.fixture(scope="module")
async def conn(database_url):
    await migrate(database_url, "catalog", MIGRATIONS)
    connection = await asyncpg.connect(database_url)
    await connection.execute(old_definitions())
    yield connection
    await connection.close()


def _json_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _inputs() -> list[tuple]:
    """(filename, sender_name, sender_email, email_subject, key_terms, metadata, date)."""
    field = {name: i for i, name in enumerate(COLUMNS)}
    names = ("filename", "sender_name", "sender_email", "email_subject", "key_terms")
    seeded = [
        (*(row[field[n]] for n in names), row[field["extracted_metadata"]])
        for row in generate("org-functions", 400, seed=11)
    ]
    dates = [datetime(2025, 1, 31, 23, 30, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)]
    return [(*case, dates[i % len(dates)]) for i, case in enumerate(EDGE_CASES + seeded)]


async def test_the_new_bodies_give_the_old_results(conn):
    inputs = _inputs()
    assert sum(1 for case in inputs[len(EDGE_CASES) :] if case[5]) > 10  # seeded invoices
    rows = await conn.fetch(
        """SELECT catalog.search_document(f, sn, se, es, kt, md)::text AS doc,
                  pg_temp.search_document_old(f, sn, se, es, kt, md)::text AS doc_old,
                  catalog.metadata_amount(md) AS amount,
                  pg_temp.metadata_amount_old(md) AS amount_old,
                  catalog.phrase_keys('org-a', d, pg_temp.search_document_old(f, sn, se, es, kt, md))::text AS keys,
                  pg_temp.phrase_keys_old('org-a', d, pg_temp.search_document_old(f, sn, se, es, kt, md))::text AS keys_old
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::timestamptz[]) AS t(f, sn, se, es, ktj, mdj, d),
                LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(ktj::jsonb)),
                                mdj::jsonb) k(kt_all, md),
                LATERAL (SELECT CASE WHEN ktj IS NULL THEN NULL ELSE kt_all END) n(kt)""",
        [c[0] for c in inputs],
        [c[1] for c in inputs],
        [c[2] for c in inputs],
        [c[3] for c in inputs],
        [None if c[4] is None else json.dumps(list(c[4])) for c in inputs],
        [None if c[5] is None else _json_text(c[5]) for c in inputs],
        [c[6] for c in inputs],
    )
    assert len(rows) == len(inputs)
    for row, case in zip(rows, inputs, strict=True):
        assert (row["doc"], row["amount"], row["keys"]) == (
            row["doc_old"],
            row["amount_old"],
            row["keys_old"],
        ), case
    # Not a comparison of NULLs: the cases reach every branch.
    amounts = [None if r["amount"] is None else str(r["amount"]) for r in rows]
    assert amounts[: len(EDGE_CASES)] == [
        None,
        None,
        None,
        "12.50",
        "-7",
        None,
        None,
        "3",
        "42",
        None,
        None,
    ]
    assert sum(1 for r in rows if len(r["keys"]) > 2) > len(rows) // 2  # most have pairs


async def test_the_amount_is_inlined_and_the_others_keep_their_plans(conn):
    """metadata_amount becomes part of the statement that calls it; the two others are
    PL/pgSQL, whose plans live as long as the connection."""
    plan = await conn.fetchval(
        """EXPLAIN (VERBOSE, FORMAT JSON)
           SELECT catalog.metadata_amount(extracted_metadata) FROM catalog.attachments"""
    )
    output = plan if isinstance(plan, str) else json.dumps(plan)
    assert "metadata_amount" not in output and "CASE WHEN" in output
    languages = dict(
        await conn.fetch(
            """SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
               WHERE p.pronamespace = 'catalog'::regnamespace
                 AND p.proname IN ('search_document', 'phrase_keys')"""
        )
    )
    assert languages == {"search_document": "plpgsql", "phrase_keys": "plpgsql"}
