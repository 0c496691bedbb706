"""CSV customer imports end to end: upload, POST /files/csv-import, the importer worker,
GET /files/jobs — against the running stack (real PostgreSQL, RabbitMQ, SeaweedFS)."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from attache_core import messaging
from attache_core.db import create_pool, init_connection
from attache_core.s3 import open_blob_store
from attache_devstack.waiting import eventually
from attache_gateway.cleanup_jobs import sweep_and_record
from attache_gateway.keys import BLOBS, CATALOG
from attache_importer import job_store, worker
from attache_importer.imports import ImportContext
from attache_importer.passwords import PasswordHasher, ScryptCost, verify_password
from attache_importer.settings import ImporterSettings

SEED_CSV = (
    b"full_name,email,phone,address,city,state,postal_code,country,password\n"
    b"John Doe,john@example.com,1234567890,123 Main St,Anytown,CA,12345,USA,password123\n"
    b"Jane Smith,jane@example.com,0987654321,456 Oak Ave,Anytown,CA,12345,USA,password456\n"
)
TERMINAL = {"completed", "completed_with_errors", "failed"}


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)  # jsonb as Python objects
    yield conn
    await conn.close()


async def upload_csv(stack, http, org, data: bytes, filename: str = "customers.csv") -> str:
    form = aiohttp.FormData()
    form.add_field("file_type", "csv")
    form.add_field("file", io.BytesIO(data), filename=filename, content_type="text/csv")
    async with http.post(
        f"{stack.gateway_url}/files/upload", headers=stack.auth(org=org), data=form
    ) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return body["id"]


async def register_raw(stack, org, data: bytes, filename: str = "customers.csv") -> str:
    """A file the gateway's upload would refuse (empty, binary), put where an import reads."""
    file_id = str(uuid.uuid4())
    key = f"orgs/{org}/files/{file_id}/{filename}"
    await stack.gateway_app[BLOBS].client.put_object(
        Bucket="csv-imports", Key=key, Body=data, ContentType="text/csv"
    )
    await stack.gateway_app[CATALOG].register_attachment(
        f"Bearer {stack.token(org=org)}",
        {
            "id": file_id,
            "bucket": "csv-imports",
            "object_key": key,
            "filename": filename,
            "content_type": "text/csv",
            "size_bytes": len(data),
            "file_type": "csv",
        },
    )
    return file_id


async def start(stack, http, org, file_id: str, **options) -> str:
    async with http.post(
        f"{stack.gateway_url}/files/csv-import",
        headers=stack.auth(org=org),
        json={"file_upload_id": file_id, "import_type": "customers", **options},
    ) as resp:
        body = await resp.json()
        assert resp.status == 202, body
        assert body["status"] == "pending" and body["created_at"]
        return body["job_id"]


async def job(stack, http, org, job_id: str) -> dict:
    async with http.get(
        f"{stack.gateway_url}/files/jobs/{job_id}", headers=stack.auth(org=org)
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def finished(stack, http, org, job_id: str) -> dict:
    async def done():
        current = await job(stack, http, org, job_id)
        return current if current["status"] in TERMINAL else None

    return await eventually(done, within=30)


async def run(stack, http, org, data: bytes, **options) -> dict:
    file_id = await upload_csv(stack, http, org, data)
    return await finished(stack, http, org, await start(stack, http, org, file_id, **options))


async def customers(db, org) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM catalog.customers WHERE org_id = $1 ORDER BY lower(email)", org
    )


