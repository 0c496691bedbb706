"""Group commit: concurrent callers share one database round trip.

Each caller awaits its own item's commit, so nothing is acknowledged before it
is durable; under load, items that arrive while a batch is being written go
together in the next one. At low load a batch is a single item and adds no delay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class BatchWriter(Generic[Item]):
    def __init__(
        self, write_many: Callable[[list[Item]], Awaitable[None]], *, max_batch: int = 500
    ) -> None:
        self._write_many = write_many
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def write(self, item: Item) -> asyncio.Future[None]:
        """Queues `item`; await the result: done once the item's batch is committed.
        (A plain method returning the future: a coroutine around it would be one more
        frame for every caller to suspend and resume through.)"""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await self._write_many([item for item, _ in batch])
                except Exception as exc:
                    # The batch was one transaction: none of it is written, all callers fail.
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)
        finally:
            self._writer = None
