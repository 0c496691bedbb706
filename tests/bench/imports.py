"""CSV customer imports: a million rows from S3 to committed customers, vs ``psql \\copy``.

Targets (the issue): rows per second at least 0.5 of ``psql \\copy`` of the same file
into a plain unindexed table (measured in the same run) and at least 100,000 rows/s;
the importer's peak RSS at most 150 MB.

- ``copy_baseline``: ``psql -c "\\copy plain FROM 'file' CSV HEADER"`` into an UNindexed,
  logged table of eight text columns in the run's database; the file read from local
  disk. Timed around the psql process.
- ``import``: the same file, uploaded to the ``csv-imports`` bucket and registered as a
  file (untimed), imported with ``POST /files/csv-import`` by the importer running as
  its own process (``python -m attache_importer``). Rows/s = data rows / (finished_at -
  started_at) of the job: from the worker's first S3 read to the commit of the last
  customer. The end-to-end time from the POST to the job's terminal state (queueing and
  the outbox relay included) is reported beside it. Each round imports into a fresh
  organisation (all rows are new customers): S3 stream, parse and validate in a thread,
  and batch by batch, while the thread reads on, COPY into ``catalog.customers`` (or,
  once a batch runs into a duplicate, into a temporary staging table and a set-wise
  merge) with its indexes (primary key (org_id, id), (org_id, lower(email)) unique,
  (org_id, created_at, id)), two batches' transactions at a time
  (ATTACHE_IMPORT_CONCURRENT_BATCHES), whose maintenance the baseline doesn't pay. The job's timings say how long the batches'
  transactions took, added up over the connections (``batch_db_seconds``, more than the
  reading time when they overlap).
- ``peak_rss_mib``: the importer process's VmHWM (reset with ``clear_refs`` before the
  import) and the largest VmRSS sampled every 50 ms.
- ``instructions``: the importer's instructions per row of a 50,000-row import, counted
  under callgrind (tests/bench/instructions.py) in a second importer process that
  replaces the first for it: a figure of the importer's own cost per row that the
  machine's drifting speed can't move (PostgreSQL's share is not in it).
- ``passwords``: 10,000 rows with a password each (scrypt, 2^14, r=8, p=1, the
  importer's default) imported the same way, and the hashing rate of the importer's
  PasswordHasher in this process with 1 and with 2 pool processes (the scaling).

``ATTACHE_BENCH_IMPORT_ROWS`` (default 1,000,000) and ``ATTACHE_BENCH_PASSWORD_ROWS``
(default 10,000) change the sizes for quick checks of the benchmark itself;
``ATTACHE_BENCH_IMPORT_CONCURRENT_BATCHES`` runs the importer with another
ATTACHE_IMPORT_CONCURRENT_BATCHES (default 2), to compare.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import aioboto3
import aiohttp

from attache_core.s3 import BOTO_CONFIG
from attache_importer.passwords import PasswordHasher, ScryptCost
from attache_importer.worker import IMPORT_QUEUE
from tests.bench import instructions
from tests.bench.common import Options, median, ratio
from tests.bench.stack import (
    INTERNAL_SECRET,
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    BenchStack,
    progress,
)

NAME = "imports"
TARGET_RATIO = 0.5
TARGET_ROWS_PER_S = 100_000
TARGET_RSS_MB = 150
ROWS = int(os.environ.get("ATTACHE_BENCH_IMPORT_ROWS", "1000000"))
PASSWORD_ROWS = int(os.environ.get("ATTACHE_BENCH_PASSWORD_ROWS", "10000"))
COUNTED_ROWS = 50_000
HASH_SAMPLE = 96
BUCKET = "csv-imports"
HEADER = "full_name,email,phone,address,city,state,postal_code,country"
FIRST = ["John", "Jane", "Ana", "Luis", "María", "Peter", "Olga", "Chen", "Fatima", "Noah"]
LAST = ["Doe", "Smith", "García", "Müller", "O'Brien", "Nguyen", "Kowalski", "Rossi", "Khan"]
CITIES = ["Anytown", "Springfield", "Riverside", "Lakeside", "Hill Valley"]


def write_customers_csv(path: Path, rows: int, *, passwords: bool = False) -> int:
    """A customers CSV like a CRM export (quoted addresses with commas, accents)."""
    rng = random.Random(42)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER + (",password\n" if passwords else "\n"))
        lines = []
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            line = (
                f"{first} {last},{first.lower()}.{i}@example{i % 97}.com,"
                f'{rng.randrange(10**9, 10**10)},"{rng.randrange(1, 9999)} Main St, Apt {i % 50}",'
                f"{rng.choice(CITIES)},CA,{rng.randrange(10000, 99999)},USA"
            )
            lines.append(line + (f",pw-{i:08d}-secret\n" if passwords else "\n"))
            if len(lines) == 10_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    return path.stat().st_size


class RssSampler:
    """Largest VmRSS of a process, sampled in a thread, plus its VmHWM."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _field(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_kib = max(self.peak_kib, self._field("VmRSS"))
            except OSError:
                return
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        try:  # reset the kernel's peak (VmHWM) to the current RSS
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            pass
        self.before_kib = self._field("VmRSS")
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.hwm_kib = self._field("VmHWM")


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime: a process's CPU and that of its children it reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(v) for v in fields[11:15])


