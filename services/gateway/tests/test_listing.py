"""Listing: keyset pages with an opaque cursor, tenant isolation, CORS on the bucket."""

from __future__ import annotations

import pytest

from attache_devstack.samples import make_pdf

PDF = make_pdf("page test")


async def upload(stack, http, org, customer_id, name):
    base = f"{stack.gateway_url}/v1/customers/{customer_id}/attachments"
    headers = stack.auth(org=org)
    async with http.post(
        f"{base}/presign",
        headers=headers,
        json={"filename": name, "content_type": "application/pdf", "size": len(PDF)},
    ) as resp:
        presigned = await resp.json()
    async with http.put(presigned["url"], data=PDF, headers=presigned["headers"]) as resp:
        assert resp.status == 200
    async with http.post(
        f"{base}/confirm", headers=headers, json={"object_key": presigned["object_key"]}
    ) as resp:
        assert resp.status == 201
        return (await resp.json())["id"]


async def test_pages_follow_next_cursor_without_gaps_or_repeats(stack, http, org):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Paged", "email": "paged@example.com"},
    ) as resp:
        customer_id = (await resp.json())["id"]
    ids = [await upload(stack, http, org, customer_id, f"f{i}.pdf") for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        async with http.get(
            f"{stack.gateway_url}/v1/customers/{customer_id}/attachments",
            headers=stack.auth(org=org),
            params=params,
        ) as resp:
            assert resp.status == 200
            page = await resp.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first
    assert pages == 3

    # Another tenant sees nothing of it.
    async with http.get(
        f"{stack.gateway_url}/v1/customers/{customer_id}/attachments",
        headers=stack.auth(org="org-other"),
    ) as resp:
        assert resp.status == 404


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"bogus": "1"}, "bogus"),
    ],
)
async def test_bad_list_parameters_are_400(stack, http, org, params, field):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Q", "email": "q@example.com"},
    ) as resp:
        customer_id = (await resp.json())["id"]
    async with http.get(
        f"{stack.gateway_url}/v1/customers/{customer_id}/attachments",
        headers=stack.auth(org=org),
        params=params,
    ) as resp:
        assert resp.status == 400
        assert field in (await resp.json())["details"]


async def test_customers_search_and_duplicate_email(stack, http, org):
    headers = stack.auth(org=org)
    for name, email in (("Ada Lovelace", "ada@example.com"), ("Alan Turing", "alan@example.com")):
        async with http.post(
            f"{stack.gateway_url}/v1/customers",
            headers=headers,
            json={"full_name": name, "email": email},
        ) as resp:
            assert resp.status == 201
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=headers,
        json={"full_name": "Ada Again", "email": "ADA@example.com"},
    ) as resp:
        assert resp.status == 409
    async with http.get(
        f"{stack.gateway_url}/v1/customers", headers=headers, params={"search": "turing"}
    ) as resp:
        names = [c["full_name"] for c in (await resp.json())["items"]]
    assert names == ["Alan Turing"]
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=headers,
        json={"full_name": "X", "email": "not-an-email"},
    ) as resp:
        assert resp.status == 400
        assert "email" in (await resp.json())["details"]
    customer_headers = stack.auth(org=org, roles=("customer",), customer_id="c")
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=customer_headers,
        json={"full_name": "X", "email": "x@example.com"},
    ) as resp:
        assert resp.status == 404


async def test_bucket_allows_browser_puts(stack, http):
    """CORS preflight for a browser PUT straight to S3 (seed 000's CORS section)."""
    url = f"{stack.settings.s3_endpoint_url}/{stack.settings.s3_bucket}/any-key"
    async with http.options(
        url,
        headers={
            "Origin": "https://crm.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    ) as resp:
        assert resp.status == 200
        assert "PUT" in resp.headers["Access-Control-Allow-Methods"]
        assert resp.headers["Access-Control-Allow-Origin"] in {"*", "https://crm.example.com"}
        assert "etag" in resp.headers.get("Access-Control-Expose-Headers", "").lower()
