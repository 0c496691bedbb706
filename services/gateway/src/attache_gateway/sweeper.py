"""Deletes upload sessions that expired unconfirmed, with their objects.

Safe with many gateway replicas: each batch is claimed with SKIP LOCKED, so two
sweepers never take the same rows, and rows are deleted only after their
objects are.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from attache_core.s3 import BlobStore
from attache_gateway import repository as repo

log = structlog.get_logger("attache.gateway.sweeper")


async def sweep_expired_uploads(pool: asyncpg.Pool, blobs: BlobStore, *, batch: int = 200) -> int:
    swept = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await repo.lock_expired_sessions(conn, batch)
            for row in rows:
                await blobs.delete(row["bucket"], row["object_key"])
            await repo.delete_sessions(conn, [r["id"] for r in rows])
        swept += len(rows)
        if len(rows) < batch:
            return swept


async def run_sweeper(pool: asyncpg.Pool, blobs: BlobStore, interval: float) -> None:
    while True:
        try:
            swept = await sweep_expired_uploads(pool, blobs)
            if swept:
                log.info("expired_uploads_swept", count=swept)
        except Exception:
            log.exception("sweep_failed")
        await asyncio.sleep(interval)
