"""The import worker: consumes `import.requested` and runs the import it names.

Delivery is at-least-once and a worker may die at any moment, so:
- the job row says whether the import already ended (a redelivery is acknowledged and
  does nothing) and where it stands (a new attempt continues from its checkpoint);
- while one worker runs a job it holds a PostgreSQL session lock on it; another
  delivery of the same job meanwhile is retried later rather than run twice. The lock
  goes with the holder's connection, so a killed worker frees its job at once;
- the message is acknowledged only when the job has reached its end state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import ValidationError

from attache_core import messaging
from attache_core.db import create_pool, init_connection
from attache_core.events import ImportRequested, RawEvent
from attache_core.messaging import (
    RETRY_HEADER,
    EventConsumer,
    EventHandler,
    PermanentError,
    QueueSpec,
    declare_work_queue,
)
from attache_core.s3 import open_blob_store
from attache_importer import csv_reader, job_store
from attache_importer.imports import ImportContext, ImportRunner
from attache_importer.passwords import PasswordHasher, ScryptCost
from attache_importer.settings import ImporterSettings

log = structlog.get_logger("attache.importer")

IMPORT_QUEUE = QueueSpec(
    name="importer.import-requested", routing_keys=["import.requested"], prefetch=1
)


class JobBusy(Exception):
    """Another worker holds the job right now: try this delivery again later."""


async def declare_topology(connection: AbstractRobustConnection, events_exchange: str) -> None:
    channel = await connection.channel()
    await declare_work_queue(channel, IMPORT_QUEUE, events_exchange)
    await channel.close()


async def run_job(ctx: ImportContext, job_id: uuid.UUID) -> str | None:
    """Run (or resume) one import; its end status, or None when it had already ended."""
    lock_conn = await asyncpg.connect(ctx.settings.database_url)
    try:
        await init_connection(lock_conn)
        record = await job_store.load(lock_conn, job_id)
        if record is None:
            raise PermanentError(f"no import job {job_id}")
        if record["status"] in job_store.TERMINAL:
            return None
        if not await job_store.try_lock(lock_conn, job_id):
            raise JobBusy(f"import {job_id} is running on another worker")
        record = await job_store.load(lock_conn, job_id)  # as the lock holder sees it
        if record["status"] in job_store.TERMINAL:
            return None
        record = await job_store.start_attempt(lock_conn, job_id)
        log.info("import_started", job_id=str(job_id), attempt=record["attempts"])
        return await ImportRunner(ctx, record).run(lock_conn)
    finally:
        await lock_conn.close()


def import_handler(ctx: ImportContext, retries: int) -> EventHandler:
    async def handle(event: RawEvent, message: AbstractIncomingMessage) -> bool:
        try:
            requested = ImportRequested.model_validate(event.data)
        except ValidationError as exc:
            raise PermanentError(
                f"invalid import.requested payload: {exc.error_count()} errors"
            ) from exc
        try:
            status = await run_job(ctx, requested.job_id)
        except (PermanentError, JobBusy, job_store.CheckpointMoved):
            raise  # no such job, or another worker has it: not a failure of the job
        except Exception:
            attempt = int((message.headers or {}).get(RETRY_HEADER, 0))
            if attempt >= retries:
                # The last try: end the job as failed rather than leave it processing.
                await _give_up(ctx, requested.job_id)
                return True
            raise
        return status is not None

    return handle


async def _give_up(ctx: ImportContext, job_id: uuid.UUID) -> None:
    log.exception("import_abandoned", job_id=str(job_id))
    async with ctx.pool.acquire() as conn:
        await conn.execute(
            """UPDATE catalog.background_jobs
               SET status = 'failed', phase = 'done', finished_at = now(), updated_at = now(),
                   message = 'The import failed repeatedly on a storage or database error;'
                             ' start it again'
               WHERE id = $1 AND status NOT IN ('completed', 'completed_with_errors', 'failed')""",
            job_id,
        )


async def run(settings: ImporterSettings, stop: asyncio.Event) -> None:
    # Records and fields as large as the record limit (the csv module's default is 128 KiB).
    csv_reader.csv.field_size_limit(settings.import_max_record_bytes)
    hasher = PasswordHasher(settings.import_hash_workers, ScryptCost(settings.import_scrypt_log2_n))
    pool = await create_pool(settings.database_url, min_size=1, max_size=settings.db_pool_max)
    connection = await messaging.connect(settings.amqp_url.get_secret_value())
    try:
        async with connection, open_blob_store(settings) as blobs:
            ctx = ImportContext(settings, pool, blobs, hasher)
            spec = dataclasses.replace(IMPORT_QUEUE, prefetch=settings.import_jobs_per_worker)
            consumer = EventConsumer(
                connection,
                spec,
                settings.events_exchange,
                import_handler(ctx, len(spec.retry_delays)),
            )
            await consumer.start()
            log.info("importer_ready", queue=spec.name)
            await stop.wait()
            await consumer.stop()
    finally:
        hasher.close()
        await pool.close()
