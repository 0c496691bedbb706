"""Plain SQL for the catalog schema. Functions take a connection; callers own the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from attache_core.events import RawEvent

CUSTOMER_COLUMNS = "id, org_id, full_name, email, phone, created_at"
ATTACHMENT_COLUMNS = (
    "id, org_id, customer_id, bucket, object_key, filename, content_type, size_bytes,"
    " uploaded_by, etag, checksum_sha256, detected_mime_type, text_length, ai_status, ai_error,"
    " ai_processed, ai_processed_at, ai_model_version, created_at, updated_at, file_type,"
    " ticket_id, service_id, metadata, checksum_md5, expires_at, email_id, sender_email,"
    " sender_name, email_subject, email_date, file_extension, file_category, document_type,"
    " classification_confidence, extracted_metadata, key_terms, thumbnail_path,"
    " ai_skipped_reason, access_count, last_accessed_at, sort_date"
)
# What readers may see: not deleted, not past its expiry (the sweeper removes those).
VISIBLE = "deleted_at IS NULL AND (expires_at IS NULL OR expires_at > now())"


async def add_outbox(conn: asyncpg.Connection, event: RawEvent) -> None:
    await conn.execute(
        "INSERT INTO catalog.outbox (event_id, event_type, envelope) VALUES ($1, $2, $3)",
        uuid.UUID(event.id),
        event.type,
        event.model_dump(mode="json"),
    )


async def insert_customer(
    conn: asyncpg.Connection, *, org_id: str, full_name: str, email: str, phone: str | None
) -> asyncpg.Record | None:
    """None when the organisation already has a customer with that email."""
    return await conn.fetchrow(
        f"""INSERT INTO catalog.customers (id, org_id, full_name, email, phone)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (org_id, lower(email)) DO NOTHING
            RETURNING {CUSTOMER_COLUMNS}""",
        uuid.uuid4(),
        org_id,
        full_name,
        email,
        phone,
    )


async def get_customer(
    conn: asyncpg.Connection, org_id: str, customer_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {CUSTOMER_COLUMNS} FROM catalog.customers WHERE org_id = $1 AND id = $2",
        org_id,
        customer_id,
    )


async def list_customers(
    conn: asyncpg.Connection,
    org_id: str,
    *,
    search: str | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[asyncpg.Record]:
    pattern = None
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    return await conn.fetch(
        f"""SELECT {CUSTOMER_COLUMNS} FROM catalog.customers
            WHERE org_id = $1
              AND ($2::text IS NULL OR full_name ILIKE $2 OR email ILIKE $2)
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
            ORDER BY created_at DESC, id DESC
            LIMIT $5""",
        org_id,
        pattern,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def insert_attachment(
    conn: asyncpg.Connection, *, org_id: str, uploaded_by: str, reg: dict
) -> asyncpg.Record | None:
    """None when an attachment with this id already exists (a repeated confirm).
    `reg` carries the registration's fields plus file_extension and file_category."""
    source = reg.get("source") or {}
    return await conn.fetchrow(
        f"""INSERT INTO catalog.attachments
              (id, org_id, customer_id, bucket, object_key, filename, content_type, size_bytes,
               uploaded_by, etag, checksum_sha256, detected_mime_type, file_type, ticket_id,
               service_id, metadata, checksum_md5, expires_at, file_extension, file_category,
               email_id, sender_email, sender_name, email_subject, email_date,
               ai_status, ai_skipped_reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    $17, $18, $19, $20, $21, lower($22), $23, $24, $25,
                    coalesce($26, 'pending'), $27)
            ON CONFLICT DO NOTHING
            RETURNING {ATTACHMENT_COLUMNS}""",
        reg["id"],
        org_id,
        reg["customer_id"],
        reg["bucket"],
        reg["object_key"],
        reg["filename"],
        reg["content_type"],
        reg["size_bytes"],
        uploaded_by,
        reg["etag"],
        reg["checksum_sha256"],
        reg["detected_mime_type"],
        reg.get("file_type"),
        reg.get("ticket_id"),
        reg.get("service_id"),
        reg.get("metadata") or {},
        reg.get("checksum_md5"),
        reg.get("expires_at"),
        reg.get("file_extension"),
        reg.get("file_category"),
        source.get("email_id"),
        source.get("sender_email"),
        source.get("sender_name"),
        source.get("email_subject"),
        source.get("email_date"),
        reg.get("ai_status"),
        reg.get("ai_skipped_reason"),
    )


