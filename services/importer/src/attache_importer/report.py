"""The full error report of an import: a CSV object in S3, streamed from the database.

Columns: line, column, value, reason, outcome (rejected: the row was invalid; skipped:
a duplicate). Values that a spreadsheet would run as a formula (=, +, -, @ first) are
prefixed with a quote, so opening the report can't execute what a file smuggled in.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import asyncpg

from attache_core.s3 import BlobStore

PART_BYTES = 8 * 1024 * 1024
FETCH_ROWS = 10_000
HEADER = ["line", "column", "value", "reason", "outcome"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def report_key(org_id: str, job_id: uuid.UUID) -> str:
    safe_org = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in org_id)[:64]
    return f"orgs/{safe_org}/imports/{job_id}/error-report.csv"


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def write_report(
    conn: asyncpg.Connection, blobs: BlobStore, job_id: uuid.UUID, bucket: str, key: str
) -> int:
    """Stream every error of the job, ordered by line, to s3://bucket/key; the rows written."""
    client = blobs.client
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    parts: list[dict[str, Any]] = []
    upload_id: str | None = None
    written = 0

    async def flush(final: bool) -> None:
        nonlocal upload_id
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        if upload_id is None:
            if final:
                await client.put_object(
                    Bucket=bucket, Key=key, Body=data, ContentType="text/csv; charset=utf-8"
                )
                return
            started = await client.create_multipart_upload(
                Bucket=bucket, Key=key, ContentType="text/csv; charset=utf-8"
            )
            upload_id = started["UploadId"]
        if data:
            number = len(parts) + 1
            resp = await client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
            parts.append({"PartNumber": number, "ETag": resp["ETag"]})
        if final:
            await client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )

    try:
        async with conn.transaction():
            cursor = conn.cursor(
                """SELECT line, column_name, value, reason, outcome FROM catalog.import_errors
                   WHERE job_id = $1 ORDER BY line, outcome""",
                job_id,
                prefetch=FETCH_ROWS,
            )
            async for row in cursor:
                writer.writerow((row[0], row[1] or "", _cell(row[2] or ""), _cell(row[3]), row[4]))
                written += 1
                if buffer.tell() >= PART_BYTES:
                    await flush(final=False)
        await flush(final=True)
    except BaseException:
        if upload_id is not None:
            await client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return written
