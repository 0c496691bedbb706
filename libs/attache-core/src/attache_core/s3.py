"""S3: the aioboto3 client, bucket set-up, and presigned URLs.

Presigned URLs are signed by attache_core.sigv4 (byte-for-byte botocore's
output, without botocore's per-call overhead on the presign hot path) against
the public endpoint clients reach; everything else goes through aioboto3.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from attache_core.errors import UpstreamFailed
from attache_core.settings import CommonSettings
from attache_core.sigv4 import S3Presigner

log = structlog.get_logger("attache.s3")

BOTO_CONFIG = Config(
    signature_version="s3v4",
    # Bodies carry their own integrity (Content-MD5, x-amz-checksum-sha256): don't make
    # botocore hash every payload again on the event loop just to sign it.
    s3={"addressing_style": "path", "payload_signing_enabled": False},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=5,
    read_timeout=60,
)

# Browsers PUT straight to the bucket: allow it, and let them read the ETag.
DEFAULT_CORS = {
    "CORSRules": [
        {
            "AllowedOrigins": ["*"],
            "AllowedMethods": ["GET", "PUT", "POST", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3600,
        }
    ]
}


@dataclass(frozen=True)
class ObjectHead:
    size: int
    content_type: str | None
    etag: str | None


def is_not_found(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in {"404", "NoSuchKey", "NotFound", "NoSuchUpload"} or status == 404


class BlobStore:
    """The object store as the services use it. Wraps S3 errors as UpstreamFailed."""

    def __init__(self, client: Any, presigner: S3Presigner) -> None:
        self.client = client
        self.presigner = presigner

    async def ensure_bucket(self, bucket: str) -> None:
        try:
            await self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            with contextlib.suppress(ClientError):  # another replica created it meanwhile
                await self.client.create_bucket(Bucket=bucket)
        await self.client.put_bucket_cors(Bucket=bucket, CORSConfiguration=DEFAULT_CORS)

    async def head(self, bucket: str, key: str) -> ObjectHead | None:
        try:
            resp = await self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise UpstreamFailed("Object storage request failed") from exc
        except BotoCoreError as exc:
            raise UpstreamFailed("Object storage unavailable") from exc
        return ObjectHead(
            size=resp["ContentLength"], content_type=resp.get("ContentType"), etag=resp.get("ETag")
        )

    async def probe(self, bucket: str, key: str, length: int) -> tuple[ObjectHead, bytes] | None:
        """Size, type and first `length` bytes in one ranged GET (None: no such object).
        Cheaper than HEAD + GET on the confirm path: one S3 round trip, one signature."""
        try:
            resp = await self.client.get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}"
            )
        except ClientError as exc:
            if is_not_found(exc):
                return None
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # exists, 0 bytes
                return ObjectHead(size=0, content_type=None, etag=None), b""
            raise UpstreamFailed("Object storage request failed") from exc
        except BotoCoreError as exc:
            raise UpstreamFailed("Object storage unavailable") from exc
        body = resp["Body"]
        async with body:
            prefix = await body.read()
        content_range = resp.get("ContentRange")  # "bytes 0-16383/1048576"
        size = int(content_range.rsplit("/", 1)[1]) if content_range else len(prefix)
        return ObjectHead(
            size=size, content_type=resp.get("ContentType"), etag=resp.get("ETag")
        ), prefix

    async def iter_object(
        self, bucket: str, key: str, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        resp = await self.client.get_object(Bucket=bucket, Key=key)
        body = resp["Body"]
        async with body:  # releases the connection even when the caller stops early
            async for chunk in body.iter_chunks(chunk_size):
                yield chunk

    async def delete(self, bucket: str, key: str) -> None:
        try:
            await self.client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise UpstreamFailed("Object storage request failed") from exc


def make_presigner(settings: CommonSettings) -> S3Presigner:
    return S3Presigner(
        endpoint_url=settings.presign_endpoint_url,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        region=settings.s3_region,
    )


@contextlib.asynccontextmanager
async def open_blob_store(settings: CommonSettings) -> AsyncIterator[BlobStore]:
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        region_name=settings.s3_region,
        config=BOTO_CONFIG,
    ) as client:
        yield BlobStore(client, make_presigner(settings))
