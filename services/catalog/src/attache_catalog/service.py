"""Catalog use cases. Each runs in one transaction and commits its outbox rows with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from attache_catalog import repository as repo
from attache_catalog.domain import (
    Attachment,
    AttachmentPage,
    AttachmentRegistration,
    Customer,
    CustomerCreate,
    CustomerPage,
    CustomerQuery,
    DueObject,
    FileQuery,
    PageQuery,
    SweepClaim,
    require_visible,
)
from attache_catalog.library import finish_reprocess_jobs
from attache_catalog.quota import quota_reason, take_ai_quota
from attache_core import filenames, sniffing
from attache_core.auth import Principal
from attache_core.errors import Conflict, NotFound
from attache_core.events import (
    AttachmentCreated,
    AttachmentDeleted,
    AttachmentEnriched,
    RawEvent,
    make_event,
)
from attache_core.idempotency import claim_message
from attache_core.pagination import decode_cursor, encode_cursor

SOURCE = "/attache/catalog"


def to_attachment(row: asyncpg.Record) -> Attachment:
    return Attachment(
        id=row["id"],
        org_id=row["org_id"],
        customer_id=row["customer_id"],
        object_key=row["object_key"],
        filename=row["filename"],
        content_type=row["content_type"],
        size_bytes=row["size_bytes"],
        uploaded_by=row["uploaded_by"],
        created_at=row["created_at"],
        bucket=row["bucket"],
        detected_mime_type=row["detected_mime_type"],
        checksum_sha256=row["checksum_sha256"],
        checksum_md5=row["checksum_md5"],
        file_type=row["file_type"],
        ticket_id=row["ticket_id"],
        service_id=row["service_id"],
        metadata=row["metadata"],
        expires_at=row["expires_at"],
        ai_status=row["ai_status"],
        aiProcessed=row["ai_processed"],
        aiProcessedAt=row["ai_processed_at"],
    )


def _page_cursor(rows: list, limit: int) -> str | None:
    if len(rows) < limit:
        return None
    last = rows[-1]
    return encode_cursor(last["created_at"], last["id"])


async def create_customer(
    pool: asyncpg.Pool, principal: Principal, body: CustomerCreate
) -> Customer:
    principal.require_staff()
    async with pool.acquire() as conn:
        row = await repo.insert_customer(
            conn,
            org_id=principal.org_id,
            full_name=body.full_name,
            email=str(body.email),
            phone=body.phone,
        )
    if row is None:
        raise Conflict("A customer with this email already exists")
    return Customer(**dict(row))


async def get_customer(
    pool: asyncpg.Pool, principal: Principal, customer_id: uuid.UUID
) -> Customer:
    principal.require_customer_access(str(customer_id))
    async with pool.acquire() as conn:
        row = await repo.get_customer(conn, principal.org_id, customer_id)
    if row is None:
        raise NotFound("Customer not found")
    return Customer(**dict(row))


async def list_customers(
    pool: asyncpg.Pool, principal: Principal, query: CustomerQuery
) -> CustomerPage:
    principal.require_staff()
    after = decode_cursor(query.cursor) if query.cursor else None
    async with pool.acquire() as conn:
        rows = await repo.list_customers(
            conn, principal.org_id, search=query.search, limit=query.limit, after=after
        )
    return CustomerPage(
        items=[Customer(**dict(r)) for r in rows], next_cursor=_page_cursor(rows, query.limit)
    )


async def register_attachment(
    pool: asyncpg.Pool,
    principal: Principal,
    reg: AttachmentRegistration,
    ai_quota: int | None = None,
) -> tuple[Attachment, bool]:
    """Idempotent on `reg.id`: a repeat returns the stored attachment and emits nothing."""
    if reg.customer_id is None:
        principal.require_staff()  # a customer's files always belong to its customer
    else:
        principal.require_customer_access(str(reg.customer_id))
    async with pool.acquire() as conn, conn.transaction():
        if (
            reg.customer_id is not None
            and await repo.get_customer(conn, principal.org_id, reg.customer_id) is None
        ):
            raise NotFound("Customer not found")
        fields = reg.model_dump()
        fields["file_extension"] = filenames.extension(reg.filename) or None
        fields["file_category"] = sniffing.category_for(fields["file_extension"], reg.content_type)
        row = await repo.insert_attachment(
            conn, org_id=principal.org_id, uploaded_by=principal.sub, reg=fields
        )
        if row is None:
            existing = await repo.get_attachment(conn, principal.org_id, reg.id)
            if existing is None or existing["object_key"] != reg.object_key:
                raise Conflict("Attachment id or object key already in use")
            return to_attachment(existing), False
        # Automatic enrichment counts against the uploader's monthly AI quota.
        enrich = await take_ai_quota(conn, principal, ai_quota)
        if not enrich:
            row = await repo.skip_enrichment(
                conn, row["id"], quota_reason(principal.tier, ai_quota or 0)
            )
        data = AttachmentCreated(
            attachment_id=row["id"],
            org_id=row["org_id"],
            customer_id=str(row["customer_id"]) if row["customer_id"] else None,
            bucket=row["bucket"],
            object_key=row["object_key"],
            filename=row["filename"],
            content_type=row["content_type"],
            size_bytes=row["size_bytes"],
            uploaded_by=row["uploaded_by"],
            created_at=row["created_at"],
            enrich=enrich,
        )
        await repo.add_outbox(
            conn,
            make_event(
                "attachment.created",
                data,
                source=SOURCE,
                subject=str(row["id"]),
                org_id=row["org_id"],
            ),
        )
    return to_attachment(row), True


async def list_customer_attachments(
    pool: asyncpg.Pool, principal: Principal, customer_id: uuid.UUID, query: PageQuery
) -> AttachmentPage:
    principal.require_customer_access(str(customer_id))
    after = decode_cursor(query.cursor) if query.cursor else None
    async with pool.acquire() as conn:
        if await repo.get_customer(conn, principal.org_id, customer_id) is None:
            raise NotFound("Customer not found")
        rows = await repo.list_customer_attachments(
            conn, principal.org_id, customer_id, limit=query.limit, after=after
        )
    return AttachmentPage(
        items=[to_attachment(r) for r in rows], next_cursor=_page_cursor(rows, query.limit)
    )


async def get_attachment(
    pool: asyncpg.Pool, principal: Principal, attachment_id: uuid.UUID
) -> Attachment:
    async with pool.acquire() as conn:
        row = await repo.get_attachment(conn, principal.org_id, attachment_id)
    return to_attachment(require_visible(principal, row))


async def list_files(
    pool: asyncpg.Pool, principal: Principal, query: FileQuery
) -> list[Attachment]:
    if query.customer_id is not None:
        principal.require_customer_access(str(query.customer_id))
    elif not principal.is_staff:
        if principal.customer_id is None:
            raise NotFound("Not found")
        # A customer sees ticket media of its own customer only.
        query = query.model_copy(update={"customer_id": uuid.UUID(principal.customer_id)})
    async with pool.acquire() as conn:
        if (
            query.customer_id is not None
            and await repo.get_customer(conn, principal.org_id, query.customer_id) is None
        ):
            raise NotFound("Customer not found")
        rows = await repo.list_files(
            conn,
            principal.org_id,
            customer_id=query.customer_id,
            ticket_id=query.ticket_id,
            limit=query.limit,
            offset=query.offset,
        )
    return [to_attachment(r) for r in rows]


def _deleted_event(row: asyncpg.Record, reason: str) -> RawEvent:
    data = AttachmentDeleted(
        attachment_id=row["id"],
        org_id=row["org_id"],
        bucket=row["bucket"],
        object_key=row["object_key"],
        reason=reason,
        deleted_at=datetime.now(UTC),
    )
    return make_event(
        "attachment.deleted", data, source=SOURCE, subject=str(row["id"]), org_id=row["org_id"]
    )


async def delete_attachment(
    pool: asyncpg.Pool, principal: Principal, attachment_id: uuid.UUID
) -> DueObject:
    """Tombstone the record and announce it; the caller then deletes the object and purges."""
    async with pool.acquire() as conn, conn.transaction():
        row = require_visible(
            principal, await repo.get_attachment(conn, principal.org_id, attachment_id)
        )
        row = await repo.mark_deleted(conn, principal.org_id, row["id"])
        if row is None:  # deleted concurrently
            raise NotFound("Attachment not found")
        await repo.add_outbox(conn, _deleted_event(row, "deleted"))
    return DueObject(
        id=row["id"], org_id=row["org_id"], bucket=row["bucket"], object_key=row["object_key"]
    )


async def claim_due(pool: asyncpg.Pool, claim: SweepClaim) -> list[DueObject]:
    async with pool.acquire() as conn:
        rows = await repo.claim_due(conn, claim.limit, claim.lease_seconds)
    return [
        DueObject(id=r["id"], org_id=r["org_id"], bucket=r["bucket"], object_key=r["object_key"])
        for r in rows
    ]


async def purge(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> int:
    """Remove records whose objects the sweeper deleted; expired ones are announced now
    (deleted ones were announced when the tombstone was written)."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await repo.purge(conn, ids)
        for row in rows:
            if row["deleted_at"] is None:
                await repo.add_outbox(conn, _deleted_event(row, "expired"))
    return len(rows)


