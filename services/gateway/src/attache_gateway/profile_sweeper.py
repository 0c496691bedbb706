"""Sweeps profile image uploads that can no longer become a profile image, with their objects.

Pending uploads never accepted, once expired; rejected ones (their objects are
already gone), once expired; and retired ones (replaced images whose deletion did
not finish). Accepted and accepting uploads are never swept: they are, or may be,
a profile's image. Safe with many gateway replicas: each batch is claimed with
SKIP LOCKED, and rows are deleted only after their objects are.
"""

from __future__ import annotations

import asyncpg
import structlog

from attache_core.s3 import BlobStore
from attache_gateway import profile_repository as repo

log = structlog.get_logger("attache.gateway.profile_sweeper")


async def sweep_profile_uploads(pool: asyncpg.Pool, blobs: BlobStore, *, batch: int = 200) -> int:
    swept = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await repo.lock_sweepable(conn, batch)
            for row in rows:
                await blobs.delete(row["bucket"], row["object_key"])
            await repo.delete_uploads(conn, [r["id"] for r in rows])
        swept += len(rows)
        if len(rows) < batch:
            return swept


async def sweep_profile_uploads_logged(pool: asyncpg.Pool, blobs: BlobStore) -> None:
    """One round for the gateway's sweeper loop: logs what it did, never raises."""
    try:
        swept = await sweep_profile_uploads(pool, blobs)
    except Exception:
        log.exception("profile_sweep_failed")
        return
    if swept:
        log.info("profile_uploads_swept", count=swept)