async def test_the_seed_sample_imports_with_hashed_passwords(stack, http, org, db, amqp_url):
    connection = await messaging.connect(amqp_url)
    channel = await connection.channel()
    exchange = await messaging.declare_exchanges(channel, "attache.events")
    probe = await channel.declare_queue(exclusive=True, auto_delete=True)
    await probe.bind(exchange, routing_key="import.completed")
    try:
        result = await run(stack, http, org, SEED_CSV)
        assert result["status"] == "completed", result
        assert result["job_type"] == "csv_import" and result["progress"] == 100
        counts = {k: result[k] for k in ("total_rows", "processed_rows", "successful_rows")}
        assert counts == {"total_rows": 2, "processed_rows": 2, "successful_rows": 2}
        assert (result["failed_rows"], result["error_log"], result["error_report_url"]) == (
            0,
            [],
            None,
        )
        assert result["file"]["delimiter"] == "," and result["file"]["encoding"] == "utf-8"
        assert result["started_at"] and result["finished_at"] and result["timings"]

        john, jane = [dict(r) for r in await customers(db, org)][::-1]
        assert (john["full_name"], john["phone"], john["address"], john["city"]) == (
            "John Doe",
            "1234567890",
            "123 Main St",
            "Anytown",
        )
        assert (john["state"], john["postal_code"], john["country"]) == ("CA", "12345", "USA")
        assert verify_password("password123", john["password_hash"])
        assert verify_password("password456", jane["password_hash"])
        assert not john["invitation_pending"]
        assert str(john["import_job_id"]) == result["id"]
        # Imported customers are the API's customers.
        async with http.get(
            f"{stack.gateway_url}/v1/customers", headers=stack.auth(org=org)
        ) as resp:
            assert {c["email"] for c in (await resp.json())["items"]} == {
                "john@example.com",
                "jane@example.com",
            }

        message = await eventually(lambda: probe.get(fail=False))
        event = messaging.RawEvent.model_validate_json(message.body)
        assert event.type == "import.completed" and event.subject == result["id"]
        assert event.data["status"] == "completed" and event.data["created_rows"] == 2
        assert "password" not in message.body.decode().replace("password_hash", "")
    finally:
        await channel.close()
        await connection.close()


async def test_each_rule_violated_once_is_reported_with_a_signed_report(stack, http, org, db):
    data = (
        b"full_name,email,phone,postal_code,password\n"
        b"Good Row,good@example.com,(555) 123-4567,12345,\n"
        b",noname@example.com,,,\n"
        b"No Email,,,,\n"
        b"Bad Email,not-an-email,,,\n"
        b"Bad Phone,phone@example.com,12ab,,\n"
        b"Long Zip,zip@example.com,,1234567890123456789012345,\n"
        b"Short Password,pw@example.com,,,abc\n"
        b"=HYPERLINK(1),formula@example.com,,,\n"
    )
    result = await run(stack, http, org, data)
    assert result["status"] == "completed_with_errors"
    assert (result["total_rows"], result["successful_rows"], result["failed_rows"]) == (8, 2, 6)
    log = {(e["line"], e["column"]): e for e in result["error_log"]}
    assert log[(3, "full_name")]["reason"] == "full_name is required"
    assert log[(4, "email")]["reason"] == "email is required"
    assert log[(5, "email")]["value"] == "not-an-email"
    assert log[(6, "phone")]["reason"] == "phone must be 4 to 20 digits (digits_only)"
    assert log[(7, "postal_code")]["reason"] == "postal_code is longer than 20 characters"
    assert log[(8, "password")]["value"] == "[redacted]"  # never the password itself
    assert all(e["outcome"] == "rejected" for e in result["error_log"])
    good = {r["email"]: r for r in await customers(db, org)}["good@example.com"]
    assert good["phone"] == "5551234567" and good["password_hash"] is None
    assert good["invitation_pending"]  # no password: the customer is invited to set one

    async with http.get(result["error_report_url"]) as resp:  # signed, no token
        assert resp.status == 200
        assert "attachment" in resp.headers["Content-Disposition"]
        report = list(csv.reader(io.StringIO(await resp.text())))
    assert report[0] == ["line", "column", "value", "reason", "outcome"]
    assert [row[0] for row in report[1:]] == ["3", "4", "5", "6", "7", "8"]
    assert "abc" not in str(report)