ENRICHED_CONSUMER = "catalog.attachment-enriched"


async def apply_enrichment(pool: asyncpg.Pool, event_id: str, result: AttachmentEnriched) -> bool:
    """Store an enrichment result once per event id. False for a duplicate delivery."""
    async with pool.acquire() as conn, conn.transaction():
        if not await claim_message(conn, "catalog", ENRICHED_CONSUMER, event_id):
            return False
        await repo.record_enrichment(
            conn,
            org_id=result.org_id,
            attachment_id=result.attachment_id,
            status=result.status,
            detected_mime_type=result.detected_mime_type,
            sha256=result.sha256,
            text_length=result.text_length,
            error=result.error,
            model_version=result.model_version,
            processed_at=result.processed_at,
            document_type=result.document_type,
            classification_confidence=result.classification_confidence,
            extracted_metadata=result.extracted_metadata,
            key_terms=result.key_terms,
            thumbnail_path=result.thumbnail_path,
            preview_path=result.preview_path,
            skipped_reason=result.skipped_reason,
            language=result.language,
            page_count=result.page_count,
            ocr_status=result.ocr,
        )
        # The result closes the reprocessing jobs queued before it.
        await finish_reprocess_jobs(
            conn, result.attachment_id, result.status, result.error, result.processed_at
        )
    return True
