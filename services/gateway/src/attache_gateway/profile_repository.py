"""Plain SQL for gateway.profile_image_uploads (see migrations/003_profile_images.sql)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

UPLOAD_COLUMNS = (
    "id, org_id, user_id, bucket, object_key, file_name, content_type, declared_size, status,"
    " reject_reason, size_bytes, version, created_at, expires_at"
)


async def insert_upload(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    upload_id: uuid.UUID,
    org_id: str,
    user_id: str,
    bucket: str,
    object_key: str,
    file_name: str,
    content_type: str,
    declared_size: int | None,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO gateway.profile_image_uploads
             (id, org_id, user_id, bucket, object_key, file_name, content_type, declared_size,
              expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        upload_id,
        org_id,
        user_id,
        bucket,
        object_key,
        file_name,
        content_type,
        declared_size,
        expires_at,
    )


async def find_upload(
    conn: asyncpg.Connection | asyncpg.Pool, org_id: str, user_id: str, bucket: str, key: str
) -> asyncpg.Record | None:
    """This user's upload with this key; another user's is None, like a key never issued."""
    return await conn.fetchrow(
        f"""SELECT {UPLOAD_COLUMNS} FROM gateway.profile_image_uploads
            WHERE bucket = $3 AND object_key = $4 AND org_id = $1 AND user_id = $2""",
        org_id,
        user_id,
        bucket,
        key,
    )


async def open_uploads(
    conn: asyncpg.Connection | asyncpg.Pool, org_id: str, user_id: str, *, limit: int
) -> list[asyncpg.Record]:
    """The user's uploads that may still matter to the profile: the verified ones first
    (so the limit only ever cuts pending ones), each group newest first."""
    return await conn.fetch(
        f"""SELECT {UPLOAD_COLUMNS} FROM gateway.profile_image_uploads
            WHERE org_id = $1 AND user_id = $2
              AND (status IN ('accepting', 'accepted')
                   OR (status = 'pending' AND expires_at > now()))
            ORDER BY status = 'pending', created_at DESC, id DESC
            LIMIT $3""",
        org_id,
        user_id,
        limit,
    )


async def lock_upload(conn: asyncpg.Connection, upload_id: uuid.UUID) -> asyncpg.Record | None:
    """Locks the row: the sweeper (SKIP LOCKED) leaves it alone while it is verified."""
    return await conn.fetchrow(
        f"SELECT {UPLOAD_COLUMNS} FROM gateway.profile_image_uploads WHERE id = $1 FOR UPDATE",
        upload_id,
    )


async def mark_accepting(
    conn: asyncpg.Connection, upload_id: uuid.UUID, size_bytes: int
) -> asyncpg.Record:
    """Verified: the upload takes the next version, higher than any verified before it."""
    return await conn.fetchrow(
        f"""UPDATE gateway.profile_image_uploads
            SET status = 'accepting', size_bytes = $2,
                version = nextval('gateway.profile_image_version')
            WHERE id = $1
            RETURNING {UPLOAD_COLUMNS}""",
        upload_id,
        size_bytes,
    )


async def mark_rejected(conn: asyncpg.Connection, upload_id: uuid.UUID, reason: str) -> None:
    await conn.execute(
        """UPDATE gateway.profile_image_uploads SET status = 'rejected', reject_reason = $2
           WHERE id = $1""",
        upload_id,
        reason,
    )


async def mark_accepted(conn: asyncpg.Connection | asyncpg.Pool, upload_id: uuid.UUID) -> None:
    await conn.execute(
        """UPDATE gateway.profile_image_uploads SET status = 'accepted'
           WHERE id = $1 AND status = 'accepting'""",
        upload_id,
    )


async def retire_older(
    conn: asyncpg.Connection | asyncpg.Pool, org_id: str, user_id: str, version: int
) -> list[asyncpg.Record]:
    """Verified uploads below the profile's image version: they can never be its image again."""
    return await conn.fetch(
        """UPDATE gateway.profile_image_uploads SET status = 'retired'
           WHERE org_id = $1 AND user_id = $2
             AND status IN ('accepting', 'accepted') AND version < $3
           RETURNING id, bucket, object_key""",
        org_id,
        user_id,
        version,
    )


async def retire_key(
    conn: asyncpg.Connection | asyncpg.Pool, org_id: str, user_id: str, key: str
) -> list[asyncpg.Record]:
    """The upload of an image the catalog replaced (see profile_events.py)."""
    return await conn.fetch(
        """UPDATE gateway.profile_image_uploads SET status = 'retired'
           WHERE org_id = $1 AND user_id = $2 AND object_key = $3
             AND status IN ('accepting', 'accepted', 'retired')
           RETURNING id, bucket, object_key""",
        org_id,
        user_id,
        key,
    )


async def delete_upload(conn: asyncpg.Connection | asyncpg.Pool, upload_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM gateway.profile_image_uploads WHERE id = $1", upload_id)


async def lock_sweepable(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Rows no other sweeper holds: expired pending/rejected uploads, and retired ones."""
    return await conn.fetch(
        """SELECT id, bucket, object_key FROM gateway.profile_image_uploads
           WHERE (status IN ('pending', 'rejected') AND expires_at < now())
              OR status = 'retired'
           LIMIT $1
           FOR UPDATE SKIP LOCKED""",
        limit,
    )


async def delete_uploads(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    await conn.execute("DELETE FROM gateway.profile_image_uploads WHERE id = ANY($1::uuid[])", ids)
