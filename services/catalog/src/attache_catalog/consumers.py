"""Messages the catalog consumes."""

from __future__ import annotations

import uuid

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from attache_catalog.domain import AttachmentRegistration
from attache_catalog.service import apply_enrichment, register_attachment
from attache_catalog.settings import CatalogSettings
from attache_core.auth import Principal, Role
from attache_core.errors import Conflict, NotFound
from attache_core.events import AttachmentEnriched, AttachmentIngest, RawEvent
from attache_core.messaging import EventHandler, PermanentError, QueueSpec

log = structlog.get_logger("attache.catalog.consumers")

ENRICHED_QUEUE = QueueSpec(name="catalog.attachment-enriched", routing_keys=["attachment.enriched"])


def enrichment_handler(pool: asyncpg.Pool) -> EventHandler:
    async def handle(event: RawEvent, _message: AbstractIncomingMessage) -> bool:
        try:
            result = AttachmentEnriched.model_validate(event.data)
        except ValidationError as exc:
            raise PermanentError(
                f"invalid attachment.enriched payload: {exc.error_count()} errors"
            ) from exc
        applied = await apply_enrichment(pool, event.id, result)
        log.info(
            "enrichment_applied" if applied else "enrichment_duplicate",
            attachment_id=str(result.attachment_id),
        )
        return applied

    return handle


INGEST_QUEUE = QueueSpec(name="catalog.attachment-ingest", routing_keys=["attachment.ingest"])
# Attachment ids of ingest commands without one: stable across redeliveries.
INGEST_ID_NAMESPACE = uuid.UUID("0d7a3c52-52a8-4c59-9d07-1c4b8fd3a0e1")


def ingest_handler(pool: asyncpg.Pool, settings: CatalogSettings) -> EventHandler:
    """attachment.ingest → a registered attachment (and its attachment.created)."""

    async def handle(event: RawEvent, _message: AbstractIncomingMessage) -> bool:
        try:
            command = AttachmentIngest.model_validate(event.data)
            principal = Principal(
                sub=command.uploaded_by,
                org_id=command.org_id,
                roles={Role.ADMIN},
                tier=command.tier,
            )
            registration = AttachmentRegistration.model_validate(
                {
                    "id": str(command.attachment_id or uuid.uuid5(INGEST_ID_NAMESPACE, event.id)),
                    "customer_id": str(command.customer_id) if command.customer_id else None,
                    "bucket": command.bucket,
                    "object_key": command.object_key,
                    "filename": command.filename,
                    "content_type": command.content_type,
                    "size_bytes": command.size_bytes,
                    "checksum_sha256": command.checksum_sha256,
                    "source": command.source.model_dump(mode="json", exclude_none=True)
                    if command.source
                    else None,
                },
                strict=False,
            )
        except ValidationError as exc:
            raise PermanentError(f"invalid attachment.ingest: {exc.error_count()} errors") from exc
        try:
            attachment, created = await register_attachment(
                pool, principal, registration, settings.ai_quota(command.tier)
            )
        except (NotFound, Conflict) as exc:  # unknown customer, key already another's
            raise PermanentError(f"attachment.ingest refused: {exc.message}") from exc
        log.info(
            "attachment_ingested" if created else "attachment_ingest_duplicate",
            attachment_id=str(attachment.id),
        )
        return created

    return handle
