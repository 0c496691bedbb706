"""Waiting for eventually-consistent state in tests and benchmarks (events cross RabbitMQ)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(predicate: Callable[[], Awaitable[T]], within: float = 20.0) -> T:
    """Poll `predicate` until it returns something truthy; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (result := await predicate()):
        assert loop.time() < deadline, f"condition not reached within {within} s"
        await asyncio.sleep(0.02)
    return result


async def counted(value: bool) -> bool:
    """Lets a plain condition be passed to `eventually`: eventually(lambda: counted(x == 1))."""
    return value
