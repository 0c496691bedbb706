"""A closed-loop HTTP load generator: N workers on keep-alive connections.

Each worker sends one request, waits for the whole response, and sends the
next, so throughput is what the server sustains at N requests in flight. A
warm-up phase runs first and is not counted; then completions are counted for a
fixed duration. CPU time of the processes involved is sampled over the measured
window, so a report can say where the cycles went (these machines have 2 cores
shared by the load generator, the server, PostgreSQL and the rest).

Two clients are provided:

- ``aiohttp``: aiohttp's ClientSession, one connection per worker.
- ``raw``: a minimal HTTP/1.1 keep-alive client over asyncio streams that sends
  pre-built request bytes and parses only the status line and Content-Length.
  It costs the load generator several times less CPU per request than aiohttp's
  client, which matters when the generator shares 2 cores with the server: with
  the aiohttp client the generator itself is the bottleneck against a fast
  server, and the baseline looks slower than it is.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (0.0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the ")" closing the command name: state is field 3, utime 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, over all cores."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _CLK_TCK, total / _CLK_TCK


class CpuSampler:
    """CPU used over a window by groups of processes, by this process and the machine.

    Figures are in cores: 1.0 is one core busy for the whole window. ``other`` is
    what the machine spent beyond the named groups (RabbitMQ, the kernel, neighbours).
    """

    def __init__(
        self, groups: Callable[[], Awaitable[dict[str, list[int]]]] | dict[str, list[int]]
    ) -> None:
        # A callable is asked at start(): e.g. a pool's connections open during warm-up.
        self._source = groups
        self._groups: dict[str, list[int]] = {}

    def _sample(self) -> dict[str, float]:
        return {
            name: sum(process_cpu_seconds(pid) for pid in pids)
            for name, pids in self._groups.items()
        }

    async def start(self) -> None:
        source = self._source
        self._groups = source if isinstance(source, dict) else await source()
        self._t0 = time.perf_counter()
        self._proc0 = self._sample()
        self._self0 = time.process_time()
        self._machine0 = machine_cpu_seconds()

    def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self._t0
        proc1 = self._sample()
        shares = {name: (proc1[name] - self._proc0[name]) / wall for name in proc1}
        shares["load_generator"] = (time.process_time() - self._self0) / wall
        busy1, total1 = machine_cpu_seconds()
        busy0, total0 = self._machine0
        cores = os.cpu_count() or 1
        busy_fraction = (busy1 - busy0) / max(total1 - total0, 1e-9)
        shares["other"] = max(0.0, busy_fraction * cores - sum(shares.values()))
        return {
            "cores_used": {name: round(v, 3) for name, v in shares.items()},
            "machine_busy_fraction": round(busy_fraction, 3),
            "cores": cores,
        }


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: Counter = field(default_factory=Counter)
    cpu: dict[str, Any] = field(default_factory=dict)
    connection_errors: dict[str, int] = field(default_factory=dict)
    # The measured window, in event-loop time.
    window: tuple[float, float] = (0.0, 0.0)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        ok = sum(n for status, n in self.statuses.items() if 200 <= status < 300)
        out: dict[str, Any] = {
            "requests_per_s": round(self.rps, 1),
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "p50_ms": round(percentile(lat, 50) * 1000, 2),
            "p95_ms": round(percentile(lat, 95) * 1000, 2),
            "p99_ms": round(percentile(lat, 99) * 1000, 2),
            "errors": self.requests - ok,
        }
        if out["errors"]:
            out["statuses"] = {str(k): v for k, v in sorted(self.statuses.items())}
        if self.connection_errors:
            out["connection_errors"] = self.connection_errors
        if self.cpu:
            out["cpu"] = self.cpu
        return out


# --- clients --------------------------------------------------------------------------


class RawConnection:
    """One HTTP/1.1 keep-alive connection that sends prepared requests."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self._host, self._port, limit=1 << 20
            )
        try:
            return await self._exchange(raw)
        except BaseException:
            await self.close()
            raise

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by the raw client")
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
            self._reader = self._writer = None


