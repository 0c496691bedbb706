"""Composition root of the gateway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from attache_core import messaging
from attache_core.auth import TokenVerifier
from attache_core.batching import BatchWriter
from attache_core.db import HeldConnection
from attache_core.s3 import open_blob_store
from attache_core.web import (
    ERROR_RENDERERS_KEY,
    READINESS_CHECKS_KEY,
    create_base_app,
    postgres_context,
)
from attache_gateway import (
    files_routes,  # noqa: F401  (registers its operations on `api`)
    import_routes,  # noqa: F401  (registers its operations on `api`)
    library_routes,  # noqa: F401  (registers its operations on `api`)
    multipart_routes,  # noqa: F401  (registers its operations on `api`)
    profile_routes,  # noqa: F401  (registers its operations on `api`)
    rate_limits,
    repository,
    routes,
    storage_routes,
)
from attache_gateway.api import api, openapi_document
from attache_gateway.catalog_client import CatalogClient
from attache_gateway.cleanup_jobs import sweep_and_record
from attache_gateway.keys import (
    BLOBS,
    CATALOG,
    POOL,
    SESSION_WRITER,
    SETTINGS,
    UPLOADS,
    VERIFIER,
)
from attache_gateway.profile_events import replaced_images_consumer
from attache_gateway.settings import GatewaySettings
from attache_gateway.sweeper import run_sweeper
from attache_gateway.uploads import UploadContext

MIGRATIONS = Path(__file__).parent / "migrations"


# Two batches in flight: the next forms and goes while PostgreSQL commits the last
# (+11% presigns/s against one, alternating rounds on one stack; three or four: no more).
SESSION_WRITE_LANES = 2


async def _session_writer(app: web.Application) -> AsyncIterator[None]:
    """Presign's session inserts, group-committed on connections of their own."""
    connections = [HeldConnection(app[POOL]) for _ in range(SESSION_WRITE_LANES)]
    app[SESSION_WRITER] = BatchWriter(
        [partial(repository.insert_sessions, connection) for connection in connections]
    )
    yield
    for connection in connections:
        await connection.close()


async def _object_store(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with open_blob_store(settings) as blobs:
        for bucket in settings.buckets:
            await blobs.ensure_bucket(bucket)
        app[BLOBS] = blobs

        async def check() -> None:
            await blobs.client.head_bucket(Bucket=settings.s3_bucket)

        app[READINESS_CHECKS_KEY]["s3"] = check
        yield


async def _broker_check(app: web.Application) -> AsyncIterator[None]:
    # The gateway publishes nothing itself (the catalog's outbox does); readiness still
    # reports the broker, since uploads are useless to the platform without it.
    url = app[SETTINGS].amqp_url.get_secret_value()

    async def check() -> None:
        connection = await messaging.connect(url)
        await connection.close()

    app[READINESS_CHECKS_KEY]["rabbitmq"] = check
    yield


async def _catalog_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    timeout = aiohttp.ClientTimeout(total=30, connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[CATALOG] = CatalogClient(
            session,
            settings.catalog_url,
            settings.internal_secret.get_secret_value(),
            customer_cache_seconds=settings.customer_cache_seconds,
        )
        yield


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    task = asyncio.create_task(
        run_sweeper(
            app[POOL],
            app[BLOBS],
            settings.sweep_interval_seconds,
            # Streamed uploads (streaming.py) are S3 multipart uploads too, in any bucket.
            multipart_buckets=settings.buckets,
            multipart_max_age=settings.multipart_expiry_seconds,
            settled_retention=settings.settled_session_retention_seconds,
        ),
        name="sweeper",
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _file_sweeper(app: web.Application) -> AsyncIterator[None]:
    """Deletes files whose expires_at passed, and objects of deleted files (see files.py)."""
    log = structlog.get_logger("attache.gateway.files")

    async def loop() -> None:
        while True:
            try:
                purged = await sweep_and_record(app[CATALOG], app[BLOBS])
                if purged:
                    log.info("due_files_swept", count=purged)
            except Exception:
                log.exception("file_sweep_failed")
            await asyncio.sleep(app[SETTINGS].sweep_interval_seconds)

    task = asyncio.create_task(loop(), name="file-sweeper")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _upload_context(app: web.Application) -> None:
    """On start-up, once the resources exist: presign and confirm share one context."""
    app[UPLOADS] = UploadContext(
        app[SETTINGS], app[POOL], app[BLOBS], app[CATALOG], app[SESSION_WRITER]
    )


def create_app(settings: GatewaySettings, *, background: bool = True) -> web.Application:
    app = create_base_app()
    app[SETTINGS] = settings
    app[VERIFIER] = TokenVerifier(settings)
    app.cleanup_ctx.extend(
        [
            postgres_context(settings, POOL, "gateway", MIGRATIONS),
            _session_writer,
            _object_store,
            _broker_check,
            _catalog_client,
        ]
    )
    app.on_startup.append(_upload_context)  # runs after every cleanup context's start-up
    app[ERROR_RENDERERS_KEY].append((storage_routes.PATH, storage_routes.render_envelope_error))
    if background:
        app.cleanup_ctx.append(_sweeper)
        app.cleanup_ctx.append(_file_sweeper)
        app.cleanup_ctx.append(replaced_images_consumer)
        app.cleanup_ctx.append(rate_limits.purge_windows_periodically)
    # Presign and confirm are the hot paths; no other route's path matches theirs.
    api.add_routes(
        app,
        first=(routes.presign_attachment, routes.confirm_attachment),
        wrap=rate_limits.rate_limit_guard(app),
    )
    app.router.add_get("/openapi.json", openapi_document)
    return app
