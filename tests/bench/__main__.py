"""python -m tests.bench [--only NAME] — Attache's benchmarks, one JSON report.

Starts an isolated stack (own PostgreSQL database, RabbitMQ vhost and SeaweedFS;
catalog, gateway and an empty-handler baseline server each in its own process),
runs the benchmarks, prints ONE JSON report on stdout (progress goes to stderr)
and removes everything it created, also on error, Ctrl-C or SIGTERM.

Absolute figures vary between runs on these noisy 2-core machines: compare the
ratios, which are measured against baselines in the same run on the same machine.
Nothing here asserts a timing; the exit status is 1 only when a benchmark could
not run at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from attache_devstack.infra import InfrastructureMissing
from tests.bench import confirm, enrichment, imports, library, presign, presigner, upload
from tests.bench.common import Options
from tests.bench.stack import BenchStack, progress

BENCHMARKS = {
    module.NAME: module
    for module in (presign, presigner, confirm, upload, library, enrichment, imports)
}


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Options]:
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=defaults.rounds,
        help="measured rounds per figure; the report gives the median",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=defaults.duration,
        help="seconds measured per closed-loop run",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=defaults.warmup,
        help="seconds of unmeasured load before each run",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=defaults.concurrency,
        help="concurrent keep-alive connections (workers)",
    )
    parser.add_argument(
        "--client",
        choices=["raw", "aiohttp"],
        default=defaults.client,
        help="load-generator HTTP client (raw costs the generator less CPU)",
    )
    parser.add_argument(
        "--confirm-count",
        type=int,
        default=defaults.confirm_count,
        help="objects uploaded, then confirmed, per confirm-only round",
    )
    args = parser.parse_args(argv)
    opts = Options(
        concurrency=args.concurrency,
        warmup=args.warmup,
        duration=args.duration,
        rounds=args.rounds,
        client=args.client,
        confirm_count=args.confirm_count,
    )
    return args, opts


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The figures to compare between runs, in one place."""
    out: dict[str, Any] = {}
    if "ratio_presign_to_empty" in results.get("presign", {}):
        p = results["presign"]
        out["presign_to_empty_ratio"] = p["ratio_presign_to_empty"]
        out["presign_to_empty_target_min"] = p["target_min"]
        out["presign_to_empty_cpu_ratio"] = p["cpu_ratio_empty_to_presign"]
        if "ratio_empty_to_presign" in p.get("instructions", {}):
            out["presign_to_empty_instruction_ratio"] = p["instructions"]["ratio_empty_to_presign"]
        out["presign_rps"] = p["presign"]["requests_per_s"]
        out["presign_p95_ms"] = p["presign"]["p95_ms"]
        out["empty_rps"] = p["empty"]["requests_per_s"]
    if "attache_sigv4_us" in results.get("presigner", {}):
        s = results["presigner"]
        out["presign_url_us"] = {
            "attache_sigv4": s["attache_sigv4_us"],
            "botocore": s["botocore_us"],
            "aioboto3": s["aioboto3_us"],
        }
        out["aioboto3_to_attache_sigv4_ratio"] = s["ratio_aioboto3_to_attache"]
    if "confirm_only_per_s" in results.get("confirm", {}):
        c = results["confirm"]
        out["confirm_only_rps"] = c["confirm_only_per_s"]
        out["confirm_only_p95_ms"] = c["confirm_only_p95_ms"]
        out["upload_flow_uploads_per_s"] = c["upload_flow_uploads_per_s"]
        out["upload_flow_p95_ms"] = c["upload_flow"]["p95_ms"]
        out["confirm_to_empty_ratio"] = c["ratio_confirm_to_empty"]
        out["upload_flow_to_empty_ratio"] = c["ratio_upload_flow_to_empty"]
    if "ratio_gateway_to_direct" in results.get("upload", {}):
        u = results["upload"]
        out["upload_1gib_gateway_to_direct_ratio"] = u["ratio_gateway_to_direct"]
        out["upload_1gib_gateway_to_direct_target_min"] = u["target_ratio_min"]
        out["upload_1gib_gateway_mib_per_s"] = u["gateway"]["mib_per_s"]
        out["upload_1gib_direct_mib_per_s"] = u["direct_multipart"]["mib_per_s"]
        out["upload_1gib_gateway_rss_growth_mib"] = u["gateway_peak_rss_growth_mib"]
        out["upload_1gib_gateway_rss_growth_target_max_mib"] = u["target_rss_growth_max_mib"]
    if "shapes" in results.get("library", {}):
        lib = results["library"]
        out["library_detail_p95_ms"] = lib["detail_p95_ms"]
        out["library_p95_ms"] = {k: v["p95_ms"] for k, v in lib["shapes"].items()}
        out["library_p95_to_detail_ratio"] = {
            k: v["ratio_p95_to_detail_p95"]
            for k, v in lib["shapes"].items()
            if "ratio_p95_to_detail_p95" in v
        }
        out["library_targets_met"] = lib["targets_met"]
        out["library_scans_whole_tenant"] = lib["scans_whole_tenant"]
    if "pdf_throughput" in results.get("enrichment", {}):
        out.update(enrichment.headline(results["enrichment"]))
    return out


