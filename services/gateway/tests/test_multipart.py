"""Multipart uploads of large files against real SeaweedFS, PostgreSQL and the catalog.

A second gateway runs with 5 MiB parts (S3's minimum for every part but the last,
which SeaweedFS enforces at complete with EntityTooSmall), so files of a few parts
stay small.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from attache_core.errors import Conflict, InvalidInput, Unprocessable
from attache_devstack.samples import make_pdf
from attache_devstack.waiting import eventually
from attache_gateway.app import create_app
from attache_gateway.keys import BLOBS, POOL
from attache_gateway.multipart import abort_orphaned_uploads
from attache_gateway.multipart_domain import (
    MIB,
    S3_MAX_OBJECT_BYTES,
    S3_MAX_PART_BYTES,
    S3_MAX_PARTS,
    CompletedPart,
    StoredPart,
    choose_parts,
    number_ranges,
    part_count,
    plan_part_size,
)
from attache_gateway.multipart_storage import abort_upload
from attache_gateway.settings import GatewaySettings
from attache_gateway.sweeper import run_sweeper, sweep_expired_uploads

PART = 5 * MIB
PDF = make_pdf("Annual report, all of it")
HTML = b"<!DOCTYPE html><html><head><script>alert(1)</script></head><body>hi</body></html>"


def pdf_of(size: int) -> bytes:
    """A PDF header and `size` bytes in all: libmagic judges by the first bytes."""
    return PDF + os.urandom(size - len(PDF))


def part_of(data: bytes, number: int, part_size: int = PART) -> bytes:
    return data[(number - 1) * part_size : number * part_size]


# ---- the gateway under test, and its HTTP calls ---------------------------------------------


@dataclass
class Gateway:
    url: str
    app: web.Application
    settings: GatewaySettings


@pytest.fixture(scope="module")
async def gateway(stack, base_settings):
    settings = GatewaySettings(
        **base_settings, catalog_url=stack.catalog_url, multipart_part_size_bytes=PART
    )
    app = create_app(settings, background=False)  # the tests run the sweeper themselves
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield Gateway(f"http://127.0.0.1:{port}", app, settings)
    # Leave no incomplete upload behind in the shared test bucket.
    async with app[POOL].acquire() as conn:
        for row in await conn.fetch(
            "SELECT bucket, object_key, s3_upload_id FROM gateway.upload_sessions"
            " WHERE s3_upload_id IS NOT NULL AND status = 'pending'"
        ):
            await abort_upload(app[BLOBS], row["bucket"], row["object_key"], row["s3_upload_id"])
    await runner.cleanup()


@pytest.fixture
async def customer(stack, http, org):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Ada Lovelace", "email": "ada@example.com"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        return (await resp.json())["id"]


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@dataclass
class Client:
    """One API client of one tenant (its own HTTP session, like a separate process)."""

    http: aiohttp.ClientSession
    base: str
    headers: dict[str, str]

    async def call(self, method: str, path: str, json=None) -> tuple[int, dict | None]:
        async with self.http.request(
            method, self.base + path, headers=self.headers, json=json
        ) as resp:
            body = await resp.json() if resp.status != 204 else None
            return resp.status, body

    async def start(self, size: int, content_type="application/pdf", filename="large.pdf"):
        body = {"filename": filename, "content_type": content_type, "size": size}
        return await self.call("POST", "/multipart", body)

    async def sign(self, upload_id: str, numbers: list[int]):
        return await self.call("POST", f"/multipart/{upload_id}/parts", {"part_numbers": numbers})

    async def state(self, upload_id: str):
        return await self.call("GET", f"/multipart/{upload_id}/parts")

    async def complete(self, upload_id: str, parts: list[dict] | None = None):
        return await self.call(
            "POST", f"/multipart/{upload_id}/complete", None if parts is None else {"parts": parts}
        )

    async def abort(self, upload_id: str):
        return await self.call("DELETE", f"/multipart/{upload_id}")

    async def upload(self, upload_id: str, data: bytes, numbers: list[int]) -> dict[int, str]:
        """PUTs these parts of `data` to S3 through signed URLs; their ETags."""
        status, signed = await self.sign(upload_id, numbers)
        assert status == 200, signed
        etags = {}
        for part in signed["parts"]:
            chunk = part_of(data, part["part_number"])
            assert part["size"] == len(chunk)
            # No Authorization header: the URL is the credential.
            async with self.http.put(part["url"], data=io.BytesIO(chunk)) as resp:
                assert resp.status == 200, await resp.text()
                etags[part["part_number"]] = resp.headers["ETag"]
        return etags


def client(http, gateway, stack, org, customer, **auth) -> Client:
    return Client(
        http, f"{gateway.url}/v1/customers/{customer}/attachments", stack.auth(org=org, **auth)
    )


async def s3_upload_ids(gateway) -> set[str]:
    paginator = gateway.app[BLOBS].client.get_paginator("list_multipart_uploads")
    return {
        u["UploadId"]
        async for page in paginator.paginate(Bucket=gateway.settings.s3_bucket)
        for u in page.get("Uploads", [])
    }


async def s3_upload_id(db, upload_id: str) -> str:
    return await db.fetchval(
        "SELECT s3_upload_id FROM gateway.upload_sessions WHERE id = $1", uuid.UUID(upload_id)
    )


async def attachments_of(db, org: str) -> int:
    return await db.fetchval("SELECT count(*) FROM catalog.attachments WHERE org_id = $1", org)


# ---- the part arithmetic (no I/O) -----------------------------------------------------------


@pytest.mark.parametrize("size", [1, PART, 100 * MIB + 1, 1024**4, S3_MAX_OBJECT_BYTES])
def test_part_plan_fits_s3_limits(size):
    part_size = plan_part_size(size, 16 * MIB)
    assert 16 * MIB <= part_size <= S3_MAX_PART_BYTES
    assert part_size % MIB == 0
    assert 1 <= part_count(size, part_size) <= S3_MAX_PARTS
    assert part_count(size, part_size) * part_size >= size


def test_number_ranges():
    assert number_ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert number_ranges([4]) == "4"


def _part(number, size, etag, second):
    return StoredPart(number, size, f'"{etag}"', datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC))


def test_newest_version_of_a_reuploaded_part_is_chosen_and_a_tie_is_a_conflict():
    # SeaweedFS lists every upload of a part number, in no particular order.
    stored = [_part(2, 50, "new", 9), _part(1, 100, "a", 1), _part(2, 50, "old", 3)]
    chosen = choose_parts(stored, size=150, part_size=100, requested=None)
    assert [p.etag for p in chosen] == ['"a"', '"new"']
    # The client's ETags pick versions explicitly (with or without quotes).
    requested = [CompletedPart(part_number=1, etag="a"), CompletedPart(part_number=2, etag="OLD")]
    chosen = choose_parts(stored, size=150, part_size=100, requested=requested)
    assert [p.etag for p in chosen] == ['"a"', '"old"']
    # Two uploads in the same second: one of the wrong size can't be meant...
    stored.append(_part(2, 49, "short", 9))
    chosen = choose_parts(stored, size=150, part_size=100, requested=None)
    assert [p.etag for p in chosen] == ['"a"', '"new"']
    # ...but between two that fit, only the client can tell.
    stored.append(_part(2, 50, "other", 9))
    with pytest.raises(Conflict):
        choose_parts(stored, size=150, part_size=100, requested=None)


def test_parts_missing_or_of_the_wrong_size_are_named():
    stored = [_part(1, 100, "a", 1), _part(3, 99, "c", 1), _part(4, 7, "d", 1)]
    with pytest.raises(Unprocessable) as caught:
        choose_parts(stored, size=350, part_size=100, requested=None)
    assert caught.value.details == {
        "missing_parts": "2",
        "wrong_size": "part 3 is 99 bytes, expected 100; part 4 is 7 bytes, expected 50",
    }
    with pytest.raises(InvalidInput):  # a list that isn't 1..part_count
        choose_parts(
            stored,
            size=350,
            part_size=100,
            requested=[CompletedPart(part_number=1, etag="a")],
        )


# ---- presign points large files here --------------------------------------------------------


async def test_presign_refers_files_over_the_threshold_to_multipart(stack, http, org, customer):
    threshold = stack.settings.multipart_threshold_bytes
    assert threshold == 100 * MIB
    url = f"{stack.gateway_url}/v1/customers/{customer}/attachments/presign"
    for size, expected in ((threshold, 200), (threshold + 1, 400)):
        body = {"filename": "large.pdf", "content_type": "application/pdf", "size": size}
        async with http.post(url, headers=stack.auth(org=org), json=body) as resp:
            assert resp.status == expected, await resp.text()
            answer = await resp.json()
    assert f"/v1/customers/{customer}/attachments/multipart" in answer["error"]
    assert answer["code"] == "invalid_input" and "size" in answer["details"]


# ---- the flow ---------------------------------------------------------------------------------


async def test_upload_resumed_by_another_client_completes_and_registers(
    stack, gateway, org, customer, db
):
    data = pdf_of(3 * PART + 1234)
    async with aiohttp.ClientSession() as http_a:
        a = client(http_a, gateway, stack, org, customer)
        status, started = await a.start(len(data), filename="annual report.pdf")
        assert status == 201, started
        assert (started["part_size"], started["part_count"]) == (PART, 4)
        assert datetime.fromisoformat(started["expires_at"]) > datetime.now(UTC) + timedelta(
            hours=23
        )
        upload_id = started["upload_id"]
        first = await a.upload(upload_id, data, [1])
    # Client A is gone; client B knows only the upload id.
    async with aiohttp.ClientSession() as http_b:
        b = client(http_b, gateway, stack, org, customer)
        status, state = await b.state(upload_id)
        assert status == 200, state
        assert state["status"] == "pending"
        assert state["parts"] == [{"part_number": 1, "size": PART, "etag": first[1]}]
        assert state["missing_part_numbers"] == [2, 3, 4]
        await b.upload(upload_id, data, state["missing_part_numbers"])
        status, attachment = await b.complete(upload_id)
        assert status == 201, attachment
        assert attachment["id"] == upload_id
        assert attachment["object_key"] == started["object_key"]
        assert attachment["size_bytes"] == len(data)
        assert attachment["content_type"] == "application/pdf"
        assert attachment["filename"] == "annual report.pdf"

        status, state = await b.state(upload_id)
        assert (status, state["status"], state["parts"]) == (200, "confirmed", [])

    # The object is the file, byte for byte, with the declared type.
    blobs = gateway.app[BLOBS]
    head = await blobs.head(gateway.settings.s3_bucket, started["object_key"])
    assert (head.size, head.content_type) == (len(data), "application/pdf")
    digest = hashlib.sha256()
    async for chunk in blobs.iter_object(gateway.settings.s3_bucket, started["object_key"]):
        digest.update(chunk)
    assert digest.digest() == hashlib.sha256(data).digest()
    assert await s3_upload_id(db, upload_id) not in await s3_upload_ids(gateway)


async def test_complete_twice_gives_the_same_attachment_and_one_event(
    stack, gateway, http, org, customer, db
):
    data = pdf_of(PART + 10)
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(data))
    etags = await c.upload(started["upload_id"], data, [1, 2])
    parts = [{"part_number": n, "etag": etag} for n, etag in sorted(etags.items())]
    first_status, first = await c.complete(started["upload_id"], parts)
    second_status, second = await c.complete(started["upload_id"], parts)
    third_status, third = await c.complete(started["upload_id"])
    assert (first_status, second_status, third_status) == (201, 200, 200)
    identity = ("id", "object_key", "size_bytes", "created_at", "uploaded_by")
    assert {k: first[k] for k in identity} == {k: second[k] for k in identity}
    assert {k: first[k] for k in identity} == {k: third[k] for k in identity}
    events = await db.fetchval(
        "SELECT count(*) FROM catalog.outbox WHERE event_type = 'attachment.created'"
        " AND envelope->>'subject' = $1",
        first["id"],
    )
    assert events == 1
    # Finished: no more part URLs.
    status, body = await c.sign(started["upload_id"], [1])
    assert status == 409, body


async def test_complete_with_a_missing_part_registers_nothing_and_can_be_retried(
    stack, gateway, http, org, customer, db
):
    data = pdf_of(2 * PART + 99)
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(data))
    upload_id = started["upload_id"]
    await c.upload(upload_id, data, [1, 3])

    status, body = await c.complete(upload_id)
    assert status == 422, body
    assert body["details"] == {"missing_parts": "2"}
    assert await attachments_of(db, org) == 0

    # A part of the wrong size is refused too (S3 itself takes any size for any part).
    status, signed = await c.sign(upload_id, [2])
    async with http.put(signed["parts"][0]["url"], data=io.BytesIO(part_of(data, 2)[:-1])) as resp:
        assert resp.status == 200
    status, body = await c.complete(upload_id)
    assert status == 422, body
    assert body["details"] == {"wrong_size": f"part 2 is {PART - 1} bytes, expected {PART}"}
    _, state = await c.state(upload_id)
    assert state["missing_part_numbers"] == [2]

    # ETags the client sends must be those of uploaded parts.
    etags = await c.upload(upload_id, data, [2])
    status, body = await c.complete(
        upload_id,
        [
            {"part_number": 1, "etag": '"00000000000000000000000000000000"'},
            {"part_number": 2, "etag": etags[2]},
            {"part_number": 3, "etag": state["parts"][-1]["etag"]},
        ],
    )
    assert status == 422, body
    assert body["details"] == {"etag_mismatch": "1"}
    status, body = await c.complete(upload_id, [{"part_number": 1, "etag": etags[2]}])
    assert status == 400, body
    assert await attachments_of(db, org) == 0

    # Nothing was lost: with the part there, the same upload completes (the short version
    # of part 2 is still listed by SeaweedFS, but can't be the one meant).
    status, attachment = await c.complete(upload_id)
    assert status == 201, attachment
    assert attachment["size_bytes"] == len(data)
    assert await attachments_of(db, org) == 1


async def test_complete_recovers_an_upload_assembled_but_not_recorded(
    stack, gateway, http, org, customer, db
):
    # A complete that got S3 to assemble the object, then died before registering it.
    data = pdf_of(PART + 5)
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(data))
    etags = await c.upload(started["upload_id"], data, [1, 2])
    await gateway.app[BLOBS].client.complete_multipart_upload(
        Bucket=gateway.settings.s3_bucket,
        Key=started["object_key"],
        UploadId=await s3_upload_id(db, started["upload_id"]),
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in etags.items()]},
    )
    # S3 has forgotten the upload: nothing left to upload, complete finishes the job.
    _, state = await c.state(started["upload_id"])
    assert (state["status"], state["missing_part_numbers"]) == ("pending", [])
    status, attachment = await c.complete(started["upload_id"])
    assert status == 201, attachment
    assert attachment["size_bytes"] == len(data)


async def test_a_reuploaded_part_completes_with_the_version_the_client_names(
    stack, gateway, http, org, customer
):
    older, newer = b"first version of the notes\n", b"second version of the notes\n"[:27]
    assert len(older) == len(newer)
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(older), content_type="text/plain", filename="notes.txt")
    await c.upload(started["upload_id"], older, [1])
    etags = await c.upload(started["upload_id"], newer, [1])
    status, _ = await c.complete(started["upload_id"], [{"part_number": 1, "etag": etags[1]}])
    assert status == 201
    blobs = gateway.app[BLOBS]
    _, stored = await blobs.probe(gateway.settings.s3_bucket, started["object_key"], 100)
    assert stored == newer


def test_without_etags_the_newest_version_of_a_part_is_used_and_a_tie_is_a_conflict():
    """SeaweedFS lists every upload of a part number, timed in whole seconds."""
    from datetime import UTC, datetime, timedelta

    from attache_core.errors import Conflict
    from attache_gateway.multipart_domain import StoredPart, _latest

    t = datetime(2026, 1, 1, tzinfo=UTC)
    old = StoredPart(1, 10, '"a"', t)
    new = StoredPart(1, 10, '"b"', t + timedelta(seconds=1))
    assert _latest([new, old], 10) == new
    with pytest.raises(Conflict):
        _latest([old, StoredPart(1, 10, '"c"', t)], 10)


async def test_declared_pdf_that_is_html_is_rejected_and_deleted(
    stack, gateway, http, org, customer, db
):
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(HTML))
    await c.upload(started["upload_id"], HTML, [1])
    status, body = await c.complete(started["upload_id"])
    assert status == 422, body
    assert body["code"] == "upload_rejected" and "text/html" in body["error"]
    assert await attachments_of(db, org) == 0
    blobs = gateway.app[BLOBS]
    assert await blobs.head(gateway.settings.s3_bucket, started["object_key"]) is None
    status, body = await c.complete(started["upload_id"])
    assert (status, body["code"]) == (422, "upload_rejected")
    _, state = await c.state(started["upload_id"])
    assert state["status"] == "rejected"


async def test_abort_drops_the_upload(stack, gateway, http, org, customer, db):
    data = pdf_of(PART + 1)
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(data))
    upload_id = started["upload_id"]
    await c.upload(upload_id, data, [1])
    s3_id = await s3_upload_id(db, upload_id)
    assert s3_id in await s3_upload_ids(gateway)

    assert await c.abort(upload_id) == (204, None)
    assert s3_id not in await s3_upload_ids(gateway)
    assert await c.abort(upload_id) == (204, None)  # repeating it is harmless
    status, body = await c.sign(upload_id, [2])
    assert status == 409, body
    status, body = await c.complete(upload_id)
    assert status == 409, body
    _, state = await c.state(upload_id)
    assert state["status"] == "aborted"
    assert await attachments_of(db, org) == 0


async def test_a_completed_upload_cannot_be_aborted(stack, gateway, http, org, customer):
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(PDF))
    await c.upload(started["upload_id"], PDF, [1])
    assert (await c.complete(started["upload_id"]))[0] == 201
    status, body = await c.abort(started["upload_id"])
    assert status == 409, body


# ---- who may touch an upload --------------------------------------------------------------------


async def test_another_tenant_or_customer_gets_404(stack, gateway, http, org, customer):
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(PDF))
    upload_id = started["upload_id"]
    await c.upload(upload_id, PDF, [1])

    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Other", "email": "other@example.com"},
    ) as resp:
        other_customer = (await resp.json())["id"]
    intruders = [
        client(http, gateway, stack, "org-intruder", customer),
        # The right tenant, but the upload under another customer's path.
        client(http, gateway, stack, org, other_customer),
        # A customer-role token of another customer, in either path.
        client(
            http, gateway, stack, org, customer, roles=("customer",), customer_id=other_customer
        ),
    ]
    for intruder in intruders:
        assert (await intruder.state(upload_id))[0] == 404
        assert (await intruder.sign(upload_id, [1]))[0] == 404
        assert (await intruder.complete(upload_id))[0] == 404
        assert (await intruder.abort(upload_id))[0] == 404
    status, _ = await client(http, gateway, stack, "org-intruder", customer).start(len(PDF))
    assert status == 404
    assert (await c.state(str(uuid.uuid4())))[0] == 404
    assert (await c.state("not-a-uuid"))[0] == 404

    # The customer itself may finish its own upload.
    me = client(http, gateway, stack, org, customer, roles=("customer",), customer_id=customer)
    status, attachment = await me.complete(upload_id)
    assert status == 201, attachment


# ---- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": 0}, 400, "size"),
        (
            {"filename": "a.pdf", "content_type": "application/pdf", "size": 6 * 1024**4},
            400,
            "size",
        ),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": "1"}, 400, "size"),
        ({"filename": "../", "content_type": "application/pdf", "size": 1}, 400, "filename"),
        ({"filename": "a.html", "content_type": "text/html", "size": 1}, 415, "content_type"),
        ({"filename": "a.pdf", "content_type": "application/pdf"}, 400, "size"),
    ],
)
async def test_start_rejects_bad_input(stack, gateway, http, org, customer, body, status, field):
    c = client(http, gateway, stack, org, customer)
    got, answer = await c.call("POST", "/multipart", body)
    assert got == status, answer
    assert field in answer["details"]


async def test_part_numbers_are_checked(stack, gateway, http, org, customer):
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(2 * PART)
    upload_id = started["upload_id"]
    for numbers in ([], [0], [3], [10_001], list(range(1, 1002))):
        status, body = await c.sign(upload_id, numbers)
        assert status == 400, (numbers, body)
        assert "part_numbers" in str(body["details"])
    status, body = await c.sign(upload_id, [2, 1, 2])
    assert status == 200
    assert [(p["part_number"], p["size"]) for p in body["parts"]] == [(2, PART), (1, PART)]
    # Short-lived: never longer than a presigned PUT.
    ttl = datetime.fromisoformat(body["expires_at"]) - datetime.now(UTC)
    assert ttl <= timedelta(seconds=gateway.settings.upload_url_ttl_seconds)


async def test_an_expired_upload_is_410(stack, gateway, http, org, customer, db):
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(PDF))
    await c.upload(started["upload_id"], PDF, [1])
    await db.execute(
        "UPDATE gateway.upload_sessions SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(started["upload_id"]),
    )
    assert (await c.sign(started["upload_id"], [1]))[0] == 410
    assert (await c.complete(started["upload_id"]))[0] == 410
    _, state = await c.state(started["upload_id"])
    assert state["status"] == "expired"


# ---- the sweeper ---------------------------------------------------------------------------------
# The stack's own gateway runs a sweeper too (another replica, in effect): it may take a
# row or the scan lock first, so these tests wait for the outcome, not for a count.


async def sweep_until(gateway, outcome, *, orphans_older_than: timedelta | None = None):
    app, bucket = gateway.app, gateway.settings.s3_bucket

    async def swept():
        await sweep_expired_uploads(app[POOL], app[BLOBS])
        if orphans_older_than is not None:
            await abort_orphaned_uploads(
                app[POOL], app[BLOBS], bucket, older_than=orphans_older_than
            )
        return await outcome()

    await eventually(swept, within=10)


async def test_sweeper_aborts_expired_multipart_sessions(stack, gateway, http, org, customer, db):
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(PDF))
    await c.upload(started["upload_id"], PDF, [1])
    s3_id = await s3_upload_id(db, started["upload_id"])
    await db.execute(
        "UPDATE gateway.upload_sessions SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(started["upload_id"]),
    )

    async def gone():
        session = await s3_upload_id(db, started["upload_id"])
        return session is None and s3_id not in await s3_upload_ids(gateway)

    await sweep_until(gateway, gone)
    assert (await c.state(started["upload_id"]))[0] == 404


async def test_sweeper_aborts_stale_multipart_uploads_without_a_session(
    stack, gateway, http, org, customer, db
):
    blobs, bucket, pool = gateway.app[BLOBS], gateway.settings.s3_bucket, gateway.app[POOL]
    created = await blobs.client.create_multipart_upload(
        Bucket=bucket, Key=f"orphans/{uuid.uuid4()}/left-behind.bin"
    )
    orphan = created["UploadId"]
    # A live upload with a pending session is never the orphan scan's to abort.
    c = client(http, gateway, stack, org, customer)
    _, started = await c.start(len(PDF))
    await c.upload(started["upload_id"], PDF, [1])
    live = await s3_upload_id(db, started["upload_id"])

    # Too young to be stale: left alone.
    await abort_orphaned_uploads(pool, blobs, bucket, older_than=timedelta(hours=1))
    assert {orphan, live} <= await s3_upload_ids(gateway)

    async def orphan_gone():
        return orphan not in await s3_upload_ids(gateway)

    # A cut-off in the future makes every upload "old" without waiting for the clock
    # (S3 reports Initiated in whole seconds).
    await sweep_until(gateway, orphan_gone, orphans_older_than=timedelta(seconds=-5))
    assert live in await s3_upload_ids(gateway)
    status, attachment = await c.complete(started["upload_id"])
    assert status == 201, attachment


async def test_only_one_replica_scans_for_orphans_at_a_time(gateway, database_url):
    blobs, bucket, pool = gateway.app[BLOBS], gateway.settings.s3_bucket, gateway.app[POOL]
    created = await blobs.client.create_multipart_upload(Bucket=bucket, Key="orphans/x")
    orphan = created["UploadId"]
    # Another replica holds the scan lock: this one skips the round.
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            assert await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('gateway:multipart-orphan-scan'))"
            )
            # A cutoff in the future: every upload without a pending session is stale.
            assert (
                await abort_orphaned_uploads(pool, blobs, bucket, older_than=timedelta(seconds=-5))
                == 0
            )
            assert orphan in await s3_upload_ids(gateway)
    finally:
        await conn.close()

    async def orphan_gone():
        return orphan not in await s3_upload_ids(gateway)

    await sweep_until(gateway, orphan_gone, orphans_older_than=timedelta(seconds=-5))


async def test_the_sweeper_loop_aborts_orphans_in_every_bucket(gateway):
    blobs, pool = gateway.app[BLOBS], gateway.app[POOL]
    orphans = {}
    for bucket in gateway.settings.buckets:
        created = await blobs.client.create_multipart_upload(Bucket=bucket, Key="orphans/y")
        orphans[bucket] = created["UploadId"]
    sweeper = asyncio.create_task(
        run_sweeper(
            pool,
            blobs,
            0.05,
            multipart_buckets=gateway.settings.buckets,
            multipart_max_age=-5,  # a cutoff in the future: every orphan is stale
        )
    )
    try:

        async def all_gone():
            for bucket, upload_id in orphans.items():
                listed = await blobs.client.list_multipart_uploads(Bucket=bucket)
                if upload_id in {u["UploadId"] for u in listed.get("Uploads", [])}:
                    return False
            return True

        await eventually(all_gone, within=10)
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
