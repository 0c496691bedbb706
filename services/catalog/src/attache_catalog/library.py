"""The attachment library (seed 004): list with filters, search, sort and pagination;
detail; access counting; statistics; smart filters.

One query builder serves the list, its count and the smart filters, so a smart
filter's params always reproduce its count. Every query starts with the tenant and
the live-row predicate, which every index of migrations 007 and 011 leads with (the
phrase index: in each key): no page query reads another tenant's rows or scans the
whole tenant.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from attache_catalog import repository as repo
from attache_catalog.domain import require_visible
from attache_catalog.library_domain import LibraryAttachment, LibraryPage, LibraryQuery, Pagination
from attache_catalog.quota import quota_reason, take_ai_quota
from attache_core.auth import Principal
from attache_core.errors import AttacheError, InvalidInput, NotFound
from attache_core.events import AttachmentAccessed, ReprocessRequested, make_event
from attache_core.ids import new_uuid

SOURCE = "/attache/catalog"


class QuotaExceeded(AttacheError):
    status = 403
    code = "quota_exceeded"


# Totals are exact up to here; beyond, the planner's estimate (counting a million rows
# for every page would cost more than the page).
EXACT_COUNT_LIMIT = 10_000
# A phrase search's total is exact up to here: each match counted is a table read (the
# word order is checked there), and a phrase of common words has thousands.
PHRASE_EXACT_COUNT_LIMIT = 1_000
# What a search matches (filename, sender, subject, key terms, metadata: migration 007).
_SEARCH_MATCH = "search_vector @@ websearch_to_tsquery('simple', {})"
# What migration 011's phrase index is built on.
_PHRASE_KEYS = "catalog.phrase_keys(org_id, sort_date, search_vector)"

_SORT_EXPRESSIONS = {
    "date": "sort_date",
    "name": "lower(filename)",
    "size": "size_bytes",
    "sender": "coalesce(sender_email, '')",
    "type": "coalesce(document_type, '')",
}


_UNPAID = (
    "(extracted_metadata->>'paymentStatus' = 'unpaid' OR extracted_metadata->>'isPaid' = 'false')"
)
_PAID = "(extracted_metadata->>'paymentStatus' = 'paid' OR extracted_metadata->>'isPaid' = 'true')"


@dataclass
class _Where:
    """SQL conditions with their positional arguments."""

    clauses: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def placeholder(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str, *values: Any) -> None:
        self.clauses.append(clause.format(*(self.placeholder(v) for v in values)))

    def sql(self) -> str:
        return " AND ".join(self.clauses)


def _where(principal: Principal, q: LibraryQuery) -> _Where:
    w = _Where()
    w.add("org_id = {}", principal.org_id)
    w.clauses.append(repo.VISIBLE)
    if not principal.is_staff:  # a customer sees only its own attachments
        w.add(
            "customer_id = {}", uuid.UUID(principal.customer_id) if principal.customer_id else None
        )
    if q.customer_id is not None:
        w.add("customer_id = {}", q.customer_id)
    if q.search:
        w.add(_SEARCH_MATCH, q.search)
    if q.file_types:
        w.add("file_extension = ANY({}::text[])", q.file_types)
    if q.file_categories:
        w.add("file_category = ANY({}::text[])", q.file_categories)
    if q.document_types:
        w.add("document_type = ANY({}::text[])", q.document_types)
    if q.date_from:
        w.add("sort_date >= {}", q.date_from)
    if q.date_to:
        w.add("sort_date <= {}", q.date_to)
    if q.senders:
        w.add("sender_email = ANY({}::text[])", q.senders)
    if q.min_size is not None:
        w.add("size_bytes >= {}", q.min_size)
    if q.max_size is not None:
        w.add("size_bytes <= {}", q.max_size)
    if q.ai_processed_only:
        w.clauses.append("ai_processed")
    if q.ai_processed is not None:
        w.clauses.append("ai_processed" if q.ai_processed else "NOT ai_processed")
    if q.has_metadata:
        w.clauses.append("extracted_metadata IS NOT NULL AND extracted_metadata <> '{}'::jsonb")
    if q.payment_status is not None:
        # Literal SQL (the value is one of two validated words) so the partial indexes of
        # migration 010 match the predicate.
        w.clauses.append(_UNPAID if q.payment_status == "unpaid" else _PAID)
    if q.min_amount is not None:
        w.add("amount >= {}", q.min_amount)
    if q.expiration_from:
        w.add("extracted_metadata->>'expirationDate' >= {}", q.expiration_from.isoformat())
    if q.expiration_to:
        w.add("extracted_metadata->>'expirationDate' <= {}", q.expiration_to.isoformat())
    return w


# ---- cursors -------------------------------------------------------------------------


def _encode_cursor(q: LibraryQuery, value: Any, row_id: uuid.UUID) -> str:
    raw = json.dumps([q.sort_by, q.sort_order, _jsonable(value), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _decode_cursor(q: LibraryQuery) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(q.cursor + "=" * (-len(q.cursor) % 4))  # type: ignore[operator]
        sort_by, sort_order, value, row_id = json.loads(raw)
        if (sort_by, sort_order) != (q.sort_by, q.sort_order):
            raise ValueError("cursor of another sort")
        if sort_by == "date":
            value = datetime.fromisoformat(value)
        elif sort_by == "size":
            value = int(value)
        elif not isinstance(value, str):
            raise ValueError("bad value")
        return value, uuid.UUID(row_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidInput(
            "Invalid parameters", details={"cursor": "Malformed or from another sort"}
        ) from exc


# ---- list -------------------------------------------------------------------------------


async def count_matching(conn: asyncpg.Connection, where: _Where) -> tuple[int, bool]:
    """(total, is_estimate). The planner's estimate first (planning only, no rows read):
    when it is over EXACT_COUNT_LIMIT, that is the answer; otherwise an exact count,
    capped at the limit so a bad estimate can't turn into reading the whole tenant."""
    plan = await conn.fetchval(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM catalog.attachments WHERE {where.sql()}", *where.args
    )
    estimate = int((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])
    # Above the limit, the estimate is the answer: a capped exact count would invite a
    # fast-start seq scan that reads most of the tenant for sparse matches.
    if estimate > EXACT_COUNT_LIMIT:
        return estimate, True
    exact = await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM catalog.attachments WHERE {where.sql()}"
        f" LIMIT {EXACT_COUNT_LIMIT + 1}) s",
        *where.args,
    )
    if exact <= EXACT_COUNT_LIMIT:
        return exact, False
    return max(estimate, EXACT_COUNT_LIMIT + 1), True


