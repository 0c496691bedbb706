"""A 1 GiB streamed upload through ``POST /files/upload`` vs the same bytes sent to S3 directly.

Targets (the issue): throughput at least 0.5 of the direct upload's, measured in the
same run, and the gateway's peak RSS growth during the upload at most 64 MiB.

- ``gateway``: one multipart/form-data request (a ``file_type`` field, then the file
  part) to ``POST /files/upload`` with an admin JWT, with a Content-Length, as a
  browser or curl sends it. The gateway streams it to S3 in parts of
  ``ATTACHE_STREAM_PART_BYTES`` (default 8 MiB), 2 in flight, hashing MD5 and
  SHA-256 on the way, then registers the file in the catalog. Timed from the first
  byte sent to the 201 answer.
- ``direct_multipart`` (the baseline of the ratio): the same bytes from this process
  straight to SeaweedFS as an S3 multipart upload with presigned part URLs (the
  product's own large-file flow): the same part size and the same 2 parts in flight
  as the gateway. Timed from CreateMultipartUpload to CompleteMultipartUpload.
- ``direct_single_put``: the same bytes as one presigned PUT (a second reference).

The payload is never held in memory on either side: a small valid PDF followed by
deterministic pseudo-random bytes (a seeded 1 MiB block, each copy stamped with its
index), generated chunk by chunk; its MD5 and SHA-256 are computed once before the
rounds (untimed) and checked against what the gateway answers, and the stored
object's size and last byte are read back through ``GET /files/download/{id}``
with a Range. The gateway's memory is sampled from ``/proc/<pid>/status`` (VmRSS)
every 50 ms in a thread; its peak RSS is also reset before (``clear_refs`` 5) and
read after (VmHWM), which catches a peak between two samples. The growth is
measured against VmRSS just before the upload, after an untimed warm-up upload
has loaded every code path.

Page-cache writeback from earlier transfers would slow whichever transfer comes
next, so the dirty pages are flushed (``sync``, untimed) before each transfer, and
the order of the three transfers alternates between rounds. Every object is
deleted at the end of its round. At most 2 rounds (``--rounds`` lowers it), to keep
the benchmark within about 3 minutes on a 2-core machine. ``ATTACHE_BENCH_UPLOAD_MIB``
changes the payload size (default 1024) for quick checks of the benchmark itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import aiohttp

from attache_core.s3 import BOTO_CONFIG
from attache_core.sigv4 import S3Presigner
from attache_devstack.samples import make_pdf
from attache_gateway.settings import GatewaySettings
from attache_gateway.streaming import PARTS_IN_FLIGHT
from tests.bench.common import Options, median, ratio
from tests.bench.load import CpuSampler
from tests.bench.stack import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, BenchStack, progress

NAME = "upload"
TARGET_RATIO = 0.5
TARGET_RSS_GROWTH_MIB = 64
MAX_ROUNDS = 2

MIB = 1024 * 1024
SIZE = int(os.environ.get("ATTACHE_BENCH_UPLOAD_MIB", "1024")) * MIB
CHUNK_BYTES = MIB
# The gateway's default part size (the bench stack doesn't override it).
PART_BYTES: int = GatewaySettings.model_fields["stream_part_bytes"].default
WARMUP_BYTES = 3 * PART_BYTES + 12345  # several parts: the multipart path, untimed
SAMPLE_SECONDS = 0.05
FILENAME = "bench-upload.pdf"
CONTENT_TYPE = "application/pdf"
URL_TTL = 3600
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)


class Failed(Exception):
    pass


# ---- the payload -----------------------------------------------------------------------


class Payload:
    """`size` deterministic bytes, a valid PDF first, produced in 1 MiB chunks on demand."""

    def __init__(self, size: int, seed: int = 0xA77AC4E) -> None:
        self.size = size
        block = random.Random(seed).randbytes(CHUNK_BYTES)
        head = make_pdf(["Attache benchmark", "A large streamed upload"])
        self._first = head + block[len(head) :]
        self._tail = block[8:]  # each later chunk: its index (8 bytes) + this

    def chunks(self) -> Iterator[bytes]:
        index, sent = 0, 0
        while sent < self.size:
            chunk = self._first if index == 0 else index.to_bytes(8, "big") + self._tail
            chunk = chunk[: self.size - sent]  # the same object unless it is the last
            sent += len(chunk)
            index += 1
            yield chunk

    async def achunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():
            yield chunk

    def parts(self, part_bytes: int) -> Iterator[bytes]:
        buffer = bytearray()
        for chunk in self.chunks():
            buffer += chunk
            if len(buffer) >= part_bytes:
                yield bytes(buffer[:part_bytes])
                del buffer[:part_bytes]
        if buffer:
            yield bytes(buffer)

    def digests(self) -> dict[str, Any]:
        """MD5, SHA-256 and the last byte, from the same chunks the uploads send."""
        md5, sha256 = hashlib.md5(), hashlib.sha256()  # noqa: S324 - a checksum
        last = b""
        for chunk in self.chunks():
            md5.update(chunk)
            sha256.update(chunk)
            last = chunk[-1:]
        return {"md5": md5.hexdigest(), "sha256": sha256.hexdigest(), "last_byte": last}


# ---- the gateway's memory ----------------------------------------------------------------


def _status_kib(pid: int, *fields: str) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in fields:
                values[name] = int(rest.split()[0])
    return values


class RssSampler:
    """VmRSS of a process every `interval` seconds in a thread, plus its reset VmHWM."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        self.pid, self.interval = pid, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.samples = 0
        self.peak_kib = 0
        self.hwm_reset = False

    def _rss(self) -> int:
        return _status_kib(self.pid, "VmRSS")["VmRSS"]

    def start(self) -> None:
        try:  # "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
            with open(f"/proc/{self.pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.baseline_kib = self.peak_kib = self._rss()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError, KeyError):
                self.peak_kib = max(self.peak_kib, self._rss())
                self.samples += 1

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        now = _status_kib(self.pid, "VmRSS", "VmHWM")
        self.peak_kib = max(self.peak_kib, now["VmRSS"])
        out: dict[str, Any] = {
            "baseline_rss_mib": _mib(self.baseline_kib),
            "sampled_peak_rss_mib": _mib(self.peak_kib),
            "sampled_peak_growth_mib": _mib(self.peak_kib - self.baseline_kib),
            "rss_after_mib": _mib(now["VmRSS"]),
            "vmhwm_mib": _mib(now["VmHWM"]),
            "samples": self.samples,
        }
        growth = self.peak_kib - self.baseline_kib
        if self.hwm_reset:  # the exact peak since start(), even between two samples
            out["vmhwm_growth_mib"] = _mib(now["VmHWM"] - self.baseline_kib)
            growth = max(growth, now["VmHWM"] - self.baseline_kib)
        out["peak_growth_mib"] = _mib(growth)
        return out


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


# ---- the three ways up -------------------------------------------------------------------


@dataclass
class Clients:
    stack: BenchStack
    http: aiohttp.ClientSession
    s3: Any
    presigner: S3Presigner
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def gateway_upload(
    c: Clients, payload: Payload
) -> tuple[dict[str, Any], Callable[[], Awaitable[None]]]:
    """POST /files/upload; the file record and how to delete it."""
    boundary = f"attache-bench-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file_type"\r\n\r\n'
        "document\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{FILENAME}"\r\n'
        f"Content-Type: {CONTENT_TYPE}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for chunk in payload.chunks():
            yield chunk
        yield tail

    headers = {
        **c.auth,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + payload.size + len(tail)),
    }
    async with c.http.post(
        f"{c.stack.gateway_url}/files/upload", data=body(), headers=headers
    ) as resp:
        answer = await resp.read()
        if resp.status != 201:
            raise Failed(f"POST /files/upload answered {resp.status}: {answer[:500]!r}")
    record = json.loads(answer)

    async def delete() -> None:
        async with c.http.delete(
            f"{c.stack.gateway_url}/files/{record['id']}", headers=c.auth
        ) as resp:
            if resp.status != 204:
                raise Failed(f"DELETE /files/{{id}} answered {resp.status}: {await resp.text()}")

    return record, delete


