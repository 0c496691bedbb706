"""The CRM attachment flow of seed 000, as a client does it over HTTP."""

from __future__ import annotations

import uuid

import aiohttp
from attache_devstack.samples import make_pdf
from attache_devstack.waiting import eventually

PDF = make_pdf(["Quarterly report", "Attache"])


async def create_customer(http: aiohttp.ClientSession, stack, org: str) -> str:
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Ada Lovelace", "email": f"ada-{uuid.uuid4().hex[:6]}@example.com"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        return (await resp.json())["id"]


async def test_presign_put_confirm_list_and_enrich(stack, http, org):
    customer_id = await create_customer(http, stack, org)
    headers = stack.auth(org=org, sub="agent-7", roles=("agent",))
    base = f"{stack.gateway_url}/v1/customers/{customer_id}/attachments"

    async with http.post(
        f"{base}/presign",
        headers=headers,
        json={"filename": "document.pdf", "content_type": "application/pdf", "size": len(PDF)},
    ) as resp:
        assert resp.status == 200, await resp.text()
        presigned = await resp.json()
    assert presigned["url"].startswith(stack.settings.s3_endpoint_url)
    assert presigned["object_key"].endswith("document.pdf")

    # The upload itself: no Authorization header, the URL is the credential.
    async with http.put(
        presigned["url"], data=PDF, headers={"Content-Type": "application/pdf"}
    ) as resp:
        assert resp.status == 200, await resp.text()

    confirm = {
        "object_key": presigned["object_key"],
        "filename": "document.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
    }
    async with http.post(f"{base}/confirm", headers=headers, json=confirm) as resp:
        assert resp.status == 201, await resp.text()
        attachment = await resp.json()
    assert attachment["customer_id"] == customer_id
    assert attachment["org_id"] == org
    assert attachment["uploaded_by"] == "agent-7"
    assert attachment["size_bytes"] == len(PDF)
    assert attachment["content_type"] == "application/pdf"

    async with http.get(f"{base}?limit=20", headers=headers) as resp:
        assert resp.status == 200
        listing = await resp.json()
    assert [item["id"] for item in listing["items"]] == [attachment["id"]]
    item = listing["items"][0]
    for key in (
        "id",
        "org_id",
        "customer_id",
        "object_key",
        "filename",
        "content_type",
        "size_bytes",
        "uploaded_by",
        "created_at",
    ):
        assert key in item

    async def processed():
        async with http.get(f"{base}?limit=20", headers=headers) as resp:
            first = (await resp.json())["items"][0]
            return first if first["aiProcessed"] else None

    enriched = await eventually(processed)
    assert enriched["aiProcessedAt"] is not None
    assert enriched["detected_mime_type"] == "application/pdf"
    assert enriched["ai_status"] == "processed"
    assert len(enriched["checksum_sha256"]) == 64