async def list_attachments(
    pool: asyncpg.Pool, principal: Principal, q: LibraryQuery
) -> LibraryPage:
    async with pool.acquire() as conn:
        rows, total, estimated = await query_page(conn, principal, q)
    has_more = len(rows) > q.limit
    rows = rows[: q.limit]
    next_cursor = _encode_cursor(q, rows[-1]["sort_key"], rows[-1]["id"]) if has_more else None
    return LibraryPage(
        data=[to_library_attachment(r) for r in rows],
        pagination=Pagination(
            total=total,
            totalIsEstimate=estimated,
            page=q.page,
            limit=q.limit,
            totalPages=max(1, math.ceil(total / q.limit)),
            hasMore=has_more,
            nextCursor=next_cursor,
        ),
        filters=q.applied_filters(),
    )


async def query_page(
    conn: asyncpg.Connection, principal: Principal, q: LibraryQuery
) -> tuple[list[asyncpg.Record], int, bool]:
    """The page's rows (up to limit + 1: one more tells that more follow), the total and
    whether the total is an estimate."""
    offset = 0 if q.cursor else (q.page - 1) * q.limit
    if q.search and q.sort_by == "date":
        pairs = await conn.fetchval(
            "SELECT catalog.phrase_pairs(websearch_to_tsquery('simple', $1))", q.search
        )
        if pairs:
            return await _phrase_page(conn, principal, q, pairs, offset)
    where = _where(principal, q)
    expr = _SORT_EXPRESSIONS[q.sort_by]
    direction = "DESC" if q.sort_order == "desc" else "ASC"
    page_where = _Where(list(where.clauses), list(where.args))
    if q.cursor:
        value, row_id = _decode_cursor(q)
        op = "<" if direction == "DESC" else ">"
        page_where.add(f"({expr}, id) {op} ({{}}, {{}})", value, row_id)
    page = f"ORDER BY sort_key {direction}, id {direction} LIMIT {q.limit + 1} OFFSET {offset}"
    counted: tuple[int, bool] | None = None
    if q.search:
        counted = await count_matching(conn, where)
    matches = f"SELECT id, {expr} AS sort_key FROM catalog.attachments WHERE {page_where.sql()}"
    if counted is not None and not counted[1]:
        # Few matches: take them from the search index and sort them, rather than walk a
        # sort index past every row that doesn't match (a rare phrase would otherwise
        # read the whole tenant before giving up).
        ids = f"WITH matches AS MATERIALIZED ({matches}) SELECT * FROM matches {page}"
    else:
        ids = f"{matches} {page}"
    rows = await _rows(conn, ids, page_where.args, direction)
    if counted is not None:
        return rows, *counted
    if q.page == 1 and not q.cursor and len(rows) <= q.limit:
        return rows, len(rows), False  # the whole result is on this page
    return rows, *await count_matching(conn, where)


