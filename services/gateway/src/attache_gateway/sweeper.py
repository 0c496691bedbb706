"""Deletes upload sessions that expired unconfirmed, with their objects, and rejected or
aborted sessions once their retention has passed.

Safe with many gateway replicas: each batch is claimed with SKIP LOCKED, so two
sweepers never take the same rows, and rows are deleted only after their
objects are. An expired multipart session is aborted in S3 as well; S3 multipart
uploads that no pending session owns are aborted once they are as old as the
multipart expiry (multipart.abort_orphaned_uploads, one replica at a time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import asyncpg
import structlog

from attache_core.s3 import BlobStore
from attache_gateway import multipart, multipart_storage
from attache_gateway import repository as repo
from attache_gateway.profile_sweeper import sweep_profile_uploads_logged

log = structlog.get_logger("attache.gateway.sweeper")


async def sweep_expired_uploads(pool: asyncpg.Pool, blobs: BlobStore, *, batch: int = 200) -> int:
    swept = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await repo.lock_expired_sessions(conn, batch)
            for row in rows:
                if row["s3_upload_id"] is not None:  # a multipart upload: drop its parts
                    await multipart_storage.abort_upload(
                        blobs, row["bucket"], row["object_key"], row["s3_upload_id"]
                    )
                await blobs.delete(row["bucket"], row["object_key"])
            await repo.delete_sessions(conn, [r["id"] for r in rows])
        swept += len(rows)
        if len(rows) < batch:
            return swept


async def purge_settled_sessions(pool: asyncpg.Pool, retention: float, *, batch: int = 1000) -> int:
    """Deletes rejected and aborted sessions past their retention, a batch at a time (short
    statements, so replicas purging at once don't hold each other up for long)."""
    purged = 0
    while True:
        deleted = await repo.purge_settled_sessions(pool, retention, batch)
        purged += deleted
        if deleted < batch:
            return purged


async def run_sweeper(
    pool: asyncpg.Pool,
    blobs: BlobStore,
    interval: float,
    *,
    multipart_buckets: Sequence[str] = (),
    multipart_max_age: float = 24 * 3600.0,
    settled_retention: float = 30 * 24 * 3600.0,
) -> None:
    while True:
        try:
            swept = await sweep_expired_uploads(pool, blobs)
            if swept:
                log.info("expired_uploads_swept", count=swept)
            purged = await purge_settled_sessions(pool, settled_retention)
            if purged:
                log.info("settled_upload_sessions_purged", count=purged)
        except Exception:
            log.exception("sweep_failed")
        for bucket in multipart_buckets:
            try:
                aborted = await multipart.abort_orphaned_uploads(
                    pool, blobs, bucket, older_than=timedelta(seconds=multipart_max_age)
                )
                if aborted:
                    log.info("orphaned_multipart_uploads_aborted", bucket=bucket, count=aborted)
            except Exception:
                log.exception("multipart_sweep_failed", bucket=bucket)
        await sweep_profile_uploads_logged(pool, blobs)
        await asyncio.sleep(interval)