async def direct_multipart(c: Clients, payload: Payload, key: str) -> None:
    """S3 multipart upload with presigned part URLs, parts as the gateway sends them."""
    created = await c.s3.create_multipart_upload(
        Bucket=S3_BUCKET, Key=key, ContentType=CONTENT_TYPE
    )
    upload_id = created["UploadId"]
    parts: list[dict[str, Any]] = []
    in_flight: set[asyncio.Task[None]] = set()

    async def put_part(number: int, data: bytes) -> None:
        url = c.presigner.presign_upload_part(
            S3_BUCKET, key, upload_id=upload_id, part_number=number, expires_in=URL_TTL
        )
        async with c.http.put(url, data=data) as resp:
            answer = await resp.read()
            if resp.status != 200:
                raise Failed(f"UploadPart {number} answered {resp.status}: {answer[:300]!r}")
            parts.append({"PartNumber": number, "ETag": resp.headers["ETag"]})

    try:
        for number, data in enumerate(payload.parts(PART_BYTES), start=1):
            if len(in_flight) >= PARTS_IN_FLIGHT:
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            in_flight.add(asyncio.create_task(put_part(number, data)))
        await asyncio.gather(*in_flight)
        in_flight.clear()
        await c.s3.complete_multipart_upload(
            Bucket=S3_BUCKET,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": sorted(parts, key=lambda p: p["PartNumber"])},
        )
    except BaseException:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        with contextlib.suppress(Exception):
            await c.s3.abort_multipart_upload(Bucket=S3_BUCKET, Key=key, UploadId=upload_id)
        raise


