"""The catalog's side of the event flow: outbox relay and the enrichment consumer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import aio_pika
import asyncpg
import pytest

from attache_catalog import repository as repo
from attache_catalog.app import MIGRATIONS
from attache_catalog.keys import CONSUMERS
from attache_catalog.outbox_relay import OutboxRelay
from attache_core import messaging
from attache_core.db import create_pool, init_connection, migrate
from attache_core.events import AttachmentEnriched, ImportRequested, make_event
from attache_devstack import infra
from attache_devstack.waiting import counted, eventually


@pytest.fixture
async def own_database(database_url, run_id):
    """A catalog schema no running relay watches, so the test controls the relay."""
    admin = infra.with_database(database_url, "postgres")
    name = f"attache_test_{run_id}_{uuid.uuid4().hex[:6]}"
    url = await infra.create_database(admin, name)
    await migrate(url, "catalog", MIGRATIONS)
    pool = await create_pool(url)
    yield url, pool
    await pool.close()
    await infra.drop_database(admin, name)


@pytest.fixture
async def amqp(amqp_url):
    connection = await messaging.connect(amqp_url)
    yield connection
    await connection.close()


async def bind_probe(connection, routing_key: str):
    """An exclusive queue that sees every event of one type."""
    channel = await connection.channel()
    exchange = await messaging.declare_exchanges(channel, "attache.events")
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key=routing_key)
    return channel, queue


async def test_outbox_row_committed_while_relay_stopped_is_published_when_it_starts(
    own_database, amqp
):
    url, pool = own_database
    channel, probe = await bind_probe(amqp, "import.requested")
    event = make_event(
        "import.requested",
        ImportRequested(job_id=uuid.uuid4(), org_id="o", bucket="b", object_key="k"),
        source="/test",
        subject="s",
        org_id="o",
    )
    async with pool.acquire() as conn, conn.transaction():
        await repo.add_outbox(conn, event)

    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    # A long poll: only LISTEN/NOTIFY can deliver the second event within the test's time limit.
    relay = OutboxRelay(pool, url, publisher, poll_seconds=3600)
    task = asyncio.create_task(relay.run())
    try:
        message = await eventually(lambda: probe.get(fail=False))
        assert message.message_id == event.id
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        body = messaging.RawEvent.model_validate_json(message.body)
        assert (
            body.specversion == "1.0" and body.type == "import.requested" and body.source == "/test"
        )
        await message.ack()
        # Marked in the relay's transaction, which commits just after the broker confirms.
        await eventually(
            lambda: pool.fetchval(
                "SELECT published_at IS NOT NULL FROM catalog.outbox WHERE event_id = $1",
                uuid.UUID(event.id),
            )
        )

        second = make_event(
            "import.requested",
            ImportRequested(job_id=uuid.uuid4(), org_id="o", bucket="b", object_key="k2"),
            source="/test",
            subject="s2",
            org_id="o",
        )
        async with pool.acquire() as conn, conn.transaction():
            await repo.add_outbox(conn, second)
        message = await eventually(lambda: probe.get(fail=False))
        assert message.message_id == second.id
        await message.ack()
        # Each published exactly once.
        assert await probe.get(fail=False) is None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await publisher.close()
        await channel.close()


async def test_events_nobody_subscribes_to_do_not_stall_the_relay(own_database, amqp):
    """An event type without consumers is published (to the alternate exchange), so the
    rows after it are not held back."""
    url, pool = own_database
    channel, probe = await bind_probe(amqp, "import.requested")
    orphan = make_event(
        "nobody.listens",
        ImportRequested(job_id=uuid.uuid4(), org_id="o", bucket="b", object_key="k"),
        source="/test",
        subject="s",
        org_id="o",
    )
    wanted = make_event(
        "import.requested",
        ImportRequested(job_id=uuid.uuid4(), org_id="o", bucket="b", object_key="k2"),
        source="/test",
        subject="s",
        org_id="o",
    )
    async with pool.acquire() as conn, conn.transaction():
        await repo.add_outbox(conn, orphan)
        await repo.add_outbox(conn, wanted)
    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    relay = OutboxRelay(pool, url, publisher)
    assert await relay.publish_batch() == 2
    message = await eventually(lambda: probe.get(fail=False))
    assert message.message_id == wanted.id
    await message.ack()
    unrouted = await channel.declare_queue(messaging.UNROUTED_EXCHANGE, passive=True)
    ids = set()
    while (parked := await unrouted.get(fail=False)) is not None:
        ids.add(parked.message_id)
        await parked.ack()
    assert orphan.id in ids
    await publisher.close()
    await channel.close()


async def _attachment(database_url: str, org: str) -> uuid.UUID:
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)  # the services' jsonb codec
    try:
        customer = await repo.insert_customer(
            conn, org_id=org, full_name="C", email="c@example.com", phone=None
        )
        attachment_id = uuid.uuid4()
        await repo.insert_attachment(
            conn,
            org_id=org,
            uploaded_by="u",
            reg={
                "id": attachment_id,
                "customer_id": customer["id"],
                "bucket": "b",
                "object_key": f"k/{attachment_id}",
                "filename": "f.txt",
                "content_type": "text/plain",
                "size_bytes": 3,
                "etag": None,
                "checksum_sha256": None,
                "detected_mime_type": None,
            },
        )
        return attachment_id
    finally:
        await conn.close()


def _enriched(attachment_id: uuid.UUID, org: str, text_length: int, event_id: str | None = None):
    result = AttachmentEnriched(
        attachment_id=attachment_id,
        org_id=org,
        status="processed",
        detected_mime_type="text/plain",
        sha256="0" * 64,
        text_length=text_length,
        model_version="test",
        processed_at=datetime.now(UTC),
    )
    return make_event(
        "attachment.enriched",
        result,
        source="/test",
        subject=str(attachment_id),
        org_id=org,
        event_id=event_id,
    )


async def test_duplicate_delivery_is_applied_once(stack, database_url, amqp, org):
    consumer = stack.catalog_app[CONSUMERS][0]
    attachment_id = await _attachment(database_url, org)
    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    event_id = str(uuid.uuid4())
    before = consumer.outcomes["duplicate"]
    # Same event id twice; the second carries another value, which must not be applied.
    await publisher.publish(_enriched(attachment_id, org, 111, event_id))
    await publisher.publish(_enriched(attachment_id, org, 222, event_id))
    await eventually(lambda: counted(consumer.outcomes["duplicate"] > before))
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT ai_processed, text_length FROM catalog.attachments WHERE id = $1", attachment_id
        )
        assert row["ai_processed"] and row["text_length"] == 111
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM catalog.processed_messages WHERE message_id = $1", event_id
            )
            == 1
        )
    finally:
        await conn.close()
    await publisher.close()


async def test_message_that_is_not_json_is_dead_lettered_and_consuming_goes_on(
    stack, database_url, amqp, org
):
    consumer = stack.catalog_app[CONSUMERS][0]
    channel = await amqp.channel()
    exchange = await messaging.declare_exchanges(channel, "attache.events")
    invalid_before = consumer.outcomes["invalid"]
    await exchange.publish(
        aio_pika.Message(b"this is not json {", message_id="garbage-1"),
        routing_key="attachment.enriched",
    )
    await eventually(lambda: counted(consumer.outcomes["invalid"] > invalid_before))
    dead = await channel.declare_queue("catalog.attachment-enriched.dead", passive=True)
    parked = await eventually(lambda: dead.get(fail=False))
    assert parked.body == b"this is not json {"
    await parked.ack()

    # The consumer is still there and applies the next valid message.
    attachment_id = await _attachment(database_url, org)
    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    await publisher.publish(_enriched(attachment_id, org, 5))

    async def applied():
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval(
                "SELECT ai_processed FROM catalog.attachments WHERE id = $1", attachment_id
            )
        finally:
            await conn.close()

    await eventually(applied)
    await publisher.close()
    await channel.close()
