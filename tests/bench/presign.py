"""Presign throughput, as a ratio to an empty aiohttp JSON handler (target >= 0.5).

Both servers run in their own process and get byte-for-byte the same request
(same path, the same admin JWT, the same JSON body), so the ratio isolates what
the gateway does for a presign: verify the JWT, validate the body, check the
customer (cached), sign the URL, insert the upload session. Rounds alternate
which server goes first, and the ratio is the median of the per-round ratios.

The same two servers are then counted under callgrind (tests/bench/instructions.py):
instructions per request, a ratio the virtual machine's drifting speed can't move.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from tests.bench import instructions
from tests.bench.common import (
    PRESIGN_BODY,
    Options,
    closed_loop,
    json_headers,
    median,
    ratio,
    summarise_rounds,
)
from tests.bench.load import LoadResult
from tests.bench.stack import BenchStack, free_port, progress

NAME = "presign"
TARGET_RATIO = 0.5


async def check_presign(stack: BenchStack, url: str, token: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, headers=json_headers(token), data=PRESIGN_BODY) as resp:
            if resp.status != 200:
                raise RuntimeError(f"presign answered {resp.status}: {await resp.text()}")
            return await resp.json()


async def run(stack: BenchStack, opts: Options) -> dict[str, Any]:
    org = f"bench-{uuid.uuid4().hex[:8]}"
    token = stack.token(org=org, roles=("admin",))
    customer_id = await stack.create_customer(token)
    path = f"/v1/customers/{customer_id}/attachments/presign"
    await check_presign(stack, stack.gateway_url + path, token)

    headers = json_headers(token)
    presign: list[LoadResult] = []
    empty: list[LoadResult] = []
    for round_no in range(opts.rounds):
        progress(f"presign round {round_no + 1}/{opts.rounds}")
        order = ("empty", "presign") if round_no % 2 == 0 else ("presign", "empty")
        for subject in order:
            base = stack.baseline_url if subject == "empty" else stack.gateway_url
            result = await closed_loop(
                stack, opts, "POST", base + path, headers=headers, body=PRESIGN_BODY, label=subject
            )
            (empty if subject == "empty" else presign).append(result)
    stack.cache.setdefault("empty", []).extend(empty)
    progress("presign: instructions per request under callgrind (a minute or two)")
    counted = await instructions.compare(
        stack,
        ("presign", stack.gateway_command(free_port())),
        path,
        headers=headers,
        body=PRESIGN_BODY,
    )

    per_round = [ratio(p.rps, e.rps) for p, e in zip(presign, empty, strict=True)]
    value = median([r for r in per_round if r is not None])
    presign_summary = summarise_rounds(presign, server="gateway")
    empty_summary = summarise_rounds(empty, server="baseline")
    gateway_cpu = presign_summary.get("gateway_cpu_us_per_request")
    baseline_cpu = empty_summary.get("baseline_cpu_us_per_request")
    return {
        "description": "POST /v1/customers/{id}/attachments/presign with a valid admin JWT "
        "vs an empty aiohttp JSON handler given the same request, each server in its own "
        f"process, {opts.concurrency} keep-alive connections",
        "ratio_presign_to_empty": round(value, 3),
        "target_min": TARGET_RATIO,
        "meets_target": value >= TARGET_RATIO,
        "ratio_per_round": per_round,
        # The same comparison in server CPU per request (empty / presign): steadier than
        # rates when the machine is shared, and what the throughput ratio tends to when the
        # server process is the bottleneck.
        "cpu_ratio_empty_to_presign": ratio(baseline_cpu or 0, gateway_cpu or 0),
        "instructions": counted,
        "presign": presign_summary,
        "empty": empty_summary,
    }
