"""The enrichment worker: attachment.created → attachment.enriched.

Stateless: the result event's id is derived from the triggering event's id, so
a redelivered message yields the same event and the catalog applies it once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from datetime import UTC, datetime

import structlog
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from attache_core import messaging, sniffing
from attache_core.events import AttachmentCreated, AttachmentEnriched, RawEvent, make_event
from attache_core.messaging import EventHandler, EventPublisher, PermanentError, QueueSpec
from attache_core.s3 import BlobStore, open_blob_store
from attache_enricher.extract import ExtractionFailed, extract_text
from attache_enricher.settings import EnricherSettings

log = structlog.get_logger("attache.enricher")

SOURCE = "/attache/enricher"
MODEL_VERSION = "attache-basic-1"
CREATED_QUEUE = QueueSpec(
    name="enricher.attachment-created", routing_keys=["attachment.created"], prefetch=4
)
# Namespace for result ids: uuid5(namespace, trigger id) is stable across redeliveries.
RESULT_ID_NAMESPACE = uuid.UUID("6f1c8f7e-8a51-4c1e-9d7f-0c3b1a2e5d44")


async def enrich(
    blobs: BlobStore, created: AttachmentCreated, max_extract_bytes: int
) -> AttachmentEnriched:
    digest = hashlib.sha256()
    head = bytearray()
    kept = bytearray()
    keep_all = created.size_bytes <= max_extract_bytes
    async for chunk in blobs.iter_object(created.bucket, created.object_key):
        digest.update(chunk)
        if len(head) < sniffing.SNIFF_BYTES:
            head.extend(chunk[: sniffing.SNIFF_BYTES - len(head)])
        if keep_all:
            kept.extend(chunk)
    detected = sniffing.sniff(bytes(head))
    status, error, text_length = "processed", None, None
    if keep_all:
        try:
            text = await asyncio.to_thread(extract_text, detected, bytes(kept))
            text_length = len(text) if text is not None else None
        except ExtractionFailed as exc:
            status, error = "failed", str(exc)
    return AttachmentEnriched(
        attachment_id=created.attachment_id,
        org_id=created.org_id,
        status=status,
        detected_mime_type=detected,
        sha256=digest.hexdigest(),
        text_length=text_length,
        error=error,
        model_version=MODEL_VERSION,
        processed_at=datetime.now(UTC),
    )


def created_handler(
    blobs: BlobStore, publisher: EventPublisher, max_extract_bytes: int
) -> EventHandler:
    async def handle(event: RawEvent, _message: AbstractIncomingMessage) -> None:
        try:
            created = AttachmentCreated.model_validate(event.data)
        except ValidationError as exc:
            raise PermanentError(
                f"invalid attachment.created payload: {exc.error_count()} errors"
            ) from exc
        head = await blobs.head(created.bucket, created.object_key)
        if head is None:
            result = AttachmentEnriched(
                attachment_id=created.attachment_id,
                org_id=created.org_id,
                status="failed",
                error="object not found",
                model_version=MODEL_VERSION,
                processed_at=datetime.now(UTC),
            )
        else:
            result = await enrich(blobs, created, max_extract_bytes)
        await publisher.publish(
            make_event(
                "attachment.enriched",
                result,
                source=SOURCE,
                subject=str(created.attachment_id),
                org_id=created.org_id,
                event_id=str(uuid.uuid5(RESULT_ID_NAMESPACE, event.id)),
            )
        )
        log.info(
            "attachment_enriched", attachment_id=str(created.attachment_id), status=result.status
        )

    return handle


async def run(settings: EnricherSettings, stop: asyncio.Event) -> None:
    connection = await messaging.connect(settings.amqp_url.get_secret_value())
    async with connection, open_blob_store(settings) as blobs:
        publisher = await messaging.EventPublisher.open(connection, settings.events_exchange)
        consumer = messaging.EventConsumer(
            connection,
            dataclasses.replace(CREATED_QUEUE, prefetch=settings.prefetch),
            settings.events_exchange,
            created_handler(blobs, publisher, settings.max_extract_bytes),
        )
        await consumer.start()
        await stop.wait()
        await consumer.stop()