async def direct_single_put(c: Clients, payload: Payload, key: str) -> None:
    url = c.presigner.presign_put(S3_BUCKET, key, expires_in=URL_TTL, content_type=CONTENT_TYPE)
    headers = {"Content-Type": CONTENT_TYPE, "Content-Length": str(payload.size)}
    async with c.http.put(url, data=payload.achunks(), headers=headers) as resp:
        answer = await resp.read()
        if resp.status != 200:
            raise Failed(f"presigned PUT answered {resp.status}: {answer[:300]!r}")


# ---- measuring ---------------------------------------------------------------------------


def _rates(seconds: float, size: int) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 3),
        "mb_per_s": round(size / seconds / 1e6, 1),
        "mib_per_s": round(size / seconds / MIB, 1),
    }


def _cpu(usage: dict[str, Any], seconds: float, size: int) -> dict[str, Any]:
    cores = usage.get("cores_used", {})
    keep = ("gateway", "seaweedfs", "load_generator", "catalog", "other")
    out: dict[str, Any] = {"cores_used": {k: cores[k] for k in keep if k in cores}}
    if "gateway" in cores:
        out["gateway_cpu_s_per_gib"] = round(cores["gateway"] * seconds / (size / 1024**3), 2)
    out["machine_busy_fraction"] = usage.get("machine_busy_fraction")
    return out


async def _flush_page_cache_writes() -> None:
    await asyncio.to_thread(os.sync)


async def measure_gateway(c: Clients, payload: Payload, expected: dict[str, Any]) -> dict[str, Any]:
    c.stack.check_alive()
    await _flush_page_cache_writes()
    gateway = c.stack.gateway
    assert gateway is not None
    cpu = CpuSampler(c.stack.process_groups)
    await cpu.start()
    rss = RssSampler(gateway.pid)
    rss.start()
    started = time.perf_counter()
    try:
        record, delete = await gateway_upload(c, payload)
    finally:
        memory = rss.stop()
    seconds = time.perf_counter() - started
    usage = cpu.stop()
    try:
        checks = await verify_gateway_upload(c, record, payload.size, expected)
    finally:
        await delete()
    result = {
        **_rates(seconds, payload.size),
        "memory": memory,
        **_cpu(usage, seconds, payload.size),
    }
    result["checks"] = checks
    progress(
        f"  gateway: {result['mib_per_s']} MiB/s ({seconds:.1f}s), peak RSS growth "
        f"{memory['peak_growth_mib']} MiB, gateway CPU {result.get('gateway_cpu_s_per_gib')} s/GiB"
    )
    return result


