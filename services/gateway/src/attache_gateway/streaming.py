"""Request bodies streamed to S3 without holding a file in memory.

A body is read in chunks and written as it arrives: one PutObject for a small
body, S3 multipart (a few parts in flight) for a large one. MD5 and SHA-256 are
computed on the way, off the event loop. The first bytes are shown to a check
before anything is written, so content that will be refused never reaches S3. A
body over the limit stops the upload as soon as it passes the limit, and any
failure aborts the multipart upload: nothing is left behind.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from attache_core import sniffing
from attache_core.errors import Conflict, InvalidInput, PayloadTooLarge, UpstreamFailed

log = structlog.get_logger("attache.gateway.streaming")

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's minimum for every part but the last
PARTS_IN_FLIGHT = 2


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    md5: str  # hex
    sha256: str  # hex
    etag: str | None
    sniffed_type: str


class _Digests:
    def __init__(self) -> None:
        self.md5 = hashlib.md5()  # noqa: S324 - a checksum the API returns, not a security hash
        self.sha256 = hashlib.sha256()

    def update(self, data: bytes) -> str:
        """Feed the whole-file digests; the base64 SHA-256 of `data` itself (S3's part checksum).
        hashlib releases the GIL for large buffers: run in a thread, it overlaps the I/O."""
        self.md5.update(data)
        self.sha256.update(data)
        return base64.b64encode(hashlib.sha256(data).digest()).decode()


async def stream_to_s3(
    client: Any,
    bucket: str,
    key: str,
    chunks: AsyncIterator[bytes],
    *,
    content_type: str,
    max_bytes: int,
    part_bytes: int = 8 * 1024 * 1024,
    check_prefix: Callable[[bytes], str] | None = None,
    overwrite: bool = True,
) -> StoredObject:
    """Write `chunks` to s3://bucket/key. `check_prefix(first_bytes)` returns the sniffed
    type or raises to refuse the content before anything is written. With
    `overwrite=False` S3 itself refuses to replace an existing object (Conflict)."""
    conditional = {} if overwrite else {"IfNoneMatch": "*"}
    part_bytes = max(part_bytes, MIN_PART_BYTES)
    digests = _Digests()
    # Chunks of the part being gathered, joined once per part (one copy, not two).
    pending: list[bytes] = []
    pending_size = 0
    size = 0
    sniffed: str | None = None
    upload_id: str | None = None
    parts: list[dict[str, Any]] = []
    part_count = 0
    in_flight: set[asyncio.Task[None]] = set()

    def take_pending() -> bytes:
        nonlocal pending_size
        data = b"".join(pending)
        pending.clear()
        pending_size = 0
        return data

    async def upload_part(number: int, data: bytes, checksum: str) -> None:
        # S3 verifies each part against its SHA-256; botocore doesn't hash it again.
        resp = await client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumSHA256=checksum,
        )
        parts.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": checksum})

    async def flush_part() -> None:
        nonlocal upload_id, part_count
        if upload_id is None:
            created = await client.create_multipart_upload(
                Bucket=bucket, Key=key, ContentType=content_type, ChecksumAlgorithm="SHA256"
            )
            upload_id = created["UploadId"]
        data = take_pending()
        checksum = await asyncio.to_thread(digests.update, data)
        if len(in_flight) >= PARTS_IN_FLIGHT:
            done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            in_flight.difference_update(done)
            for task in done:
                task.result()  # re-raise a failed part
        part_count += 1
        in_flight.add(asyncio.create_task(upload_part(part_count, data, checksum)))

    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"File exceeds the {max_bytes}-byte limit")
            pending.append(chunk)
            pending_size += len(chunk)
            if sniffed is None and pending_size >= sniffing.SNIFF_BYTES:
                sniffed = _check(check_prefix, b"".join(pending)[: sniffing.SNIFF_BYTES])
            if pending_size >= part_bytes:
                await flush_part()
        if size == 0:
            raise InvalidInput("The file is empty", details={"file": "Empty file"})
        if sniffed is None:
            sniffed = _check(check_prefix, b"".join(pending))

        if upload_id is None:  # small: one PutObject, integrity checked by S3 itself
            data = take_pending()
            await asyncio.to_thread(digests.update, data)
            resp = await client.put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ContentMD5=base64.b64encode(digests.md5.digest()).decode(),
                **conditional,
            )
            etag = resp.get("ETag")
        else:
            if pending:
                await flush_part()
            if in_flight:
                await asyncio.gather(*in_flight)
                in_flight.clear()
            resp = await client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": sorted(parts, key=lambda p: p["PartNumber"])},
                **conditional,
            )
            etag = resp.get("ETag")
    except BaseException as exc:
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        if upload_id is not None:
            with contextlib.suppress(Exception):
                await client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in {
            "PreconditionFailed",
            "412",
        }:
            raise Conflict("An object with this name already exists") from exc
        if isinstance(exc, ClientError | BotoCoreError):
            log.warning("s3_stream_failed", error=type(exc).__name__, bucket=bucket)
            raise UpstreamFailed("Object storage failed while storing the file") from exc
        raise
    return StoredObject(
        bucket=bucket,
        key=key,
        size=size,
        md5=digests.md5.hexdigest(),
        sha256=digests.sha256.hexdigest(),
        etag=etag,
        sniffed_type=sniffed,
    )


def _check(check_prefix: Callable[[bytes], str] | None, prefix: bytes) -> str:
    return check_prefix(prefix) if check_prefix is not None else sniffing.sniff(prefix)
