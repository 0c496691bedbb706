"""The consumer wrapper and publisher against a real RabbitMQ (the session's own vhost)."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import asyncpg
import pydantic
import pytest

from attache_core import messaging
from attache_core.events import ImportRequested, make_event
from attache_core.idempotency import claim_message
from attache_devstack.waiting import counted, eventually


@pytest.fixture
async def amqp(amqp_url):
    connection = await messaging.connect(amqp_url)
    yield connection
    await connection.close()


def spec(**kwargs) -> messaging.QueueSpec:
    name = f"test.{uuid.uuid4().hex[:8]}"
    return messaging.QueueSpec(name=name, routing_keys=[name], **kwargs)


def event(routing_key: str):
    return make_event(
        routing_key,
        ImportRequested(job_id=uuid.uuid4(), org_id="o", bucket="b", object_key="k"),
        source="/test",
        subject=None,
        org_id="o",
    )


async def test_queues_are_quorum_with_dead_letter_and_delivery_limit(amqp):
    queue_spec = spec(delivery_limit=3)
    channel = await amqp.channel()
    await messaging.declare_work_queue(channel, queue_spec, "attache.events")
    # Redeclaring with other arguments fails: proves the broker holds exactly these.
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        other = await amqp.channel()
        await other.declare_queue(
            queue_spec.name, durable=True, arguments={"x-queue-type": "classic"}
        )
    await channel.close()


async def test_transient_failures_are_retried_with_backoff_then_parked(amqp):
    queue_spec = spec(retry_delays=(0.05, 0.1))
    calls = []

    async def always_fails(evt, message):
        calls.append(message.headers.get(messaging.RETRY_HEADER, 0))
        raise ConnectionError("dependency down")

    consumer = messaging.EventConsumer(amqp, queue_spec, "attache.events", always_fails)
    await consumer.start()
    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    await publisher.publish(event(queue_spec.name))
    await eventually(lambda: counted(consumer.outcomes["parked"] == 1))
    assert calls == [0, 1, 2]
    assert consumer.outcomes["retried"] == 2
    channel = await amqp.channel()
    dead = await channel.declare_queue(queue_spec.dead_queue, passive=True)
    parked = await eventually(lambda: dead.get(fail=False))
    await parked.ack()
    await consumer.stop()
    await publisher.close()
    await channel.close()


async def test_transient_failure_then_success(amqp):
    queue_spec = spec(retry_delays=(0.05,))
    attempts = []

    async def flaky(evt, message):
        attempts.append(1)
        if len(attempts) == 1:
            raise TimeoutError("first try times out")

    consumer = messaging.EventConsumer(amqp, queue_spec, "attache.events", flaky)
    await consumer.start()
    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    await publisher.publish(event(queue_spec.name))
    await eventually(lambda: counted(consumer.outcomes["handled"] == 1))
    assert len(attempts) == 2 and consumer.outcomes["parked"] == 0
    await consumer.stop()
    await publisher.close()


async def test_permanent_errors_and_invalid_envelopes_are_parked_without_retry(amqp):
    queue_spec = spec()
    seen = []

    async def refuses(evt, message):
        seen.append(evt.id)
        raise messaging.PermanentError("bad reference")

    consumer = messaging.EventConsumer(amqp, queue_spec, "attache.events", refuses)
    await consumer.start()
    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    await publisher.publish(event(queue_spec.name))
    channel = await amqp.channel()
    exchange = await messaging.declare_exchanges(channel, "attache.events")
    await exchange.publish(
        aio_pika.Message(b'{"json": "but not a CloudEvent"}'), routing_key=queue_spec.name
    )
    await exchange.publish(aio_pika.Message(b"\xff\xfe binary"), routing_key=queue_spec.name)
    await eventually(
        lambda: asyncio.sleep(
            0, consumer.outcomes["parked"] == 1 and consumer.outcomes["invalid"] == 2
        )
    )
    assert len(seen) == 1
    dead = await channel.declare_queue(queue_spec.dead_queue, passive=True)
    bodies = []
    for _ in range(3):
        message = await eventually(lambda: dead.get(fail=False))
        bodies.append(message.body)
        await message.ack()
    assert b"\xff\xfe binary" in bodies
    await consumer.stop()
    await publisher.close()
    await channel.close()


async def test_idempotent_handler_applies_a_duplicate_once(amqp, database_url):
    """The pattern every consumer follows: claim the message id in the effect's transaction."""
    queue_spec = spec()
    conn = await asyncpg.connect(database_url)
    await conn.execute("CREATE SCHEMA IF NOT EXISTS idem_test")
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS idem_test.processed_messages (consumer text, message_id text,"
        " processed_at timestamptz DEFAULT now(), PRIMARY KEY (consumer, message_id))"
    )
    await conn.execute("CREATE TABLE IF NOT EXISTS idem_test.effects (message_id text)")
    pool = await asyncpg.create_pool(database_url)

    async def handle(evt, message):
        async with pool.acquire() as c, c.transaction():
            if not await claim_message(c, "idem_test", queue_spec.name, evt.id):
                return False
            await c.execute("INSERT INTO idem_test.effects VALUES ($1)", evt.id)
        return True

    consumer = messaging.EventConsumer(amqp, queue_spec, "attache.events", handle)
    await consumer.start()
    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    duplicate = event(queue_spec.name)
    await publisher.publish_many([duplicate, duplicate, duplicate])
    await eventually(lambda: counted(sum(consumer.outcomes.values()) == 3))
    assert consumer.outcomes == {"handled": 1, "duplicate": 2}
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM idem_test.effects WHERE message_id = $1", duplicate.id
        )
        == 1
    )
    await consumer.stop()
    await publisher.close()
    await pool.close()
    await conn.close()


async def test_publish_many_confirms_all(amqp):
    queue_spec = spec()
    channel = await amqp.channel()
    queue = await messaging.declare_work_queue(channel, queue_spec, "attache.events")
    publisher = await messaging.EventPublisher.open(amqp, "attache.events", window=16)
    await publisher.publish_many([event(queue_spec.name) for _ in range(200)])
    # Confirmed means enqueued: all 200 are there as soon as publish_many returns.
    received = 0
    while (message := await queue.get(fail=False)) is not None:
        await message.ack()
        received += 1
    assert received == 200
    await publisher.close()
    await channel.close()


def test_cloud_event_envelope_shape():
    evt = event("import.requested")
    body = evt.model_dump(mode="json")
    assert {
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "subject",
        "datacontenttype",
        "data",
    } <= body.keys()
    assert body["specversion"] == "1.0" and body["datacontenttype"] == "application/json"
    with pytest.raises(pydantic.ValidationError):
        messaging.RawEvent.model_validate_json(b'{"specversion": "1.0"}')
