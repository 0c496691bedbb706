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


async def test_two_lanes_have_two_batches_in_flight_each_lane_one_at_a_time():
    in_flight: dict[str, int] = {"a": 0, "b": 0}
    most_at_once = 0
    release = asyncio.Event()
    batches: list[tuple[str, list[int]]] = []

    def lane(name):
        async def write_many(items):
            nonlocal most_at_once
            in_flight[name] += 1
            assert in_flight[name] == 1, f"lane {name} got a second batch while busy"
            most_at_once = max(most_at_once, sum(in_flight.values()))
            batches.append((name, items))
            await release.wait()  # the database is still committing
            in_flight[name] -= 1

        return write_many

    writer = BatchWriter([lane("a"), lane("b")])
    first = [writer.write(i) for i in range(3)]
    await asyncio.sleep(0)  # lane a takes the first three and waits on the database
    second = [writer.write(i) for i in range(3, 5)]
    await asyncio.sleep(0)  # lane b does not wait for lane a: it takes the next two
    third = [writer.write(i) for i in range(5, 9)]  # both busy: these wait for a lane
    await asyncio.sleep(0)
    assert most_at_once == 2
    assert [items for _, items in batches] == [[0, 1, 2], [3, 4]]
    assert not any(f.done() for f in first + second + third)
    release.set()
    await asyncio.gather(*first, *second, *third)
    assert sorted(i for _, items in batches for i in items) == list(range(9))
    assert [items for _, items in batches][2] == [5, 6, 7, 8]  # one batch, the first lane free


async def test_a_cancelled_batch_does_not_leave_its_callers_waiting():
    started = asyncio.Event()

    async def write_many(items):
        started.set()
        await asyncio.Event().wait()  # never commits

    writer = BatchWriter(write_many)
    caller = writer.write(1)
    await started.wait()
    (drain,) = writer._drains
    drain.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller


def test_a_writer_needs_a_lane():
    with pytest.raises(ValueError):
        BatchWriter([])
