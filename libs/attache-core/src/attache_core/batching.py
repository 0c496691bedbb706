"""Group commit: concurrent callers share one database round trip.

Each caller awaits its own item's commit, so nothing is acknowledged before it
is durable; under load, items that arrive while a batch is being written go
together in the next one. At low load a batch is a single item and adds no delay.

With more than one lane, a batch can form and be sent while the previous one is
still in flight: with a single lane the callers of the next batch wait for the
whole round trip of the current one (and for the event loop to get back to the
writer), and the service idles while the database works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
WriteMany = Callable[[list[Item]], Awaitable[None]]


class BatchWriter(Generic[Item]):
    def __init__(
        self, write_many: WriteMany[Item] | Sequence[WriteMany[Item]], *, max_batch: int = 500
    ) -> None:
        """`write_many` writes one batch as one transaction. A sequence of them gives that
        many lanes, each used by one batch at a time (say, each on its own connection)."""
        lanes = [write_many] if callable(write_many) else list(write_many)
        if not lanes:
            raise ValueError("BatchWriter needs at least one lane")
        self._idle_lanes: list[WriteMany[Item]] = lanes
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[None]]] = []
        self._drains: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # the one the first write ran on

    def write(self, item: Item) -> asyncio.Future[None]:
        """Queues `item`; await the result: done once the item's batch is committed.
        (A plain method returning the future: a coroutine around it would be one more
        frame for every caller to suspend and resume through.)"""
        loop = self._loop
        if loop is None:
            # Once: CPython's get_running_loop() makes a getpid() system call every time.
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((item, future))
        if self._idle_lanes:
            task = asyncio.create_task(self._drain(self._idle_lanes.pop()))
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        return future

    async def _drain(self, write_many: WriteMany[Item]) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await write_many([item for item, _ in batch])
                except Exception as exc:
                    # The batch was one transaction: none of it is written, all callers fail.
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                except BaseException:
                    # Cancelled midway (shutdown): whether it committed is unknown; say so.
                    for _, future in batch:
                        future.cancel()
                    raise
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)
        finally:
            self._idle_lanes.append(write_many)
