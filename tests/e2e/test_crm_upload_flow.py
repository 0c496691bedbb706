"""The CRM attachment flow of seed 000, as a client does it over HTTP."""

from __future__ import annotations

import json
import uuid

import aiohttp
import asyncpg

from attache_catalog.keys import CONSUMERS
from attache_core import messaging
from attache_devstack.samples import make_pdf
from attache_devstack.waiting import counted, eventually
from attache_enricher.worker import RESULT_ID_NAMESPACE

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


async def test_redelivered_attachment_created_is_applied_once(
    stack, http, org, database_url, amqp_url
):
    """At-least-once end to end: the enricher may see an event twice; the catalog applies it once."""
    customer_id = await create_customer(http, stack, org)
    headers = stack.auth(org=org)
    base = f"{stack.gateway_url}/v1/customers/{customer_id}/attachments"
    async with http.post(
        f"{base}/presign",
        headers=headers,
        json={"filename": "a.pdf", "content_type": "application/pdf", "size": len(PDF)},
    ) as resp:
        presigned = await resp.json()
    async with http.put(presigned["url"], data=PDF, headers=presigned["headers"]) as resp:
        assert resp.status == 200
    async with http.post(
        f"{base}/confirm", headers=headers, json={"object_key": presigned["object_key"]}
    ) as resp:
        attachment = await resp.json()

    conn = await asyncpg.connect(database_url)
    try:
        raw_envelope = await eventually(
            lambda: conn.fetchval(
                "SELECT envelope FROM catalog.outbox WHERE event_type = 'attachment.created' AND envelope->>'subject' = $1",
                attachment["id"],
            )
        )
        envelope = json.loads(raw_envelope)
        result_id = str(uuid.uuid5(RESULT_ID_NAMESPACE, envelope["id"]))
        await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) FROM catalog.processed_messages WHERE message_id = $1", result_id
            )
        )

        consumer = stack.catalog_app[CONSUMERS][0]
        duplicates_before = consumer.outcomes["duplicate"]
        amqp = await messaging.connect(amqp_url)
        publisher = await messaging.EventPublisher.open(amqp, "attache.events")
        redelivered = messaging.RawEvent.model_validate(envelope)
        await publisher.publish_many([redelivered, redelivered])
        await eventually(lambda: counted(consumer.outcomes["duplicate"] >= duplicates_before + 2))
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM catalog.processed_messages WHERE message_id = $1", result_id
            )
            == 1
        )
        await amqp.close()
    finally:
        await conn.close()
