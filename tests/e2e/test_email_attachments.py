"""E-mail attachments reach the library either through confirm with a `source` block or
through an `attachment.ingest` command; the monthly AI quota decides about enrichment."""

from __future__ import annotations

import uuid

import asyncpg

from attache_catalog.keys import CONSUMERS
from attache_core import messaging
from attache_core.events import AttachmentIngest, make_event
from attache_devstack.samples import make_pdf
from attache_devstack.waiting import eventually

PDF = make_pdf("Invoice INV-7 from Acme")
SOURCE = {
    "emailId": "<m-1@acme.example>",
    "senderEmail": "Billing@Acme.example",
    "senderName": "Acme Billing",
    "emailSubject": "Invoice INV-7",
    "emailDate": "2025-10-25T10:30:00Z",
}


async def customer(stack, http, org):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Mail", "email": f"{uuid.uuid4().hex[:6]}@example.com"},
    ) as resp:
        return (await resp.json())["id"]


async def upload(stack, http, org, customer_id, *, source=None, sub="user-1", tier="free"):
    headers = stack.auth(org=org, sub=sub, tier=tier)
    base = f"{stack.gateway_url}/v1/customers/{customer_id}/attachments"
    async with http.post(
        f"{base}/presign",
        headers=headers,
        json={"filename": "invoice.pdf", "content_type": "application/pdf", "size": len(PDF)},
    ) as resp:
        presigned = await resp.json()
    async with http.put(presigned["url"], data=PDF, headers=presigned["headers"]) as resp:
        assert resp.status == 200
    body = {"object_key": presigned["object_key"], **({"source": source} if source else {})}
    async with http.post(f"{base}/confirm", headers=headers, json=body) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def library_item(stack, http, org, attachment_id):
    async with http.get(
        f"{stack.gateway_url}/api/attachments/{attachment_id}",
        headers=stack.auth(org=org, tier="pro"),
    ) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["data"]


async def test_confirm_with_a_source_block(stack, http, org):
    attachment = await upload(stack, http, org, await customer(stack, http, org), source=SOURCE)
    item = await library_item(stack, http, org, attachment["id"])
    assert item["senderEmail"] == "billing@acme.example"  # stored lower-case: filters match it
    assert item["senderName"] == "Acme Billing" and item["emailSubject"] == "Invoice INV-7"
    assert item["emailId"] == "<m-1@acme.example>" and item["emailDate"].startswith(
        "2025-10-25T10:30:00"
    )
    async with http.get(
        f"{stack.gateway_url}/api/attachments",
        headers=stack.auth(org=org, tier="pro"),
        params={"senders": "billing@acme.example", "search": "INV-7"},
    ) as resp:
        assert [a["id"] for a in (await resp.json())["data"]] == [attachment["id"]]


async def test_ingest_command_registers_an_object_already_in_s3(stack, http, org, amqp_url):
    key = f"mail/{uuid.uuid4()}/statement.pdf"
    await stack.gateway_app[__import__("attache_gateway.keys").keys.BLOBS].client.put_object(
        Bucket=stack.settings.s3_bucket, Key=key, Body=PDF, ContentType="application/pdf"
    )
    command = AttachmentIngest(
        org_id=org,
        bucket=stack.settings.s3_bucket,
        object_key=key,
        filename="statement.pdf",
        content_type="application/pdf",
        size_bytes=len(PDF),
        source=SOURCE,
    )
    event = make_event(
        "attachment.ingest", command, source="/mail-importer", subject=None, org_id=org
    )
    amqp = await messaging.connect(amqp_url)
    publisher = await messaging.EventPublisher.open(amqp, "attache.events")
    consumer = next(
        c for c in stack.catalog_app[CONSUMERS] if c._spec.name == "catalog.attachment-ingest"
    )
    before = consumer.outcomes["handled"]
    await publisher.publish_many([event, event])  # a redelivery changes nothing

    async def listed():
        async with http.get(
            f"{stack.gateway_url}/api/attachments", headers=stack.auth(org=org, tier="pro")
        ) as resp:
            return (await resp.json())["data"]

    items = await eventually(listed)
    assert len(items) == 1 and items[0]["storagePath"] == key
    assert items[0]["senderName"] == "Acme Billing"
    assert consumer.outcomes["handled"] >= before + 1
    await publisher.close()
    await amqp.close()


async def test_free_tier_ai_quota_skips_enrichment_with_a_reason(stack, http, org, database_url):
    customer_id = await customer(stack, http, org)
    conn = await asyncpg.connect(database_url)
    try:  # 50 used already this month
        await conn.execute(
            "INSERT INTO catalog.ai_usage (org_id, user_id, month, used)"
            " VALUES ($1, 'quota-user', date_trunc('month', now())::date, 50)",
            org,
        )
    finally:
        await conn.close()
    skipped = await upload(stack, http, org, customer_id, sub="quota-user", tier="free")
    item = await library_item(stack, http, org, skipped["id"])
    assert item["aiStatus"] == "skipped" and "quota" in item["aiSkippedReason"]
    assert item["aiProcessed"] is False
    # A pro user of the same organisation is not limited.
    enriched = await upload(stack, http, org, customer_id, sub="pro-user", tier="pro")

    async def processed():
        return (await library_item(stack, http, org, enriched["id"]))["aiProcessed"]

    await eventually(processed)
    assert (await library_item(stack, http, org, skipped["id"]))["aiStatus"] == "skipped"
