"""Presign and confirm against real SeaweedFS, PostgreSQL and the catalog."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import jwt
import pytest

from attache_core.s3 import make_presigner
from attache_devstack.samples import make_pdf

PDF = make_pdf("Contract between Alpha and Beta")
HTML = b"<!DOCTYPE html><html><head><script>alert(1)</script></head><body>hi</body></html>"


@pytest.fixture
async def customer(stack, http, org):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Grace Hopper", "email": "grace@example.com"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        return (await resp.json())["id"]


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


def base(stack, customer_id: str) -> str:
    return f"{stack.gateway_url}/v1/customers/{customer_id}/attachments"


async def presign(
    stack,
    http,
    org,
    customer_id,
    *,
    content_type="application/pdf",
    size=len(PDF),
    filename="document.pdf",
    **extra,
):
    body = {"filename": filename, "content_type": content_type, "size": size, **extra}
    async with http.post(
        f"{base(stack, customer_id)}/presign", headers=stack.auth(org=org), json=body
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def confirm(stack, http, org, customer_id, object_key, **auth):
    async with http.post(
        f"{base(stack, customer_id)}/confirm",
        headers=stack.auth(org=org, **auth),
        json={"object_key": object_key},
    ) as resp:
        return resp.status, await resp.json()


async def put(http, presigned, data, headers=None):
    async with http.put(
        presigned["url"], data=data, headers=headers or presigned["headers"]
    ) as resp:
        return resp.status


# ---- S3 itself enforces what was signed ---------------------------------------------------


async def test_s3_refuses_put_with_another_content_type(stack, http, org, customer):
    presigned = await presign(stack, http, org, customer)
    assert await put(http, presigned, PDF, {"Content-Type": "text/html"}) == 403
    assert await put(http, presigned, PDF) == 200


async def test_s3_refuses_put_of_another_size(stack, http, org, customer):
    presigned = await presign(stack, http, org, customer)
    assert await put(http, presigned, PDF + b"extra") == 403


async def test_s3_refuses_put_after_expiry(stack, http):
    # A URL signed 20 minutes ago for 15 minutes: expired, whatever the clock of the test.
    presigner = make_presigner(stack.settings)
    url = presigner.presign_put(
        stack.settings.s3_bucket,
        f"expired/{uuid.uuid4()}",
        expires_in=900,
        content_type="application/pdf",
        now=datetime.now(UTC) - timedelta(minutes=20),
    )
    async with http.put(url, data=PDF, headers={"Content-Type": "application/pdf"}) as resp:
        assert resp.status == 403


async def test_s3_refuses_body_not_matching_signed_checksum(stack, http, org, customer):
    digest = base64.b64encode(hashlib.sha256(PDF).digest()).decode()
    presigned = await presign(stack, http, org, customer, checksum_sha256=digest)
    assert presigned["headers"]["x-amz-checksum-sha256"] == digest
    tampered = PDF[:-2] + b"X\n"
    assert await put(http, presigned, tampered) == 400
    assert await put(http, presigned, PDF) == 200
    status, body = await confirm(stack, http, org, customer, presigned["object_key"])
    assert status == 201, body


# ---- confirm ------------------------------------------------------------------------------


async def test_confirm_of_a_key_never_uploaded_is_422(stack, http, org, customer):
    presigned = await presign(stack, http, org, customer)
    status, body = await confirm(stack, http, org, customer, presigned["object_key"])
    assert status == 422
    assert body["error"] and body["code"]


async def test_confirm_of_an_unknown_key_is_404(stack, http, org, customer):
    status, body = await confirm(stack, http, org, customer, "orgs/x/customers/y/z/file.pdf")
    assert status == 404
    assert body == {"error": "Upload not found", "code": "not_found"}


async def test_confirm_of_another_tenants_key_is_404(stack, http, org, customer):
    presigned = await presign(stack, http, org, customer)
    assert await put(http, presigned, PDF) == 200
    status, _ = await confirm(stack, http, "org-intruder", customer, presigned["object_key"])
    assert status == 404
    # The rightful owner still confirms it.
    status, _ = await confirm(stack, http, org, customer, presigned["object_key"])
    assert status == 201


async def test_confirm_twice_gives_same_attachment_and_one_event(stack, http, org, customer, db):
    presigned = await presign(stack, http, org, customer)
    assert await put(http, presigned, PDF) == 200
    first_status, first = await confirm(stack, http, org, customer, presigned["object_key"])
    second_status, second = await confirm(stack, http, org, customer, presigned["object_key"])
    assert (first_status, second_status) == (201, 200)
    # The same attachment (enrichment may have landed in between, so compare its identity).
    identity = ("id", "object_key", "filename", "size_bytes", "created_at", "uploaded_by")
    assert {k: first[k] for k in identity} == {k: second[k] for k in identity}
    events = await db.fetchval(
        "SELECT count(*) FROM catalog.outbox WHERE event_type = 'attachment.created'"
        " AND envelope->>'subject' = $1",
        first["id"],
    )
    assert events == 1


async def test_declared_pdf_that_is_html_is_rejected_and_not_registered(
    stack, http, org, customer, db
):
    presigned = await presign(stack, http, org, customer, size=len(HTML))
    assert await put(http, presigned, HTML) == 200
    status, body = await confirm(stack, http, org, customer, presigned["object_key"])
    assert status == 422
    assert "text/html" in body["error"]
    assert await db.fetchval("SELECT count(*) FROM catalog.attachments WHERE org_id = $1", org) == 0
    # The rejected object is gone from the bucket, and confirming again stays a rejection.
    blobs = stack.gateway_app[__import__("attache_gateway.keys").keys.BLOBS]
    assert await blobs.head(stack.settings.s3_bucket, presigned["object_key"]) is None
    status, _ = await confirm(stack, http, org, customer, presigned["object_key"])
    assert status == 422


async def test_empty_file_is_rejected(stack, http, org, customer):
    presigned = await presign(stack, http, org, customer, content_type="text/plain", size=1)
    # S3 refuses the 0-byte body against the signed length, so sign a 0-byte URL directly.
    presigner = make_presigner(stack.settings)
    url = presigner.presign_put(
        stack.settings.s3_bucket, presigned["object_key"], expires_in=60, content_type="text/plain"
    )
    async with http.put(url, data=b"", headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 200
    status, body = await confirm(stack, http, org, customer, presigned["object_key"])
    assert status == 422
    assert "empty" in body["error"]


async def test_confirm_after_expiry_is_410(stack, http, org, customer, db):
    presigned = await presign(stack, http, org, customer)
    assert await put(http, presigned, PDF) == 200
    await db.execute(
        "UPDATE gateway.upload_sessions SET expires_at = now() - interval '1 second'"
        " WHERE object_key = $1",
        presigned["object_key"],
    )
    status, body = await confirm(stack, http, org, customer, presigned["object_key"])
    assert status == 410
    assert body["code"] == "upload_expired"


async def test_expired_sessions_are_swept_with_their_objects(stack, http, org, customer, db):
    from attache_gateway.keys import BLOBS, POOL
    from attache_gateway.sweeper import sweep_expired_uploads

    presigned = await presign(stack, http, org, customer)
    assert await put(http, presigned, PDF) == 200
    await db.execute(
        "UPDATE gateway.upload_sessions SET expires_at = now() - interval '1 second'"
        " WHERE object_key = $1",
        presigned["object_key"],
    )
    app = stack.gateway_app
    assert await sweep_expired_uploads(app[POOL], app[BLOBS]) >= 1
    assert await app[BLOBS].head(stack.settings.s3_bucket, presigned["object_key"]) is None
    assert (
        await db.fetchval(
            "SELECT count(*) FROM gateway.upload_sessions WHERE object_key = $1",
            presigned["object_key"],
        )
        == 0
    )


async def test_rejected_sessions_are_purged_after_their_retention(stack, http, org, customer, db):
    from attache_gateway.keys import POOL
    from attache_gateway.sweeper import purge_settled_sessions

    old = await presign(stack, http, org, customer, size=len(HTML))
    recent = await presign(stack, http, org, customer, size=len(HTML))
    for presigned in (old, recent):
        assert await put(http, presigned, HTML) == 200
        status, _ = await confirm(stack, http, org, customer, presigned["object_key"])
        assert status == 422
    await db.execute(
        "UPDATE gateway.upload_sessions SET created_at = now() - interval '31 days'"
        " WHERE object_key = $1",
        old["object_key"],
    )

    assert await purge_settled_sessions(stack.gateway_app[POOL], 30 * 24 * 3600) == 1
    left = await db.fetch(
        "SELECT object_key FROM gateway.upload_sessions WHERE object_key = ANY($1::text[])",
        [old["object_key"], recent["object_key"]],
    )
    assert [r["object_key"] for r in left] == [recent["object_key"]]


# ---- presign validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"content_type": "application/pdf", "size": 1}, "filename"),
        ({"filename": "a.pdf", "content_type": "not a mime", "size": 1}, "content_type"),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": 0}, "size"),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": "12"}, "size"),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": 10**15}, "size"),
        (
            {
                "filename": "a.pdf",
                "content_type": "application/pdf",
                "size": 1,
                "checksum_sha256": "x",
            },
            "checksum_sha256",
        ),
        ({"filename": "../../", "content_type": "application/pdf", "size": 1}, "filename"),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": 1, "extra": 1}, "extra"),
    ],
)
async def test_presign_rejects_bad_input_with_details(stack, http, org, customer, body, field):
    async with http.post(
        f"{base(stack, customer)}/presign", headers=stack.auth(org=org), json=body
    ) as resp:
        assert resp.status == 400, await resp.text()
        payload = await resp.json()
    assert payload["code"] == "invalid_input"
    assert field in payload["details"]


async def test_presign_rejects_malformed_json(stack, http, org, customer):
    headers = {**stack.auth(org=org), "Content-Type": "application/json"}
    async with http.post(
        f"{base(stack, customer)}/presign", headers=headers, data=b"{nope"
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "Malformed JSON body"


async def test_presign_rejects_disallowed_content_type(stack, http, org, customer):
    body = {"filename": "page.html", "content_type": "text/html", "size": 10}
    async with http.post(
        f"{base(stack, customer)}/presign", headers=stack.auth(org=org), json=body
    ) as resp:
        assert resp.status == 415


async def test_presign_sanitises_path_traversal_and_bidi_names(stack, http, org, customer, db):
    presigned = await presign(stack, http, org, customer, filename="../../etc/invoice\u202efdp.exe")
    key = presigned["object_key"]
    assert ".." not in key and "\u202e" not in key and key.endswith("invoicefdp.exe")
    stored = await db.fetchval(
        "SELECT filename FROM gateway.upload_sessions WHERE object_key = $1", key
    )
    assert stored == "invoicefdp.exe"


@pytest.mark.parametrize("with_checksums", [False, True])
async def test_presign_stores_the_session_as_presigned(
    stack, http, org, customer, db, with_checksums
):
    extra = {}
    if with_checksums:
        extra = {
            "checksum_sha256": base64.b64encode(hashlib.sha256(PDF).digest()).decode(),
            "content_md5": base64.b64encode(hashlib.md5(PDF).digest()).decode(),  # noqa: S324
        }
    name = 'Résumé "final" 日本語 😀 {1}.pdf'  # JSON-escaped and multi-byte characters
    presigned = await presign(stack, http, org, customer, filename=name, size=5 * 1024**2, **extra)
    row = await db.fetchrow(
        "SELECT * FROM gateway.upload_sessions WHERE object_key = $1", presigned["object_key"]
    )
    assert row["org_id"] == org and str(row["customer_id"]) == customer
    assert row["created_by"] == "user-1" and row["bucket"] == stack.settings.s3_bucket
    assert row["object_key"].endswith(".pdf")
    assert row["filename"] == name and row["content_type"] == "application/pdf"
    assert row["declared_size"] == 5 * 1024**2 and row["status"] == "pending"
    assert row["checksum_sha256"] == extra.get("checksum_sha256")
    assert row["content_md5"] == extra.get("content_md5")
    url_expiry = datetime.fromisoformat(presigned["expires_at"])
    grace = timedelta(seconds=stack.settings.confirm_grace_seconds)
    assert row["expires_at"] == url_expiry + grace  # to the microsecond


async def test_presign_for_another_tenants_customer_is_404(stack, http, org, customer):
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10}
    async with http.post(
        f"{base(stack, customer)}/presign", headers=stack.auth(org="org-other"), json=body
    ) as resp:
        assert resp.status == 404


# ---- authentication and roles ----------------------------------------------------------------


def _token(stack, **overrides):
    import time

    claims = {
        "sub": "u",
        "org_id": "o",
        "roles": ["admin"],
        "iss": "attache",
        "aud": "attache-api",
        "exp": int(time.time()) + 60,
        **overrides,
    }
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None},
        stack.settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda stack: None, id="missing"),
        pytest.param(lambda stack: f"Bearer {_token(stack, exp=1)}", id="expired"),
        pytest.param(lambda stack: f"Bearer {_token(stack, aud='other-api')}", id="wrong-audience"),
        pytest.param(
            lambda stack: (
                "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1Iiwib3JnX2lkIjoibyIsInJvbGVzIjpbImFkbWluIl0sImlzcyI6ImF0dGFjaGUiLCJhdWQiOiJhdHRhY2hlLWFwaSIsImV4cCI6NDEwMjQ0NDgwMH0."
            ),
            id="alg-none",
        ),
        pytest.param(
            lambda stack: (
                "Bearer "
                + jwt.encode(
                    {
                        "sub": "u",
                        "org_id": "o",
                        "iss": "attache",
                        "aud": "attache-api",
                        "exp": 4102444800,
                    },
                    "x" * 40,
                    algorithm="HS256",
                )
            ),
            id="wrong-signature",
        ),
    ],
)
@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/v1/customers/{c}/attachments/presign"),
        ("POST", "/v1/customers/{c}/attachments/confirm"),
        ("GET", "/v1/customers/{c}/attachments"),
        ("GET", "/v1/customers"),
    ],
)
async def test_bad_tokens_are_401(stack, http, customer, make_header, method, path):
    header = make_header(stack)
    headers = {"Authorization": header} if header else {}
    async with http.request(
        method, stack.gateway_url + path.format(c=customer), headers=headers, json={}
    ) as resp:
        assert resp.status == 401
        assert await resp.json() == {"error": "Authentication required", "code": "unauthenticated"}


async def test_customer_role_touching_another_customer_is_404(stack, http, org, customer):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Other", "email": "other@example.com"},
    ) as resp:
        other = (await resp.json())["id"]
    me = stack.auth(org=org, roles=("customer",), customer_id=customer)
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 10}
    async with http.post(f"{base(stack, other)}/presign", headers=me, json=body) as resp:
        assert resp.status == 404
    async with http.get(base(stack, other), headers=me) as resp:
        assert resp.status == 404
    async with http.get(f"{stack.gateway_url}/v1/customers/{other}", headers=me) as resp:
        assert resp.status == 404
    # Its own customer works.
    async with http.post(f"{base(stack, customer)}/presign", headers=me, json=body) as resp:
        assert resp.status == 200
    async with http.get(base(stack, customer), headers=me) as resp:
        assert resp.status == 200
