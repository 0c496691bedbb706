"""Options and helpers the benchmark modules share."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from tests.bench.load import CpuSampler, LoadResult, run_closed_loop, worker_factory
from tests.bench.stack import BenchStack, progress

PRESIGN_BODY = json.dumps(
    {"filename": "document.pdf", "content_type": "application/pdf", "size": 12345},
    separators=(",", ":"),
).encode()


@dataclass(frozen=True)
class Options:
    concurrency: int = 32
    warmup: float = 1.0
    duration: float = 5.0
    rounds: int = 3
    client: str = "raw"
    confirm_count: int = 400
    timeit_repeat: int = 5

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def json_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def closed_loop(
    stack: BenchStack,
    opts: Options,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: bytes,
    label: str,
) -> LoadResult:
    """One measured closed-loop run of a single request shape, with CPU accounting."""
    stack.check_alive()
    cpu = CpuSampler(stack.process_groups)
    result = await run_closed_loop(
        worker_factory(opts.client, method, url, headers=headers, body=body),
        concurrency=opts.concurrency,
        warmup=opts.warmup,
        duration=opts.duration,
        cpu=cpu,
    )
    progress(
        f"  {label}: {result.rps:,.0f} req/s, "
        f"p95 {result.summary()['p95_ms']} ms, errors {result.summary()['errors']}"
    )
    return result


def cpu_us_per_request(result: LoadResult, process: str) -> float | None:
    """CPU time one process spent per completed request, in µs (less noisy than rates)."""
    cores = result.cpu.get("cores_used", {}).get(process)
    if cores is None or not result.rps:
        return None
    return round(cores / result.rps * 1e6, 1)


def summarise_rounds(results: list[LoadResult], server: str | None = None) -> dict[str, Any]:
    """Median figures over rounds, and every round's own summary.

    ``server`` names the process under test, whose CPU per request is reported too.
    """
    summaries = [r.summary() for r in results]
    out: dict[str, Any] = {
        "requests_per_s": round(median([s["requests_per_s"] for s in summaries]), 1),
        "p50_ms": round(median([s["p50_ms"] for s in summaries]), 2),
        "p95_ms": round(median([s["p95_ms"] for s in summaries]), 2),
        "errors": sum(s["errors"] for s in summaries),
    }
    if server is not None:
        per_request = [cpu_us_per_request(r, server) for r in results]
        known = [v for v in per_request if v is not None]
        if known:
            out[f"{server}_cpu_us_per_request"] = round(median(known), 1)
    out["rounds"] = summaries
    return out
