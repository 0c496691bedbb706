"""AI enrichment end to end: upload over HTTP, the enricher's results in the library API,
derivatives in S3, reprocessing that replaces results, derivatives deleted with their
attachment, and edge cases of the worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest

from attache_core.events import AttachmentDeleted, RawEvent, make_event
from attache_core.s3 import open_blob_store
from attache_devstack.documents import DocumentSpec, make_document
from attache_devstack.waiting import eventually
from attache_enricher import worker
from attache_enricher.providers import LocalProvider
from attache_enricher.settings import EnricherSettings
from attache_enricher.worker import Enricher, Job, derivative_keys, make_sandbox


async def upload(http: aiohttp.ClientSession, stack, org: str, name: str, ctype: str, data: bytes):
    headers = stack.auth(org=org)
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=headers,
        json={"full_name": "Enrich Me", "email": f"e-{uuid.uuid4().hex[:8]}@example.com"},
    ) as resp:
        customer = (await resp.json())["id"]
    base = f"{stack.gateway_url}/v1/customers/{customer}/attachments"
    async with http.post(
        f"{base}/presign",
        headers=headers,
        json={"filename": name, "content_type": ctype, "size": len(data)},
    ) as resp:
        assert resp.status == 200, await resp.text()
        presigned = await resp.json()
    async with http.put(presigned["url"], data=data, headers=presigned["headers"]) as resp:
        assert resp.status == 200
    async with http.post(
        f"{base}/confirm", headers=headers, json={"object_key": presigned["object_key"]}
    ) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def processed_since(database_url: str, attachment_id: str, since=None, within=60.0):
    """Wait (on the database: the API is rate-limited) until the enricher's result is in."""
    conn = await asyncpg.connect(database_url)
    try:

        async def done():
            at = await conn.fetchval(
                "SELECT ai_processed_at FROM catalog.attachments WHERE id = $1",
                uuid.UUID(attachment_id),
            )
            return at if at is not None and (since is None or at > since) else None

        return await eventually(done, within=within)
    finally:
        await conn.close()


async def attachment(http, stack, org, attachment_id) -> dict:
    async with http.get(
        f"{stack.gateway_url}/api/attachments/{attachment_id}", headers=stack.auth(org=org)
    ) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["data"]


