"""RabbitMQ: topology, a confirming publisher and an idempotent consumer.

Topology (declared by whoever needs it; declarations are idempotent):
- `attache.events`: durable topic exchange, routing key = event type; events no
  queue is bound to fall through to `attache.unrouted` (its alternate exchange,
  with a bounded queue of the same name) rather than being returned.
- `attache.dead-letter`: direct exchange; every work queue dead-letters into it
  with its own name as routing key, landing in `<queue>.dead` (parked messages).
- `<queue>.retry.<n>`: wait queues with a fixed TTL whose expiry dead-letters
  the message back to `<queue>` through the default exchange (delayed retry
  with backoff, no plugin needed).
- Work queues are quorum queues with `x-delivery-limit`, so a message that
  keeps killing its consumer is parked instead of looping forever.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from pydantic import ValidationError

from attache_core.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, RawEvent

log = structlog.get_logger("attache.messaging")

DEAD_LETTER_EXCHANGE = "attache.dead-letter"
# Alternate exchange of attache.events; its queue keeps the last day's unsubscribed events.
UNROUTED_EXCHANGE = "attache.unrouted"
RETRY_HEADER = "x-attache-retries"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    routing_keys: Sequence[str]
    delivery_limit: int = 5
    # Delays (seconds) of successive retries of a transient failure; then parked.
    retry_delays: Sequence[float] = (1.0, 5.0, 30.0)
    prefetch: int = 32
    extra_arguments: dict[str, Any] = field(default_factory=dict)
    # A classic queue with x-max-priority instead of a quorum queue (RabbitMQ 3.x quorum
    # queues have no priorities): messages carry their priority (event_message). Classic
    # queues have no delivery limit; the retry header still parks repeated failures.
    max_priority: int | None = None

    @property
    def dead_queue(self) -> str:
        return f"{self.name}.dead"

    def retry_queue(self, attempt: int) -> str:
        return f"{self.name}.retry.{attempt}"


async def connect(url: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(url, client_properties={"connection_name": "attache"})


async def declare_exchanges(channel: AbstractChannel, events_exchange: str) -> AbstractExchange:
    # Events no queue subscribes to yet go to the alternate exchange instead of coming back
    # to the publisher: an event type without consumers must not stall the outbox.
    unrouted = await channel.declare_exchange(
        UNROUTED_EXCHANGE, aio_pika.ExchangeType.FANOUT, durable=True
    )
    parking = await channel.declare_queue(
        UNROUTED_EXCHANGE,
        durable=True,
        arguments={"x-max-length": 10_000, "x-overflow": "drop-head", "x-message-ttl": 86_400_000},
    )
    await parking.bind(unrouted)
    exchange = await channel.declare_exchange(
        events_exchange,
        aio_pika.ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": UNROUTED_EXCHANGE},
    )
    await channel.declare_exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
    return exchange


async def declare_work_queue(
    channel: AbstractChannel, spec: QueueSpec, events_exchange: str
) -> aio_pika.abc.AbstractQueue:
    exchange = await declare_exchanges(channel, events_exchange)
    dead = await channel.declare_queue(
        spec.dead_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead.bind(DEAD_LETTER_EXCHANGE, routing_key=spec.name)
    for attempt, delay in enumerate(spec.retry_delays, start=1):
        await channel.declare_queue(
            spec.retry_queue(attempt),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-message-ttl": int(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": spec.name,
            },
        )
    kind: dict[str, Any] = (
        {"x-queue-type": "classic", "x-max-priority": spec.max_priority}
        if spec.max_priority
        else {"x-queue-type": "quorum", "x-delivery-limit": spec.delivery_limit}
    )
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments={
            **kind,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": spec.name,
            **spec.extra_arguments,
        },
    )
    for key in spec.routing_keys:
        await queue.bind(exchange, routing_key=key)
    return queue


def event_message(event: CloudEvent, **headers: Any) -> aio_pika.Message:
    # The envelope's `priority` extension becomes the AMQP priority (priority queues).
    return aio_pika.Message(
        body=event.model_dump_json(
            exclude={"priority"} if event.priority is None else None
        ).encode(),
        content_type=CLOUDEVENTS_CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        headers=headers or None,
        priority=event.priority,
    )


class EventPublisher:
    """Publishes events with publisher confirms; unroutable messages raise.

    `publish_many` keeps up to `window` messages in flight on one channel and
    returns once the broker has confirmed every one of them.
    """

    def __init__(self, channel: AbstractChannel, exchange: AbstractExchange, *, window: int = 256):
        self._channel = channel
        self._exchange = exchange
        self._window = asyncio.Semaphore(window)

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, events_exchange: str, *, window: int = 256
    ) -> EventPublisher:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await declare_exchanges(channel, events_exchange)
        return cls(channel, exchange, window=window)

    async def publish(self, event: CloudEvent) -> None:
        async with self._window:
            await self._exchange.publish(
                event_message(event), routing_key=event.type, mandatory=True
            )

    async def publish_many(self, events: Sequence[CloudEvent]) -> None:
        await asyncio.gather(*(self.publish(e) for e in events))

    async def close(self) -> None:
        await self._channel.close()


class PermanentError(Exception):
    """The message can never succeed (bad reference, invalid content): park it, don't retry."""


