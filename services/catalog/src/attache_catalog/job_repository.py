"""Plain SQL for background jobs. Functions take a connection; callers own the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

# What a reader may import from: a live file of the organisation.
_VISIBLE_FILE = "deleted_at IS NULL AND (expires_at IS NULL OR expires_at > now())"


async def get_import_source(
    conn: asyncpg.Connection, org_id: str, file_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT id, bucket, object_key, filename, content_type, size_bytes
            FROM catalog.attachments WHERE org_id = $1 AND id = $2 AND {_VISIBLE_FILE}""",
        org_id,
        file_id,
    )


async def insert_job(
    conn: asyncpg.Connection,
    *,
    job_id: uuid.UUID,
    org_id: str,
    job_type: str,
    created_by: str,
    file_upload_id: uuid.UUID | None = None,
    bucket: str | None = None,
    object_key: str | None = None,
    options: dict[str, Any] | None = None,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO catalog.background_jobs
               (id, org_id, job_type, created_by, file_upload_id, bucket, object_key, options)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING *""",
        job_id,
        org_id,
        job_type,
        created_by,
        file_upload_id,
        bucket,
        object_key,
        options or {},
    )


async def insert_finished_jobs(
    conn: asyncpg.Connection,
    rows: list[tuple[uuid.UUID, str, str, int, int, str | None]],
    started_at: datetime,
    finished_at: datetime,
) -> None:
    """Jobs that ran elsewhere and are recorded once done: (id, org, status, ok, failed, msg)."""
    await conn.execute(
        """INSERT INTO catalog.background_jobs
               (id, org_id, job_type, status, created_by, total_rows, processed_rows,
                successful_rows, failed_rows, message, phase, progress, created_at, started_at,
                finished_at, updated_at)
           SELECT r.id, r.org_id, 'file_cleanup', r.status, 'system:file-sweeper',
                  r.ok + r.failed, r.ok + r.failed, r.ok, r.failed, r.message, 'done', 100,
                  $2, $2, $3, $3
           FROM unnest($1::uuid[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                       $8::text[]) AS r(id, org_id, status, ok, failed, message)""",
        [r[0] for r in rows],
        started_at,
        finished_at,
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [r[5] for r in rows],
    )


async def get_job(
    conn: asyncpg.Connection, org_id: str, job_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM catalog.background_jobs WHERE org_id = $1 AND id = $2", org_id, job_id
    )


async def list_jobs(
    conn: asyncpg.Connection,
    org_id: str,
    *,
    status: str | None,
    job_type: str | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM catalog.background_jobs
           WHERE org_id = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::text IS NULL OR job_type = $3)
           ORDER BY created_at DESC, id DESC
           LIMIT $4 OFFSET $5""",
        org_id,
        status,
        job_type,
        limit,
        offset,
    )
