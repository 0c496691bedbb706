"""Catalog use cases. Each runs in one transaction and commits its outbox rows with it."""

from __future__ import annotations

import uuid

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
    PageQuery,
)
from attache_core.auth import Principal
from attache_core.errors import Conflict, NotFound
from attache_core.events import AttachmentCreated, AttachmentEnriched, make_event
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
        detected_mime_type=row["detected_mime_type"],
        checksum_sha256=row["checksum_sha256"],
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
    pool: asyncpg.Pool, principal: Principal, reg: AttachmentRegistration
) -> tuple[Attachment, bool]:
    """Idempotent on `reg.id`: a repeat returns the stored attachment and emits nothing."""
    principal.require_customer_access(str(reg.customer_id))
    async with pool.acquire() as conn, conn.transaction():
        if await repo.get_customer(conn, principal.org_id, reg.customer_id) is None:
            raise NotFound("Customer not found")
        row = await repo.insert_attachment(
            conn, org_id=principal.org_id, uploaded_by=principal.sub, reg=reg.model_dump()
        )
        if row is None:
            existing = await repo.get_attachment(conn, principal.org_id, reg.id)
            if existing is None or existing["object_key"] != reg.object_key:
                raise Conflict("Attachment id or object key already in use")
            return to_attachment(existing), False
        data = AttachmentCreated(
            attachment_id=row["id"],
            org_id=row["org_id"],
            customer_id=str(row["customer_id"]),
            bucket=row["bucket"],
            object_key=row["object_key"],
            filename=row["filename"],
            content_type=row["content_type"],
            size_bytes=row["size_bytes"],
            uploaded_by=row["uploaded_by"],
            created_at=row["created_at"],
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
        )
    return True
