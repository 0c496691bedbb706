"""The files API (seed 002): streamed uploads, downloads with Range, lists, delete, expiry."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from attache_devstack.samples import make_pdf, make_png
from attache_devstack.waiting import eventually
from attache_gateway.files import sweep_due_files
from attache_gateway.keys import BLOBS, CATALOG

PDF = make_pdf("Invoice INV-1 total 10.00 EUR")


@pytest.fixture
async def customer(stack, http, org):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Files Customer", "email": "files@example.com"},
    ) as resp:
        assert resp.status == 201
        return (await resp.json())["id"]


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def form(
    data: bytes,
    filename: str,
    *,
    fields: dict[str, str] | None = None,
    file_first: bool = False,
    content_type: str = "application/octet-stream",
) -> aiohttp.FormData:
    body = aiohttp.FormData(quote_fields=False)  # raw names, as curl and browsers send them
    items = list((fields or {}).items())
    if not file_first:
        for name, value in items:
            body.add_field(name, value)
    body.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    if file_first:
        for name, value in items:
            body.add_field(name, value)
    return body


async def upload(stack, http, org, data=PDF, filename="invoice.pdf", **kwargs):
    auth = kwargs.pop("auth", None) or stack.auth(org=org)
    url = kwargs.pop("url", None) or stack.gateway_url
    async with http.post(
        f"{url}/files/upload", headers=auth, data=form(data, filename, **kwargs)
    ) as resp:
        return resp.status, await resp.json()


async def objects(stack, bucket) -> list[str]:
    blobs = stack.gateway_app[BLOBS]
    listing = await blobs.client.list_objects_v2(Bucket=bucket)
    # The enricher writes thumbnails beside earlier uploads at its own pace: not this test's.
    derived = (".thumbnail.webp", ".medium.webp")
    return [o["Key"] for o in listing.get("Contents", []) if not o["Key"].endswith(derived)]


async def test_upload_download_list_delete(stack, http, org, customer, db):
    status, record = await upload(
        stack,
        http,
        org,
        fields={
            "file_type": "document",
            "customer_id": customer,
            "service_id": "svc-9",
            "metadata": json.dumps({"source": "manual_upload"}),
        },
    )
    assert status == 201, record
    assert record["filename"] == "invoice.pdf" and record["file_size"] == len(PDF)
    assert record["mime_type"] == "application/pdf" and record["file_type"] == "document"
    assert record["upload_status"] == "completed" and record["customer_id"] == customer
    assert record["metadata"] == {"source": "manual_upload"} and record["service_id"] == "svc-9"
    assert record["checksums"] == {
        "md5": hashlib.md5(PDF).hexdigest(),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    assert record["bucket"] == stack.settings.s3_bucket
    async with http.get(record["url"]) as resp:  # the presigned URL, no token
        assert resp.status == 200 and await resp.read() == PDF

    headers = stack.auth(org=org)
    async with http.get(
        f"{stack.gateway_url}/files/download/{record['id']}", headers=headers
    ) as resp:
        assert resp.status == 200
        assert await resp.read() == PDF
        assert resp.headers["Content-Type"] == "application/pdf"
        assert resp.headers["Content-Length"] == str(len(PDF))
        assert resp.headers["ETag"]
        assert resp.headers["Content-Disposition"].startswith('attachment; filename="invoice.pdf"')
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    async with http.get(
        f"{stack.gateway_url}/files/download/{record['id']}",
        headers={**headers, "Range": "bytes=0-7"},
    ) as resp:
        assert resp.status == 206
        assert await resp.read() == PDF[:8]
        assert resp.headers["Content-Range"] == f"bytes 0-7/{len(PDF)}"
    async with http.get(
        f"{stack.gateway_url}/files/download/{record['id']}",
        headers={**headers, "Range": f"bytes={len(PDF) + 10}-"},
    ) as resp:
        assert resp.status == 416

    async with http.get(f"{stack.gateway_url}/files/customer/{customer}", headers=headers) as resp:
        assert resp.status == 200
        assert [f["id"] for f in await resp.json()] == [record["id"]]

    async with http.delete(f"{stack.gateway_url}/files/{record['id']}", headers=headers) as resp:
        assert resp.status == 204
    async with http.get(
        f"{stack.gateway_url}/files/download/{record['id']}", headers=headers
    ) as resp:
        assert resp.status == 404
    async with http.delete(f"{stack.gateway_url}/files/{record['id']}", headers=headers) as resp:
        assert resp.status == 404
    assert (
        await stack.gateway_app[BLOBS].head(
            record["bucket"], f"orgs/{org}/files/{record['id']}/invoice.pdf"
        )
        is None
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM catalog.attachments WHERE id = $1", uuid.UUID(record["id"])
        )
        == 0
    )
    events = await db.fetch(
        "SELECT envelope->'data'->>'reason' AS reason FROM catalog.outbox"
        " WHERE event_type = 'attachment.deleted' AND envelope->>'subject' = $1",
        record["id"],
    )
    assert [e["reason"] for e in events] == ["deleted"]


async def test_ticket_media_and_csv_go_to_their_buckets(stack, http, org, customer):
    status, media = await upload(
        stack,
        http,
        org,
        make_png(8, 8),
        "screen.png",
        fields={"ticket_id": "T-100", "customer_id": customer},
    )
    assert status == 201, media
    assert media["bucket"] == stack.settings.bucket_ticket_media and media["file_type"] == "image"
    status, csv = await upload(
        stack,
        http,
        org,
        b"full_name,email\nA,a@example.com\n",
        "c.csv",
        fields={"file_type": "csv"},
    )
    assert status == 201, csv
    assert csv["bucket"] == stack.settings.bucket_csv_imports
    async with http.get(
        f"{stack.gateway_url}/files/ticket/T-100", headers=stack.auth(org=org)
    ) as resp:
        assert [f["id"] for f in await resp.json()] == [media["id"]]
    async with http.get(
        f"{stack.gateway_url}/files/ticket/T-100", headers=stack.auth(org="org-other")
    ) as resp:
        assert await resp.json() == []


async def test_fields_after_the_file_still_place_it(stack, http, org, customer):
    status, record = await upload(
        stack,
        http,
        org,
        make_png(),
        "late.png",
        file_first=True,
        fields={"ticket_id": "T-7", "customer_id": customer},
    )
    assert status == 201, record
    assert record["bucket"] == stack.settings.bucket_ticket_media
    assert not any("late.png" in k for k in await objects(stack, stack.settings.s3_bucket))


async def test_large_body_streams_in_parts_with_checksums(stack, http, org):
    data = make_pdf("big") + os.urandom(12 * 1024 * 1024)  # > one 8 MiB part: multipart path
    status, record = await upload(stack, http, org, data, "big.pdf")
    assert status == 201, record
    assert record["file_size"] == len(data)
    assert record["checksums"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["checksums"]["md5"] == hashlib.md5(data).hexdigest()
    async with http.get(
        f"{stack.gateway_url}/files/download/{record['id']}", headers=stack.auth(org=org)
    ) as resp:
        assert hashlib.sha256(await resp.read()).hexdigest() == record["checksums"]["sha256"]


@pytest.mark.parametrize(
    "data, filename, status, field",
    [
        (b"", "empty.pdf", 400, "file"),
        (PDF, "invoice.pdf.exe", 400, "file"),
        (PDF, "noextension", 400, "file"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "invoice.pdf", 415, "file"),
        (b"MZ\x90\x00" + b"\x00" * 200, "setup.pdf", 415, "file"),
    ],
)
async def test_refused_files_leave_nothing(stack, http, org, data, filename, status, field):
    before = await objects(stack, stack.settings.s3_bucket)
    got, body = await upload(stack, http, org, data, filename)
    assert got == status, body
    assert field in body["details"]
    assert await objects(stack, stack.settings.s3_bucket) == before


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"metadata": "{not json"}, "metadata"),
        ({"metadata": "[1, 2]"}, "metadata"),
        ({"expires_at": "yesterday"}, "expires_at"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"customer_id": "42"}, "customer_id"),
        ({"unknown": "x"}, "unknown"),
    ],
)
async def test_bad_fields_are_400_and_leave_no_object(stack, http, org, fields, field):
    before = await objects(stack, stack.settings.s3_bucket)
    status, body = await upload(stack, http, org, fields=fields)
    assert status == 400, body
    assert field in body["details"]
    assert await objects(stack, stack.settings.s3_bucket) == before


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("inv\u202egpj.pdf", "invgpj.pdf"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
    ],
)
async def test_hostile_filenames_are_neutralised(stack, http, org, raw, stored):
    status, record = await upload(stack, http, org, filename=raw)
    assert status == 201, record
    assert record["filename"] == stored


async def test_nul_in_a_filename_is_a_clear_400(stack, http, org):
    """A NUL in a part header (aiohttp's own client refuses to send one): malformed, refused."""
    boundary = "attacheboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="nul\x00byte.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + PDF
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {**stack.auth(org=org), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    before = await objects(stack, stack.settings.s3_bucket)
    async with http.post(f"{stack.gateway_url}/files/upload", headers=headers, data=body) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"].startswith("Malformed multipart body")
    assert await objects(stack, stack.settings.s3_bucket) == before


async def test_body_over_the_limit_is_413_and_leaves_nothing(stack, http, org, gateway_with, db):
    _, url = await gateway_with(stack, max_file_bytes=6 * 1024 * 1024)
    before = await objects(stack, stack.settings.s3_bucket)
    data = make_pdf("too big") + os.urandom(7 * 1024 * 1024)

    async def body():  # chunked, no Content-Length: the limit must be found while streaming
        for i in range(0, len(data), 256 * 1024):
            yield data[i : i + 256 * 1024]

    payload = aiohttp.FormData()
    payload.add_field("file", body(), filename="big.pdf", content_type="application/pdf")
    async with http.post(f"{url}/files/upload", headers=stack.auth(org=org), data=payload) as resp:
        assert resp.status == 413
    assert await objects(stack, stack.settings.s3_bucket) == before
    uploads = await stack.gateway_app[BLOBS].client.list_multipart_uploads(
        Bucket=stack.settings.s3_bucket
    )
    assert not [u for u in uploads.get("Uploads", []) if "big.pdf" in u["Key"]]
    assert await db.fetchval("SELECT count(*) FROM catalog.attachments WHERE org_id = $1", org) == 0


async def test_other_tenants_and_customers_get_404(stack, http, org, customer):
    status, record = await upload(stack, http, org, fields={"customer_id": customer})
    assert status == 201
    intruder = stack.auth(org="org-intruder")
    other_customer = stack.auth(org=org, roles=("customer",), customer_id=str(uuid.uuid4()))
    for headers in (intruder, other_customer):
        async with http.get(
            f"{stack.gateway_url}/files/download/{record['id']}", headers=headers
        ) as resp:
            assert resp.status == 404
        async with http.delete(
            f"{stack.gateway_url}/files/{record['id']}", headers=headers
        ) as resp:
            assert resp.status == 404
        async with http.get(
            f"{stack.gateway_url}/files/customer/{customer}", headers=headers
        ) as resp:
            assert resp.status == 404
    own = stack.auth(org=org, roles=("customer",), customer_id=customer)
    async with http.get(f"{stack.gateway_url}/files/download/{record['id']}", headers=own) as resp:
        assert resp.status == 200
    # A customer uploading for another customer: 404, nothing stored.
    status, _ = await upload(
        stack, http, org, auth=other_customer, fields={"customer_id": customer}
    )
    assert status == 404


async def test_expired_files_are_swept_and_announced(stack, http, org, db):
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    status, record = await upload(stack, http, org, fields={"expires_at": soon})
    assert status == 201 and record["expires_at"]
    await db.execute(
        "UPDATE catalog.attachments SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(record["id"]),
    )
    async with http.get(
        f"{stack.gateway_url}/files/download/{record['id']}", headers=stack.auth(org=org)
    ) as resp:
        assert resp.status == 404  # past its expiry: never served, even before the sweep

    # Sweeps are global: another sweeper (the stack's own) may hold this row for a moment.
    async def swept():
        await sweep_due_files(stack.gateway_app[CATALOG], stack.gateway_app[BLOBS])
        return not await db.fetchval(
            "SELECT count(*) FROM catalog.attachments WHERE id = $1", uuid.UUID(record["id"])
        )

    await eventually(swept)
    reason = await db.fetchval(
        "SELECT envelope->'data'->>'reason' FROM catalog.outbox"
        " WHERE event_type = 'attachment.deleted' AND envelope->>'subject' = $1",
        record["id"],
    )
    assert reason == "expired"


async def test_sweepers_on_two_replicas_share_the_work(stack, http, org, db, gateway_with):
    ids = []
    for i in range(6):
        status, record = await upload(
            stack,
            http,
            org,
            filename=f"f{i}.pdf",
            fields={"expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        )
        ids.append(uuid.UUID(record["id"]))
    await db.execute(
        "UPDATE catalog.attachments SET expires_at = now() - interval '1 second' WHERE id = ANY($1)",
        ids,
    )
    other_app, _ = await gateway_with(stack)
    await asyncio.gather(
        sweep_due_files(stack.gateway_app[CATALOG], stack.gateway_app[BLOBS], batch=2),
        sweep_due_files(other_app[CATALOG], other_app[BLOBS], batch=2),
    )
    assert (
        await db.fetchval("SELECT count(*) FROM catalog.attachments WHERE id = ANY($1)", ids) == 0
    )
    # Each file announced exactly once, whichever replica swept it.
    rows = await db.fetch(
        "SELECT envelope->>'subject' AS id, count(*) AS n FROM catalog.outbox"
        " WHERE event_type = 'attachment.deleted' AND (envelope->>'subject')::uuid = ANY($1) GROUP BY 1",
        ids,
    )
    assert sorted(r["id"] for r in rows) == sorted(map(str, ids))
    assert {r["n"] for r in rows} == {1}
