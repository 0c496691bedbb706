"""POST /api/v1/storage/upload (seed 001): key layout, allowlist, the ApiResponse envelope,
and S3 failing in the middle of a request."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re

import aiohttp
import asyncpg
import pytest

from attache_devstack.samples import make_pdf, make_png
from attache_devstack.seaweedfs import SeaweedFS

PNG = make_png(16, 16)


@pytest.fixture
async def customer(stack, http, org):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Storage Customer", "email": "s@example.com"},
    ) as resp:
        return (await resp.json())["id"]


def storage_form(data: bytes, filename: str, fields: dict[str, str], *, file_first: bool = False):
    body = aiohttp.FormData(quote_fields=False)
    if not file_first:
        for k, v in fields.items():
            body.add_field(k, v)
    body.add_field(
        "file", io.BytesIO(data), filename=filename, content_type="application/octet-stream"
    )
    if file_first:
        for k, v in fields.items():
            body.add_field(k, v)
    return body


async def post(stack, http, org, data, filename, fields, *, url=None, file_first=False, auth=None):
    async with http.post(
        f"{url or stack.gateway_url}/api/v1/storage/upload",
        headers=auth if auth is not None else stack.auth(org=org),
        data=storage_form(data, filename, fields, file_first=file_first),
    ) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("file_first", [False, True])
async def test_upload_returns_the_envelope_and_the_documented_key(
    stack, http, org, customer, file_first
):
    fields = {
        "category": "image",
        "action": "upload",
        "customerId": customer,
        "userSettings": json.dumps({"theme": "dark"}),
    }
    status, body = await post(stack, http, org, PNG, "my photo.png", fields, file_first=file_first)
    assert status == 200, body
    assert (
        body["code"] == 200
        and body["success"] is True
        and body["message"] == "File uploaded successfully"
    )
    assert re.fullmatch(r"\d{8}_[0-9a-f]{8}_my_photo\.png", body["data"]["filename"])
    assert body["data"]["url"] == body["data"]["result"]
    assert f"/{customer}/assets/chat/1/{body['data']['filename']}" in body["data"]["url"]
    assert body["meta"] == {
        "category": "image",
        "action": "upload",
        "extension": "png",
        "content_type": "image/png",
    }
    async with http.get(body["data"]["url"]) as resp:
        assert resp.status == 200 and await resp.read() == PNG


async def test_force_filename_keeps_the_name_and_refuses_to_overwrite(stack, http, org, customer):
    fields = {
        "category": "image",
        "action": "upload",
        "customerId": customer,
        "userInput": json.dumps({"force_filename": True}),
    }
    status, body = await post(stack, http, org, PNG, "avatar.png", fields)
    assert status == 200, body
    assert body["data"]["filename"] == "avatar.png"
    status, body = await post(stack, http, org, make_png(4, 4), "avatar.png", fields)
    assert status == 409 and body["success"] is False


@pytest.mark.parametrize(
    "data, filename, fields, field",
    [
        (PNG, "x.png", {"userInput": "{broken"}, "userInput"),
        (PNG, "x.png", {"assetInput": "[]"}, "assetInput"),
        (PNG, "x.exe", {}, "file"),
        (PNG, "x.svg", {}, "file"),
        (b"", "x.png", {}, "file"),
        (b"<html><script>alert(1)</script></html>", "x.png", {}, "file"),
        (PNG, "x.png", {"category": ""}, "category"),
        (PNG, "x.png", {"customerId": "123"}, "customerId"),
    ],
)
async def test_bad_requests_are_400_in_the_envelope(
    stack, http, org, customer, data, filename, fields, field
):
    base = {"category": "image", "action": "upload", "customerId": customer}
    status, body = await post(stack, http, org, data, filename, {**base, **fields})
    assert status == 400, body
    assert body["code"] == 400 and body["success"] is False and body["data"] is None
    assert field in body["meta"]["details"]


async def test_auth_and_tenancy_errors_use_the_envelope_too(stack, http, org, customer):
    fields = {"category": "image", "action": "upload", "customerId": customer}
    status, body = await post(stack, http, org, PNG, "a.png", fields, auth={})
    assert status == 401 and body["success"] is False and body["code"] == 401
    status, body = await post(stack, http, "org-other", PNG, "a.png", fields)
    assert status == 404 and body["success"] is False


async def test_s3_stopped_mid_request_is_502_and_nothing_is_recorded(
    stack, http, org, customer, gateway_with, tmp_path, database_url
):
    """A gateway on its own SeaweedFS, killed while the body is still streaming."""
    s3 = SeaweedFS(
        tmp_path / "s3",
        stack.settings.s3_access_key,
        stack.settings.s3_secret_key.get_secret_value(),
    )
    s3.start()
    try:
        _, url = await gateway_with(stack, s3_endpoint_url=s3.endpoint_url)
        first_part_sent = asyncio.Event()
        data = make_pdf("doomed") + os.urandom(20 * 1024 * 1024)

        async def body():
            for i in range(0, len(data), 1024 * 1024):
                if i == 10 * 1024 * 1024:
                    first_part_sent.set()
                    await asyncio.sleep(0)
                    s3.stop()  # storage dies between two chunks
                yield data[i : i + 1024 * 1024]

        form = aiohttp.FormData(quote_fields=False)
        for k, v in {"category": "doc", "action": "upload", "customerId": customer}.items():
            form.add_field(k, v)
        form.add_field("file", body(), filename="doomed.pdf", content_type="application/pdf")
        async with http.post(
            f"{url}/api/v1/storage/upload", headers=stack.auth(org=org), data=form
        ) as resp:
            assert resp.status == 502
            envelope = await resp.json()
        assert envelope["success"] is False and envelope["code"] == 502
        conn = await asyncpg.connect(database_url)
        try:
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM catalog.attachments WHERE org_id = $1", org
                )
                == 0
            )
        finally:
            await conn.close()
    finally:
        s3.stop()
