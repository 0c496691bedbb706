"""Confirm throughput: the whole upload flow, and confirm on its own.

- ``upload_flow``: closed loop of presign → PUT of a small PDF straight to S3 with
  the presigned URL → confirm, per worker; one "request" is one whole upload.
- ``confirm_only``: N objects are presigned and uploaded first (not timed), then
  only their confirms are timed: N confirms spread over the workers.

Confirm does the most work of any request: a locked upload-session row, an S3
HEAD and a ranged GET (magic-byte sniffing), a call to the catalog (which
inserts the attachment and its outbox row; the relay then publishes the event).
Each round also measures the empty-handler baseline, so the report carries
ratios as well as absolute figures.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

from attache_devstack.samples import make_pdf
from tests.bench.common import (
    PRESIGN_BODY,
    Options,
    closed_loop,
    json_headers,
    median,
    ratio,
    summarise_rounds,
)
from tests.bench.load import CpuSampler, LoadResult, RawClient, percentile, run_closed_loop
from tests.bench.stack import BenchStack, progress

NAME = "confirm"

PDF = make_pdf(["Attache benchmark", "A small PDF, uploaded and confirmed"])
FILENAME = "document.pdf"
CONTENT_TYPE = "application/pdf"


class Failed(Exception):
    def __init__(self, step: str, status: int, body: bytes) -> None:
        super().__init__(f"{step} answered {status}: {body[:300]!r}")
        self.step, self.status = step, status


class Uploader:
    """One worker's client for the upload steps."""

    def __init__(self, stack: BenchStack, customer_id: str, token: str) -> None:
        base = f"{stack.gateway_url}/v1/customers/{customer_id}/attachments"
        self.presign_url = f"{base}/presign"
        self.confirm_url = f"{base}/confirm"
        self.headers = json_headers(token)
        self.presign_body = json.dumps(
            {"filename": FILENAME, "content_type": CONTENT_TYPE, "size": len(PDF)}
        ).encode()
        self.client = RawClient()

    async def presign_and_put(self, timings: dict[str, float] | None = None) -> str:
        started = time.perf_counter()
        status, body = await self.client.request(
            "POST", self.presign_url, headers=self.headers, body=self.presign_body
        )
        if status != 200:
            raise Failed("presign", status, body)
        presigned = json.loads(body)
        put_started = time.perf_counter()
        status, body = await self.client.request(
            "PUT", presigned["url"], headers=presigned["headers"], body=PDF
        )
        if status != 200:
            raise Failed("put", status, body)
        if timings is not None:
            timings["presign"] = put_started - started
            timings["put"] = time.perf_counter() - put_started
        return presigned["object_key"]

    async def confirm(self, object_key: str) -> int:
        body = json.dumps(
            {
                "object_key": object_key,
                "filename": FILENAME,
                "content_type": CONTENT_TYPE,
                "size": len(PDF),
            }
        ).encode()
        status, answer = await self.client.request(
            "POST", self.confirm_url, headers=self.headers, body=body
        )
        if status != 201:
            raise Failed("confirm", status, answer)
        return status


def _report_failure(seen: set[str], exc: Failed) -> None:
    if exc.step not in seen:  # once per step, not once per request
        seen.add(exc.step)
        progress(f"  first failure: {exc}")


async def upload_flow(
    stack: BenchStack, opts: Options, customer_id: str, token: str
) -> tuple[LoadResult, dict[str, Any]]:
    """Closed loop of whole uploads; also the per-step latencies inside the window."""
    steps: list[tuple[float, dict[str, float]]] = []
    seen: set[str] = set()
    loop = asyncio.get_running_loop()

    async def make_worker():
        uploader = Uploader(stack, customer_id, token)

        async def send() -> int:
            timings: dict[str, float] = {}
            try:
                key = await uploader.presign_and_put(timings)
                started = time.perf_counter()
                status = await uploader.confirm(key)
                timings["confirm"] = time.perf_counter() - started
            except Failed as exc:
                _report_failure(seen, exc)
                return exc.status
            steps.append((loop.time(), timings))
            return status

        return send, uploader.client.close

    stack.check_alive()
    result = await run_closed_loop(
        make_worker,
        concurrency=opts.concurrency,
        warmup=opts.warmup,
        duration=opts.duration,
        cpu=CpuSampler(stack.process_groups),
    )
    t0, t1 = result.window
    in_window = [t for end, t in steps if t0 <= end < t1]
    per_step = {}
    for step in ("presign", "put", "confirm"):
        values = sorted(t[step] for t in in_window)
        per_step[step] = {
            "p50_ms": round(percentile(values, 50) * 1000, 2),
            "p95_ms": round(percentile(values, 95) * 1000, 2),
        }
    progress(
        f"  upload flow: {result.rps:,.1f} uploads/s, p95 {result.summary()['p95_ms']} ms, "
        f"errors {result.summary()['errors']}"
    )
    return result, per_step


