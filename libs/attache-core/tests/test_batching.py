"""BatchWriter: every caller is answered, batches form under concurrency, failures reach their callers."""

from __future__ import annotations

import asyncio

import pytest

from attache_core.batching import BatchWriter


async def test_concurrent_writes_share_batches_and_all_complete():
    batches: list[list[int]] = []

    async def write_many(items):
        batches.append(items)
        await asyncio.sleep(0)  # a round trip: lets the next callers queue up

    writer = BatchWriter(write_many, max_batch=10)
    await asyncio.gather(*(writer.write(i) for i in range(35)))
    assert sorted(i for b in batches for i in b) == list(range(35))
    assert max(len(b) for b in batches) == 10
    assert len(batches) < 35


async def test_a_failed_batch_fails_its_callers_and_the_writer_recovers():
    calls = 0

    async def write_many(items):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")

    writer = BatchWriter(write_many)
    with pytest.raises(ConnectionError):
        await writer.write(1)
    await writer.write(2)  # the next batch goes through
    assert calls == 2
