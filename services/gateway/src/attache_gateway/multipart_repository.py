"""Plain SQL for multipart upload sessions (rows of gateway.upload_sessions with an S3 UploadId)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from attache_gateway.repository import SESSION_COLUMNS

MULTIPART_COLUMNS = f"{SESSION_COLUMNS}, s3_upload_id, part_size"


async def insert_multipart_session(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    session_id: uuid.UUID,
    org_id: str,
    customer_id: uuid.UUID,
    created_by: str,
    bucket: str,
    object_key: str,
    filename: str,
    content_type: str,
    declared_size: int,
    s3_upload_id: str,
    part_size: int,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO gateway.upload_sessions
             (id, org_id, customer_id, created_by, bucket, object_key, filename, content_type,
              declared_size, s3_upload_id, part_size, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
        session_id,
        org_id,
        customer_id,
        created_by,
        bucket,
        object_key,
        filename,
        content_type,
        declared_size,
        s3_upload_id,
        part_size,
        expires_at,
    )


async def get_multipart_session(
    conn: asyncpg.Connection | asyncpg.Pool, org_id: str, session_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {MULTIPART_COLUMNS} FROM gateway.upload_sessions
            WHERE id = $1 AND org_id = $2 AND s3_upload_id IS NOT NULL""",
        session_id,
        org_id,
    )


async def get_multipart_session_for_update(
    conn: asyncpg.Connection | asyncpg.Pool, org_id: str, session_id: uuid.UUID
) -> asyncpg.Record | None:
    """Locks the session (inside the caller's transaction): a complete, a repeat of it and an
    abort run one after the other."""
    return await conn.fetchrow(
        f"""SELECT {MULTIPART_COLUMNS} FROM gateway.upload_sessions
            WHERE id = $1 AND org_id = $2 AND s3_upload_id IS NOT NULL
            FOR UPDATE""",
        session_id,
        org_id,
    )


async def mark_aborted(conn: asyncpg.Connection, session_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE gateway.upload_sessions SET status = 'aborted' WHERE id = $1", session_id
    )


async def pending_upload_ids(conn: asyncpg.Connection, s3_upload_ids: list[str]) -> set[str]:
    """Those of these S3 UploadIds that a pending session still owns."""
    rows = await conn.fetch(
        """SELECT s3_upload_id FROM gateway.upload_sessions
           WHERE s3_upload_id = ANY($1::text[]) AND status = 'pending'""",
        s3_upload_ids,
    )
    return {r["s3_upload_id"] for r in rows}


async def try_lock_orphan_scan(conn: asyncpg.Connection) -> bool:
    """One replica at a time scans S3 for orphaned uploads (until this transaction ends)."""
    return await conn.fetchval(
        "SELECT pg_try_advisory_xact_lock(hashtext('gateway:multipart-orphan-scan'))"
    )