async def _rows(
    conn: asyncpg.Connection, ids: str, args: list[Any], direction: str
) -> list[asyncpg.Record]:
    """The rows of a page whose ids and sort keys `ids` selects. Ids first: filters on
    columns a sort index carries (migration 011) are checked in the index, and only the
    page's rows are read from the table."""
    return await conn.fetch(
        f"SELECT {repo.ATTACHMENT_COLUMNS}, p.sort_key FROM ({ids}) p"
        f" JOIN catalog.attachments USING (id) ORDER BY p.sort_key {direction}, id {direction}",
        *args,
    )


# Migration 011's month-by-month phrase search (see _phrase_page): one row per month read,
# from the end of the tenant's date range the page starts at, while the months read don't
# hold the page or the total is undecided; the last row tells how far it went. A month
# before a cursor is read only while the total is undecided ("read").
_PHRASE_SCAN = """
WITH RECURSIVE bounds AS (
  SELECT catalog.month_number(min(sort_date)) AS first_month,
         catalog.month_number(max(sort_date)) AS last_month,
         coalesce((SELECT count FROM catalog.attachment_rollups
                   WHERE org_id = {org} AND dimension = 'total' AND value = ''), 0) AS tenant_rows
  FROM catalog.attachments WHERE org_id = {org} AND deleted_at IS NULL
), scan AS (
  SELECT {start} - {step} AS month, 0::bigint AS found, 0::bigint AS after, 0::bigint AS seen,
         true AS all_read
  FROM bounds
  UNION ALL
  SELECT {month}, s.found + c.found, s.after + c.after,
         s.seen + CASE WHEN k.read THEN coalesce(r.count, 0) ELSE 0 END, s.all_read AND k.read
  FROM scan s CROSS JOIN bounds b
  CROSS JOIN LATERAL (SELECT NOT ({decided} AND {month} {before} {cursor_month}) AS read) k
  CROSS JOIN LATERAL (
    SELECT count(*) AS found, count(*) FILTER (WHERE {after}) AS after
    FROM (SELECT * FROM catalog.attachments
          WHERE k.read AND deleted_at IS NULL
            AND {keys} @@ catalog.phrase_query({org}, ARRAY[{month}], {pairs})
          OFFSET 0) candidates
    WHERE {where} AND {phrase}
  ) c
  LEFT JOIN catalog.attachment_rollups r
    ON r.org_id = {org} AND r.dimension = 'month'
       AND r.value = to_char(make_date({month} / 12, {month} % 12 + 1, 1), 'YYYY-MM')
  WHERE {month} BETWEEN b.first_month AND b.last_month AND NOT (s.after >= {need} AND {decided})
)
SELECT s.month, s.found, s.seen, b.tenant_rows,
       coalesce(s.month = b.{end}, true) AND s.all_read AS complete,
       {nearest}(b.{start}, {cursor_month}) AS page_month
FROM scan s CROSS JOIN bounds b ORDER BY s.month {last_first} LIMIT 1"""