def cpu_seconds(importer_pid: int) -> dict[str, float]:
    """CPU seconds so far of the importer (with its password pool) and of PostgreSQL (every
    postgres process, plus the backends that exited, in the postmaster's children's time).
    Machine-wide for PostgreSQL: other databases' work counts too."""
    importer, postgres = _cpu_ticks(importer_pid), 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if comm == "postgres":
            postgres += _cpu_ticks(int(entry.name))
        elif ppid == importer_pid:
            importer += _cpu_ticks(int(entry.name))
    return {"importer": importer / _CLK_TCK, "postgres": postgres / _CLK_TCK}


def copy_baseline(stack: BenchStack, path: Path) -> float:
    """Seconds of psql \\copy of the file into a fresh unindexed table."""
    table = f"bench_plain_{uuid.uuid4().hex[:8]}"
    columns = ", ".join(f"{c} text" for c in HEADER.split(","))
    subprocess.run(
        ["psql", stack.database_url, "-qc", f"CREATE TABLE {table} ({columns})"], check=True
    )
    started = time.monotonic()
    subprocess.run(
        [
            "psql",
            stack.database_url,
            "-qc",
            f"\\copy {table} FROM '{path}' WITH (FORMAT csv, HEADER)",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    subprocess.run(["psql", stack.database_url, "-qc", f"DROP TABLE {table}"], check=True)
    return seconds


async def store_file(stack: BenchStack, token: str, org: str, path: Path, size: int) -> str:
    """Upload to the csv-imports bucket and register it as the org's file (untimed)."""
    assert stack.seaweedfs is not None and stack.catalog is not None
    file_id = str(uuid.uuid4())
    key = f"orgs/{org}/files/{file_id}/{path.name}"
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=stack.seaweedfs.endpoint_url,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name="us-east-1",
        config=BOTO_CONFIG,
    ) as s3:
        await s3.upload_file(str(path), BUCKET, key, ExtraArgs={"ContentType": "text/csv"})
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{stack.catalog.url}/internal/v1/attachments",
            headers={
                "Authorization": f"Bearer {token}",
                "X-Attache-Internal-Secret": INTERNAL_SECRET,
            },
            json={
                "id": file_id,
                "bucket": BUCKET,
                "object_key": key,
                "filename": path.name,
                "content_type": "text/csv",
                "size_bytes": size,
                "file_type": "csv",
            },
        ) as resp:
            if resp.status not in (200, 201):
                raise RuntimeError(f"registering the file: {resp.status} {await resp.text()}")
    return file_id


async def wait_for_importer(stack: BenchStack) -> None:
    connection = await aio_pika.connect(stack.amqp_url)
    try:
        deadline = time.monotonic() + 60
        while True:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(IMPORT_QUEUE.name, passive=True)
                if queue.declaration_result.consumer_count:
                    return
            except aio_pika.exceptions.ChannelClosed:
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
            if time.monotonic() > deadline:
                raise RuntimeError("the importer did not start consuming")
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