async def skip_enrichment(
    conn: asyncpg.Connection, attachment_id: uuid.UUID, reason: str
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE catalog.attachments SET ai_status = 'skipped', ai_skipped_reason = $2
            WHERE id = $1 RETURNING {ATTACHMENT_COLUMNS}""",
        attachment_id,
        reason,
    )


async def get_attachment(
    conn: asyncpg.Connection, org_id: str, attachment_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ATTACHMENT_COLUMNS} FROM catalog.attachments"
        f" WHERE org_id = $1 AND id = $2 AND {VISIBLE}",
        org_id,
        attachment_id,
    )


async def list_customer_attachments(
    conn: asyncpg.Connection,
    org_id: str,
    customer_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {ATTACHMENT_COLUMNS} FROM catalog.attachments
            WHERE org_id = $1 AND customer_id = $2 AND {VISIBLE}
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
            ORDER BY created_at DESC, id DESC
            LIMIT $5""",
        org_id,
        customer_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def record_enrichment(
    conn: asyncpg.Connection,
    *,
    org_id: str,
    attachment_id: uuid.UUID,
    status: str,
    detected_mime_type: str | None,
    sha256: str | None,
    text_length: int | None,
    error: str | None,
    model_version: str,
    processed_at: datetime,
    document_type: str | None = None,
    classification_confidence: float | None = None,
    extracted_metadata: dict | None = None,
    key_terms: list[str] | None = None,
    thumbnail_path: str | None = None,
    preview_path: str | None = None,
    skipped_reason: str | None = None,
    language: str | None = None,
    page_count: int | None = None,
    ocr_status: str | None = None,
) -> bool:
    """Replace the enrichment results (a rerun replaces, never adds). An older result
    arriving after a newer one (a late redelivery) changes nothing; a "skipped" run keeps
    the AI fields of an earlier run."""
    result = await conn.execute(
        """UPDATE catalog.attachments
           SET ai_status = $3,
               ai_processed = CASE WHEN $3 = 'skipped' THEN ai_processed ELSE $3 = 'processed' END,
               ai_processed_at = $9,
               ai_error = $7,
               ai_model_version = $8,
               detected_mime_type = COALESCE($4, detected_mime_type),
               checksum_sha256 = COALESCE(checksum_sha256, $5),
               text_length = $6,
               document_type = CASE WHEN $3 = 'skipped' THEN document_type ELSE $10 END,
               classification_confidence =
                   CASE WHEN $3 = 'skipped' THEN classification_confidence ELSE $11 END,
               extracted_metadata = CASE WHEN $3 = 'skipped' THEN extracted_metadata ELSE $12 END,
               key_terms = CASE WHEN $3 = 'skipped' THEN key_terms ELSE $13 END,
               thumbnail_path = COALESCE($14, thumbnail_path),
               preview_path = COALESCE($15, preview_path),
               ai_skipped_reason = CASE WHEN $3 = 'skipped'
                                        THEN COALESCE($16, ai_skipped_reason) END,
               language = COALESCE($17, language),
               page_count = COALESCE($18, page_count),
               ocr_status = COALESCE($19, ocr_status),
               updated_at = now()
           WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL
             AND (ai_processed_at IS NULL OR ai_processed_at <= $9)""",
        org_id,
        attachment_id,
        status,
        detected_mime_type,
        sha256,
        text_length,
        error,
        model_version,
        processed_at,
        document_type,
        classification_confidence,
        extracted_metadata,
        list(key_terms or []),
        thumbnail_path,
        preview_path,
        skipped_reason,
        language,
        page_count,
        ocr_status,
    )
    return result != "UPDATE 0"


async def list_files(
    conn: asyncpg.Connection,
    org_id: str,
    *,
    customer_id: uuid.UUID | None,
    ticket_id: str | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {ATTACHMENT_COLUMNS} FROM catalog.attachments
            WHERE org_id = $1 AND {VISIBLE}
              AND ($2::uuid IS NULL OR customer_id = $2)
              AND ($3::text IS NULL OR ticket_id = $3)
            ORDER BY created_at DESC, id DESC
            LIMIT $4 OFFSET $5""",
        org_id,
        customer_id,
        ticket_id,
        limit,
        offset,
    )


async def mark_deleted(
    conn: asyncpg.Connection, org_id: str, attachment_id: uuid.UUID
) -> asyncpg.Record | None:
    """Tombstone a visible attachment; its row goes once its object is gone."""
    return await conn.fetchrow(
        f"""UPDATE catalog.attachments SET deleted_at = now(), updated_at = now()
            WHERE org_id = $1 AND id = $2 AND {VISIBLE}
            RETURNING {ATTACHMENT_COLUMNS}""",
        org_id,
        attachment_id,
    )


async def claim_due(
    conn: asyncpg.Connection, limit: int, lease_seconds: int
) -> list[asyncpg.Record]:
    """Deleted or expired rows no other sweeper holds, leased for `lease_seconds`."""
    return await conn.fetch(
        """UPDATE catalog.attachments SET sweep_claimed_until = now() + make_interval(secs => $2)
           WHERE id IN (
               SELECT id FROM catalog.attachments
               WHERE (deleted_at IS NOT NULL OR expires_at <= now())
                 AND (sweep_claimed_until IS NULL OR sweep_claimed_until < now())
               ORDER BY LEAST(expires_at, deleted_at)
               LIMIT $1
               FOR UPDATE SKIP LOCKED)
           RETURNING id, org_id, bucket, object_key, deleted_at""",
        limit,
        lease_seconds,
    )


async def purge(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """Remove rows whose objects are gone; only rows that really are deleted or expired."""
    return await conn.fetch(
        f"""DELETE FROM catalog.attachments
            WHERE id = ANY($1::uuid[]) AND (deleted_at IS NOT NULL OR expires_at <= now())
            RETURNING {ATTACHMENT_COLUMNS}, deleted_at""",
        ids,
    )


# ---- outbox relay ---------------------------------------------------------------------


async def lock_unpublished(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Rows no other relay holds; call inside the transaction that marks them published."""
    return await conn.fetch(
        """SELECT id, envelope FROM catalog.outbox
           WHERE published_at IS NULL
           ORDER BY id
           LIMIT $1
           FOR UPDATE SKIP LOCKED""",
        limit,
    )


async def mark_published(conn: asyncpg.Connection, ids: list[int]) -> None:
    await conn.execute(
        "UPDATE catalog.outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids
    )
