"""Background job use cases: request a CSV import, read jobs, record clean-up runs.

Requesting an import writes the job and its `import.requested` event (outbox) in one
transaction: the importer can't miss a job, and no event names a job that doesn't exist.
"""

from __future__ import annotations

import uuid

import asyncpg

from attache_catalog import job_repository as repo
from attache_catalog.job_domain import (
    CleanupRuns,
    ErrorEntry,
    ImportAccepted,
    ImportCreate,
    Job,
    JobQuery,
)
from attache_catalog.repository import add_outbox
from attache_core.auth import Principal
from attache_core.errors import NotFound, Unprocessable
from attache_core.events import ImportRequested, make_event
from attache_core.ids import new_uuid

SOURCE = "/attache/catalog"
CSV_TYPES = {
    "text/csv",
    "text/plain",
    "text/tab-separated-values",
    "application/csv",
    "application/vnd.ms-excel",
}
CSV_EXTENSIONS = (".csv", ".txt", ".tsv")


def to_job(row: asyncpg.Record) -> Job:
    options = row["options"] or {}
    timings = row["timings"] or {}
    duration = None
    if row["started_at"] is not None and row["finished_at"] is not None:
        duration = round((row["finished_at"] - row["started_at"]).total_seconds(), 3)
    return Job(
        id=row["id"],
        job_type=row["job_type"],
        status=row["status"],
        total_rows=row["total_rows"],
        processed_rows=row["processed_rows"],
        successful_rows=row["successful_rows"],
        failed_rows=row["failed_rows"],
        skipped_rows=row["skipped_rows"],
        created_rows=row["created_rows"],
        updated_rows=row["updated_rows"],
        error_log=[ErrorEntry(**e) for e in row["error_log"] or []],
        progress=row["progress"],
        phase=row["phase"],
        message=row["message"],
        import_type=options.get("import_type"),
        file_upload_id=row["file_upload_id"],
        dry_run=bool(options.get("dry_run")),
        on_duplicate=options.get("on_duplicate"),
        mapping_config=options.get("mapping_config"),
        validation_rules=options.get("validation_rules"),
        file=row["file_info"] or None,
        attempts=row["attempts"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        duration_seconds=duration,
        rows_per_second=timings.get("rows_per_second"),
        timings=timings,
        error_report_bucket=row["error_report_bucket"],
        error_report_key=row["error_report_key"],
    )


async def request_import(
    pool: asyncpg.Pool, principal: Principal, body: ImportCreate
) -> ImportAccepted:
    principal.require_staff()
    async with pool.acquire() as conn, conn.transaction():
        source = await repo.get_import_source(conn, principal.org_id, body.file_upload_id)
        if source is None:
            raise NotFound("File upload not found")
        if not (
            source["content_type"].split(";")[0].strip().lower() in CSV_TYPES
            or source["filename"].lower().endswith(CSV_EXTENSIONS)
        ):
            raise Unprocessable(
                "The file is not a CSV file",
                details={"file_upload_id": f"{source['filename']} is {source['content_type']}"},
            )
        job_id = new_uuid()
        options = body.model_dump(mode="json", exclude={"file_upload_id"})
        row = await repo.insert_job(
            conn,
            job_id=job_id,
            org_id=principal.org_id,
            job_type="csv_import",
            created_by=principal.sub,
            file_upload_id=source["id"],
            bucket=source["bucket"],
            object_key=source["object_key"],
            options=options,
        )
        await add_outbox(
            conn,
            make_event(
                "import.requested",
                ImportRequested(
                    job_id=job_id,
                    org_id=principal.org_id,
                    bucket=source["bucket"],
                    object_key=source["object_key"],
                    import_type=body.import_type,
                ),
                source=SOURCE,
                subject=str(job_id),
                org_id=principal.org_id,
            ),
        )
    return ImportAccepted(job_id=row["id"], status=row["status"], created_at=row["created_at"])


async def get_job(pool: asyncpg.Pool, principal: Principal, job_id: uuid.UUID) -> Job:
    principal.require_staff()
    async with pool.acquire() as conn:
        row = await repo.get_job(conn, principal.org_id, job_id)
    if row is None:
        raise NotFound("Job not found")
    return to_job(row)


async def list_jobs(pool: asyncpg.Pool, principal: Principal, query: JobQuery) -> list[Job]:
    principal.require_staff()
    async with pool.acquire() as conn:
        rows = await repo.list_jobs(
            conn,
            principal.org_id,
            status=query.status,
            job_type=query.job_type,
            limit=query.limit,
            offset=query.offset,
        )
    return [to_job(r) for r in rows]


async def record_cleanup_runs(pool: asyncpg.Pool, body: CleanupRuns) -> int:
    """One finished file_cleanup job per organisation whose files a sweep deleted."""
    rows = []
    for run in body.runs:
        status = "completed_with_errors" if run.failed else "completed"
        message = (
            f"{run.failed} expired files could not be deleted yet; the next run retries"
            if run.failed
            else None
        )
        rows.append((new_uuid(), run.org_id, status, run.deleted, run.failed, message))
    if rows:
        async with pool.acquire() as conn:
            await repo.insert_finished_jobs(conn, rows, body.started_at, body.finished_at)
    return len(rows)
