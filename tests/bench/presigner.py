"""Cost of one presigned PUT URL: botocore / aioboto3 vs attache_core.sigv4.

In-process and CPU-only (no server is involved): the same parameters as a
gateway presign (bucket, a realistic object key, Content-Type and
Content-Length signed, 900 s expiry), best of several timeit repeats. The
ratio botocore / attache says how much per-URL work the gateway saves.
"""

from __future__ import annotations

import time
import timeit
import uuid
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import aioboto3
import botocore.session

from attache_core.s3 import BOTO_CONFIG
from attache_core.sigv4 import S3Presigner
from tests.bench.common import Options, ratio
from tests.bench.stack import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, BenchStack, progress

NAME = "presigner"

KEY = f"orgs/bench-org/customers/{uuid.uuid4()}/{uuid.uuid4()}/document.pdf"
CONTENT_TYPE = "application/pdf"
SIZE = 12345
EXPIRES = 900
PARAMS = {"Bucket": S3_BUCKET, "Key": KEY, "ContentType": CONTENT_TYPE, "ContentLength": SIZE}


def _best_us(timer: timeit.Timer, opts: Options) -> tuple[float, int]:
    """Best per-call time in µs over the repeats, and the calls per repeat."""
    number, _ = timer.autorange()  # enough calls for >= 0.2 s per repeat
    best = min(timer.repeat(repeat=opts.timeit_repeat, number=number))
    return best / number * 1e6, number


async def _aioboto3_best_us(client: Any, opts: Options, number: int) -> float:
    """The async client can't go through timeit; the same best-of-repeats by hand."""
    best = float("inf")
    for _ in range(opts.timeit_repeat):
        started = time.perf_counter()
        for _ in range(number):
            await client.generate_presigned_url("put_object", Params=PARAMS, ExpiresIn=EXPIRES)
        best = min(best, time.perf_counter() - started)
    return best / number * 1e6


def _same_url(endpoint: str, presigner: S3Presigner, client: Any) -> bool:
    """At one fixed instant, both signers must produce the same URL (a sanity check)."""
    now = datetime(2025, 1, 2, 3, 4, 5)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        expected = client.generate_presigned_url("put_object", Params=PARAMS, ExpiresIn=EXPIRES)
    actual = presigner.presign_put(
        S3_BUCKET,
        KEY,
        expires_in=EXPIRES,
        content_type=CONTENT_TYPE,
        content_length=SIZE,
        now=now.replace(tzinfo=UTC),
    )
    return actual == expected


async def run(stack: BenchStack, opts: Options) -> dict[str, Any]:
    assert stack.seaweedfs is not None
    endpoint = stack.seaweedfs.endpoint_url
    presigner = S3Presigner(endpoint, S3_ACCESS_KEY, S3_SECRET_KEY)
    botocore_client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name="us-east-1",
        config=BOTO_CONFIG,
    )

    progress("presigner: attache_core.sigv4")
    attache_us, attache_n = _best_us(
        timeit.Timer(
            lambda: presigner.presign_put(
                S3_BUCKET, KEY, expires_in=EXPIRES, content_type=CONTENT_TYPE, content_length=SIZE
            )
        ),
        opts,
    )
    progress("presigner: botocore (sync client)")
    botocore_us, botocore_n = _best_us(
        timeit.Timer(
            lambda: botocore_client.generate_presigned_url(
                "put_object", Params=PARAMS, ExpiresIn=EXPIRES
            )
        ),
        opts,
    )
    progress("presigner: aioboto3")
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name="us-east-1",
        config=BOTO_CONFIG,
    ) as client:
        await client.generate_presigned_url("put_object", Params=PARAMS, ExpiresIn=EXPIRES)
        aioboto3_us = await _aioboto3_best_us(client, opts, botocore_n)

    result = {
        "description": "per-URL CPU cost of a presigned PutObject URL (Content-Type and "
        "Content-Length signed), in-process, best of "
        f"{opts.timeit_repeat} timeit repeats",
        "attache_sigv4_us": round(attache_us, 2),
        "botocore_us": round(botocore_us, 2),
        "aioboto3_us": round(aioboto3_us, 2),
        "ratio_aioboto3_to_attache": ratio(aioboto3_us, attache_us),
        "ratio_botocore_to_attache": ratio(botocore_us, attache_us),
        "same_url_as_botocore": _same_url(endpoint, presigner, botocore_client),
        "calls_per_repeat": {"attache": attache_n, "botocore": botocore_n, "aioboto3": botocore_n},
    }
    progress(
        f"  attache {attache_us:.1f} µs, botocore {botocore_us:.1f} µs, "
        f"aioboto3 {aioboto3_us:.1f} µs per URL"
    )
    return result