# A handler returns False when it recognised a duplicate delivery and did nothing.
EventHandler = Callable[[RawEvent, AbstractIncomingMessage], Awaitable[bool | None]]


class EventConsumer:
    """Consumes one work queue.

    Messages that are not a valid CloudEvent are dead-lettered at once. A
    handler's PermanentError parks the message; any other exception is retried
    through the wait queues with backoff, then parked. Handlers must be
    idempotent (see attache_core.idempotency): delivery is at-least-once.
    """

    def __init__(
        self,
        connection: AbstractRobustConnection,
        spec: QueueSpec,
        events_exchange: str,
        handler: EventHandler,
    ) -> None:
        self._connection = connection
        self._spec = spec
        self._events_exchange = events_exchange
        self._handler = handler
        self._channel: AbstractChannel | None = None
        self._consumer_tag: str | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None
        # How deliveries ended: handled, duplicate, invalid, parked, retried.
        self.outcomes: collections.Counter[str] = collections.Counter()

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self._spec.prefetch)
        self._queue = await declare_work_queue(self._channel, self._spec, self._events_exchange)
        self._consumer_tag = await self._queue.consume(self._on_message)
        log.info("consumer_started", queue=self._spec.name)

    async def stop(self) -> None:
        if self._queue is not None and self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
        if self._channel is not None:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(message_id=message.message_id, queue=self._spec.name)
        try:
            event = RawEvent.model_validate_json(message.body)
        except ValidationError as exc:
            log.warning("message_rejected_invalid", errors=exc.error_count())
            await message.reject(requeue=False)
            self.outcomes["invalid"] += 1
            return
        structlog.contextvars.bind_contextvars(message_id=event.id, org_id=event.orgid)
        try:
            applied = await self._handler(event, message)
        except PermanentError as exc:
            log.warning("message_parked", reason=str(exc), event_type=event.type)
            await message.reject(requeue=False)
            self.outcomes["parked"] += 1
        except Exception:
            await self._retry_later(message, event)
        else:
            await message.ack()
            self.outcomes["duplicate" if applied is False else "handled"] += 1

    async def _retry_later(self, message: AbstractIncomingMessage, event: RawEvent) -> None:
        attempt = int((message.headers or {}).get(RETRY_HEADER, 0)) + 1
        if attempt > len(self._spec.retry_delays):
            log.exception(
                "message_parked_after_retries", event_type=event.type, attempts=attempt - 1
            )
            await message.reject(requeue=False)
            self.outcomes["parked"] += 1
            return
        log.exception("message_retry_scheduled", event_type=event.type, attempt=attempt)
        assert self._channel is not None
        retry = aio_pika.Message(
            body=message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            type=message.type,
            headers={**(message.headers or {}), RETRY_HEADER: attempt},
            priority=message.priority,
        )
        # Publish the copy (confirmed) before acking the original: a crash in
        # between duplicates the message, which idempotent handlers absorb.
        await self._channel.default_exchange.publish(
            retry, routing_key=self._spec.retry_queue(attempt)
        )
        await message.ack()
        self.outcomes["retried"] += 1