async def test_duplicates_in_the_file_and_in_the_database(stack, http, org, db):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Existing", "email": "Known@Example.com", "phone": "111"},
    ) as resp:
        assert resp.status == 201
    data = (
        b"full_name,email,city\n"
        b"First,dup@example.com,Oslo\n"
        b"Second,DUP@example.com,Rome\n"
        b"Known Again,known@example.com,Paris\n"
        b"New,new@example.com,\n"
    )
    result = await run(stack, http, org, data)
    assert result["status"] == "completed"  # duplicates are skipped, not errors
    assert (result["created_rows"], result["skipped_rows"], result["failed_rows"]) == (2, 2, 0)
    reasons = {e["line"]: e["reason"] for e in result["error_log"]}
    assert reasons == {
        3: "Duplicate email in the file (first on line 2)",
        4: "A customer with this email already exists",
    }
    rows = {r["email"].lower(): r for r in await customers(db, org)}
    assert rows["dup@example.com"]["full_name"] == "First"  # the first row wins
    assert rows["known@example.com"]["full_name"] == "Existing"

    # on_duplicate: update changes the known customer; empty cells keep stored values.
    result = await run(stack, http, org, data, on_duplicate="update")
    assert (result["created_rows"], result["updated_rows"], result["skipped_rows"]) == (0, 3, 1)
    rows = {r["email"].lower(): r for r in await customers(db, org)}
    assert (rows["known@example.com"]["full_name"], rows["known@example.com"]["city"]) == (
        "Known Again",
        "Paris",
    )
    assert rows["known@example.com"]["phone"] == "111"
    assert len(rows) == 3


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        (
            codecs.BOM_UTF8
            + "Nombre;Correo;Teléfono\r\nJosé Núñez;jose@example.com;600 11 22\r\n".encode(),
            "utf-8",
            ";",
        ),
        (
            "Name;E-Mail;City\r\nRené Müller;rene@example.com;Zürich\r\n".encode("cp1252"),
            "cp1252",
            ";",
        ),
        (
            b"name\temail\taddress\n"
            b'Ann\tann@example.com\t"1 Main St\nFloor ""2"""\n'
            b"Bob\tbob@example.com\tx\n",
            "utf-8",
            "\t",
        ),
    ],
    ids=["bom-semicolons", "windows-1252", "quoted-newline-tabs"],
)
async def test_real_world_files(stack, http, org, db, data, encoding, delimiter):
    result = await run(stack, http, org, data)
    assert result["status"] == "completed", result
    assert (result["file"]["encoding"], result["file"]["delimiter"]) == (encoding, delimiter)
    rows = {r["email"]: r for r in await customers(db, org)}
    if "jose@example.com" in rows:
        assert (rows["jose@example.com"]["full_name"], rows["jose@example.com"]["phone"]) == (
            "José Núñez",
            "6001122",
        )
    if "rene@example.com" in rows:
        assert rows["rene@example.com"]["city"] == "Zürich"
    if "ann@example.com" in rows:
        assert rows["ann@example.com"]["address"] == '1 Main St\nFloor "2"'
        assert len(rows) == 2


async def test_broken_quote_and_ten_thousand_columns_are_row_errors(stack, http, org, db):
    wide = ",".join(f"c{i}" for i in range(10_000))
    data = (
        "full_name,email,city\n"
        'Ann,"ann@example.com,Paris\n'
        'Bob,bob@example.com,"Rome, IT"\n'
        f"{wide}\n"
        "Cy,cy@example.com,Oslo\n"
    ).encode()
    result = await run(stack, http, org, data)
    assert result["status"] == "completed_with_errors"
    assert (result["total_rows"], result["successful_rows"], result["failed_rows"]) == (4, 2, 2)
    reasons = {e["line"]: e["reason"] for e in result["error_log"]}
    assert reasons[2] == "Unterminated quoted field (a quote is never closed)"
    assert reasons[4] == "The line has 10000 fields; the header has 3"
    assert {r["email"] for r in await customers(db, org)} == {"bob@example.com", "cy@example.com"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(4000), "not text"),
        (",".join(f"c{i}" for i in range(10_000)).encode() + b"\n", "10000 columns"),
        (b"name,phone\nAnn,123\n", "No column for email"),
    ],
    ids=["empty", "binary-renamed-csv", "10000-column-header", "no-email-column"],
)
async def test_files_that_cannot_be_imported_fail_the_job(stack, http, org, db, data, message):
    file_id = await register_raw(stack, org, data)
    result = await finished(stack, http, org, await start(stack, http, org, file_id))
    assert result["status"] == "failed" and message in result["message"], result
    assert await customers(db, org) == []