def warnings(results: dict[str, Any]) -> list[str]:
    """Conditions under which a figure means less than it seems."""
    found = []
    for name, result in results.items():
        if "error" in result:
            found.append(f"{name}: did not run ({result['error']})")
        for part in ("presign", "empty", "upload_flow", "confirm_only"):
            errors = result.get(part, {}).get("errors") if isinstance(result, dict) else None
            if errors:
                found.append(
                    f"{name}.{part}: {errors} requests failed (see its rounds' statuses); "
                    "its rate is not the rate of successful work"
                )
    if results.get("presigner", {}).get("same_url_as_botocore") is False:
        found.append("presigner: attache_core.sigv4 and botocore produced different URLs")
    return found


async def _cancel_when_orphaned(task: asyncio.Task) -> None:
    """Cancel the run if our parent (uv, make) goes away without passing a signal on."""
    parent = os.getppid()
    while True:
        await asyncio.sleep(1)
        if os.getppid() != parent:
            break
    progress("parent process gone: stopping")
    task.cancel()


async def run_all(names: list[str], opts: Options) -> dict[str, Any]:
    # SIGTERM cancels like Ctrl-C does, so the stack is still torn down.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    watchdog = asyncio.create_task(_cancel_when_orphaned(task))
    try:
        return await _run_benchmarks(names, opts)
    finally:
        watchdog.cancel()


async def _run_benchmarks(names: list[str], opts: Options) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with BenchStack() as stack:
        for name in names:
            progress(f"benchmark {name}")
            started = time.monotonic()
            try:
                results[name] = await BENCHMARKS[name].run(stack, opts)
            except Exception as exc:  # report it, run the others, exit 1 at the end
                traceback.print_exc(file=sys.stderr)
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            results[name]["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    args, opts = parse_args(argv)
    names = [n for n in BENCHMARKS if not args.only or n in args.only]
    started_at = datetime.now(UTC)
    started = time.monotonic()
    load_before = os.getloadavg()
    try:
        results = asyncio.run(run_all(names, opts))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; the stack was cleaned up")
        return 130
    except InfrastructureMissing as exc:
        progress(str(exc))
        return 2
    report = {
        "report": "attache-bench",
        "version": 1,
        "started_at": started_at.isoformat(timespec="seconds"),
        "runtime_s": round(time.monotonic() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_1m_before": round(load_before[0], 2),
        },
        "options": opts.as_dict(),
        "notes": [
            "Compare ratios between runs, not absolute rates: the machine is shared.",
            "Every server runs in its own process; the load generator (this process) uses "
            f"the '{opts.client}' client, closed loop, keep-alive.",
            "cpu.cores_used: CPU of each process group over the measured window, in cores; "
            "'other' is the rest of the machine's busy time (kernel softirq for loopback "
            "networking, other users of the machine).",
        ],
        "headline": headline(results),
        "warnings": warnings(results),
        "benchmarks": results,
    }
    print(json.dumps(report, indent=2))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