async def test_an_uploaded_invoice_is_classified_with_fields_terms_and_thumbnails(
    stack, http, org, database_url
):
    invoice = make_document(DocumentSpec("invoice", "de", 0, "pdf", "dejavu", seed=42))
    created = await upload(http, stack, org, "rechnung.pdf", "application/pdf", invoice.data)

    first_run = await processed_since(database_url, created["id"])
    data = await attachment(http, stack, org, created["id"])
    expected = invoice.labels["fields"]
    assert data["documentType"] == "invoice" and 0.5 <= data["classificationConfidence"] <= 1
    metadata = data["extractedMetadata"]
    assert metadata["type"] == "invoice"
    assert f"{metadata['amount']:.2f}" == expected["amount"]
    assert metadata["currency"] == expected["currency"]
    assert metadata["invoiceNumber"] == expected["invoiceNumber"]
    assert metadata["invoiceDate"] == expected["invoiceDate"]
    assert metadata["vendor"] == expected["vendor"]
    assert data["keyTerms"][0] == "invoice" and len(data["keyTerms"]) <= 8
    assert data["aiModelVersion"].startswith("attache-local")
    assert data["thumbnailPath"] == derivative_keys(created["object_key"])[0]

    async with open_blob_store(stack.settings) as blobs:
        for key in derivative_keys(created["object_key"]):
            head = await blobs.head(created["bucket"], key)
            assert head is not None and head.content_type == "image/webp"
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT ocr_status, language, page_count, preview_path, ai_status"
            " FROM catalog.attachments WHERE id = $1",
            uuid.UUID(created["id"]),
        )
    finally:
        await conn.close()
    assert dict(row) == {
        "ocr_status": "not_needed",
        "language": "de",
        "page_count": 1,
        "preview_path": derivative_keys(created["object_key"])[1],
        "ai_status": "processed",
    }

    # Reprocessing replaces the results (same keys, same single row), never adds to them.
    before = data["aiProcessedAt"]
    async with http.post(
        f"{stack.gateway_url}/api/attachments/{created['id']}/reprocess",
        headers=stack.auth(org=org, tier="pro"),
        json={"priority": 9},
    ) as resp:
        assert resp.status == 202, await resp.text()
        job_id = (await resp.json())["jobId"]

    await processed_since(database_url, created["id"], since=first_run)
    async with http.get(
        f"{stack.gateway_url}/api/attachments/jobs/{job_id}", headers=stack.auth(org=org)
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["data"]["status"] == "completed"
    again = await attachment(http, stack, org, created["id"])
    assert again["aiProcessedAt"] > before
    assert again["keyTerms"] == data["keyTerms"]
    assert again["extractedMetadata"] == metadata
    async with open_blob_store(stack.settings) as blobs:
        listed = await blobs.client.list_objects_v2(
            Bucket=created["bucket"], Prefix=created["object_key"]
        )
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(
        [created["object_key"], *derivative_keys(created["object_key"])]
    )


async def test_a_photographed_receipt_is_read_by_ocr(stack, http, org, database_url):
    receipt = make_document(DocumentSpec("receipt", "fr", 1, "jpeg", "dejavu", seed=7))
    created = await upload(http, stack, org, "ticket.jpg", "image/jpeg", receipt.data)
    await processed_since(database_url, created["id"])
    data = await attachment(http, stack, org, created["id"])
    assert data["documentType"] == "receipt"
    expected = receipt.labels["fields"]
    assert f"{data['extractedMetadata']['total']:.2f}" == expected["total"]
    assert data["extractedMetadata"]["date"] == expected["date"]
    async with http.get(
        f"{stack.gateway_url}/api/attachments/{created['id']}/preview",
        headers=stack.auth(org=org),
    ) as resp:
        preview = await resp.json()
    assert preview["type"] in ("image", "thumbnail") and preview["url"]


async def test_empty_missing_and_oversized_objects_get_a_clear_status(base_settings):
    settings = EnricherSettings(**base_settings, max_extract_bytes=1024, enrich_processes=1)
    sandbox = make_sandbox(settings)
    bucket = settings.s3_bucket
    try:
        async with open_blob_store(settings) as blobs:
            await blobs.ensure_bucket(bucket)
            enricher = Enricher(settings, blobs, sandbox, LocalProvider())

            def job(key: str) -> Job:
                return Job(
                    uuid.uuid4(),
                    "org-edge",
                    bucket,
                    key,
                    key,
                    "application/pdf",
                    True,
                    "attachment.created",
                )

            await blobs.client.put_object(Bucket=bucket, Key="edge/empty.pdf", Body=b"")
            empty = await enricher.process(job("edge/empty.pdf"))
            assert empty.status == "skipped" and empty.skipped_reason == "empty file (0 bytes)"

            missing = await enricher.process(job("edge/missing.pdf"))
            assert missing.status == "failed" and missing.error == "object not found"

            await blobs.client.put_object(Bucket=bucket, Key="edge/big.bin", Body=b"x" * 4096)
            big = await enricher.process(job("edge/big.bin"))
            assert big.status == "skipped" and "limit" in big.skipped_reason
            assert big.sha256 is not None and len(big.sha256) == 64
    finally:
        await sandbox.close()


async def derivatives_in_s3(settings, bucket: str, object_key: str) -> list[str]:
    async with open_blob_store(settings) as blobs:
        heads = [await blobs.head(bucket, key) for key in derivative_keys(object_key)]
    return [key for key, head in zip(derivative_keys(object_key), heads, strict=True) if head]


async def test_deleting_an_attachment_deletes_its_derivatives(stack, http, org, database_url):
    invoice = make_document(DocumentSpec("invoice", "en", 1, "pdf", "sans", seed=5))
    created = await upload(http, stack, org, "invoice.pdf", "application/pdf", invoice.data)
    await processed_since(database_url, created["id"])
    bucket, key = created["bucket"], created["object_key"]
    assert await derivatives_in_s3(stack.settings, bucket, key) == list(derivative_keys(key))

    async with http.delete(
        f"{stack.gateway_url}/files/{created['id']}", headers=stack.auth(org=org)
    ) as resp:
        assert resp.status == 204, await resp.text()

    async def gone():
        return not await derivatives_in_s3(stack.settings, bucket, key)

    await eventually(gone)


async def test_derivatives_are_deleted_only_once_their_original_is(base_settings, monkeypatch):
    """The catalog announces a deletion before the object goes: until it has, an analysis
    could still store derivatives, so the handler leaves them and asks to be retried."""
    monkeypatch.setattr(worker, "ORIGINAL_GONE_WITHIN_SECONDS", 0.0)
    settings = EnricherSettings(**base_settings)
    bucket, key = settings.s3_bucket, f"deleted/{uuid.uuid4()}/a.pdf"
    event = make_event(
        "attachment.deleted",
        AttachmentDeleted(
            attachment_id=uuid.uuid4(),
            org_id="org-deleted",
            bucket=bucket,
            object_key=key,
            reason="deleted",
            deleted_at=datetime.now(UTC),
        ),
        source="/test",
        subject=None,
        org_id="org-deleted",
    )
    raw = RawEvent.model_validate_json(event.model_dump_json())
    async with open_blob_store(settings) as blobs:
        await blobs.ensure_bucket(bucket)
        for object_key in (key, *derivative_keys(key)):
            await blobs.client.put_object(Bucket=bucket, Key=object_key, Body=b"x")
        handle = worker.deleted_handler(blobs)

        with pytest.raises(worker.OriginalNotDeletedYet):
            await handle(raw, None)
        assert await derivatives_in_s3(settings, bucket, key) == list(derivative_keys(key))

        await blobs.delete(bucket, key)
        await handle(raw, None)
        assert await derivatives_in_s3(settings, bucket, key) == []
        await handle(raw, None)  # a redelivery finds nothing to do


async def test_an_original_deleted_during_its_analysis_leaves_no_derivatives(base_settings):
    settings = EnricherSettings(**base_settings, enrich_processes=1)
    sandbox = make_sandbox(settings)
    bucket, key = settings.s3_bucket, f"deleted/{uuid.uuid4()}/invoice.pdf"
    try:
        async with open_blob_store(settings) as blobs:
            await blobs.ensure_bucket(bucket)
            invoice = make_document(DocumentSpec("invoice", "en", 0, "pdf", "sans", seed=6))
            await blobs.client.put_object(Bucket=bucket, Key=key, Body=invoice.data)

            class DeletedMeanwhile:
                """The sandbox, but the original is deleted while it analyses."""

                async def run(self, job):
                    await blobs.delete(bucket, key)
                    return await sandbox.run(job)

            enricher = Enricher(settings, blobs, DeletedMeanwhile(), LocalProvider())
            result = await enricher.process(
                Job(
                    uuid.uuid4(),
                    "org-edge",
                    bucket,
                    key,
                    "invoice.pdf",
                    "application/pdf",
                    True,
                    "attachment.created",
                )
            )
            assert result.thumbnail_path is None and result.preview_path is None
            assert await derivatives_in_s3(settings, bucket, key) == []
    finally:
        await sandbox.close()