async def test_the_gateway_refuses_such_files_at_upload(stack, http, org):
    for data in (b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(4000)):
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(data), filename="x.csv", content_type="text/csv")
        async with http.post(
            f"{stack.gateway_url}/files/upload", headers=stack.auth(org=org), data=form
        ) as resp:
            assert resp.status in (400, 415), await resp.text()


async def test_header_only_file_completes_with_no_rows(stack, http, org):
    result = await run(stack, http, org, b"full_name,email\r\n")
    assert (result["status"], result["total_rows"], result["successful_rows"]) == (
        "completed",
        0,
        0,
    )


async def test_mapping_config_dry_run_and_thresholds(stack, http, org, db):
    data = b"name,mail,tel\nAnn,ann@example.com,12-34\nBob,bad,\nCy,cy@example.com,\n"
    mapping = {"name": "full_name", "mail": "email", "tel": "phone"}
    result = await run(
        stack,
        http,
        org,
        data,
        mapping_config=mapping,
        validation_rules={"email_required": True, "phone_format": "digits_only"},
        dry_run=True,
    )
    assert result["status"] == "completed_with_errors" and result["dry_run"]
    assert (result["created_rows"], result["failed_rows"]) == (2, 1)
    assert "nothing was written" in result["message"]
    assert await customers(db, org) == []  # a dry run writes nothing

    result = await run(
        stack, http, org, data, mapping_config=mapping, validation_rules={"max_errors": 0}
    )
    assert result["status"] == "failed" and "max_errors" in result["message"]
    assert await customers(db, org) == []
    result = await run(
        stack, http, org, data, mapping_config=mapping, validation_rules={"max_error_percent": 30}
    )
    assert result["status"] == "failed" and "max_error_percent" in result["message"]
    assert result["error_log"][0]["line"] == 3
    result = await run(stack, http, org, data, mapping_config=mapping)
    assert (result["status"], result["created_rows"]) == ("completed_with_errors", 2)
    assert {r["phone"] for r in await customers(db, org)} == {"1234", None}


async def test_requests_are_validated(stack, http, org):
    file_id = await upload_csv(stack, http, org, SEED_CSV)
    url, auth = f"{stack.gateway_url}/files/csv-import", stack.auth(org=org)
    bad = [
        ({"file_upload_id": file_id, "mapping_config": {"a": "nickname"}}, 400),
        ({"file_upload_id": file_id, "validation_rules": {"phone_format": "e164"}}, 400),
        ({"file_upload_id": file_id, "on_duplicate": "merge"}, 400),
        ({"file_upload_id": file_id, "import_type": "tickets"}, 400),
        ({"file_upload_id": str(uuid.uuid4())}, 404),
        ({"file_upload_id": "1"}, 400),
    ]
    for body, status in bad:
        async with http.post(url, headers=auth, json=body) as resp:
            assert resp.status == status, (body, await resp.text())
    async with http.post(url, headers=auth, data=b"{not json", allow_redirects=False) as resp:
        assert resp.status == 400
    pdf_form = aiohttp.FormData()
    from attache_devstack.samples import make_pdf

    pdf_form.add_field("file", io.BytesIO(make_pdf("x")), filename="a.pdf")
    async with http.post(f"{stack.gateway_url}/files/upload", headers=auth, data=pdf_form) as r:
        pdf_id = (await r.json())["id"]
    async with http.post(url, headers=auth, json={"file_upload_id": pdf_id}) as resp:
        assert resp.status == 422