async def run_import(stack: BenchStack, path: Path, size: int) -> dict[str, Any]:
    """One import into a fresh organisation; the job at its end and what was seen."""
    org = f"bench-import-{uuid.uuid4().hex[:8]}"
    token = stack.token(org=org)
    file_id = await store_file(stack, token, org, path, size)
    headers = {"Authorization": f"Bearer {token}"}
    assert stack.importer is not None
    async with aiohttp.ClientSession() as http:
        with RssSampler(stack.importer.pid) as rss:
            cpu_before = cpu_seconds(stack.importer.pid)
            posted = time.monotonic()
            async with http.post(
                f"{stack.gateway_url}/files/csv-import",
                headers=headers,
                json={"file_upload_id": file_id, "import_type": "customers"},
            ) as resp:
                if resp.status != 202:
                    raise RuntimeError(f"starting the import: {resp.status} {await resp.text()}")
                job_id = (await resp.json())["job_id"]
            updates: list[float] = []
            last_updated = None
            while True:
                stack.check_alive()
                async with http.get(
                    f"{stack.gateway_url}/files/jobs/{job_id}", headers=headers
                ) as resp:
                    job = await resp.json()
                if job["status"] == "processing" and job["updated_at"] != last_updated:
                    last_updated = job["updated_at"]
                    updates.append(time.monotonic())
                if job["status"] in ("completed", "completed_with_errors", "failed"):
                    break
                await asyncio.sleep(0.1)
            end_to_end = time.monotonic() - posted
            cpu_after = cpu_seconds(stack.importer.pid)
    gaps = [b - a for a, b in zip(updates, updates[1:], strict=False)]
    return {
        "job": job,
        "end_to_end_s": end_to_end,
        "cpu_seconds": {k: round(cpu_after[k] - cpu_before[k], 2) for k in cpu_after},
        "rss_peak_kib": max(rss.peak_kib, rss.hwm_kib),
        "rss_before_kib": rss.before_kib,
        "progress_max_gap_s": round(max(gaps), 2) if gaps else None,
    }


async def hashing_rate(workers: int) -> float:
    hasher = PasswordHasher(workers, ScryptCost())
    try:
        await hasher.hash(["warm-up-password"] * workers)  # start the processes, untimed
        started = time.monotonic()
        await hasher.hash([f"password-{i:06d}" for i in range(HASH_SAMPLE)])
        return HASH_SAMPLE / (time.monotonic() - started)
    finally:
        hasher.close()


async def count_instructions(stack: BenchStack) -> dict[str, Any]:
    """The importer's instructions per row of one import (untimed, under callgrind)."""
    if not instructions.available():
        return {"skipped": f"needs {' and '.join(instructions.TOOLS)} (Debian's valgrind)"}
    assert stack.workdir is not None
    path, warm_path = stack.workdir / "customers-counted.csv", stack.workdir / "warm-up.csv"
    size = await asyncio.to_thread(write_customers_csv, path, COUNTED_ROWS)
    warm_size = await asyncio.to_thread(write_customers_csv, warm_path, 2_000)
    out_file = stack.workdir / "callgrind.importer.out"
    counted = stack.restart_importer(wrapper=instructions.callgrind_wrapper(out_file))
    try:
        await wait_for_importer(stack)
        await run_import(stack, warm_path, warm_size)  # first imports run colder code
        await asyncio.to_thread(instructions.instrument, counted, "on")
        result = await run_import(stack, path, size)
        await asyncio.to_thread(instructions.instrument, counted, "off")
    finally:
        await asyncio.to_thread(counted.stop, 120.0)  # callgrind writes its file on exit
        stack.restart_importer()  # a plain importer again, for whatever runs next
    if result["job"]["created_rows"] != COUNTED_ROWS:
        raise RuntimeError(f"the counted import did not complete: {result['job']}")
    total = instructions.read_total(out_file)
    return {
        "rows": COUNTED_ROWS,
        "importer_k_instructions_per_row": round(total / COUNTED_ROWS / 1000, 1),
    }


