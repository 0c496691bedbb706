"""BlobStore.probe against real SeaweedFS, checked against what botocore itself reads."""

from __future__ import annotations

import uuid

import pytest
from aiohttp import web

from attache_core.errors import UpstreamFailed
from attache_core.s3 import BlobStore, ObjectHead, open_blob_store
from attache_core.settings import CommonSettings

BUCKET = "attache-probe-test"


@pytest.fixture
async def blobs(base_settings):
    async with open_blob_store(CommonSettings(**base_settings)) as store:
        await store.ensure_bucket(BUCKET)
        yield store


async def put(blobs: BlobStore, key: str, data: bytes, content_type: str) -> None:
    await blobs.client.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType=content_type)


async def botocore_probe(blobs: BlobStore, key: str, length: int) -> tuple[ObjectHead, bytes]:
    """What the same ranged GET gives through botocore."""
    resp = await blobs.client.get_object(Bucket=BUCKET, Key=key, Range=f"bytes=0-{length - 1}")
    async with resp["Body"] as body:
        prefix = await body.read()
    size = int(resp["ContentRange"].rsplit("/", 1)[1])
    return ObjectHead(size, resp.get("ContentType"), resp.get("ETag")), prefix


@pytest.mark.parametrize(
    "name",
    ["report.pdf", "Résumé final (2).pdf", "a b/c+d%20e?f#g&h.pdf", "日本語.txt"],
)
@pytest.mark.parametrize("size", [1, 100, 16384, 100_000])
async def test_probe_reads_what_botocore_reads(blobs, name, size):
    key = f"probe/{uuid.uuid4()}/{name}"
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    await put(blobs, key, data, "application/pdf")
    probed = await blobs.probe(BUCKET, key, 4096)
    assert probed == await botocore_probe(blobs, key, 4096)
    head, prefix = probed
    assert head.size == size and prefix == data[:4096] and head.etag


async def test_probe_of_a_missing_object_is_none(blobs):
    assert await blobs.probe(BUCKET, f"probe/{uuid.uuid4()}/never.pdf", 4096) is None


async def test_probe_of_an_empty_object_has_size_zero(blobs):
    key = f"probe/{uuid.uuid4()}/empty.pdf"
    await put(blobs, key, b"", "application/pdf")
    head, prefix = await blobs.probe(BUCKET, key, 4096)
    assert head.size == 0 and prefix == b""


async def _serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def fake_s3(base_settings):
    """A BlobStore whose direct requests go to a local server answering as told."""
    answers: list[web.Response] = []
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Range", ""))
        return answers.pop(0)

    runner, url = await _serve(handler)
    settings = CommonSettings(**{**base_settings, "s3_endpoint_url": url})
    async with open_blob_store(settings) as store:
        yield store, answers, seen
    await runner.cleanup()


async def test_probe_retries_a_server_error_then_reads(fake_s3):
    store, answers, seen = fake_s3
    answers += [
        web.Response(status=503),
        web.Response(status=500),
        web.Response(
            status=206,
            body=b"%PDF-",
            headers={"Content-Range": "bytes 0-4/999", "ETag": '"abc"'},
            content_type="application/pdf",
        ),
    ]
    head, prefix = await store.probe(BUCKET, "k.pdf", 5)
    assert (head.size, head.etag, head.content_type, prefix) == (
        999,
        '"abc"',
        "application/pdf",
        b"%PDF-",
    )
    assert seen == ["bytes=0-4"] * 3


async def test_probe_gives_up_after_three_server_errors(fake_s3):
    store, answers, _ = fake_s3
    answers += [web.Response(status=503) for _ in range(3)]
    with pytest.raises(UpstreamFailed):
        await store.probe(BUCKET, "k.pdf", 5)


async def test_probe_refused_by_the_store_is_upstream_failed(fake_s3):
    store, answers, _ = fake_s3
    answers.append(web.Response(status=403, text="SignatureDoesNotMatch"))
    with pytest.raises(UpstreamFailed):
        await store.probe(BUCKET, "k.pdf", 5)


async def test_a_store_ignoring_the_range_is_read_only_as_far_as_needed(fake_s3):
    store, answers, _ = fake_s3
    answers.append(web.Response(status=200, body=b"0123456789" * 1000))
    head, prefix = await store.probe(BUCKET, "k.bin", 16)
    assert head.size == 10_000 and prefix == b"0123456789012345"


async def _ok(_request: web.Request) -> web.Response:
    return web.Response()


async def test_an_unreachable_store_is_upstream_failed(base_settings):
    runner, url = await _serve(_ok)
    await runner.cleanup()  # nothing listens there any more
    settings = CommonSettings(**{**base_settings, "s3_endpoint_url": url})
    async with open_blob_store(settings) as store:
        with pytest.raises(UpstreamFailed):
            await store.probe(BUCKET, "k.pdf", 5)