async def test_another_tenant_cannot_read_or_use_the_job(stack, http, org):
    file_id = await upload_csv(stack, http, org, SEED_CSV)
    job_id = await start(stack, http, org, file_id)
    other = stack.auth(org=f"other-{org}")
    async with http.get(f"{stack.gateway_url}/files/jobs/{job_id}", headers=other) as resp:
        assert resp.status == 404
    async with http.get(f"{stack.gateway_url}/files/jobs", headers=other) as resp:
        assert await resp.json() == []
    async with http.post(
        f"{stack.gateway_url}/files/csv-import", headers=other, json={"file_upload_id": file_id}
    ) as resp:
        assert resp.status == 404  # nor import its file
    customer = stack.auth(org=org, roles=("customer",), customer_id=str(uuid.uuid4()))
    async with http.get(f"{stack.gateway_url}/files/jobs/{job_id}", headers=customer) as resp:
        assert resp.status == 404
    await finished(stack, http, org, job_id)
    async with http.get(
        f"{stack.gateway_url}/files/jobs?status=completed&job_type=csv_import&limit=5",
        headers=stack.auth(org=org),
    ) as resp:
        assert [j["id"] for j in await resp.json()] == [job_id]
    async with http.get(
        f"{stack.gateway_url}/files/jobs?status=bogus", headers=stack.auth(org=org)
    ) as resp:
        assert resp.status == 400


async def test_expiry_sweeper_runs_are_file_cleanup_jobs(stack, http, org):
    form = aiohttp.FormData()
    form.add_field("expires_at", (datetime.now(UTC) + timedelta(seconds=1)).isoformat())
    form.add_field("file", io.BytesIO(b"a,b\n1,2\n"), filename="soon.csv", content_type="text/csv")
    async with http.post(
        f"{stack.gateway_url}/files/upload", headers=stack.auth(org=org), data=form
    ) as resp:
        assert resp.status == 201

    async def recorded():
        await sweep_and_record(stack.gateway_app[CATALOG], stack.gateway_app[BLOBS])
        async with http.get(
            f"{stack.gateway_url}/files/jobs?job_type=file_cleanup", headers=stack.auth(org=org)
        ) as resp:
            return await resp.json()

    (cleanup,) = await eventually(recorded)
    assert (cleanup["status"], cleanup["successful_rows"], cleanup["failed_rows"]) == (
        "completed",
        1,
        0,
    )


# ---- a worker that dies mid-job --------------------------------------------------------------


@pytest.fixture
async def importer_context(base_settings):
    settings = ImporterSettings(
        **base_settings, import_batch_rows=100, import_read_chunk_bytes=4096
    )
    pool = await create_pool(settings.database_url, max_size=6)
    hasher = PasswordHasher(1, ScryptCost(10))
    async with open_blob_store(settings) as blobs:
        yield ImportContext(settings, pool, blobs, hasher)
    hasher.close()
    await pool.close()


class Killed(Exception):
    """The worker died here (after the commit that precedes it)."""


async def pending_job(db, stack, org, data: bytes, options: dict | None = None) -> uuid.UUID:
    """A job the stack's own worker never hears of (no import.requested event)."""
    file_id = uuid.UUID(await register_raw(stack, org, data))
    job_id = uuid.uuid4()
    source = await db.fetchrow(
        "SELECT bucket, object_key FROM catalog.attachments WHERE id = $1", file_id
    )
    await db.execute(
        """INSERT INTO catalog.background_jobs
               (id, org_id, job_type, created_by, file_upload_id, bucket, object_key, options)
           VALUES ($1, $2, 'csv_import', 'test', $3, $4, $5, $6)""",
        job_id,
        org,
        file_id,
        source["bucket"],
        source["object_key"],
        {"on_duplicate": "skip", **(options or {})},
    )
    return job_id


