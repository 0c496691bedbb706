"""Plain SQL for the gateway schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

import asyncpg
import pydantic_core

from attache_core.db import HeldConnection

SESSION_COLUMNS = (
    "id, org_id, customer_id, created_by, bucket, object_key, filename, content_type,"
    " declared_size, checksum_sha256, content_md5, status, reject_reason, attachment_id, etag,"
    " detected_mime_type,"
    " created_at, expires_at"
)


class NewSession(NamedTuple):
    """An upload session as presign creates it (columns in insert order). The ids may be
    UUIDs or their text: both reach PostgreSQL as the same JSON string."""

    id: uuid.UUID | str
    org_id: str
    customer_id: uuid.UUID | str
    created_by: str
    bucket: str
    object_key: str
    filename: str
    content_type: str
    declared_size: int
    checksum_sha256: str | None
    content_md5: str | None
    expires_at: datetime


async def insert_sessions(db: HeldConnection | asyncpg.Pool, sessions: list[NewSession]) -> None:
    """One statement for the whole batch (see attache_core.batching), its rows as one JSON
    array in one text parameter. Twelve typed arrays (unnest) cost the gateway about twice
    the CPU per row: asyncpg checks every array element against collections.abc ABCs.
    A pipelined executemany is dearer still, on both ends. jsonb, not json: `->>` on json
    parses the element again for every field (twice PostgreSQL's CPU per row)."""
    await db.execute(
        # $1::text: the pool's jsonb codec would encode the string again.
        """INSERT INTO gateway.upload_sessions
             (id, org_id, customer_id, created_by, bucket, object_key, filename, content_type,
              declared_size, checksum_sha256, content_md5, expires_at)
           SELECT (r->>0)::uuid, r->>1, (r->>2)::uuid, r->>3, r->>4, r->>5, r->>6, r->>7,
                  (r->>8)::bigint, r->>9, r->>10, (r->>11)::timestamptz
           FROM jsonb_array_elements($1::text::jsonb) AS r""",
        # Named tuples become arrays in column order; UUIDs and datetimes ISO strings.
        pydantic_core.to_json(sessions).decode(),
    )


async def get_session_for_update(
    conn: asyncpg.Connection, org_id: str, bucket: str, object_key: str
) -> asyncpg.Record | None:
    """Locks the session: two concurrent confirms of one key run one after the other."""
    return await conn.fetchrow(
        f"""SELECT {SESSION_COLUMNS} FROM gateway.upload_sessions
            WHERE org_id = $1 AND bucket = $2 AND object_key = $3
            FOR UPDATE""",
        org_id,
        bucket,
        object_key,
    )


async def mark_confirmed(
    conn: asyncpg.Connection, session_id: uuid.UUID, *, etag: str | None, detected_mime_type: str
) -> None:
    await conn.execute(
        """UPDATE gateway.upload_sessions
           SET status = 'confirmed', attachment_id = id, etag = $2, detected_mime_type = $3
           WHERE id = $1""",
        session_id,
        etag,
        detected_mime_type,
    )


async def mark_rejected(conn: asyncpg.Connection, session_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE gateway.upload_sessions SET status = 'rejected', reject_reason = $2 WHERE id = $1",
        session_id,
        reason,
    )


async def lock_expired_sessions(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Pending sessions past expiry that no other sweeper holds."""
    return await conn.fetch(
        """SELECT id, bucket, object_key, s3_upload_id FROM gateway.upload_sessions
           WHERE status = 'pending' AND expires_at < now()
           ORDER BY expires_at
           LIMIT $1
           FOR UPDATE SKIP LOCKED""",
        limit,
    )


async def delete_sessions(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    await conn.execute("DELETE FROM gateway.upload_sessions WHERE id = ANY($1::uuid[])", ids)


async def purge_settled_sessions(pool: asyncpg.Pool, older_than_seconds: float, limit: int) -> int:
    """Deletes up to `limit` rejected or aborted sessions older than the retention (their
    objects are already gone); returns how many."""
    status = await pool.execute(
        """DELETE FROM gateway.upload_sessions WHERE id IN (
               SELECT id FROM gateway.upload_sessions
               WHERE status IN ('rejected', 'aborted')
                 AND created_at < now() - make_interval(secs => $1)
               LIMIT $2)""",
        older_than_seconds,
        limit,
    )
    return int(status.rsplit(" ", 1)[-1])
