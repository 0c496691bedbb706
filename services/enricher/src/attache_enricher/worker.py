"""The enrichment worker: attachment.created and attachment.reprocess-requested →
attachment.enriched; attachment.deleted → the derivatives deleted too.

Stateless: the result event's id is derived from the triggering event's id, so a
redelivered message yields the same event and the catalog applies it once; a
reprocess request is a new trigger, so its result replaces the earlier one (the
catalog keeps the newest by `processed_at`). Thumbnails go to fixed keys beside the
original, so reprocessing overwrites them instead of adding copies.

New uploads come from a quorum queue; reprocess requests from a classic queue with
priorities (`x-max-priority` 10), since RabbitMQ's quorum queues have none: the
message's AMQP priority is the request's priority (1–10).

The derivatives are the enricher's, so it deletes them when their attachment is
deleted. The catalog announces the deletion before the object is gone, and an
analysis may be under way meanwhile, so both sides look at the original: the deleted
handler removes the derivatives only once the original is gone, and an analysis that
stored derivatives checks the original is still there, removing them if it isn't.
Whichever comes last sees the original gone, so no derivative outlives it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import structlog
from aio_pika.abc import AbstractIncomingMessage
from botocore.exceptions import ClientError
from pydantic import ValidationError

from attache_core import messaging, sniffing
from attache_core.events import (
    AttachmentCreated,
    AttachmentDeleted,
    AttachmentEnriched,
    RawEvent,
    ReprocessRequested,
    make_event,
)
from attache_core.messaging import EventHandler, EventPublisher, PermanentError, QueueSpec
from attache_core.s3 import BlobStore, is_not_found, open_blob_store
from attache_enricher import classify
from attache_enricher.analysis import AnalysisJob, AnalysisResult
from attache_enricher.providers import LocalProvider, Provider, ProviderRequest
from attache_enricher.sandbox import Sandbox, SandboxError
from attache_enricher.settings import EnricherSettings

log = structlog.get_logger("attache.enricher")

SOURCE = "/attache/enricher"
MODEL_VERSION = classify.MODEL_VERSION
CREATED_QUEUE = QueueSpec(
    name="enricher.attachment-created", routing_keys=["attachment.created"], prefetch=4
)
REPROCESS_QUEUE = QueueSpec(
    name="enricher.reprocess",
    routing_keys=["attachment.reprocess-requested"],
    prefetch=2,
    max_priority=10,
)
DELETED_QUEUE = QueueSpec(name="enricher.attachment-deleted", routing_keys=["attachment.deleted"])
# How long the deleted handler waits for the original to go before retrying later.
ORIGINAL_GONE_WITHIN_SECONDS = 5.0
# Namespace for result ids: uuid5(namespace, trigger id) is stable across redeliveries.
RESULT_ID_NAMESPACE = uuid.UUID("6f1c8f7e-8a51-4c1e-9d7f-0c3b1a2e5d44")
THUMBNAIL_SUFFIX = ".thumbnail.webp"
MEDIUM_SUFFIX = ".medium.webp"


@dataclasses.dataclass(frozen=True)
class Job:
    attachment_id: uuid.UUID
    org_id: str
    bucket: str
    object_key: str
    filename: str
    content_type: str
    enrich: bool
    trigger: str
    job_id: uuid.UUID | None = None


def derivative_keys(object_key: str) -> tuple[str, str]:
    """(thumbnail, medium) object keys: beside the original, fixed, so reruns overwrite."""
    return object_key + THUMBNAIL_SUFFIX, object_key + MEDIUM_SUFFIX


async def delete_derivatives(blobs: BlobStore, bucket: str, object_key: str) -> None:
    """Delete the derivatives of `object_key` (deleting a missing object is no error)."""
    await asyncio.gather(*(blobs.delete(bucket, key) for key in derivative_keys(object_key)))


def make_provider(settings: EnricherSettings) -> Provider:
    if settings.ai_provider == "openai":
        from attache_enricher.providers.openai import OpenAIProvider

        if not settings.llm_base_url or not settings.llm_model:
            raise ValueError("ATTACHE_AI_PROVIDER=openai needs ATTACHE_LLM_BASE_URL and _MODEL")
        return OpenAIProvider(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout=settings.llm_timeout_seconds,
            max_chars=settings.llm_max_chars,
            response_format=settings.llm_response_format,
        )
    return LocalProvider()


def sandbox_processes(settings: EnricherSettings) -> int:
    return settings.enrich_processes or os.cpu_count() or 1


def make_sandbox(settings: EnricherSettings) -> Sandbox:
    return Sandbox(
        sandbox_processes(settings),
        memory_bytes=settings.sandbox_memory_mb * 1024 * 1024,
        timeout=settings.enrich_timeout_seconds,
        max_jobs=settings.sandbox_max_jobs,
        max_rss=settings.sandbox_max_rss_mb * 1024 * 1024,
    )


class Enricher:
    """One attachment at a time: download, analyse in the sandbox, store derivatives,
    ask the provider, build the result. Publishing is the handlers' part."""

    def __init__(
        self,
        settings: EnricherSettings,
        blobs: BlobStore,
        sandbox: Sandbox,
        provider: Provider,
    ) -> None:
        self.settings = settings
        self.blobs = blobs
        self.sandbox = sandbox
        self.provider = provider

    def _result(self, job: Job, **fields) -> AttachmentEnriched:
        return AttachmentEnriched(
            attachment_id=job.attachment_id,
            org_id=job.org_id,
            model_version=fields.pop("model_version", MODEL_VERSION),
            processed_at=datetime.now(UTC),
            trigger=job.trigger,
            job_id=job.job_id,
            **fields,
        )

    async def process(self, job: Job) -> AttachmentEnriched:
        # One local file per job (the sandbox writes nothing). Creating and removing it
        # can wait on the filesystem's journal: in a thread, not on the event loop.
        fd, name = await asyncio.to_thread(
            tempfile.mkstemp, prefix="attache-enrich-", dir=self.settings.work_dir
        )
        os.close(fd)
        source = Path(name)
        try:
            try:
                response = await self.blobs.client.get_object(Bucket=job.bucket, Key=job.object_key)
            except ClientError as exc:
                if is_not_found(exc):
                    return self._result(job, status="failed", error="object not found")
                raise
            # One GET, no HEAD first: its length decides whether the body is kept.
            keep = response["ContentLength"] <= self.settings.max_extract_bytes
            digest, detected, size = await self._download(
                response["Body"], source if keep else None
            )
            if not keep:
                return self._result(
                    job,
                    status="skipped",
                    detected_mime_type=detected,
                    sha256=digest,
                    skipped_reason=(
                        f"larger than the enricher's limit "
                        f"({self.settings.max_extract_bytes} bytes, ATTACHE_MAX_EXTRACT_BYTES)"
                    ),
                )
            if size == 0:
                return self._result(
                    job,
                    status="skipped",
                    detected_mime_type=detected,
                    sha256=digest,
                    text_length=0,
                    skipped_reason="empty file (0 bytes)",
                )
            return await self._analyse(job, source, digest, detected)
        finally:
            await asyncio.to_thread(os.unlink, name)

    async def _download(self, body, target: Path | None) -> tuple[str, str, int]:
        """SHA-256, sniffed type and size of the body; written to `target` if given."""
        digest = hashlib.sha256()
        head = bytearray()
        size = 0
        out = target.open("wb") if target is not None else None
        try:
            async with body:
                async for chunk in body.iter_chunks(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
                    if len(head) < sniffing.SNIFF_BYTES:
                        head.extend(chunk[: sniffing.SNIFF_BYTES - len(head)])
                    if out is not None:
                        out.write(chunk)
        finally:
            if out is not None:
                out.close()
        return digest.hexdigest(), sniffing.sniff(bytes(head)), size

    async def _analyse(
        self, job: Job, source: Path, digest: str, detected: str
    ) -> AttachmentEnriched:
        s = self.settings
        analysis_job = AnalysisJob(
            path=str(source),
            mime_type=detected,
            filename=job.filename,
            enrich=job.enrich,
            ocr=s.ocr_enabled,
            ocr_command=s.tesseract_cmd,
            max_pages=s.max_pages,
            max_ocr_pages=s.max_ocr_pages,
            max_image_pixels=s.max_image_pixels,
            max_unzipped_bytes=s.max_unzipped_bytes,
            thumbnails=s.thumbnails_enabled,
            excerpt_chars=s.llm_max_chars,
        )
        try:
            analysis = await self.sandbox.run(analysis_job)
        except SandboxError as exc:
            return self._result(
                job, status="failed", detected_mime_type=detected, sha256=digest, error=str(exc)
            )
        thumbnail_key, medium_key = await self._store_derivatives(job, analysis)
        common = {
            "detected_mime_type": detected,
            "sha256": digest,
            "text_length": analysis.text_length,
            "thumbnail_path": thumbnail_key,
            "preview_path": medium_key,
            "language": analysis.language,
            "page_count": analysis.page_count,
            "ocr": analysis.ocr,
        }
        if analysis.status != "processed" or analysis.local is None:
            return self._result(
                job,
                status=analysis.status if analysis.status != "processed" else "failed",
                error=analysis.error
                or (None if analysis.status == "skipped" else "analysis produced no result"),
                **common,
            )
        answer = await self.provider.enrich(
            ProviderRequest(job.filename, detected, analysis.language, analysis.excerpt),
            analysis.local,
        )
        return self._result(
            job,
            status="processed",
            document_type=answer.document_type,
            classification_confidence=answer.confidence,
            extracted_metadata=answer.extracted_metadata,
            key_terms=answer.key_terms,
            model_version=answer.model_version,
            **common,
        )

    async def _store_derivatives(
        self, job: Job, analysis: AnalysisResult
    ) -> tuple[str | None, str | None]:
        if not analysis.thumbnail or not analysis.medium:
            return None, None
        thumbnail_key, medium_key = derivative_keys(job.object_key)

        async def put(body: bytes, key: str) -> None:
            await self.blobs.client.put_object(
                Bucket=job.bucket,
                Key=key,
                Body=body,
                ContentType="image/webp",
                CacheControl="private, max-age=86400",
            )

        await asyncio.gather(
            put(analysis.thumbnail, thumbnail_key), put(analysis.medium, medium_key)
        )
        if await self.blobs.head(job.bucket, job.object_key) is None:
            # Deleted while it was analysed: its deleted handler may have run already.
            await delete_derivatives(self.blobs, job.bucket, job.object_key)
            return None, None
        return thumbnail_key, medium_key


def _publishing_handler(enricher: Enricher, publisher: EventPublisher, parse) -> EventHandler:
    async def handle(event: RawEvent, _message: AbstractIncomingMessage) -> None:
        job = parse(event)
        started = time.monotonic()
        result = await enricher.process(job)
        await publisher.publish(
            make_event(
                "attachment.enriched",
                result,
                source=SOURCE,
                subject=str(job.attachment_id),
                org_id=job.org_id,
                event_id=str(uuid.uuid5(RESULT_ID_NAMESPACE, event.id)),
            )
        )
        log.info(
            "attachment_enriched",
            attachment_id=str(job.attachment_id),
            trigger=job.trigger,
            status=result.status,
            document_type=result.document_type,
            error=result.error,
            seconds=round(time.monotonic() - started, 3),
        )

    return handle


def _created_job(event: RawEvent) -> Job:
    try:
        created = AttachmentCreated.model_validate(event.data)
    except ValidationError as exc:
        raise PermanentError(
            f"invalid attachment.created payload: {exc.error_count()} errors"
        ) from exc
    return Job(
        attachment_id=created.attachment_id,
        org_id=created.org_id,
        bucket=created.bucket,
        object_key=created.object_key,
        filename=created.filename,
        content_type=created.content_type,
        enrich=created.enrich,
        trigger="attachment.created",
    )


def _reprocess_job(event: RawEvent) -> Job:
    try:
        request = ReprocessRequested.model_validate(event.data)
    except ValidationError as exc:
        raise PermanentError(
            f"invalid attachment.reprocess-requested payload: {exc.error_count()} errors"
        ) from exc
    return Job(
        attachment_id=request.attachment_id,
        org_id=request.org_id,
        bucket=request.bucket,
        object_key=request.object_key,
        filename=request.filename,
        content_type=request.content_type,
        enrich=request.enrich,
        trigger="attachment.reprocess-requested",
        job_id=request.job_id,
    )


def created_handler(enricher: Enricher, publisher: EventPublisher) -> EventHandler:
    return _publishing_handler(enricher, publisher, _created_job)


def reprocess_handler(enricher: Enricher, publisher: EventPublisher) -> EventHandler:
    return _publishing_handler(enricher, publisher, _reprocess_job)


class OriginalNotDeletedYet(Exception):
    """Retried later: the derivatives go once the original has (see the module's doc)."""


def deleted_handler(blobs: BlobStore) -> EventHandler:
    async def handle(event: RawEvent, _message: AbstractIncomingMessage) -> None:
        try:
            deleted = AttachmentDeleted.model_validate(event.data)
        except ValidationError as exc:
            raise PermanentError(
                f"invalid attachment.deleted payload: {exc.error_count()} errors"
            ) from exc
        # Usually it goes a moment after the event is published; if not, retry later.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ORIGINAL_GONE_WITHIN_SECONDS
        while await blobs.head(deleted.bucket, deleted.object_key) is not None:
            if loop.time() > deadline:
                raise OriginalNotDeletedYet(f"{deleted.object_key} still exists")
            await asyncio.sleep(0.1)
        # Idempotent: a redelivery deletes what is already gone.
        await delete_derivatives(blobs, deleted.bucket, deleted.object_key)
        log.info("derivatives_deleted", attachment_id=str(deleted.attachment_id))

    return handle


async def run(settings: EnricherSettings, stop: asyncio.Event) -> None:
    sandbox = make_sandbox(settings)
    await sandbox.start()
    provider = make_provider(settings)
    connection = await messaging.connect(settings.amqp_url.get_secret_value())
    try:
        async with connection, open_blob_store(settings) as blobs:
            publisher = await messaging.EventPublisher.open(connection, settings.events_exchange)
            enricher = Enricher(settings, blobs, sandbox, provider)
            consumers = [
                messaging.EventConsumer(
                    connection,
                    dataclasses.replace(
                        CREATED_QUEUE,
                        prefetch=settings.prefetch or 4 * sandbox_processes(settings),
                    ),
                    settings.events_exchange,
                    created_handler(enricher, publisher),
                ),
                messaging.EventConsumer(
                    connection,
                    dataclasses.replace(REPROCESS_QUEUE, prefetch=settings.reprocess_prefetch),
                    settings.events_exchange,
                    reprocess_handler(enricher, publisher),
                ),
                messaging.EventConsumer(
                    connection,
                    DELETED_QUEUE,
                    settings.events_exchange,
                    deleted_handler(blobs),
                ),
            ]
            for consumer in consumers:
                await consumer.start()
            log.info(
                "enricher_started",
                sandbox_processes=len(sandbox.pids()),
                provider=provider.name,
                ocr="available" if _ocr_available(settings) else "unavailable",
            )
            await stop.wait()
            for consumer in consumers:
                await consumer.stop()
    finally:
        await provider.close()
        await sandbox.close()


def _ocr_available(settings: EnricherSettings) -> bool:
    from attache_enricher import ocr

    return settings.ocr_enabled and ocr.available_languages(settings.tesseract_cmd) is not None
