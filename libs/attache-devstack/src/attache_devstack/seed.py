"""Synthetic attachments for the library: `make seed N=1000000 [ORG=org-demo]`.

Realistic distributions — a few hundred senders with a long tail, the seed's document
types, sizes spread over six orders of magnitude, three years of dates, and AI fields
(document types, invoice/receipt/contract metadata, key terms) on most rows — written
with COPY in batches, so a million rows load in about five minutes (2 cores; most of it is
maintaining the search and phrase indexes). Rows go straight into
catalog.attachments (objects are not created in S3: this feeds the list, search,
filters and statistics, not downloads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg

COLUMNS = (
    "id",
    "org_id",
    "bucket",
    "object_key",
    "filename",
    "content_type",
    "size_bytes",
    "uploaded_by",
    "file_extension",
    "file_category",
    "email_id",
    "sender_email",
    "sender_name",
    "email_subject",
    "email_date",
    "document_type",
    "classification_confidence",
    "extracted_metadata",
    "key_terms",
    "ai_status",
    "ai_processed",
    "ai_processed_at",
    "ai_model_version",
    "created_at",
    "updated_at",
)

_COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Aperture",
    "Vandelay",
    "Pied Piper",
    "Gringotts",
    "Oscorp",
    "Monarch",
    "Dunder Mifflin",
    "Prestige",
    "Nakatomi",
    "Blue Sun",
    "Virtucon",
    "Massive",
]
_ROLES = ["billing", "invoices", "accounts", "sales", "legal", "hr", "support", "noreply", "ceo"]
# (document type, weight, file extension choices, subject pattern)
_KINDS = [
    ("invoice", 14, ["pdf"], "Invoice #{n} from {c}"),
    ("receipt", 18, ["pdf", "jpg", "png"], "Your {c} receipt {n}"),
    ("contract", 3, ["pdf", "docx"], "{c} agreement for signature"),
    ("report", 8, ["pdf", "docx", "xlsx"], "Q{q} {y} report"),
    ("statement", 5, ["pdf"], "{c} statement {m}"),
    ("resume", 2, ["pdf", "docx"], "Application: {p}"),
    ("presentation", 4, ["pptx", "pdf"], "{c} deck {m}"),
    ("spreadsheet", 6, ["xlsx", "csv"], "{c} figures {m}"),
    ("image", 30, ["jpg", "png", "webp", "gif"], "Photos from {p}"),
    ("other", 10, ["txt", "zip", "mp4", "mp3", "docx"], "Re: {c} follow-up"),
]
_MIME = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "csv": "text/csv",
    "txt": "text/plain",
    "zip": "application/zip",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
}
_CATEGORY = {
    "pdf": "document",
    "docx": "document",
    "txt": "document",
    "jpg": "image",
    "png": "image",
    "webp": "image",
    "gif": "image",
    "xlsx": "spreadsheet",
    "csv": "spreadsheet",
    "pptx": "presentation",
    "zip": "archive",
    "mp4": "video",
    "mp3": "audio",
}
_PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus", "Margaret"]
_TERMS = [
    "payment",
    "services",
    "consulting",
    "license",
    "renewal",
    "travel",
    "hardware",
    "subscription",
    "quarterly",
    "budget",
    "marketing",
    "shipping",
    "maintenance",
]


def _senders(rng: random.Random, count: int = 400) -> list[tuple[str, str]]:
    out = []
    for i in range(count):
        company = rng.choice(_COMPANIES)
        domain = company.lower().replace(" ", "") + (f"{i % 7}" if i >= len(_COMPANIES) else "")
        role = rng.choice(_ROLES)
        out.append((f"{role}@{domain}.com", f"{company} {role.capitalize()}"))
    return out


def generate(org_id: str, n: int, *, seed: int = 7, now: datetime | None = None) -> Iterator[tuple]:
    """`n` rows (tuples in COLUMNS order) for one organisation."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    senders = _senders(rng)
    # A long tail: the first senders send most mail (Zipf-like weights).
    sender_weights = [1 / (i + 1) ** 1.1 for i in range(len(senders))]
    kinds, kind_weights = _KINDS, [k[1] for k in _KINDS]
    for i in range(n):
        kind, _, extensions, subject_pattern = rng.choices(kinds, kind_weights)[0]
        ext = rng.choice(extensions)
        email, name = rng.choices(senders, sender_weights)[0]
        company = name.split(" ")[0]
        date = now - timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
        number = f"INV-{date.year}-{rng.randrange(1000, 99999)}"
        subject = subject_pattern.format(
            n=number,
            c=company,
            q=rng.randint(1, 4),
            y=date.year,
            m=date.strftime("%B"),
            p=rng.choice(_PEOPLE),
        )
        filename = f"{kind.capitalize()}_{company}_{date:%Y%m%d}_{i}.{ext}"
        size = int(min(2**31, rng.lognormvariate(12, 2)))  # median ~160 kB, a tail into GBs
        processed = rng.random() < 0.85
        metadata = None
        if processed and kind == "invoice":
            amount = round(rng.lognormvariate(6.5, 1.2), 2)
            paid = rng.random() < 0.7
            metadata = {
                "type": "invoice",
                "amount": amount,
                "currency": rng.choice(["USD", "EUR", "GBP"]),
                "invoiceNumber": number,
                "invoiceDate": date.date().isoformat(),
                "dueDate": (date + timedelta(days=30)).date().isoformat(),
                "vendor": company,
                "isPaid": paid,
                "paymentStatus": "paid" if paid else "unpaid",
            }
        elif processed and kind == "receipt":
            metadata = {
                "type": "receipt",
                "total": round(rng.lognormvariate(3.5, 1.1), 2),
                "currency": "USD",
                "date": date.date().isoformat(),
                "merchant": company,
            }
        elif processed and kind == "contract":
            start = date.date()
            metadata = {
                "type": "contract",
                "parties": [company, "Attache Demo Ltd"],
                "effectiveDate": start.isoformat(),
                "expirationDate": (start + timedelta(days=rng.randrange(30, 1100))).isoformat(),
            }
        terms = rng.sample(_TERMS, 3) + [company.lower(), kind] if processed else []
        yield (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            org_id,
            "attache-seeded",
            f"seeded/{org_id}/{i}/{filename}",
            filename,
            _MIME[ext],
            size,
            "seed",
            ext,
            _CATEGORY[ext],
            f"<{uuid.UUID(int=rng.getrandbits(128))}@mail>",
            email,
            name,
            subject,
            date,
            kind if processed else None,
            round(rng.uniform(0.6, 0.99), 2) if processed else None,
            json.dumps(metadata) if metadata else None,
            terms,
            "processed" if processed else "pending",
            processed,
            date + timedelta(minutes=1) if processed else None,
            "attache-seed-1" if processed else None,
            date,
            date,
        )


async def copy_rows(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """COPY rows (in COLUMNS order) into catalog.attachments in one transaction."""
    async with conn.transaction():
        await conn.copy_records_to_table(
            "attachments", schema_name="catalog", columns=COLUMNS, records=rows
        )


async def seed(dsn: str, org_id: str, n: int, *, batch: int = 50_000, seed_value: int = 7) -> float:
    """Load `n` rows; seconds taken."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        rows = generate(org_id, n, seed=seed_value)
        done = 0
        while done < n:
            chunk = [row for _, row in zip(range(min(batch, n - done)), rows, strict=False)]
            await copy_rows(conn, chunk)
            done += len(chunk)
            print(f"seeded {done:,}/{n:,}", file=sys.stderr)
        await conn.execute("ANALYZE catalog.attachments")
    finally:
        await conn.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int)
    parser.add_argument("--org", default="org-demo")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/attache")
    args = parser.parse_args()
    seconds = asyncio.run(seed(args.database_url, args.org, args.n))
    print(
        f"{args.n:,} attachments for {args.org} in {seconds:.1f} s ({args.n / seconds:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