async def verify_gateway_upload(
    c: Clients, record: dict[str, Any], size: int, expected: dict[str, Any]
) -> dict[str, Any]:
    """The answer's checksums and size, and the stored object's size and last byte."""
    problems = []
    if record["checksums"].get("sha256") != expected["sha256"]:
        problems.append(f"sha256 {record['checksums'].get('sha256')} != {expected['sha256']}")
    if record["checksums"].get("md5") != expected["md5"]:
        problems.append(f"md5 {record['checksums'].get('md5')} != {expected['md5']}")
    if record["file_size"] != size:
        problems.append(f"file_size {record['file_size']} != {size}")
    async with c.http.get(
        f"{c.stack.gateway_url}/files/download/{record['id']}",
        headers={**c.auth, "Range": f"bytes={size - 1}-{size - 1}"},
    ) as resp:
        last = await resp.read()
        content_range = resp.headers.get("Content-Range", "")
        if resp.status != 206:
            problems.append(f"ranged download answered {resp.status}")
    stored_size = content_range.rpartition("/")[2]
    if stored_size != str(size):
        problems.append(f"stored object is {stored_size} bytes (Content-Range {content_range!r})")
    if last != expected["last_byte"]:
        problems.append(f"last byte {last!r} != {expected['last_byte']!r}")
    if problems:
        raise Failed("the gateway stored something else: " + "; ".join(problems))
    return {"sha256": "ok", "md5": "ok", "file_size": "ok", "stored_size_and_last_byte": "ok"}


async def measure_direct(
    c: Clients,
    payload: Payload,
    how: str,
    upload: Callable[[Clients, Payload, str], Awaitable[None]],
) -> dict[str, Any]:
    c.stack.check_alive()
    await _flush_page_cache_writes()
    key = f"bench/upload/{how}/{uuid.uuid4().hex}.pdf"
    cpu = CpuSampler(c.stack.process_groups)
    await cpu.start()
    started = time.perf_counter()
    try:
        await upload(c, payload, key)
        seconds = time.perf_counter() - started
        usage = cpu.stop()
        head = await c.s3.head_object(Bucket=S3_BUCKET, Key=key)
    finally:
        with contextlib.suppress(Exception):
            await c.s3.delete_object(Bucket=S3_BUCKET, Key=key)
    if head["ContentLength"] != payload.size:
        raise Failed(f"{how}: stored {head['ContentLength']} bytes, not {payload.size}")
    result = {**_rates(seconds, payload.size), **_cpu(usage, seconds, payload.size)}
    progress(f"  {how}: {result['mib_per_s']} MiB/s ({seconds:.1f}s)")
    return result


def _median_of(rounds: list[dict[str, Any]], key: str) -> float:
    return round(median([r[key] for r in rounds]), 3)


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "seconds": _median_of(rounds, "seconds"),
        "mb_per_s": _median_of(rounds, "mb_per_s"),
        "mib_per_s": _median_of(rounds, "mib_per_s"),
        "rounds": rounds,
    }


