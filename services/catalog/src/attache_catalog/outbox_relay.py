"""Publishes committed outbox rows to RabbitMQ.

Woken by LISTEN/NOTIFY when a writer commits, with a poll as a safety net. Each
batch is locked with SKIP LOCKED, published with confirms (the whole batch in
flight at once), and marked published in the same transaction: a crash before
the commit republishes the batch (at-least-once; consumers dedupe by event id),
and several relays never publish the same row concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from attache_catalog import repository as repo
from attache_core.events import RawEvent
from attache_core.messaging import EventPublisher

log = structlog.get_logger("attache.catalog.outbox")

CHANNEL = "catalog_outbox"


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        publisher: EventPublisher,
        *,
        batch_size: int = 500,
        poll_seconds: float = 2.0,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()

    async def publish_batch(self) -> int:
        """Publish one batch; the number of rows published."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await repo.lock_unpublished(conn, self._batch_size)
            if not rows:
                return 0
            await self._publisher.publish_many(
                [RawEvent.model_validate(r["envelope"]) for r in rows]
            )
            await repo.mark_published(conn, [r["id"] for r in rows])
        return len(rows)

    async def _listen(self) -> None:
        """Keep a LISTEN connection open, reconnecting when it drops."""

        def on_notify(*_args: object) -> None:
            self._wakeup.set()

        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
                try:
                    closed = asyncio.Event()
                    conn.add_termination_listener(lambda _conn, ev=closed: ev.set())
                    await conn.add_listener(CHANNEL, on_notify)
                    self._wakeup.set()  # catch up on anything committed while not listening
                    await closed.wait()
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("outbox_listener_reconnecting", error=type(exc).__name__)
                await asyncio.sleep(1)

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen())
        backoff = 0.5
        try:
            while True:
                # Cleared before reading the outbox, so a NOTIFY that arrives while a
                # batch is being published wakes the next round instead of being lost.
                self._wakeup.clear()
                try:
                    published = await self.publish_batch()
                    backoff = 0.5
                except Exception:
                    log.exception("outbox_publish_failed", retry_in=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30)
                    continue
                if published == self._batch_size:
                    continue  # more waiting: don't sleep
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_seconds)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