async def _phrase_page(
    conn: asyncpg.Connection,
    principal: Principal,
    q: LibraryQuery,
    pairs: list[str],
    offset: int,
) -> tuple[list[asyncpg.Record], int, bool]:
    """A phrase search sorted by date, read month by month with the phrase keys of
    migration 011 (_PHRASE_SCAN). It stops once the months read hold the page and the
    total is known: every month read (exact), or more than PHRASE_EXACT_COUNT_LIMIT
    matches found or extrapolated from the months read (an estimate).

    The phrase and the filters are checked on the candidates of the phrase keys (OFFSET 0
    and MATERIALIZED keep them there): offered as index conditions, they could lead the
    planner to the search index, whose common words are what this path avoids, or to AND
    in a bitmap of the whole tenant (a generic plan does, for org_id = $n)."""
    desc = q.sort_order == "desc"
    step, direction = (-1, "DESC") if desc else (1, "ASC")
    w = _where(principal, q.model_copy(update={"search": None}))
    phrase = _SEARCH_MATCH.format(w.placeholder(q.search))
    after = "true"  # the cursor's condition
    cursor_month = 2**31 - 1 if desc else -(2**31)  # no month is before it
    if q.cursor:
        value, row_id = _decode_cursor(q)
        op = "<" if desc else ">"
        after = f"(sort_date, id) {op} ({w.placeholder(value)}, {w.placeholder(row_id)})"
        cursor_month = _month_number(value)
    org, pairs_arg = w.placeholder(principal.org_id), w.placeholder(pairs)
    scan = _Where([], list(w.args))  # and what only the scan needs
    cap = scan.placeholder(PHRASE_EXACT_COUNT_LIMIT)
    sql = _PHRASE_SCAN.format(
        org=org,
        pairs=pairs_arg,
        where=w.sql(),
        phrase=phrase,
        after=after,
        keys=_PHRASE_KEYS,
        step=step,
        month=f"(s.month + {step})",
        start="last_month" if desc else "first_month",
        end="first_month" if desc else "last_month",
        before=">" if desc else "<",
        cursor_month=scan.placeholder(cursor_month),
        need=scan.placeholder(offset + q.limit + 1),
        decided=f"(s.found > {cap} OR s.found * b.tenant_rows > {cap} * s.seen)",
        nearest="least" if desc else "greatest",
        last_first="ASC" if desc else "DESC",
    )
    async with conn.transaction():
        # The planner can't know a month's query before running it and guesses thousands
        # of rows each (and for each of ten months, in the scan): enough for JIT compilation
        # and parallel workers, which take far longer to start than the query.
        await conn.execute("SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0")
        state = await conn.fetchrow(sql, *scan.args)
        found = state["found"]
        if state["complete"]:
            total, estimated = found, False
        else:
            total = max(found, round(found * state["tenant_rows"] / max(state["seen"], 1)))
            estimated = True
        if not found:
            return [], total, estimated
        # The page's rows are in the months from the page's start to the last month read.
        months = w.placeholder(list(range(state["page_month"], state["month"] + step, step)))
        ids = f"""WITH candidates AS MATERIALIZED (
                    SELECT * FROM catalog.attachments WHERE deleted_at IS NULL AND {_PHRASE_KEYS}
                      @@ catalog.phrase_query({org}, {months}::integer[], {pairs_arg}))
                  SELECT id, sort_date AS sort_key FROM candidates
                  WHERE {w.sql()} AND {after} AND {phrase}
                  ORDER BY sort_key {direction}, id {direction}
                  LIMIT {q.limit + 1} OFFSET {offset}"""
        return await _rows(conn, ids, w.args, direction), total, estimated


