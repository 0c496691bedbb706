"""The attachment library API (seed 004) over HTTP, checked against a Python oracle
computed from the same seeded rows."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from attache_devstack.seed import COLUMNS, copy_rows, generate
from attache_devstack.waiting import eventually

N = 240


@pytest.fixture(scope="module")
async def library(stack, database_url):
    """One organisation with N seeded attachments (+ the rows as dicts, for the oracle)."""
    org = f"org-lib-{uuid.uuid4().hex[:6]}"
    rows = list(generate(org, N, seed=11))
    conn = await asyncpg.connect(database_url)
    try:
        await copy_rows(conn, rows)
    finally:
        await conn.close()
    dicts = []
    for row in rows:
        d = dict(zip(COLUMNS, row, strict=True))
        d["extracted_metadata"] = (
            json.loads(d["extracted_metadata"]) if d["extracted_metadata"] else None
        )
        dicts.append(d)
    return org, dicts


async def get(stack, http, org, path, params=None, **auth):
    async with http.get(
        f"{stack.gateway_url}{path}",
        headers=stack.auth(org=org, tier="pro", **auth),
        params=params or {},
    ) as resp:
        return resp.status, await resp.json()


async def all_ids(stack, http, org, params):
    """Every id the list returns for `params`, following the cursor."""
    ids, cursor = [], None
    while True:
        page_params = {**params, "limit": "200", **({"cursor": cursor} if cursor else {})}
        status, body = await get(stack, http, org, "/api/attachments", page_params)
        assert status == 200, body
        ids += [a["id"] for a in body["data"]]
        cursor = body["pagination"]["nextCursor"]
        if not cursor:
            return ids, body


def amount(row):
    m = row["extracted_metadata"] or {}
    v = m.get("amount", m.get("total"))
    return float(v) if v is not None else None


TODAY = datetime.now(UTC).date()
FILTERS = {
    "documentTypes=invoice": (
        {"documentTypes": "invoice"},
        lambda r: r["document_type"] == "invoice",
    ),
    "documentTypes=invoice,receipt": (
        {"documentTypes": "invoice,receipt"},
        lambda r: r["document_type"] in ("invoice", "receipt"),
    ),
    "fileTypes=pdf,png": (
        {"fileTypes": "pdf,png"},
        lambda r: r["file_extension"] in ("pdf", "png"),
    ),
    "fileCategories=image": ({"fileCategories": "image"}, lambda r: r["file_category"] == "image"),
    "dateFrom": (
        {"dateFrom": (TODAY - timedelta(days=200)).isoformat()},
        lambda r: r["email_date"].date() >= TODAY - timedelta(days=200),
    ),
    "dateTo": (
        {"dateTo": (TODAY - timedelta(days=500)).isoformat()},
        lambda r: r["email_date"].date() <= TODAY - timedelta(days=500),
    ),
    "minSize": ({"minSize": "500000"}, lambda r: r["size_bytes"] >= 500000),
    "maxSize": ({"maxSize": "20000"}, lambda r: r["size_bytes"] <= 20000),
    "aiProcessedOnly": ({"aiProcessedOnly": "true"}, lambda r: r["ai_processed"]),
    "aiProcessed=false": ({"aiProcessed": "false"}, lambda r: not r["ai_processed"]),
    "hasMetadata": ({"hasMetadata": "true"}, lambda r: bool(r["extracted_metadata"])),
    "paymentStatus=unpaid": (
        {"paymentStatus": "unpaid"},
        lambda r: (r["extracted_metadata"] or {}).get("paymentStatus") == "unpaid",
    ),
    "minAmount=100": ({"minAmount": "100"}, lambda r: (amount(r) or 0) >= 100),
}


@pytest.mark.parametrize("name", list(FILTERS))
async def test_each_filter_alone(stack, http, library, name):
    org, rows = library
    params, keep = FILTERS[name]
    ids, body = await all_ids(stack, http, org, params)
    expected = {str(r["id"]) for r in rows if keep(r)}
    assert set(ids) == expected and len(ids) == len(expected)
    assert body["pagination"]["total"] == len(expected)


async def test_filters_combine_with_and(stack, http, library):
    org, rows = library
    sender = rows[0]["sender_email"]
    params = {
        "documentTypes": "invoice,receipt,image",
        "minSize": "10000",
        "senders": sender,
        "dateFrom": (TODAY - timedelta(days=900)).isoformat(),
    }
    ids, _ = await all_ids(stack, http, org, params)
    expected = {
        str(r["id"])
        for r in rows
        if r["document_type"] in ("invoice", "receipt", "image")
        and r["size_bytes"] >= 10000
        and r["sender_email"] == sender
        and r["email_date"].date() >= TODAY - timedelta(days=900)
    }
    assert set(ids) == expected


SORTS = {
    "date": lambda r: (r["email_date"], str(r["id"])),
    "name": lambda r: (r["filename"].lower(), str(r["id"])),
    "size": lambda r: (r["size_bytes"], str(r["id"])),
    "sender": lambda r: (r["sender_email"] or "", str(r["id"])),
    "type": lambda r: (r["document_type"] or "", str(r["id"])),
}


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort_by", list(SORTS))
async def test_each_sort_in_both_orders(stack, http, library, sort_by, order):
    org, rows = library
    ids, _ = await all_ids(stack, http, org, {"sortBy": sort_by, "sortOrder": order})
    expected = [str(r["id"]) for r in sorted(rows, key=SORTS[sort_by], reverse=order == "desc")]
    # Ties on the key are broken by id in the same direction.
    assert ids == expected


async def test_page_boundaries_and_has_more(stack, http, library):
    org, rows = library
    seen = []
    for page in (1, 2, 3, 4, 5):
        status, body = await get(
            stack, http, org, "/api/attachments", {"page": str(page), "limit": "50"}
        )
        assert status == 200
        p = body["pagination"]
        assert p["total"] == N and p["limit"] == 50 and p["totalPages"] == 5 and p["page"] == page
        assert p["hasMore"] == (page < 5)
        assert len(body["data"]) == (50 if page < 5 else N - 200)
        seen += [a["id"] for a in body["data"]]
    assert len(set(seen)) == N
    status, body = await get(stack, http, org, "/api/attachments", {"page": "6", "limit": "50"})
    assert body["data"] == [] and body["pagination"]["hasMore"] is False


async def test_the_item_and_filter_blocks_have_the_documented_shape(stack, http, library):
    org, _ = library
    status, body = await get(
        stack,
        http,
        org,
        "/api/attachments",
        {"search": "invoice", "documentTypes": "invoice", "dateFrom": "2020-01-01", "limit": "1"},
    )
    assert status == 200
    item = body["data"][0]
    for key in (
        "id",
        "userId",
        "emailId",
        "filename",
        "fileExtension",
        "mimeType",
        "fileSizeBytes",
        "storagePath",
        "storageBucket",
        "thumbnailPath",
        "senderEmail",
        "senderName",
        "emailSubject",
        "emailDate",
        "documentType",
        "classificationConfidence",
        "extractedMetadata",
        "keyTerms",
        "aiProcessed",
        "aiProcessedAt",
        "aiModelVersion",
        "accessCount",
        "lastAccessedAt",
        "createdAt",
        "updatedAt",
    ):
        assert key in item
    assert body["filters"]["search"] == "invoice"
    assert body["filters"]["documentTypes"] == ["invoice"]
    assert body["filters"]["dateRange"]["from"].startswith("2020-01-01")


async def test_search_terms_and_phrases(stack, http, library, database_url):
    org, rows = library
    conn = await asyncpg.connect(database_url)
    try:
        first = rows[0]
        await conn.execute(
            "UPDATE catalog.attachments SET email_subject = 'Quarterly Q3 report draft' WHERE id = $1",
            first["id"],
        )
        second = rows[1]
        await conn.execute(
            "UPDATE catalog.attachments SET email_subject = 'report for Q3 in draft' WHERE id = $1",
            second["id"],
        )
    finally:
        await conn.close()
    phrase, _ = await all_ids(stack, http, org, {"search": '"Q3 report"'})
    assert str(first["id"]) in phrase and str(second["id"]) not in phrase
    terms, _ = await all_ids(stack, http, org, {"search": "Q3 report"})
    assert {str(first["id"]), str(second["id"])} <= set(terms)
    # A term matches filenames (split on punctuation), senders and extracted metadata too.
    invoice = next(r for r in rows if r["extracted_metadata"] and r["document_type"] == "invoice")
    number = invoice["extracted_metadata"]["invoiceNumber"]
    ids, _ = await all_ids(stack, http, org, {"search": f'"{number}"'})
    assert str(invoice["id"]) in ids
    vendor_ids, _ = await all_ids(
        stack, http, org, {"search": invoice["sender_name"].split(" ")[0]}
    )
    assert str(invoice["id"]) in vendor_ids


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"page": "0"}, "page"),
        ({"sortBy": "color"}, "sortBy"),
        ({"sortOrder": "up"}, "sortOrder"),
        ({"dateFrom": "yesterday"}, "dateFrom"),
        ({"dateTo": "2025-13-01"}, "dateTo"),
        ({"minSize": "-1"}, "minSize"),
        ({"maxSize": "big"}, "maxSize"),
        ({"minSize": "10", "maxSize": "5"}, "minSize"),
        ({"aiProcessedOnly": "maybe"}, "aiProcessedOnly"),
        ({"hasMetadata": "2"}, "hasMetadata"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"paymentStatus": "late"}, "paymentStatus"),
        ({"minAmount": "lots"}, "minAmount"),
        ({"colour": "red"}, "colour"),
        ({"search": "x" * 600}, "search"),
    ],
)
async def test_invalid_parameters_are_400_with_details(stack, http, library, params, field):
    org, _ = library
    status, body = await get(stack, http, org, "/api/attachments", params)
    assert status == 400
    assert body["error"] == "Invalid parameters" and field in body["details"]


async def test_limit_message_is_the_documented_one(stack, http, library):
    org, _ = library
    _, body = await get(stack, http, org, "/api/attachments", {"limit": "500"})
    assert body["details"] == {"limit": "Must be between 1 and 200"}


async def test_detail_preview_download_and_other_tenants(stack, http, library):
    org, rows = library
    pdf = next(r for r in rows if r["file_extension"] == "pdf")
    status, body = await get(stack, http, org, f"/api/attachments/{pdf['id']}")
    assert status == 200 and body["data"]["id"] == str(pdf["id"])
    status, preview = await get(stack, http, org, f"/api/attachments/{pdf['id']}/preview")
    assert status == 200 and preview["type"] == "pdf" and preview["url"] and preview["expiresAt"]
    zip_row = next(r for r in rows if r["file_extension"] in ("zip", "mp3", "mp4", "txt", "docx"))
    status, preview = await get(stack, http, org, f"/api/attachments/{zip_row['id']}/preview")
    assert preview["type"] in ("unsupported", "thumbnail")
    status, download = await get(stack, http, org, f"/api/attachments/{pdf['id']}/download")
    assert status == 200
    assert download["filename"] == pdf["filename"] and download["sizeBytes"] == pdf["size_bytes"]
    assert "response-content-disposition=attachment" in download["url"]
    for path in ("", "/preview", "/download"):
        status, body = await get(stack, http, "org-intruder", f"/api/attachments/{pdf['id']}{path}")
        assert status == 404 and body["error"] == "Attachment not found"
    status, _ = await get(stack, http, org, "/api/attachments/not-a-uuid")
    assert status == 404


async def test_concurrent_downloads_count_exactly(stack, http, library, database_url):
    org, rows = library
    target = rows[5]
    results = await asyncio.gather(
        *(get(stack, http, org, f"/api/attachments/{target['id']}/download") for _ in range(25))
    )
    assert all(status == 200 for status, _ in results)
    status, body = await get(stack, http, org, f"/api/attachments/{target['id']}")
    assert body["data"]["accessCount"] == 25 and body["data"]["lastAccessedAt"]
    conn = await asyncpg.connect(database_url)
    try:
        events = await conn.fetchval(
            "SELECT count(*) FROM catalog.outbox WHERE event_type = 'attachment.accessed'"
            " AND envelope->>'subject' = $1",
            str(target["id"]),
        )
    finally:
        await conn.close()
    assert events == 25


async def test_smart_filter_counts_equal_the_list_totals(stack, http, library):
    org, _ = library
    status, body = await get(stack, http, org, "/api/attachments/smart-filters")
    assert status == 200
    ids = [f["id"] for f in body["filters"]]
    assert ids == [
        "unpaid_invoices",
        "expiring_contracts",
        "receipts_by_amount",
        "recent_images",
        "large_files",
        "unprocessed",
    ]
    for smart in body["filters"]:
        assert {"label", "description", "icon", "count", "params"} <= smart.keys()
        _, listed = await get(stack, http, org, "/api/attachments", smart["params"])
        assert listed["pagination"]["total"] == smart["count"], smart["id"]
    assert any(f["count"] > 0 for f in body["filters"])


async def test_stats_match_the_rows(stack, http, library):
    org, rows = library
    status, body = await get(stack, http, org, "/api/attachments/stats")
    assert status == 200
    stats = body["data"]
    assert stats["totalAttachments"] == N
    assert stats["totalSizeBytes"] == sum(r["size_bytes"] for r in rows)
    assert stats["aiProcessedCount"] == sum(r["ai_processed"] for r in rows)
    doc_types = {}
    for r in rows:
        if r["document_type"]:
            doc_types[r["document_type"]] = doc_types.get(r["document_type"], 0) + 1
    assert stats["documentTypeCounts"] == doc_types
    assert sum(stats["fileTypeCounts"].values()) == N and sum(stats["categoryCounts"].values()) == N
    invoices = [r for r in rows if r["document_type"] == "invoice"]
    unpaid = [
        r for r in invoices if (r["extracted_metadata"] or {}).get("paymentStatus") == "unpaid"
    ]
    fin = stats["financialSummary"]
    assert fin["totalInvoices"] == len(invoices) and fin["unpaidInvoices"] == len(unpaid)
    assert fin["unpaidAmount"] == pytest.approx(sum(amount(r) or 0 for r in unpaid))
    assert fin["totalReceipts"] == sum(r["document_type"] == "receipt" for r in rows)
    assert sum(m["count"] for m in stats["attachmentsByMonth"]) <= N
    assert stats["largestFiles"][0]["sizeBytes"] == max(r["size_bytes"] for r in rows)
    assert stats["topSenders"][0]["count"] >= stats["topSenders"][-1]["count"]
    assert stats["latestAttachmentDate"] and stats["oldestAttachmentDate"]


async def test_stats_follow_deletes_and_enrichment(stack, http, database_url):
    org = f"org-{uuid.uuid4().hex[:6]}"
    rows = list(generate(org, 10, seed=3))
    conn = await asyncpg.connect(database_url)
    try:
        await copy_rows(conn, rows)
        await conn.execute(
            "UPDATE catalog.attachments SET deleted_at = now() WHERE id = $1", rows[0][0]
        )
        await conn.execute(
            "UPDATE catalog.attachments SET document_type = 'invoice',"
            ' extracted_metadata = \'{"amount": 12.5, "paymentStatus": "unpaid"}\''
            " WHERE id = $1",
            rows[1][0],
        )
    finally:
        await conn.close()
    _, body = await get(stack, http, org, "/api/attachments/stats")
    assert body["data"]["totalAttachments"] == 9
    assert body["data"]["financialSummary"]["unpaidAmount"] >= 12.5


async def test_customer_role_sees_only_its_own(stack, http, org):
    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "Lib", "email": "lib@example.com"},
    ) as resp:
        customer = (await resp.json())["id"]
    status, body = await get(
        stack, http, org, "/api/attachments", roles=("customer",), customer_id=customer
    )
    assert status == 200 and body["data"] == []
    status, _ = await get(
        stack, http, org, "/api/attachments/stats", roles=("customer",), customer_id=customer
    )
    assert status == 404


async def test_unauthenticated_is_the_documented_401(stack, http):
    async with http.get(f"{stack.gateway_url}/api/attachments") as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "Authentication required"


async def test_reprocess_queues_a_job_with_its_priority(stack, http, org, database_url, amqp_url):
    from attache_core import messaging

    async with http.post(
        f"{stack.gateway_url}/v1/customers",
        headers=stack.auth(org=org),
        json={"full_name": "R", "email": "r@example.com"},
    ) as resp:
        customer = (await resp.json())["id"]
    rows = list(generate(org, 1, seed=5))
    conn = await asyncpg.connect(database_url)
    try:
        await copy_rows(conn, rows)
    finally:
        await conn.close()
    attachment_id = rows[0][0]
    # A probe bound to the event sees the request with the AMQP priority set.
    amqp = await messaging.connect(amqp_url)
    channel = await amqp.channel()
    exchange = await messaging.declare_exchanges(channel, "attache.events")
    probe = await channel.declare_queue(
        exclusive=True, auto_delete=True, arguments={"x-max-priority": 10}
    )
    await probe.bind(exchange, routing_key="attachment.reprocess-requested")

    headers = stack.auth(org=org, tier="pro")
    async with http.post(
        f"{stack.gateway_url}/api/attachments/{attachment_id}/reprocess",
        headers=headers,
        json={"priority": 8},
    ) as resp:
        assert resp.status == 202, await resp.text()
        accepted = await resp.json()
    assert accepted["message"] == "Attachment queued for reprocessing" and accepted["jobId"]
    message = await eventually(lambda: probe.get(fail=False))
    assert message.priority == 8
    assert json.loads(message.body)["data"]["job_id"] == accepted["jobId"]
    await message.ack()

    status, job = await get(stack, http, org, f"/api/attachments/jobs/{accepted['jobId']}")
    assert status == 200 and job["data"]["status"] in ("queued", "completed", "failed")
    assert job["data"]["attachmentId"] == str(attachment_id) and job["data"]["priority"] == 8
    status, _ = await get(stack, http, "org-other", f"/api/attachments/jobs/{accepted['jobId']}")
    assert status == 404
    for bad in ({"priority": 0}, {"priority": 11}, {"priority": "high"}, {"urgent": True}):
        async with http.post(
            f"{stack.gateway_url}/api/attachments/{attachment_id}/reprocess",
            headers=headers,
            json=bad,
        ) as resp:
            assert resp.status == 400
    async with http.post(
        f"{stack.gateway_url}/api/attachments/{uuid.uuid4()}/reprocess",
        headers=headers,
        json={"priority": 5},
    ) as resp:
        assert resp.status == 404
    await channel.close()
    await amqp.close()
    assert customer
