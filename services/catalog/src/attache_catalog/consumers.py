"""Messages the catalog consumes."""

from __future__ import annotations

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from attache_catalog.service import apply_enrichment
from attache_core.events import AttachmentEnriched, RawEvent
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
