"""The gateway's subscription to `profile.image.updated`: deletes the replaced image.

Deleting right after the catalog's commit (profile_images) is the fast path; this is
the guarantee: the event comes from the catalog's outbox, so the replaced object goes
even when the gateway died between the commit and its delete. Safe at any time, since
the catalog only ever moves a profile to a newer image: the one it replaced can never
be the profile's again. Deleting twice is harmless, so redeliveries are too.

It is also the queue bound to `profile.image.updated` that the outbox relay needs (it
publishes with `mandatory`, and keeps unroutable events until something is bound).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web
from pydantic import ValidationError

from attache_core import messaging
from attache_core.events import ProfileImageUpdated, RawEvent
from attache_core.messaging import EventHandler, PermanentError, QueueSpec
from attache_core.s3 import BlobStore
from attache_gateway import profile_repository as repo
from attache_gateway.keys import BLOBS, POOL, SETTINGS
from attache_gateway.profile_images import delete_retired

log = structlog.get_logger("attache.gateway.profile_events")

REPLACED_IMAGES_QUEUE = QueueSpec(
    name="gateway.profile-image-replaced", routing_keys=["profile.image.updated"]
)


def replaced_image_handler(pool: asyncpg.Pool, blobs: BlobStore) -> EventHandler:
    async def handle(event: RawEvent, _message: AbstractIncomingMessage) -> bool:
        try:
            data = ProfileImageUpdated.model_validate(event.data)
        except ValidationError as exc:
            raise PermanentError(
                f"invalid profile.image.updated payload: {exc.error_count()} errors"
            ) from exc
        if data.previous_object_key is None:
            return True  # a first image replaces nothing
        # Only an upload the gateway itself made for this user is ever deleted.
        retired = await repo.retire_key(pool, data.org_id, data.user_id, data.previous_object_key)
        await delete_retired(pool, blobs, retired)  # S3 failing: retried with backoff
        if retired:
            log.info("replaced_profile_image_deleted", org_id=data.org_id)
        return bool(retired)

    return handle


async def replaced_images_consumer(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: consume while the gateway runs."""
    settings = app[SETTINGS]
    connection = await messaging.connect(settings.amqp_url.get_secret_value())
    consumer = messaging.EventConsumer(
        connection,
        REPLACED_IMAGES_QUEUE,
        settings.events_exchange,
        replaced_image_handler(app[POOL], app[BLOBS]),
    )
    await consumer.start()
    yield
    await consumer.stop()
    await connection.close()
