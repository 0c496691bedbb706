"""Analysis in child processes with a memory limit and a time limit.

The files the enricher reads are whatever users uploaded: PDFs built to exhaust a
parser, ZIP bombs, images that claim a billion pixels, and files that hit bugs in C
libraries (PDFium, libwebp, Tesseract). None of that may take the worker down or
grow its memory, so every analysis runs in a long-lived child process of its own:

- `RLIMIT_AS` caps the child's address space (a bomb ends in MemoryError or a killed
  child, never in the host swapping), `RLIMIT_CORE` 0;
- the worker waits at most `timeout` seconds, then kills the child's whole process
  group (it and any Tesseract it started) and starts a fresh one;
- a child is replaced as soon as an analysis leaves it holding more than `max_rss`
  bytes of resident memory (what a large file left behind: fragmentation, caches),
  and after `max_jobs` analyses in any case;
- job and result cross a pipe as length-prefixed JSON validated on arrival — never
  pickle, since the child handles hostile input.

`python -m attache_enricher.sandbox` is the child's entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import struct
import sys
from typing import BinaryIO

import structlog
from pydantic import ValidationError

from attache_enricher.analysis import AnalysisJob, AnalysisResult

log = structlog.get_logger("attache.enricher.sandbox")

HEADER = struct.Struct(">I")
MAX_RESULT_BYTES = 16 * 1024 * 1024
MEMORY_ENV = "ATTACHE_SANDBOX_MEMORY_BYTES"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class SandboxError(Exception):
    """The analysis did not finish; the message says why, for the attachment's status."""


class SandboxTimeout(SandboxError):
    pass


class SandboxCrashed(SandboxError):
    pass


def _describe_exit(code: int | None, memory_bytes: int) -> str:
    if code is not None and code < 0:
        number = -code
        if number == signal.SIGKILL:
            return "the reader was killed (out of memory?)"
        if number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT):
            return (
                f"the reader crashed on this file ({signal.Signals(number).name}; memory limit "
                f"{memory_bytes // (1024 * 1024)} MiB)"
            )
        return f"the reader was stopped ({signal.Signals(number).name})"
    return f"the reader exited unexpectedly (status {code})"


def resident_bytes(pid: int) -> int:
    """Resident memory of a process (0 where /proc doesn't tell: only the job count
    then decides when a child is replaced)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class _Child:
    def __init__(self, memory_bytes: int, max_jobs: int, max_rss: int) -> None:
        self.memory_bytes = memory_bytes
        self.max_jobs = max_jobs
        self.max_rss = max_rss
        self.process: asyncio.subprocess.Process | None = None
        self.jobs = 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        env = {
            **os.environ,
            MEMORY_ENV: str(self.memory_bytes),
            "OMP_THREAD_LIMIT": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "attache_enricher.sandbox",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: killed together with Tesseract
        )
        self.jobs = 0

    async def kill(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await process.wait()

    async def stop(self, grace: float = 5.0) -> None:
        process = self.process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            await self.kill()
        self.process = None

    async def call(self, job: AnalysisJob, limit: float) -> AnalysisResult:
        if not self.alive:
            await self.start()
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        self.jobs += 1
        payload = job.model_dump_json().encode()
        try:
            process.stdin.write(HEADER.pack(len(payload)) + payload)
            await process.stdin.drain()
            async with asyncio.timeout(limit):
                (size,) = HEADER.unpack(await process.stdout.readexactly(HEADER.size))
                if size > MAX_RESULT_BYTES:
                    raise SandboxCrashed("the reader sent an oversized answer")
                body = await process.stdout.readexactly(size)
        except TimeoutError:
            await self.kill()
            raise SandboxTimeout(f"analysis took longer than {limit:g} s and was stopped") from None
        except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError):
            code = await process.wait()
            self.process = None
            raise SandboxCrashed(_describe_exit(code, self.memory_bytes)) from None
        except BaseException:  # cancelled mid-job: the pipe is out of step, start afresh
            await self.kill()
            raise
        try:
            result = AnalysisResult.model_validate_json(body)
        except ValidationError as exc:
            await self.kill()
            raise SandboxCrashed("the reader sent an invalid answer") from exc
        if self.jobs >= self.max_jobs or resident_bytes(process.pid) > self.max_rss:
            # Replaced now (it is idle: killing loses nothing), so that the fresh child
            # imports its libraries before the next job rather than during it.
            await self.kill()
            await self.start()
        return result


class Sandbox:
    """A fixed set of child processes; `run` waits for a free one."""

    def __init__(
        self,
        processes: int,
        *,
        memory_bytes: int,
        timeout: float,
        max_jobs: int = 1000,
        max_rss: int = 512 * 1024 * 1024,
    ) -> None:
        self.timeout = timeout
        self._children = [_Child(memory_bytes, max_jobs, max_rss) for _ in range(max(1, processes))]
        self._idle: asyncio.Queue[_Child] = asyncio.Queue()
        for child in self._children:
            self._idle.put_nowait(child)

    async def start(self) -> None:
        """Start the children now rather than on the first job (imports take a moment)."""
        await asyncio.gather(*(child.start() for child in self._children))

    async def run(self, job: AnalysisJob, limit: float | None = None) -> AnalysisResult:
        """The analysis of `job`, within `limit` seconds (default: the sandbox's timeout)."""
        child = await self._idle.get()
        try:
            return await child.call(job, limit or self.timeout)
        finally:
            self._idle.put_nowait(child)

    def pids(self) -> list[int]:
        return [c.process.pid for c in self._children if c.process is not None]

    async def close(self) -> None:
        await asyncio.gather(*(child.stop() for child in self._children))


# ---- the child ------------------------------------------------------------------------


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data.extend(chunk)
    return bytes(data)


def child_main() -> None:
    import resource

    memory = int(os.environ.get(MEMORY_ENV, "0"))
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # The protocol owns the real stdout; anything a library prints goes to stderr.
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    from attache_enricher.pipeline import analyse

    while True:
        header = _read_exactly(requests, HEADER.size)
        if header is None:
            return
        (size,) = HEADER.unpack(header)
        body = _read_exactly(requests, size)
        if body is None:
            return
        try:
            result = analyse(AnalysisJob.model_validate_json(body))
        except MemoryError:
            result = AnalysisResult(
                status="failed",
                error="the file needs more memory than the enricher allows (memory limit)",
            )
        answer = result.model_dump_json().encode()
        protocol_out.write(HEADER.pack(len(answer)) + answer)
        protocol_out.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when children stop
    child_main()