# An error threshold makes the import stage the whole file before it merges anything.
STAGED_FIRST = {"validation_rules": {"max_errors": 100}}


@pytest.mark.parametrize(
    ("options", "dies_in"),
    [({}, "reading"), (STAGED_FIRST, "reading"), (STAGED_FIRST, "merging")],
    ids=["merged-as-read", "staged-reading", "staged-merging"],
)
async def test_a_killed_worker_is_resumed_without_duplicates(
    stack, org, db, importer_context, monkeypatch, options, dies_in
):
    rows = "".join(f"Person {i},p{i % 2500}@example.com,Town {i}\n" for i in range(3000))
    data = ("full_name,email,city\n" + rows).encode()
    job_id = await pending_job(db, stack, org, data, options)

    def then_die(real, when: str, calls: int):
        async def run(*args, **kwargs):
            nonlocal calls
            result = await real(*args, **kwargs)
            calls -= 1
            if dies_in == when and calls == 0:
                raise Killed
            return result

        return run

    # The fifth batch's transaction dies before its commit.
    monkeypatch.setattr(job_store, "record_batch", then_die(job_store.record_batch, "reading", 5))
    monkeypatch.setattr(job_store, "merge_staged", then_die(job_store.merge_staged, "merging", 1))
    with pytest.raises(Killed):
        await worker.run_job(importer_context, job_id)
    state = await db.fetchrow("SELECT * FROM catalog.background_jobs WHERE id = $1", job_id)
    assert state["status"] == "processing" and state["checkpoint"]["phase"] == dies_in
    if dies_in == "reading":
        assert 0 < state["checkpoint"]["offset"] < len(data)
    created_before = len(await customers(db, org))
    assert (created_before > 0) == (not options or dies_in == "merging")

    assert await worker.run_job(importer_context, job_id) == "completed"
    final = await db.fetchrow("SELECT * FROM catalog.background_jobs WHERE id = $1", job_id)
    assert final["attempts"] == 2
    assert (final["total_rows"], final["created_rows"], final["skipped_rows"]) == (3000, 2500, 500)
    assert final["error_log"][0]["line"] == 2502
    assert final["error_log"][0]["reason"] == "Duplicate email in the file (first on line 2)"
    emails = [r["email"] for r in await customers(db, org)]
    assert len(emails) == len(set(emails)) == 2500
    # Delivered again after it ended: nothing happens.
    assert await worker.run_job(importer_context, job_id) is None
    assert not await db.fetchval(
        "SELECT count(*) FROM pg_tables WHERE tablename = $1", job_store.staging_table(job_id)
    )


# ---- batches merged two at a time -------------------------------------------------------------
# importer_context cuts batches of 100 rows; two batches' transactions run at once.


async def test_duplicates_across_batches_in_flight_together(stack, org, db, importer_context):
    assert importer_context.settings.import_concurrent_batches == 2
    # Past the first 64 KiB (one batch), batches are cut every 100-odd rows: duplicates
    # 30 to 150 rows after their first line are in the same batch, the next one (which
    # may be running at the same time) or the one after.
    emails = [f"p{i}@example.com" for i in range(4000)]
    pairs = [(2600 + 200 * k, 2600 + 200 * k + d) for k, d in enumerate((30, 60, 90, 120, 150))]
    for first, later in pairs:
        emails[later] = emails[first].upper()
    rows = "".join(f"Person {i},{email}\n" for i, email in enumerate(emails))
    job_id = await pending_job(db, stack, org, ("full_name,email\n" + rows).encode())
    assert await worker.run_job(importer_context, job_id) == "completed"
    final = await db.fetchrow("SELECT * FROM catalog.background_jobs WHERE id = $1", job_id)
    assert (final["created_rows"], final["skipped_rows"]) == (3995, 5)
    assert [(e["line"], e["reason"]) for e in final["error_log"]] == [
        (later + 2, f"Duplicate email in the file (first on line {first + 2})")
        for first, later in pairs
    ]
    names = {r["email"].lower(): r["full_name"] for r in await customers(db, org)}
    assert len(names) == 3995
    assert [names[emails[first]] for first, _ in pairs] == [f"Person {f}" for f, _ in pairs]