def _month_number(value: datetime) -> int:
    """catalog.month_number: months since year 0, in UTC."""
    utc = value.astimezone(UTC)
    return utc.year * 12 + utc.month - 1


def to_library_attachment(row: asyncpg.Record) -> LibraryAttachment:
    return LibraryAttachment(
        id=row["id"],
        userId=row["uploaded_by"],
        customerId=row["customer_id"],
        emailId=row["email_id"],
        filename=row["filename"],
        fileExtension=row["file_extension"],
        fileCategory=row["file_category"],
        mimeType=row["content_type"],
        fileSizeBytes=row["size_bytes"],
        storagePath=row["object_key"],
        storageBucket=row["bucket"],
        thumbnailPath=row["thumbnail_path"],
        senderEmail=row["sender_email"],
        senderName=row["sender_name"],
        emailSubject=row["email_subject"],
        emailDate=row["email_date"],
        documentType=row["document_type"],
        classificationConfidence=row["classification_confidence"],
        extractedMetadata=row["extracted_metadata"],
        keyTerms=list(row["key_terms"] or []),
        aiProcessed=row["ai_processed"],
        aiProcessedAt=row["ai_processed_at"],
        aiModelVersion=row["ai_model_version"],
        aiStatus=row["ai_status"],
        aiSkippedReason=row["ai_skipped_reason"],
        accessCount=row["access_count"],
        lastAccessedAt=row["last_accessed_at"],
        createdAt=row["created_at"],
        updatedAt=row["updated_at"],
    )


async def get_attachment(
    pool: asyncpg.Pool, principal: Principal, attachment_id: uuid.UUID
) -> LibraryAttachment:
    async with pool.acquire() as conn:
        row = await repo.get_attachment(conn, principal.org_id, attachment_id)
    return to_library_attachment(require_visible(principal, row))


async def record_access(
    pool: asyncpg.Pool, principal: Principal, attachment_id: uuid.UUID
) -> LibraryAttachment:
    """Count a download atomically (concurrent downloads each count) and announce it."""
    async with pool.acquire() as conn, conn.transaction():
        require_visible(principal, await repo.get_attachment(conn, principal.org_id, attachment_id))
        row = await conn.fetchrow(
            f"""UPDATE catalog.attachments
                SET access_count = access_count + 1, last_accessed_at = now()
                WHERE org_id = $1 AND id = $2 AND {repo.VISIBLE}
                RETURNING {repo.ATTACHMENT_COLUMNS}""",
            principal.org_id,
            attachment_id,
        )
        if row is None:
            raise NotFound("Attachment not found")
        data = AttachmentAccessed(
            attachment_id=row["id"],
            org_id=row["org_id"],
            user_id=principal.sub,
            access_count=row["access_count"],
            accessed_at=row["last_accessed_at"],
        )
        await repo.add_outbox(
            conn,
            make_event(
                "attachment.accessed",
                data,
                source=SOURCE,
                subject=str(row["id"]),
                org_id=row["org_id"],
            ),
        )
    return to_library_attachment(row)


# ---- statistics -------------------------------------------------------------------------


