"""Instructions per request under callgrind: a figure the machine's noise can't move.

These machines are virtual, and what a core delivers drifts from one minute to the next
(the empty handler alone has ranged from 16k to 27k requests/s within one run), so rates
and CPU times measured minutes apart differ by more than most changes do. Instruction
counts don't: the same code, inputs and environment give the same count whatever
else the machine is doing. They miss what makes an instruction slow (cache misses,
system calls, waiting), so they complement the timed ratio and don't replace it.

A server is started under ``valgrind --tool=callgrind`` with instrumentation off (its
start-up runs at a few times its usual cost, not fifty), warmed up, then
``callgrind_control`` switches instrumentation on for exactly ``requests`` requests and
off again; the count is read from the output file when the process exits. OpenSSL
picks a plain C SHA-256 under valgrind, so the presign count has a few more thousand
instructions for its signature than the hardware runs.

The import worker is counted the same way, per row of one import (tests/bench/imports.py).
There is no baseline process to divide by, but the count moves only when the importer's
code does: two versions of it compare across runs, whatever the machine did meanwhile.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.bench.load import worker_factory
from tests.bench.stack import BenchStack, Service, free_port

TOOLS = ("valgrind", "callgrind_control")


def available() -> bool:
    return all(shutil.which(tool) for tool in TOOLS)


async def _send(url: str, headers: dict[str, str], body: bytes, count: int, concurrency: int):
    left = count

    async def worker() -> None:
        nonlocal left
        send, close = await worker_factory("raw", "POST", url, headers=headers, body=body)()
        try:
            while left > 0:
                left -= 1
                status = await send()
                if status != 200:
                    raise RuntimeError(f"{url} answered {status} under callgrind")
        finally:
            await close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def callgrind_wrapper(out_file: Path) -> list[str]:
    """The command prefix running a process under callgrind, instrumentation off."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_file}",
    ]


def instrument(service: Service, state: str) -> None:
    """Switches counting "on" or "off" in the callgrind process of `service`."""
    subprocess.run(
        ["callgrind_control", f"--instr={state}", str(service.pid)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def read_total(out_file: Path) -> int:
    """The `totals:` line callgrind writes when the process ends."""
    for line in out_file.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out_file}")


async def instructions_per_request(
    stack: BenchStack,
    name: str,
    command: tuple[list[str], dict[str, str], str],
    path: str,
    *,
    headers: dict[str, str],
    body: bytes,
    requests: int,
    warmup: int = 300,
    concurrency: int = 32,
) -> float:
    """Instructions the server of `command` runs per POST `path` (its own process)."""
    assert stack.workdir is not None
    out_file = stack.workdir / f"callgrind.{name}.out"
    argv, env, _ = command
    service = await stack.start_service(
        f"{name}-callgrind", command, wrapper=callgrind_wrapper(out_file)
    )
    try:
        url = service.url + path
        await _send(url, headers, body, warmup, concurrency)
        await asyncio.to_thread(instrument, service, "on")
        await _send(url, headers, body, requests, concurrency)
        await asyncio.to_thread(instrument, service, "off")
    finally:
        await asyncio.to_thread(service.stop, 120.0)  # callgrind writes its file on exit
    return read_total(out_file) / requests


async def compare(
    stack: BenchStack,
    subject: tuple[str, tuple[list[str], dict[str, str], str]],
    path: str,
    *,
    headers: dict[str, str],
    body: bytes,
    requests: int = 2000,
) -> dict[str, Any]:
    """Instructions per request of `subject` and of the empty baseline, and their ratio."""
    if not available():
        return {"skipped": f"needs {' and '.join(TOOLS)} (Debian's valgrind)"}
    name, command = subject
    counts = {}
    for label, cmd in ((name, command), ("empty", stack.baseline_command(free_port()))):
        counts[label] = await instructions_per_request(
            stack, label, cmd, path, headers=headers, body=body, requests=requests
        )
    return {
        "requests": requests,
        f"{name}_k_instructions_per_request": round(counts[name] / 1000, 1),
        "empty_k_instructions_per_request": round(counts["empty"] / 1000, 1),
        f"ratio_empty_to_{name}": round(counts["empty"] / counts[name], 3),
    }