async def test_batches_that_deadlock_are_merged_again_one_at_a_time(
    stack, org, db, importer_context, monkeypatch
):
    # Python lowercases "İ" to "i̇", PostgreSQL (whose index decides) to "i": the reader
    # sees two addresses and lets their batches run together. Pairs 60 rows apart, so
    # that some pair straddles two batches (of at least 100 rows, cut where a read of
    # S3 ended); for the first such pair the later batch is made to insert its "İ…"
    # first, then the earlier batch's "i…" waits for it while the later one waits for
    # the earlier to commit: PostgreSQL breaks the deadlock, the importer reads on from
    # the last commit one batch at a time.
    rows = [f"Person {i},p{i}@example.com" for i in range(4000)]
    pairs = [(2600 + 70 * k, 2660 + 70 * k) for k in range(20)]
    for k, (first, second) in enumerate(pairs):
        rows[first] = f"First {k},i{k}x@example.com"
        rows[second] = f"Second {k},İ{k}x@example.com"
    job_id = await pending_job(db, stack, org, ("full_name,email\n" + "\n".join(rows)).encode())
    merged: dict[str, asyncio.Event] = {}  # "İ…" addresses, set once merged
    merges: list[int] = []
    armed = True
    real_merge_rows = job_store.merge_rows

    async def merge_rows(conn, job_id, target, rows, *, fast):
        nonlocal armed
        merges.append(rows[0][0])
        emails = {row[2] for row in rows}
        for k in range(len(pairs)):
            first, second = f"i{k}x@example.com", f"İ{k}x@example.com"
            if armed and first in emails and second not in emails:
                armed = False
                await asyncio.wait_for(merged.setdefault(second, asyncio.Event()).wait(), 30)
        counts = await real_merge_rows(conn, job_id, target, rows, fast=fast)
        for email in emails:
            merged.setdefault(email, asyncio.Event()).set()
        return counts

    monkeypatch.setattr(job_store, "merge_rows", merge_rows)
    assert await worker.run_job(importer_context, job_id) == "completed"
    assert not armed and len(merges) > len(set(merges))  # a batch was merged again
    final = await db.fetchrow("SELECT * FROM catalog.background_jobs WHERE id = $1", job_id)
    assert (final["created_rows"], final["skipped_rows"]) == (3980, 20)
    assert [(e["line"], e["reason"]) for e in final["error_log"]] == [
        (second + 2, f"Duplicate email in the file (first on line {first + 2})")
        for first, second in pairs
    ]
    names = {r["email"]: r["full_name"] for r in await customers(db, org)}
    assert [names.get(f"i{k}x@example.com") for k in range(20)] == [f"First {k}" for k in range(20)]


