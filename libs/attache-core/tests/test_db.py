"""Migrations: ordered, applied once, safe when replicas start together."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from attache_core.db import apply_migrations
from attache_devstack.waiting import eventually


async def test_concurrent_migrators_apply_each_file_once(database_url, tmp_path):
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    migrations = [
        ("001_a.sql", f"CREATE TABLE {schema}.t (n int); INSERT INTO {schema}.t VALUES (1);"),
        ("002_b.sql", f"INSERT INTO {schema}.t VALUES (2);"),
    ]
    conns = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply_migrations(c, schema, migrations) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 0, 2]
        assert await conns[0].fetchval(f"SELECT array_agg(n ORDER BY n) FROM {schema}.t") == [1, 2]
        # A later file is applied on the next start; earlier ones are not re-run.
        migrations.append(("003_c.sql", f"INSERT INTO {schema}.t VALUES (3);"))
        assert await apply_migrations(conns[0], schema, migrations) == ["003_c.sql"]
        assert await conns[0].fetchval(f"SELECT count(*) FROM {schema}.t") == 3
    finally:
        await conns[0].execute(f"DROP SCHEMA {schema} CASCADE")
        for c in conns:
            await c.close()


async def _drop(pool: asyncpg.Pool, query: str) -> None:
    """Terminates the backend whose last statement was `query`, and waits until it is gone."""
    sql = "SELECT pid FROM pg_stat_activity WHERE query = $1"
    pid = await pool.fetchval(sql, query)
    await pool.execute("SELECT pg_terminate_backend($1)", pid)
    gone = "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)"
    await eventually(lambda: pool.fetchval(gone, pid))


async def test_held_connection_keeps_one_connection_across_statements(database_url):
    from attache_core.db import HeldConnection, create_pool

    pool = await create_pool(database_url, min_size=1, max_size=2)
    held = HeldConnection(pool)
    same_session = "DO $$ BEGIN PERFORM current_setting('attache.held'); END $$"
    try:
        await held.execute("SET attache.held = 'yes'")
        await held.execute(same_session)  # raises unless on the connection that SET it
        with pytest.raises(asyncpg.UndefinedTableError):
            await held.execute("SELECT * FROM no_such_table")
        await held.execute(same_session)  # a refused statement keeps the connection
    finally:
        await held.close()
        await asyncio.wait_for(pool.close(), 10)  # nothing left checked out


async def test_held_connection_replaces_one_the_server_dropped(database_url):
    from attache_core.db import HeldConnection, create_pool

    pool = await create_pool(database_url, min_size=1, max_size=2)
    held = HeldConnection(pool)
    first, second = "SELECT 'first held connection'", "SELECT 'second held connection'"
    try:
        # Dropped between statements: the pool takes it back on its own once it sees the
        # connection close, and the next statement runs on another.
        await held.execute(first)
        await _drop(pool, first)
        await asyncio.sleep(0.2)  # the client sees the close
        await held.execute(second)

        # Dropped just before a statement: at most that one fails.
        await _drop(pool, second)
        try:
            await held.execute("SELECT 1")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError):
            pass
        await held.execute("SELECT 1")
    finally:
        await held.close()
        await asyncio.wait_for(pool.close(), 10)
