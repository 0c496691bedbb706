"""Password hashes for imported customers: scrypt (standard library), in a process pool.

A slow KDF costs tens of milliseconds of CPU per password by design, so the hashing
runs in worker processes and the event loop never waits on it. Hashes are stored in
the PHC string format, `$scrypt$ln=14,r=8,p=1$<salt>$<hash>` (base64 without padding),
which passlib and most other libraries verify.

A row without a password gets no hash at all (the customer can't log in) and is
flagged for an invitation: a random password that nobody is ever told is the same
thing, at the price of a hash.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

KEY_BYTES = 32
SALT_BYTES = 16


@dataclass(frozen=True)
class ScryptCost:
    log2_n: int = 14
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 128 * self.r * (2**self.log2_n) * 2 + 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, cost: ScryptCost = ScryptCost()) -> str:
    salt = os.urandom(SALT_BYTES)
    key = hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=2**cost.log2_n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.maxmem,
        dklen=KEY_BYTES,
    )
    return f"$scrypt$ln={cost.log2_n},r={cost.r},p={cost.p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, scheme, params, salt, key = stored.split("$")
        values = dict(item.split("=") for item in params.split(","))
        cost = ScryptCost(int(values["ln"]), int(values["r"]), int(values["p"]))
    except (ValueError, KeyError):
        return False
    if scheme != "scrypt":
        return False
    expected = _unb64(key)
    actual = hashlib.scrypt(
        password.encode(),
        salt=_unb64(salt),
        n=2**cost.log2_n,
        r=cost.r,
        p=cost.p,
        maxmem=cost.maxmem,
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


def hash_many(passwords: list[str], cost: ScryptCost) -> list[str]:
    """Runs in a pool process."""
    return [hash_password(p, cost) for p in passwords]


def _end_with_parent(parent: int) -> None:
    """A pool process's initializer: it exits once the worker that started it (`parent`,
    from the worker: a process starting up as its worker is killed has the adoptive
    parent already) is gone. A worker killed outright (SIGKILL, OOM) has no chance to shut
    its pool down, and the processes would otherwise wait for work forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


class PasswordHasher:
    """Hashes batches of passwords across a process pool, started on first use."""

    def __init__(self, workers: int, cost: ScryptCost) -> None:
        self._workers = max(1, workers)
        self._cost = cost
        self._pool: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    async def hash(self, passwords: list[str]) -> list[str]:
        if not passwords:
            return []
        if self._pool is None:
            # spawn: a fresh interpreter, not a fork of a process with an event loop,
            # sockets and threads.
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_end_with_parent,
                initargs=(os.getpid(),),
            )
        loop = asyncio.get_running_loop()
        # One slice per worker, and slices small enough to keep every worker busy.
        size = max(1, min(64, -(-len(passwords) // self._workers)))
        slices = [passwords[i : i + size] for i in range(0, len(passwords), size)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self._pool, hash_many, s, self._cost) for s in slices)
        )
        return [h for part in results for h in part]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
