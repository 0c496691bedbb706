"""Composition root of the catalog service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from attache_catalog.consumers import (
    ENRICHED_QUEUE,
    INGEST_QUEUE,
    enrichment_handler,
    ingest_handler,
)
from attache_catalog.job_routes import job_routes
from attache_catalog.keys import AMQP, CONSUMERS, POOL, SETTINGS, VERIFIER
from attache_catalog.library_routes import routes as library_routes
from attache_catalog.outbox_relay import OutboxRelay
from attache_catalog.profile_routes import profile_routes
from attache_catalog.routes import routes
from attache_catalog.settings import CatalogSettings
from attache_core import messaging
from attache_core.auth import TokenVerifier
from attache_core.web import READINESS_CHECKS_KEY, create_base_app, postgres_context

MIGRATIONS = Path(__file__).parent / "migrations"


async def _broker(app: web.Application) -> AsyncIterator[None]:
    connection = await messaging.connect(app[SETTINGS].amqp_url.get_secret_value())
    app[AMQP] = connection

    async def check() -> None:
        if connection.is_closed:
            raise ConnectionError("RabbitMQ connection closed")

    app[READINESS_CHECKS_KEY]["rabbitmq"] = check
    yield
    await connection.close()


async def _outbox_relay(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    publisher = await messaging.EventPublisher.open(app[AMQP], settings.events_exchange)
    relay = OutboxRelay(
        app[POOL],
        settings.database_url,
        publisher,
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )
    task = asyncio.create_task(relay.run(), name="outbox-relay")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await publisher.close()


async def _consumers(app: web.Application) -> AsyncIterator[None]:
    exchange = app[SETTINGS].events_exchange
    consumers = [
        messaging.EventConsumer(app[AMQP], ENRICHED_QUEUE, exchange, enrichment_handler(app[POOL])),
        messaging.EventConsumer(
            app[AMQP], INGEST_QUEUE, exchange, ingest_handler(app[POOL], app[SETTINGS])
        ),
    ]
    for consumer in consumers:
        await consumer.start()
    app[CONSUMERS] = consumers
    yield
    for consumer in consumers:
        await consumer.stop()


def create_app(settings: CatalogSettings, *, background: bool = True) -> web.Application:
    """`background=False` leaves out the relay and consumers (tests drive them directly)."""
    app = create_base_app()
    app[SETTINGS] = settings
    app[VERIFIER] = TokenVerifier(settings)
    app.cleanup_ctx.extend([postgres_context(settings, POOL, "catalog", MIGRATIONS), _broker])
    if background:
        app.cleanup_ctx.extend([_outbox_relay, _consumers])
    app.add_routes(routes)
    app.add_routes(profile_routes)
    app.add_routes(library_routes)
    app.add_routes(job_routes)
    return app
