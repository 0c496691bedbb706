"""The password pool: hashes that verify, and processes that don't outlive the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from attache_importer.passwords import ScryptCost, hash_password, verify_password

# A worker that starts its pool, says which processes it has, and waits to be killed.
WORKER = """
import asyncio, multiprocessing
from attache_importer.passwords import PasswordHasher, ScryptCost

async def main():
    hasher = PasswordHasher(2, ScryptCost(10))
    await hasher.hash(["password-1", "password-2", "password-3"])
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_a_hash_verifies_only_its_password():
    stored = hash_password("correct horse", ScryptCost(10))
    assert stored.startswith("$scrypt$ln=10,r=8,p=1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)


def test_pool_processes_end_when_the_worker_is_killed():
    with subprocess.Popen(
        # (stderr: the killed worker's resource tracker reports the semaphores it frees)
        [sys.executable, "-c", WORKER],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as worker:
        try:
            children = [int(pid) for pid in worker.stdout.readline().split()]
            assert len(children) == 2 and all(_alive(pid) for pid in children)
        finally:
            os.kill(worker.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)  # polling for an outcome, with a deadline
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    """Running (not a zombie waiting for its reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
