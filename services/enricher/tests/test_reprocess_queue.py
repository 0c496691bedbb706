"""Reprocess requests wait in a classic queue with priorities: the highest goes first."""

from __future__ import annotations

import dataclasses
import uuid

from attache_core import messaging
from attache_core.events import ReprocessRequested, make_event
from attache_devstack.waiting import counted, eventually
from attache_enricher.worker import REPROCESS_QUEUE


async def test_priority_is_honoured_and_survives_a_retry(amqp_url):
    spec = dataclasses.replace(
        REPROCESS_QUEUE,
        name=f"test.reprocess-{uuid.uuid4().hex[:8]}",
        routing_keys=[f"test.reprocess.{uuid.uuid4().hex[:8]}"],
        prefetch=1,
        retry_delays=(0.2,),
    )
    connection = await messaging.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await messaging.declare_work_queue(channel, spec, "attache.events")
        publisher = await messaging.EventPublisher.open(connection, "attache.events")
        for priority in (1, 10, 5, 3):
            request = ReprocessRequested(
                attachment_id=uuid.uuid4(),
                org_id="org-p",
                bucket="b",
                object_key="k",
                content_type="application/pdf",
                filename="f.pdf",
                priority=priority,
                job_id=uuid.uuid4(),
            )
            event = make_event(
                "attachment.reprocess-requested",
                request,
                source="/test",
                subject=None,
                org_id="org-p",
                priority=priority,
            )
            event.type = spec.routing_keys[0]  # routed to this test's queue only
            await publisher.publish(event)

        seen: list[int] = []
        failed_once: set[int] = set()

        async def handle(event, message):
            priority = event.data["priority"]
            assert message.priority == priority
            if priority == 5 and priority not in failed_once:
                failed_once.add(priority)
                raise RuntimeError("transient")  # retried through the wait queue
            seen.append(priority)

        consumer = messaging.EventConsumer(connection, spec, "attache.events", handle)
        await consumer.start()
        await eventually(lambda: counted(len(seen) == 4))
        await consumer.stop()
        # 10 first; 5 failed once and waited out its retry delay, so 3 came next.
        assert seen[:2] == [10, 3] and sorted(seen) == [1, 3, 5, 10]
        await channel.queue_delete(spec.name)
        for attempt in range(1, len(spec.retry_delays) + 1):
            await channel.queue_delete(spec.retry_queue(attempt))
        await channel.queue_delete(spec.dead_queue)