async def stats(pool: asyncpg.Pool, principal: Principal) -> dict[str, Any]:
    """From the rollups the triggers of migration 007 keep current, plus three index reads."""
    principal.require_staff()  # tenant-wide figures
    org = principal.org_id
    async with pool.acquire() as conn:
        rollups = await conn.fetch(
            "SELECT dimension, value, label, count, size_bytes, amount"
            " FROM catalog.attachment_rollups WHERE org_id = $1 AND count <> 0",
            org,
        )
        live = f"FROM catalog.attachments WHERE org_id = $1 AND {repo.VISIBLE}"
        bounds = await conn.fetchrow(
            f"""SELECT
                 (SELECT sort_date {live} ORDER BY sort_date DESC, id DESC LIMIT 1) AS latest,
                 (SELECT sort_date {live} ORDER BY sort_date ASC, id ASC LIMIT 1) AS oldest""",
            org,
        )
        largest = await conn.fetch(
            f"""SELECT id, filename, size_bytes FROM catalog.attachments
                WHERE org_id = $1 AND {repo.VISIBLE} ORDER BY size_bytes DESC, id DESC LIMIT 5""",
            org,
        )
    by: dict[str, list[asyncpg.Record]] = {}
    for r in rollups:
        by.setdefault(r["dimension"], []).append(r)

    def one(dimension: str) -> asyncpg.Record | None:
        rows = by.get(dimension, [])
        return rows[0] if rows else None

    def counts(dimension: str) -> dict[str, int]:
        return {
            r["value"]: r["count"] for r in sorted(by.get(dimension, []), key=lambda r: -r["count"])
        }

    total = one("total")
    invoices, unpaid, receipts = one("invoice"), one("invoice_unpaid"), one("receipt")
    senders = sorted(by.get("sender", []), key=lambda r: (-r["count"], r["value"]))[:10]
    months = sorted(by.get("month", []), key=lambda r: r["value"], reverse=True)[:24]
    return {
        "totalAttachments": total["count"] if total else 0,
        "totalSizeBytes": total["size_bytes"] if total else 0,
        "aiProcessedCount": one("ai_processed")["count"] if one("ai_processed") else 0,
        "documentTypeCounts": counts("document_type"),
        "fileTypeCounts": counts("file_extension"),
        "categoryCounts": counts("file_category"),
        "financialSummary": {
            "totalInvoices": invoices["count"] if invoices else 0,
            "totalInvoiceAmount": float(invoices["amount"]) if invoices else 0.0,
            "unpaidInvoices": unpaid["count"] if unpaid else 0,
            "unpaidAmount": float(unpaid["amount"]) if unpaid else 0.0,
            "totalReceipts": receipts["count"] if receipts else 0,
            "totalReceiptAmount": float(receipts["amount"]) if receipts else 0.0,
        },
        "latestAttachmentDate": bounds["latest"],
        "oldestAttachmentDate": bounds["oldest"],
        "attachmentsByMonth": [{"month": r["value"], "count": r["count"]} for r in months],
        "topSenders": [
            {"email": r["value"], "name": r["label"], "count": r["count"]} for r in senders
        ],
        "largestFiles": [
            {"id": r["id"], "filename": r["filename"], "sizeBytes": r["size_bytes"]}
            for r in largest
        ],
    }


# ---- smart filters ------------------------------------------------------------------------


def smart_filter_definitions(today: date) -> list[dict[str, Any]]:
    """The six filters of seed 004. Their params are list-endpoint parameters (strings, as
    in a query string), so passing them to GET /api/attachments gives the same total."""
    return [
        {
            "id": "unpaid_invoices",
            "label": "Unpaid Invoices",
            "description": "Invoices marked as unpaid",
            "icon": "CurrencyDollarIcon",
            "params": {
                "documentTypes": "invoice",
                "hasMetadata": "true",
                "paymentStatus": "unpaid",
            },
        },
        {
            "id": "expiring_contracts",
            "label": "Contracts Expiring Soon",
            "description": "Contracts expiring within 90 days",
            "icon": "DocumentCheckIcon",
            "params": {
                "documentTypes": "contract",
                "expirationFrom": today.isoformat(),
                "expirationTo": (today + timedelta(days=90)).isoformat(),
            },
        },
        {
            "id": "receipts_by_amount",
            "label": "Large Receipts",
            "description": "Receipts over $100",
            "icon": "ReceiptPercentIcon",
            "params": {"documentTypes": "receipt", "minAmount": "100"},
        },
        {
            "id": "recent_images",
            "label": "Recent Images",
            "description": "Images from last 30 days",
            "icon": "PhotoIcon",
            "params": {
                "fileCategories": "image",
                "dateFrom": (today - timedelta(days=30)).isoformat(),
            },
        },
        {
            "id": "large_files",
            "label": "Large Files",
            "description": "Files over 10MB",
            "icon": "ArrowDownTrayIcon",
            "params": {"minSize": str(10 * 1024 * 1024)},
        },
        {
            "id": "unprocessed",
            "label": "Unprocessed",
            "description": "Attachments not yet analyzed by AI",
            "icon": "ClockIcon",
            "params": {"aiProcessed": "false"},
        },
    ]