class RawClient:
    """Keep-alive connections to any number of origins, for requests built on the fly."""

    def __init__(self) -> None:
        self._connections: dict[tuple[str, int], RawConnection] = {}

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> tuple[int, bytes]:
        host, port, raw = build_request(method, url, headers=headers, body=body)
        connection = self._connections.get((host, port))
        if connection is None:
            connection = self._connections[(host, port)] = RawConnection(host, port)
        return await connection.request(raw)

    async def close(self) -> None:
        for connection in self._connections.values():
            await connection.close()
        self._connections.clear()


def build_request(
    method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[str, int, bytes]:
    """(host, port, request bytes) of one HTTP/1.1 request with keep-alive."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    return parts.hostname or "127.0.0.1", parts.port or 80, raw


# Sends one request and returns its HTTP status. Each worker has its own.
RequestFn = Callable[[], Awaitable[int]]


async def run_closed_loop(
    make_worker: Callable[[], Awaitable[tuple[RequestFn, Callable[[], Awaitable[None]]]]],
    *,
    concurrency: int,
    warmup: float,
    duration: float,
    cpu: CpuSampler | None = None,
) -> LoadResult:
    """Run `concurrency` workers for warmup + duration seconds; count the measured part.

    ``make_worker`` returns (send one request → status, close). Completions inside the
    measured window count, whenever they started.
    """
    workers = [await make_worker() for _ in range(concurrency)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    t0 = started + warmup
    t1 = t0 + duration
    latencies: list[float] = []
    statuses: Counter = Counter()

    async def worker(send: RequestFn) -> None:
        clock = time.perf_counter
        now = loop.time
        while True:
            begin = clock()
            try:
                status = await send()
            except (OSError, asyncio.IncompleteReadError, aiohttp.ClientError) as exc:
                status = 0  # a connection error; the next request reconnects
                errors[type(exc).__name__] += 1
            end_loop = now()
            if end_loop >= t1:
                return
            if end_loop >= t0:
                latencies.append(clock() - begin)
                statuses[status] += 1

    usage: dict[str, Any] = {}

    async def window() -> None:
        await asyncio.sleep(max(0.0, t0 - loop.time()))
        if cpu:
            await cpu.start()
        await asyncio.sleep(max(0.0, t1 - loop.time()))
        if cpu:
            usage.update(cpu.stop())

    errors: Counter = Counter()
    try:
        await asyncio.gather(window(), *(worker(send) for send, _ in workers))
    finally:
        for _, close in workers:
            await close()
    result = LoadResult(len(latencies), duration, latencies, statuses, usage)
    result.connection_errors = dict(errors)
    result.window = (t0, t1)
    return result


def raw_worker_factory(
    method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> Callable[[], Awaitable[tuple[RequestFn, Callable[[], Awaitable[None]]]]]:
    host, port, raw = build_request(method, url, headers=headers, body=body)

    async def make() -> tuple[RequestFn, Callable[[], Awaitable[None]]]:
        conn = RawConnection(host, port)

        async def send() -> int:
            status, _ = await conn.request(raw)
            return status

        return send, conn.close

    return make


def aiohttp_worker_factory(
    method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> Callable[[], Awaitable[tuple[RequestFn, Callable[[], Awaitable[None]]]]]:
    async def make() -> tuple[RequestFn, Callable[[], Awaitable[None]]]:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, force_close=False),
            skip_auto_headers=("User-Agent",),
        )

        async def send() -> int:
            async with session.request(method, url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status

        return send, session.close

    return make


def worker_factory(client: str, method: str, url: str, **kwargs: Any):
    if client == "raw":
        return raw_worker_factory(method, url, **kwargs)
    if client == "aiohttp":
        return aiohttp_worker_factory(method, url, **kwargs)
    raise ValueError(f"unknown client {client!r}")