async def confirm_only(
    stack: BenchStack, opts: Options, customer_id: str, token: str
) -> LoadResult:
    """Upload N objects untimed, then time N confirms on the workers."""
    count = opts.confirm_count
    uploaders = [Uploader(stack, customer_id, token) for _ in range(opts.concurrency)]
    keys: list[str] = []
    try:
        to_upload = iter(range(count))

        async def uploading(uploader: Uploader) -> None:
            for _ in to_upload:
                keys.append(await uploader.presign_and_put())

        await asyncio.gather(*(uploading(u) for u in uploaders))

        latencies: list[float] = []
        statuses: Counter = Counter()
        seen: set[str] = set()
        pending = iter(keys)

        async def confirmer(uploader: Uploader) -> None:
            for key in pending:
                started = time.perf_counter()
                try:
                    status = await uploader.confirm(key)
                except Failed as exc:
                    _report_failure(seen, exc)
                    status = exc.status
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1

        stack.check_alive()
        cpu = CpuSampler(stack.process_groups)
        await cpu.start()
        started = time.perf_counter()
        await asyncio.gather(*(confirmer(u) for u in uploaders))
        elapsed = time.perf_counter() - started
        usage = cpu.stop()
    finally:
        for uploader in uploaders:
            await uploader.client.close()
    result = LoadResult(len(latencies), elapsed, latencies, statuses, usage)
    progress(
        f"  confirm only: {result.rps:,.1f} confirms/s, p95 {result.summary()['p95_ms']} ms, "
        f"errors {result.summary()['errors']}"
    )
    return result


async def run(stack: BenchStack, opts: Options) -> dict[str, Any]:
    org = f"bench-{uuid.uuid4().hex[:8]}"
    token = stack.token(org=org, roles=("admin",))
    customer_id = await stack.create_customer(token)
    empty_url = f"{stack.baseline_url}/v1/customers/{customer_id}/attachments/presign"

    # One untimed upload end to end, so a broken flow fails here with its reason.
    uploader = Uploader(stack, customer_id, token)
    try:
        await uploader.confirm(await uploader.presign_and_put())
    finally:
        await uploader.client.close()

    flows: list[LoadResult] = []
    flow_steps: list[dict[str, Any]] = []
    confirms: list[LoadResult] = []
    empties: list[LoadResult] = []
    for round_no in range(opts.rounds):
        progress(f"confirm round {round_no + 1}/{opts.rounds}")
        empties.append(
            await closed_loop(
                stack,
                opts,
                "POST",
                empty_url,
                headers=json_headers(token),
                body=PRESIGN_BODY,
                label="empty",
            )
        )
        flow, steps = await upload_flow(stack, opts, customer_id, token)
        flows.append(flow)
        flow_steps.append(steps)
        confirms.append(await confirm_only(stack, opts, customer_id, token))

    flow_ratios = [ratio(f.rps, e.rps) for f, e in zip(flows, empties, strict=True)]
    confirm_ratios = [ratio(c.rps, e.rps) for c, e in zip(confirms, empties, strict=True)]
    flow_summary = summarise_rounds(flows, server="gateway")
    flow_summary["steps_per_round"] = flow_steps
    return {
        "description": "upload_flow: presign -> PUT (small PDF) to S3 -> confirm per upload, "
        f"closed loop on {opts.concurrency} workers; confirm_only: {opts.confirm_count} "
        "pre-uploaded objects confirmed on the same workers; empty: the empty-handler "
        "baseline measured in the same round",
        "upload_flow_uploads_per_s": flow_summary["requests_per_s"],
        "confirm_only_per_s": round(median([c.rps for c in confirms]), 1),
        "confirm_only_p95_ms": round(median([c.summary()["p95_ms"] for c in confirms]), 2),
        "ratio_upload_flow_to_empty": round(median([r for r in flow_ratios if r]), 4),
        "ratio_confirm_to_empty": round(median([r for r in confirm_ratios if r]), 4),
        "upload_flow": flow_summary,
        "confirm_only": summarise_rounds(confirms, server="gateway"),
        "empty": summarise_rounds(empties, server="baseline"),
    }