async def smart_filters(pool: asyncpg.Pool, principal: Principal) -> dict[str, Any]:
    definitions = smart_filter_definitions(datetime.now(UTC).date())
    async with pool.acquire() as conn:
        for definition in definitions:
            where = _where(principal, LibraryQuery.parse(definition["params"]))
            definition["count"], estimated = await count_matching(conn, where)
            if estimated:
                definition["countIsEstimate"] = True
    return {"filters": definitions}


# ---- reprocessing -----------------------------------------------------------------------


async def request_reprocess(
    pool: asyncpg.Pool,
    principal: Principal,
    attachment_id: uuid.UUID,
    priority: int,
    ai_quota: int | None,
) -> uuid.UUID:
    """Queue enrichment again (the enricher's queue honours `priority`); the job's id."""
    async with pool.acquire() as conn, conn.transaction():
        row = require_visible(
            principal, await repo.get_attachment(conn, principal.org_id, attachment_id)
        )
        if not await take_ai_quota(conn, principal, ai_quota):
            raise QuotaExceeded(quota_reason(principal.tier, ai_quota or 0))
        job_id = new_uuid()
        await conn.execute(
            """INSERT INTO catalog.enrichment_jobs
                 (id, org_id, attachment_id, priority, requested_by)
               VALUES ($1, $2, $3, $4, $5)""",
            job_id,
            principal.org_id,
            attachment_id,
            priority,
            principal.sub,
        )
        request = ReprocessRequested(
            attachment_id=row["id"],
            org_id=row["org_id"],
            bucket=row["bucket"],
            object_key=row["object_key"],
            content_type=row["content_type"],
            filename=row["filename"],
            priority=priority,
            job_id=job_id,
            size_bytes=row["size_bytes"],
            requested_by=principal.sub,
            requested_at=datetime.now(UTC),
        )
        await repo.add_outbox(
            conn,
            make_event(
                "attachment.reprocess-requested",
                request,
                source=SOURCE,
                subject=str(row["id"]),
                org_id=row["org_id"],
                priority=priority,
            ),
        )
    return job_id


async def finish_reprocess_jobs(
    conn: asyncpg.Connection,
    attachment_id: uuid.UUID,
    status: str,
    error: str | None,
    processed_at: datetime,
) -> None:
    """An enrichment result closes the jobs queued before it (call in its transaction)."""
    await conn.execute(
        """UPDATE catalog.enrichment_jobs
           SET status = CASE WHEN $2 = 'processed' THEN 'completed' ELSE 'failed' END,
               error = $3, finished_at = now()
           WHERE attachment_id = $1 AND status = 'queued' AND created_at <= $4""",
        attachment_id,
        status,
        error,
        processed_at,
    )


async def get_reprocess_job(
    pool: asyncpg.Pool, principal: Principal, job_id: uuid.UUID
) -> dict[str, Any]:
    async with pool.acquire() as conn:
        job = await conn.fetchrow(
            "SELECT * FROM catalog.enrichment_jobs WHERE org_id = $1 AND id = $2",
            principal.org_id,
            job_id,
        )
        if job is not None:
            # The job is visible to whoever may see its attachment.
            require_visible(
                principal, await repo.get_attachment(conn, principal.org_id, job["attachment_id"])
            )
    if job is None:
        raise NotFound("Job not found")
    return {
        "id": job["id"],
        "jobType": "reprocess",
        "attachmentId": job["attachment_id"],
        "status": job["status"],
        "priority": job["priority"],
        "error": job["error"],
        "requestedBy": job["requested_by"],
        "createdAt": job["created_at"],
        "finishedAt": job["finished_at"],
    }