async def run(stack: BenchStack, opts: Options) -> dict[str, Any]:
    rounds = max(1, min(opts.rounds, MAX_ROUNDS))
    assert stack.seaweedfs is not None
    payload = Payload(SIZE)
    progress(f"upload: hashing the {SIZE / MIB:.0f} MiB payload (untimed)")
    expected = await asyncio.to_thread(payload.digests)

    org = f"bench-{uuid.uuid4().hex[:8]}"
    presigner = S3Presigner(stack.seaweedfs.endpoint_url, S3_ACCESS_KEY, S3_SECRET_KEY)
    session = aioboto3.Session()
    async with (
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
        session.client(
            "s3",
            endpoint_url=stack.seaweedfs.endpoint_url,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
            config=BOTO_CONFIG,
        ) as s3,
    ):
        c = Clients(stack, http, s3, presigner, stack.token(org=org, roles=("admin",)))

        # Untimed: every code path loaded (and a broken flow fails here, with its reason).
        progress("upload: warm-up")
        warm = Payload(WARMUP_BYTES)
        warm_expected = await asyncio.to_thread(warm.digests)
        record, delete = await gateway_upload(c, warm)
        try:
            await verify_gateway_upload(c, record, warm.size, warm_expected)
        finally:
            await delete()
        for how, upload in (
            ("direct_multipart", direct_multipart),
            ("direct_single_put", direct_single_put),
        ):
            key = f"bench/upload/warm-up/{how}.pdf"
            await upload(c, warm, key)
            await s3.delete_object(Bucket=S3_BUCKET, Key=key)

        measured: dict[str, list[dict[str, Any]]] = {
            "gateway": [],
            "direct_multipart": [],
            "direct_single_put": [],
        }
        single_put_error: str | None = None
        for round_no in range(rounds):
            progress(f"upload round {round_no + 1}/{rounds}")
            order = list(measured) if round_no % 2 == 0 else list(reversed(measured))
            for subject in order:
                if subject == "gateway":
                    measured[subject].append(await measure_gateway(c, payload, expected))
                elif subject == "direct_multipart":
                    measured[subject].append(
                        await measure_direct(c, payload, subject, direct_multipart)
                    )
                elif single_put_error is None:
                    try:
                        measured[subject].append(
                            await measure_direct(c, payload, subject, direct_single_put)
                        )
                    except (Failed, aiohttp.ClientError) as exc:  # a second figure only
                        single_put_error = f"{type(exc).__name__}: {exc}"
                        progress(f"  direct single PUT failed: {single_put_error}")

    gateway, direct, single = (measured[k] for k in measured)
    per_round = [ratio(g["mb_per_s"], d["mb_per_s"]) for g, d in zip(gateway, direct, strict=True)]
    value = round(median([r for r in per_round if r is not None]), 3)
    growth = [g["memory"]["peak_growth_mib"] for g in gateway]
    peak_growth = max(growth)
    result: dict[str, Any] = {
        "description": f"{SIZE / MIB:.0f} MiB through POST /files/upload (multipart/form-data, "
        f"streamed to S3 in {PART_BYTES // MIB} MiB parts, {PARTS_IN_FLIGHT} in flight) vs the "
        "same bytes from the client straight to S3 (multipart with presigned part URLs, same part "
        "size and parallelism; and one presigned PUT); gateway RSS sampled every "
        f"{SAMPLE_SECONDS * 1000:.0f} ms and its VmHWM reset before the upload",
        "bytes": SIZE,
        "part_bytes": PART_BYTES,
        "parts_in_flight": PARTS_IN_FLIGHT,
        "rounds": rounds,
        "ratio_gateway_to_direct": value,
        "target_ratio_min": TARGET_RATIO,
        "meets_ratio_target": value >= TARGET_RATIO,
        "ratio_per_round": per_round,
        "gateway_peak_rss_growth_mib": peak_growth,
        "gateway_peak_rss_growth_per_round_mib": growth,
        "target_rss_growth_max_mib": TARGET_RSS_GROWTH_MIB,
        "meets_rss_target": peak_growth <= TARGET_RSS_GROWTH_MIB,
        "gateway": _summary(gateway),
        "direct_multipart": _summary(direct),
    }
    result["gateway"]["gateway_cpu_s_per_gib"] = _median_of(gateway, "gateway_cpu_s_per_gib")
    if single:
        # `single` holds the first rounds only if a single PUT failed later: pair by round.
        pairs = zip(gateway, single, strict=False)
        ratios = [ratio(g["mb_per_s"], s["mb_per_s"]) for g, s in pairs]
        result["ratio_gateway_to_direct_single_put"] = round(
            median([r for r in ratios if r is not None]), 3
        )
        result["direct_single_put"] = _summary(single)
    if single_put_error:
        result["direct_single_put_error"] = single_put_error
    return result
