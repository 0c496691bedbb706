"""The profile image flow of seed 003, against real SeaweedFS, PostgreSQL, RabbitMQ and catalog."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import jwt
import pytest

from attache_devstack.samples import make_png
from attache_devstack.waiting import eventually
from attache_gateway.keys import BLOBS, POOL
from attache_gateway.profile_domain import ImageUpload, settle
from attache_gateway.profile_sweeper import sweep_profile_uploads

PNG = make_png(4, 4)
PNG_2 = make_png(8, 8)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><head><script>alert(1)</script></head><body>hi</body></html>"
MAX_BYTES = 2 * 1024 * 1024


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture
def user(stack, org):
    """The caller: a fresh tenant per test, so profiles never meet."""
    return stack.auth(org=org, sub="user-1", roles=("agent",))


async def presign(stack, http, headers, **body):
    body = {"fileName": "avatar.png", "contentType": "image/png", **body}
    async with http.post(f"{stack.gateway_url}/profile/image", headers=headers, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def upload(http, presigned, data, headers=None):
    async with http.put(
        presigned["presignedUrl"], data=io.BytesIO(data), headers=headers or presigned["headers"]
    ) as resp:
        return resp.status


async def get_profile(stack, http, headers):
    async with http.get(f"{stack.gateway_url}/profile", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def put_profile(stack, http, headers, body):
    async with http.put(f"{stack.gateway_url}/profile", headers=headers, json=body) as resp:
        return resp.status, await resp.json()


async def object_exists(stack, key) -> bool:
    return await stack.gateway_app[BLOBS].head(stack.settings.s3_bucket, key) is not None


async def image_events(db, org) -> list[dict]:
    rows = await db.fetch(
        "SELECT envelope::text FROM catalog.outbox WHERE event_type = 'profile.image.updated'"
        " AND envelope->>'orgid' = $1 ORDER BY id",
        org,
    )
    return [json.loads(r["envelope"]) for r in rows]


async def upload_image(stack, http, headers, data=PNG, **body):
    presigned = await presign(stack, http, headers, **body)
    assert await upload(http, presigned, data) == 200
    return presigned


# ---- the seed's flow ------------------------------------------------------------------------


async def test_seed_flow_presign_put_then_get_shows_the_image(stack, http, org, user):
    presigned = await presign(stack, http, user, fileName="avatar.png", contentType="image/png")
    assert presigned["expiresIn"] == 300
    assert presigned["headers"] == {"Content-Type": "image/png"}
    assert presigned["maxBytes"] == MAX_BYTES
    key = presigned["s3Key"]
    assert key.startswith(f"profiles/{org}/user-1/") and key.endswith(".png")
    uuid.UUID(key.rsplit("/", 1)[1].removesuffix(".png"))

    # Before the upload, the profile has no image: the key alone is never served.
    assert (await get_profile(stack, http, user))["profileImageUrl"] is None

    # The seed's client: PUT the bytes with the Content-Type, then only GET /profile.
    async with http.put(
        presigned["presignedUrl"], data=PNG, headers={"Content-Type": "image/png"}
    ) as resp:
        assert resp.status == 200
    before = int(time.time())
    profile = await get_profile(stack, http, user)
    assert profile["userId"] == "user-1"
    assert profile["profileImageKey"] == key
    assert profile["profileImageUrlExpiresIn"] == 300
    assert profile["profileImageContentType"] == "image/png"
    assert profile["profileImageFileName"] == "avatar.png"
    assert abs(profile["profileImageUpdatedAt"] - before) <= 5
    assert "X-Amz-Expires=300" in profile["profileImageUrl"]

    async with aiohttp.ClientSession() as anonymous:  # the URL is the only credential
        async with anonymous.get(profile["profileImageUrl"]) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "image/png"
            assert await resp.read() == PNG
        # And the object is private without it.
        async with anonymous.get(
            f"{stack.settings.s3_endpoint_url}/{stack.settings.s3_bucket}/{key}"
        ) as resp:
            assert resp.status == 403


async def test_put_profile_with_the_uploaded_key_sets_image_and_names(stack, http, user):
    presigned = await upload_image(stack, http, user)
    status, profile = await put_profile(
        stack, http, user, {"profileImageKey": presigned["s3Key"], "nombre": "Ada"}
    )
    assert status == 200, profile
    assert profile["profileImageKey"] == presigned["s3Key"]
    assert profile["profileImageUrl"] and profile["nombre"] == "Ada"
    # Accepting it again is harmless.
    status, again = await put_profile(stack, http, user, {"profileImageKey": presigned["s3Key"]})
    assert status == 200 and again["profileImageUpdatedAt"] == profile["profileImageUpdatedAt"]


async def test_get_without_image_is_null(stack, http, user):
    profile = await get_profile(stack, http, user)
    assert profile["profileImageKey"] is None
    assert profile["profileImageUrl"] is None
    assert profile["profileImageUrlExpiresIn"] is None
    assert profile["nombre"] is None and profile["createdAt"]


async def test_email_comes_from_the_token(stack, http, org):
    now = int(time.time())
    claims = {
        "sub": "user-mail",
        "org_id": org,
        "roles": ["agent"],
        "email": "ada@example.com",
        "iss": "attache",
        "aud": "attache-api",
        "exp": now + 60,
    }
    token = jwt.encode(claims, stack.settings.jwt_secret.get_secret_value(), algorithm="HS256")
    profile = await get_profile(stack, http, {"Authorization": f"Bearer {token}"})
    assert profile["email"] == "ada@example.com"


# ---- what may be uploaded -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type, extension",
    [("image/jpeg", "jpg"), ("image/png", "png"), ("image/webp", "webp"), ("image/jpg", "jpg")],
)
async def test_jpeg_png_webp_are_accepted(stack, http, user, content_type, extension):
    presigned = await presign(stack, http, user, fileName="me.bin", contentType=content_type)
    assert presigned["s3Key"].endswith(f".{extension}")
    assert presigned["headers"] == {"Content-Type": content_type}


@pytest.mark.parametrize(
    "content_type", ["image/gif", "image/svg+xml", "text/html", "application/pdf", "image/heic"]
)
async def test_other_types_are_415(stack, http, user, content_type, db, org):
    body = {"fileName": "me.gif", "contentType": content_type}
    async with http.post(f"{stack.gateway_url}/profile/image", headers=user, json=body) as resp:
        assert resp.status == 415
        payload = await resp.json()
    assert payload["code"] == "unsupported_media_type" and "contentType" in payload["details"]
    count = await db.fetchval(
        "SELECT count(*) FROM gateway.profile_image_uploads WHERE org_id = $1", org
    )
    assert count == 0


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"fileName", "contentType"}),
        ({"contentType": "image/png"}, {"fileName"}),
        ({"fileName": "a.png"}, {"contentType"}),
        ({"fileName": "a.png", "contentType": "not a type"}, {"contentType"}),
        ({"fileName": "a.png", "contentType": "image/png", "size": "12"}, {"size"}),
        ({"fileName": "a.png", "contentType": "image/png", "extra": 1}, {"extra"}),
        ({"fileName": "../..", "contentType": "image/png"}, {"fileName"}),
    ],
)
async def test_presign_bad_input_is_400_with_details(stack, http, user, body, fields):
    async with http.post(f"{stack.gateway_url}/profile/image", headers=user, json=body) as resp:
        assert resp.status == 400, await resp.text()
        payload = await resp.json()
    assert payload["code"] == "invalid_input"
    assert fields <= set(payload["details"])


async def test_declared_size_over_the_limit_is_413(stack, http, user):
    body = {"fileName": "big.png", "contentType": "image/png", "size": MAX_BYTES + 1}
    async with http.post(f"{stack.gateway_url}/profile/image", headers=user, json=body) as resp:
        assert resp.status == 413
        assert (await resp.json())["code"] == "payload_too_large"


async def test_unauthenticated_is_401(stack, http):
    for method, path in [("POST", "/profile/image"), ("GET", "/profile"), ("PUT", "/profile")]:
        async with http.request(method, f"{stack.gateway_url}{path}", json={}) as resp:
            assert resp.status == 401


# ---- S3 enforces what was signed ----------------------------------------------------------


async def test_s3_refuses_a_put_with_another_content_type(stack, http, user):
    presigned = await presign(stack, http, user)
    assert await upload(http, presigned, HTML, {"Content-Type": "text/html"}) == 403
    assert await upload(http, presigned, PNG, {"Content-Type": "image/jpeg"}) == 403
    assert not await object_exists(stack, presigned["s3Key"])


async def test_s3_refuses_a_put_of_another_size_when_size_was_given(stack, http, user):
    presigned = await presign(stack, http, user, size=len(PNG))
    assert await upload(http, presigned, PNG + b"\x00" * 10) == 403
    assert await upload(http, presigned, PNG) == 200


async def post_form(http, post, data, content_type="image/png"):
    form = aiohttp.FormData()
    for name, value in post["fields"].items():
        form.add_field(name, value)
    form.add_field("file", io.BytesIO(data), filename="avatar.png", content_type=content_type)
    async with http.post(post["url"], data=form) as resp:
        return resp.status, await resp.text()


async def test_presigned_post_lets_s3_refuse_a_large_image(stack, http, user):
    presigned = await presign(stack, http, user)
    post = presigned["presignedPost"]
    assert post["fields"]["key"] == presigned["s3Key"]
    status, text = await post_form(http, post, PNG + b"\x00" * (3 * 1024 * 1024))
    assert status == 400 and "EntityTooLarge" in text
    assert not await object_exists(stack, presigned["s3Key"])

    status, text = await post_form(http, post, PNG)
    assert status in (200, 201, 204), text
    profile = await get_profile(stack, http, user)
    assert profile["profileImageKey"] == presigned["s3Key"]


# ---- acceptance refuses what isn't a small image of the declared type ----------------------


async def test_a_3_mb_image_is_never_accepted_and_its_object_is_deleted(stack, http, user, db, org):
    big = PNG + b"\x00" * (3 * 1024 * 1024)
    presigned = await upload_image(stack, http, user, data=big)  # no size given: S3 takes it
    assert await object_exists(stack, presigned["s3Key"])

    profile = await get_profile(stack, http, user)
    assert profile["profileImageUrl"] is None and profile["profileImageKey"] is None
    assert not await object_exists(stack, presigned["s3Key"])
    status, body = await put_profile(stack, http, user, {"profileImageKey": presigned["s3Key"]})
    assert status == 422 and body["code"] == "upload_rejected"
    assert "bytes" in body["error"]
    assert await image_events(db, org) == []


async def test_big_image_rejected_on_put_profile_too(stack, http, user):
    big = PNG + b"\x00" * (MAX_BYTES + 1 - len(PNG))
    presigned = await upload_image(stack, http, user, data=big)
    status, body = await put_profile(
        stack, http, user, {"profileImageKey": presigned["s3Key"], "nombre": "Nope"}
    )
    assert status == 422 and body["code"] == "upload_rejected"
    assert not await object_exists(stack, presigned["s3Key"])
    assert (await get_profile(stack, http, user))["nombre"] is None


async def test_a_declared_png_that_is_html_is_never_served(stack, http, user, db, org):
    presigned = await upload_image(stack, http, user, data=HTML)
    profile = await get_profile(stack, http, user)
    assert profile["profileImageUrl"] is None
    assert not await object_exists(stack, presigned["s3Key"])
    status, body = await put_profile(stack, http, user, {"profileImageKey": presigned["s3Key"]})
    assert status == 422 and "text/html" in body["error"]
    assert await image_events(db, org) == []


async def test_an_invalid_newer_upload_leaves_the_current_image(stack, http, user):
    good = await upload_image(stack, http, user)
    assert (await get_profile(stack, http, user))["profileImageKey"] == good["s3Key"]
    bad = await upload_image(stack, http, user, data=HTML)
    profile = await get_profile(stack, http, user)
    assert profile["profileImageKey"] == good["s3Key"]
    assert await object_exists(stack, good["s3Key"])
    assert not await object_exists(stack, bad["s3Key"])


# ---- PUT /profile -------------------------------------------------------------------------


async def test_put_profile_has_patch_semantics(stack, http, user):
    status, profile = await put_profile(stack, http, user, {"nombre": "Ada"})
    assert status == 200 and (profile["nombre"], profile["apellido"]) == ("Ada", None)
    status, profile = await put_profile(stack, http, user, {"apellido": "Lovelace"})
    assert status == 200 and (profile["nombre"], profile["apellido"]) == ("Ada", "Lovelace")
    status, profile = await put_profile(stack, http, user, {})
    assert status == 200 and (profile["nombre"], profile["apellido"]) == ("Ada", "Lovelace")
    status, profile = await put_profile(stack, http, user, {"nombre": "  Augusta  "})
    assert status == 200 and profile["nombre"] == "Augusta"
    assert (await get_profile(stack, http, user))["apellido"] == "Lovelace"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"nombre": None}, "nombre"),
        ({"profileImageKey": None}, "profileImageKey"),
        ({"nombre": 5}, "nombre"),
        ({"nombre": "x" * 201}, "nombre"),
        ({"nombre": "bad\x00name"}, "nombre"),
        ({"unknown": "field"}, "unknown"),
        ({"profileImageKey": ""}, "profileImageKey"),
    ],
)
async def test_put_profile_bad_input_is_400_and_changes_nothing(stack, http, user, body, field):
    await put_profile(stack, http, user, {"nombre": "Ada"})
    status, payload = await put_profile(stack, http, user, {**body, "apellido": "Changed"})
    assert status == 400, payload
    assert field in payload["details"]
    assert (await get_profile(stack, http, user))["apellido"] is None


async def test_put_profile_malformed_json_is_400(stack, http, user):
    headers = {**user, "Content-Type": "application/json"}
    async with http.put(f"{stack.gateway_url}/profile", headers=headers, data=b"{nope") as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "Malformed JSON body"


async def test_put_with_another_users_or_a_missing_key_is_404_and_changes_nothing(
    stack, http, org, user
):
    mine = await upload_image(stack, http, user)
    await put_profile(stack, http, user, {"profileImageKey": mine["s3Key"], "nombre": "Ada"})
    other = stack.auth(org=org, sub="user-2")
    theirs = await upload_image(stack, http, other, data=PNG_2)

    for key in (theirs["s3Key"], f"profiles/{org}/user-1/{uuid.uuid4()}.png", "nope"):
        status, body = await put_profile(
            stack, http, user, {"profileImageKey": key, "nombre": "Mallory"}
        )
        assert status == 404, body
        assert body["code"] == "not_found" and "profileImageKey" in body["details"]

    profile = await get_profile(stack, http, user)
    assert (profile["profileImageKey"], profile["nombre"]) == (mine["s3Key"], "Ada")
    # The other user's upload is untouched and still theirs to use.
    assert await object_exists(stack, theirs["s3Key"])
    assert (await get_profile(stack, http, other))["profileImageKey"] == theirs["s3Key"]


async def test_put_with_a_key_not_uploaded_yet_is_422(stack, http, user):
    presigned = await presign(stack, http, user)
    status, body = await put_profile(
        stack, http, user, {"profileImageKey": presigned["s3Key"], "nombre": "Ada"}
    )
    assert status == 422 and "profileImageKey" in body["details"]
    assert (await get_profile(stack, http, user))["nombre"] is None


async def test_put_with_an_expired_upload_is_410(stack, http, user, db):
    presigned = await upload_image(stack, http, user)
    await db.execute(
        "UPDATE gateway.profile_image_uploads SET expires_at = now() - interval '1 second'"
        " WHERE object_key = $1",
        presigned["s3Key"],
    )
    status, body = await put_profile(stack, http, user, {"profileImageKey": presigned["s3Key"]})
    assert status == 410 and body["code"] == "upload_expired"
    # A read doesn't accept it either.
    assert (await get_profile(stack, http, user))["profileImageKey"] is None


# ---- replacement --------------------------------------------------------------------------


async def test_replacing_deletes_the_old_object_and_emits_one_event(stack, http, user, db, org):
    first = await upload_image(stack, http, user)
    assert (await get_profile(stack, http, user))["profileImageKey"] == first["s3Key"]

    second = await upload_image(stack, http, user, data=PNG_2, fileName="new.png")
    profile = await get_profile(stack, http, user)
    assert profile["profileImageKey"] == second["s3Key"]
    assert profile["profileImageFileName"] == "new.png"
    # More reads change nothing and emit nothing.
    await get_profile(stack, http, user)
    await put_profile(stack, http, user, {"profileImageKey": second["s3Key"]})

    assert not await object_exists(stack, first["s3Key"])
    async with http.get(profile["profileImageUrl"]) as resp:
        assert await resp.read() == PNG_2

    events = await image_events(db, org)
    replaced = [e for e in events if e["data"]["object_key"] == second["s3Key"]]
    assert len(replaced) == 1 and len(events) == 2
    event = replaced[0]
    assert event["subject"] == "user-1" and event["type"] == "profile.image.updated"
    assert event["data"]["previous_object_key"] == first["s3Key"]
    assert event["data"]["size_bytes"] == len(PNG_2)
    assert event["data"]["content_type"] == "image/png"

    # The relay publishes it.
    async def published():
        return await db.fetchval(
            "SELECT published_at IS NOT NULL FROM catalog.outbox WHERE event_id = $1",
            uuid.UUID(event["id"]),
        )

    await eventually(published)
    # Only the current image's upload remains.
    rows = await db.fetch(
        "SELECT object_key, status FROM gateway.profile_image_uploads WHERE org_id = $1", org
    )
    assert [(r["object_key"], r["status"]) for r in rows] == [(second["s3Key"], "accepted")]


async def test_two_reads_at_once_accept_the_upload_once(stack, http, user, db, org):
    import asyncio

    await upload_image(stack, http, user)
    await upload_image(stack, http, user, data=PNG_2)
    profiles = await asyncio.gather(*(get_profile(stack, http, user) for _ in range(4)))
    newest = profiles[0]["profileImageKey"]
    assert newest and all(p["profileImageKey"] == newest for p in profiles)
    keys = [e["data"]["object_key"] for e in await image_events(db, org)]
    assert keys.count(newest) == 1


async def test_read_finishes_an_acceptance_interrupted_before_the_catalog(
    stack, http, user, db, org
):
    first = await upload_image(stack, http, user)
    await get_profile(stack, http, user)
    second = await upload_image(stack, http, user, data=PNG_2)
    # As if the gateway had verified the second upload and died before the catalog heard.
    await db.execute(
        "UPDATE gateway.profile_image_uploads SET status = 'accepting', size_bytes = $2,"
        " version = nextval('gateway.profile_image_version') WHERE object_key = $1",
        second["s3Key"],
        len(PNG_2),
    )
    profile = await get_profile(stack, http, user)
    assert profile["profileImageKey"] == second["s3Key"]
    assert not await object_exists(stack, first["s3Key"])
    status = await db.fetchval(
        "SELECT status FROM gateway.profile_image_uploads WHERE object_key = $1", second["s3Key"]
    )
    assert status == "accepted"
    assert len(await image_events(db, org)) == 2


def internal(stack, headers):
    return {
        **headers,
        "X-Attache-Internal-Secret": stack.settings.internal_secret.get_secret_value(),
    }


async def test_replaced_image_goes_even_if_the_gateway_died_after_the_catalog_commit(
    stack, http, user, db, org
):
    first = await upload_image(stack, http, user)
    await get_profile(stack, http, user)
    second = await upload_image(stack, http, user, data=PNG_2)
    # The gateway verified the second upload, the catalog took it, and the gateway died
    # before deleting the first: the profile.image.updated event finishes the job.
    version = await db.fetchval(
        "UPDATE gateway.profile_image_uploads SET status = 'accepting', size_bytes = $2,"
        " version = nextval('gateway.profile_image_version') WHERE object_key = $1"
        " RETURNING version",
        second["s3Key"],
        len(PNG_2),
    )
    image = {
        "bucket": stack.settings.s3_bucket,
        "key": second["s3Key"],
        "content_type": "image/png",
        "file_name": "avatar.png",
        "size_bytes": len(PNG_2),
        "version": version,
    }
    async with http.patch(
        f"{stack.catalog_url}/internal/v1/profile",
        headers=internal(stack, user),
        json={"image": image},
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["previousImageKey"] == first["s3Key"]

    async def first_gone():
        return not await object_exists(stack, first["s3Key"])

    await eventually(first_gone)
    assert await object_exists(stack, second["s3Key"])
    remaining = await db.fetch(
        "SELECT object_key FROM gateway.profile_image_uploads WHERE org_id = $1", org
    )
    assert [r["object_key"] for r in remaining] == [second["s3Key"]]
    assert (await get_profile(stack, http, user))["profileImageKey"] == second["s3Key"]


async def test_catalog_never_moves_a_profile_to_an_older_image(stack, http, org, user, db):
    presigned = await upload_image(stack, http, user)
    profile = await get_profile(stack, http, user)
    stale = {
        "image": {
            "bucket": stack.settings.s3_bucket,
            "key": f"profiles/{org}/user-1/{uuid.uuid4()}.png",
            "content_type": "image/png",
            "file_name": "old.png",
            "size_bytes": 10,
            "version": 1,
        },
        "nombre": "Stale",
    }
    async with http.patch(
        f"{stack.catalog_url}/internal/v1/profile", headers=internal(stack, user), json=stale
    ) as resp:
        assert resp.status == 409
    # Without the internal secret the endpoint doesn't exist.
    async with http.patch(f"{stack.catalog_url}/internal/v1/profile", headers=user, json={}) as r:
        assert r.status == 404
    after = await get_profile(stack, http, user)
    assert after["profileImageKey"] == presigned["s3Key"] and after["nombre"] is None
    assert after["profileImageUpdatedAt"] == profile["profileImageUpdatedAt"]


# ---- tenants ------------------------------------------------------------------------------


async def test_another_tenants_user_never_sees_this_profile(stack, http, org, user):
    mine = await upload_image(stack, http, user)
    await put_profile(stack, http, user, {"nombre": "Ada"})
    assert (await get_profile(stack, http, user))["profileImageKey"] == mine["s3Key"]

    intruder = stack.auth(org=f"{org}-other", sub="user-1")  # same user id, other tenant
    profile = await get_profile(stack, http, intruder)
    assert profile["profileImageKey"] is None and profile["nombre"] is None
    status, body = await put_profile(stack, http, intruder, {"profileImageKey": mine["s3Key"]})
    assert status == 404
    assert (await get_profile(stack, http, intruder))["profileImageUrl"] is None
    assert (await get_profile(stack, http, user))["profileImageKey"] == mine["s3Key"]


# ---- sweeping -----------------------------------------------------------------------------


async def test_expired_pending_uploads_are_swept_with_their_objects(stack, http, user, db, org):
    current = await upload_image(stack, http, user)
    await get_profile(stack, http, user)
    abandoned = await upload_image(stack, http, user, data=PNG_2)
    never_uploaded = await presign(stack, http, user)
    # Everything expired, the accepted image's row included: only the pending ones go.
    await db.execute(
        "UPDATE gateway.profile_image_uploads SET expires_at = now() - interval '1 second'"
        " WHERE org_id = $1",
        org,
    )
    app = stack.gateway_app
    assert await sweep_profile_uploads(app[POOL], app[BLOBS]) >= 2

    assert not await object_exists(stack, abandoned["s3Key"])
    keys = await db.fetch(
        "SELECT object_key FROM gateway.profile_image_uploads WHERE org_id = $1", org
    )
    assert [k["object_key"] for k in keys] == [current["s3Key"]]
    assert never_uploaded["s3Key"] not in {k["object_key"] for k in keys}
    profile = await get_profile(stack, http, user)
    assert profile["profileImageKey"] == current["s3Key"]
    assert await object_exists(stack, current["s3Key"])


async def test_retired_rows_left_behind_are_swept(stack, http, user, db, org):
    """A replaced image whose delete did not happen (S3 down, crash) goes with the sweeper."""
    leftover = await upload_image(stack, http, user)
    await get_profile(stack, http, user)
    await db.execute(
        "UPDATE gateway.profile_image_uploads SET status = 'retired' WHERE object_key = $1",
        leftover["s3Key"],
    )
    app = stack.gateway_app
    assert await sweep_profile_uploads(app[POOL], app[BLOBS]) >= 1
    assert not await object_exists(stack, leftover["s3Key"])


# ---- the settling rules, without I/O -------------------------------------------------------


def _upload(key, status, version=None, minutes_ago=0):
    return ImageUpload(
        id=uuid.uuid4(),
        bucket="b",
        object_key=key,
        file_name="f.png",
        content_type="image/png",
        declared_size=None,
        status=status,
        reject_reason=None,
        size_bytes=1 if version else None,
        version=version,
        created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        expires_at=datetime.now(UTC) + timedelta(minutes=10),
    )


def test_settle_is_idle_when_only_the_current_image_is_open():
    plan = settle([_upload("a", "accepted", 5)], "a", 5)
    assert plan.idle


def test_settle_tries_pending_uploads_newer_than_the_image_newest_first():
    older = _upload("old", "pending", minutes_ago=10)
    current = _upload("a", "accepted", 5, minutes_ago=5)
    newer, newest = _upload("n1", "pending", minutes_ago=3), _upload("n2", "pending", minutes_ago=1)
    plan = settle([current, newest, newer, older], "a", 5)
    assert [u.object_key for u in plan.candidates] == ["n2", "n1"]
    assert not plan.obsolete and not plan.recover


def test_settle_recovers_newer_accepting_and_drops_older_ones():
    plan = settle(
        [_upload("a", "accepted", 5), _upload("x", "accepting", 7), _upload("y", "accepting", 3)],
        "a",
        5,
    )
    assert [u.object_key for u in plan.recover] == ["x"]
    assert plan.obsolete  # "y" is below the image's version: it can never be the image again


def test_settle_finalizes_an_accepting_row_that_is_already_the_image():
    plan = settle([_upload("a", "accepting", 5), _upload("b", "accepted", 2)], "a", 5)
    assert [u.object_key for u in plan.finalize] == ["a"] and plan.obsolete