async def test_the_fast_and_the_careful_merge_make_the_same_customers(stack, org, db, database_url):
    job_id = await pending_job(db, stack, org, SEED_CSV)
    prefix = job_store.id_prefix()
    rows = [
        (2, "Ann", "ann@example.com", "123", "1 Main St", "Oslo", None, "0150", "NO", "$h$"),
        (7, "Bob", "Bob@Example.com", None, None, None, None, None, None, None),
    ]
    other = f"{org}-careful"
    async with job_store.batch_connection(database_url) as conn:
        for target_org, fast in ((org, True), (other, False)):
            target = job_store.Target(target_org, "skip", prefix)
            async with conn.transaction():
                counts = await job_store.merge_rows(conn, job_id, target, rows, fast=fast)
            assert counts == {"created": 2, "updated": 0, "skipped": 0}

    def comparable(records):
        return [
            {k: v for k, v in r.items() if k not in ("org_id", "created_at", "updated_at")}
            for r in records
        ]

    fast_rows, careful_rows = await customers(db, org), await customers(db, other)
    assert comparable(fast_rows) == comparable(careful_rows)
    assert [r["id"].int & (2**60 - 1) for r in fast_rows] == [2, 7]  # the line, in the id
    assert [r["invitation_pending"] for r in fast_rows] == [False, True]
    assert {r["import_job_id"] for r in fast_rows} == {job_id}


async def test_a_worker_behind_the_checkpoint_writes_nothing(stack, org, db, database_url):
    job_id = await pending_job(db, stack, org, SEED_CSV)
    target = job_store.Target(org, "skip", job_store.id_prefix())
    rows = [(2, "Ann", "ann@example.com", None, None, None, None, None, None, None)]
    errors = [(job_id, 3, "email", "x", "email is not a valid email address", "rejected")]

    async def batch(fast: bool) -> None:
        async with conn.transaction():
            await job_store.merge_rows(conn, job_id, target, rows, fast=fast)
            await job_store.record_batch(conn, job_id, errors, {"offset": 10}, None, {})

    async with job_store.batch_connection(database_url) as conn:
        await batch(fast=True)
        # Another worker, resumed from the job's start, does the same batch again.
        with pytest.raises(job_store.CheckpointMoved):
            await batch(fast=False)
    assert len(await customers(db, org)) == 1
    assert (
        await db.fetchval("SELECT count(*) FROM catalog.import_errors WHERE job_id = $1", job_id)
        == 1
    )


async def test_a_later_duplicate_in_another_batch_updates_nothing(stack, org, db, importer_context):
    await db.execute(
        """INSERT INTO catalog.customers (id, org_id, full_name, email)
           VALUES ($1, $2, 'Old Name', 'known@example.com')""",
        uuid.uuid4(),
        org,
    )
    # More than the first 64 KiB, which are read at once (for the encoding and delimiter).
    rows = [f"Person {i},person{i}@example.com,Some Town {i}" for i in range(2000)]
    data = "\n".join(
        ["full_name,email,city", "Known,known@example.com,Oslo", *rows]
        + ["Known Again,KNOWN@example.com,Rome", "Person Again,person0@example.com,Rome\n"]
    ).encode()
    job_id = await pending_job(db, stack, org, data, {"on_duplicate": "update"})
    assert await worker.run_job(importer_context, job_id) == "completed"
    final = await db.fetchrow("SELECT * FROM catalog.background_jobs WHERE id = $1", job_id)
    assert (final["created_rows"], final["updated_rows"], final["skipped_rows"]) == (2000, 1, 2)
    assert {e["line"]: e["reason"] for e in final["error_log"]} == {
        2003: "Duplicate email in the file (an earlier line updated this customer)",
        2004: "Duplicate email in the file (first on line 3)",
    }
    rows = {r["email"].lower(): r for r in await customers(db, org)}
    assert (rows["known@example.com"]["full_name"], rows["known@example.com"]["city"]) == (
        "Known",
        "Oslo",
    )
    assert rows["person0@example.com"]["city"] == "Some Town 0"


async def test_a_job_another_worker_holds_is_left_to_it(stack, org, db, importer_context):
    job_id = await pending_job(db, stack, org, SEED_CSV)
    holder = await asyncpg.connect(importer_context.settings.database_url)
    try:
        assert await job_store.try_lock(holder, job_id)
        with pytest.raises(worker.JobBusy):
            await worker.run_job(importer_context, job_id)
    finally:
        await holder.close()
    assert await worker.run_job(importer_context, job_id) == "completed"
    await asyncio.sleep(0)