async def run(stack: BenchStack, opts: Options) -> dict[str, Any]:
    assert stack.workdir is not None
    rounds = max(1, min(opts.rounds, 2))
    path = stack.workdir / "customers-1m.csv"
    progress(f"  writing a {ROWS:,}-row customers CSV")
    size = await asyncio.to_thread(write_customers_csv, path, ROWS)
    await wait_for_importer(stack)

    copy_seconds, results = [], []
    for n in range(rounds):
        await asyncio.to_thread(subprocess.run, ["sync"])
        copy_seconds.append(await asyncio.to_thread(copy_baseline, stack, path))
        progress(f"  psql \\copy: {ROWS / copy_seconds[-1]:,.0f} rows/s")
        result = await run_import(stack, path, size)
        job = result["job"]
        if job["status"] != "completed" or job["created_rows"] != ROWS:
            raise RuntimeError(f"the import did not complete: {job}")
        result["seconds"] = job["duration_seconds"]
        result["cpu_us_per_row"] = {
            k: round(v * 1e6 / ROWS, 2) for k, v in result["cpu_seconds"].items()
        }
        results.append(result)
        progress(
            f"  import round {n + 1}: {ROWS / result['seconds']:,.0f} rows/s "
            f"(job {result['seconds']:.1f}s, end to end {result['end_to_end_s']:.1f}s, "
            f"timings {job['timings']}), CPU µs/row {result['cpu_us_per_row']}, "
            f"peak RSS {result['rss_peak_kib'] / 1024:.0f} MiB"
        )
    copy_s = median(copy_seconds)
    import_s = median([r["seconds"] for r in results])
    import_rows_per_s = ROWS / import_s
    copy_rows_per_s = ROWS / copy_s
    peak_mb = max(r["rss_peak_kib"] for r in results) * 1024 / 1e6

    progress(f"  writing a {PASSWORD_ROWS:,}-row CSV with passwords")
    pw_path = stack.workdir / "customers-passwords.csv"
    pw_size = await asyncio.to_thread(write_customers_csv, pw_path, PASSWORD_ROWS, passwords=True)
    pw = await run_import(stack, pw_path, pw_size)
    if pw["job"]["status"] != "completed":
        raise RuntimeError(f"the password import did not complete: {pw['job']}")
    pw_rows_per_s = PASSWORD_ROWS / pw["job"]["duration_seconds"]
    progress(f"  import with passwords: {pw_rows_per_s:,.1f} rows/s")
    rates = {}
    for workers in (1, 2):
        rates[workers] = await hashing_rate(workers)
        progress(f"  scrypt with {workers} pool process(es): {rates[workers]:.1f} hashes/s")

    progress("  importer instructions per row under callgrind (about a minute)")
    counted = await count_instructions(stack)
    progress(f"  importer instructions: {counted}")

    first = results[0]["job"]
    return {
        "rows": ROWS,
        "file_mib": round(size / 2**20, 1),
        "copy_baseline": {
            "rows_per_s": round(copy_rows_per_s),
            "seconds": round(copy_s, 2),
            "rounds_s": [round(s, 2) for s in copy_seconds],
        },
        "import": {
            "rows_per_s": round(import_rows_per_s),
            "seconds": round(import_s, 2),
            "rounds_s": [r["seconds"] for r in results],
            "end_to_end_s": [round(r["end_to_end_s"], 2) for r in results],
            "timings": first["timings"],
            # Whole-job CPU per row (PostgreSQL machine-wide), less sensitive than rows/s
            # to what else runs on the machine.
            "cpu_us_per_row": [r["cpu_us_per_row"] for r in results],
            "progress_update_max_gap_s": max((r["progress_max_gap_s"] or 0) for r in results),
            "instructions": counted,
        },
        "ratio_import_to_copy": ratio(import_rows_per_s, copy_rows_per_s),
        "target_ratio_min": TARGET_RATIO,
        "target_rows_per_s_min": TARGET_ROWS_PER_S,
        "importer_peak_rss_mb": round(peak_mb, 1),
        "importer_rss_before_mb": round(results[0]["rss_before_kib"] * 1024 / 1e6, 1),
        "target_rss_max_mb": TARGET_RSS_MB,
        "passwords": {
            "rows": PASSWORD_ROWS,
            "rows_per_s": round(pw_rows_per_s, 1),
            "seconds": pw["job"]["duration_seconds"],
            "importer_hash_workers": "default: os.cpu_count()",
            "scrypt_hashes_per_s_by_pool_size": {str(k): round(v, 1) for k, v in rates.items()},
            "pool_scaling_2_vs_1": ratio(rates[2], rates[1]),
        },
    }
