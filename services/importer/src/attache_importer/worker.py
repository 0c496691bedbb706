"""The import worker. For now it only declares its queue so `import.requested`
messages wait, durably, for the import implementation (nothing consumes them)."""

from __future__ import annotations

import asyncio

import structlog
from aio_pika.abc import AbstractRobustConnection

from attache_core import messaging
from attache_core.messaging import QueueSpec, declare_work_queue
from attache_importer.settings import ImporterSettings

IMPORT_QUEUE = QueueSpec(
    name="importer.import-requested", routing_keys=["import.requested"], prefetch=1
)


async def declare_topology(connection: AbstractRobustConnection, events_exchange: str) -> None:
    channel = await connection.channel()
    await declare_work_queue(channel, IMPORT_QUEUE, events_exchange)
    await channel.close()


async def run(settings: ImporterSettings, stop: asyncio.Event) -> None:
    connection = await messaging.connect(settings.amqp_url.get_secret_value())
    async with connection:
        await declare_topology(connection, settings.events_exchange)
        structlog.get_logger("attache.importer").info("importer_waiting", queue=IMPORT_QUEUE.name)
        await stop.wait()
