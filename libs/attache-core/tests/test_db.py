"""Migrations: ordered, applied once, safe when replicas start together."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from attache_core.db import apply_migrations


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
