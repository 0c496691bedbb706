"""HTTP routes of CSV imports and background jobs (seed 002).

The catalog keeps the jobs; the gateway forwards the caller's token (the tenant comes
from it) and turns a job's error report into a short-lived signed download URL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from attache_core import filenames
from attache_core.errors import InvalidInput
from attache_core.web import json_response
from attache_gateway.api import api, authenticate, path_uuid
from attache_gateway.import_domain import (
    CsvImportAccepted,
    CsvImportRequest,
    JobListQuery,
    JobRecord,
)
from attache_gateway.keys import BLOBS, CATALOG, SETTINGS

JOB_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/JobRecord"}}


def _with_report_url(request: web.Request, job: dict[str, Any]) -> dict[str, Any]:
    """The report's location becomes a short-lived signed GET (always a download)."""
    bucket, key = job.pop("error_report_bucket", None), job.pop("error_report_key", None)
    job["error_report_url"] = job["error_report_url_expires_at"] = None
    if bucket and key:
        settings = request.app[SETTINGS]
        now = datetime.now(UTC)
        ttl = settings.download_url_ttl_seconds
        job["error_report_url"] = request.app[BLOBS].presigner.presign_get(
            bucket,
            key,
            expires_in=ttl,
            now=now,
            response_content_disposition=filenames.content_disposition(
                f"import-{job['id']}-errors.csv", inline=False
            ),
            response_content_type="text/csv; charset=utf-8",
        )
        job["error_report_url_expires_at"] = (now + timedelta(seconds=ttl)).isoformat()
    return job


@api.operation(
    "POST",
    "/files/csv-import",
    "Start a CSV import of customers (a background job)",
    request=CsvImportRequest,
    response=CsvImportAccepted,
    status=202,
    errors=(400, 404, 422, 502),
    tags=("imports",),
)
async def start_csv_import(request: web.Request) -> web.Response:
    await authenticate(request)
    if request.content_type != "application/json":
        raise InvalidInput("Expected a JSON body (Content-Type: application/json)")
    try:
        body = json.loads(await request.read())
    except ValueError as exc:  # also bytes that aren't UTF-8
        raise InvalidInput("Malformed JSON body") from exc
    # The catalog validates it (and answers 400 naming each field).
    accepted = await request.app[CATALOG].request_json(
        "POST", "/v1/imports", authorization=request.headers["Authorization"], json_body=body
    )
    return json_response(accepted, status=202)


@api.operation(
    "GET",
    "/files/jobs/{job_id}",
    "A job: status, progress, counts, first errors and the error report's signed URL",
    response=JobRecord,
    errors=(404, 502),
    tags=("imports",),
)
async def get_job(request: web.Request) -> web.Response:
    await authenticate(request)
    job_id = path_uuid(request, "job_id", "Job")
    job = await request.app[CATALOG].request_json(
        "GET", f"/v1/jobs/{job_id}", authorization=request.headers["Authorization"]
    )
    return json_response(_with_report_url(request, job))


@api.operation(
    "GET",
    "/files/jobs",
    "Background jobs (CSV imports, file clean-up runs), newest first",
    query=JobListQuery,
    response_schema=JOB_LIST,
    errors=(400, 502),
    tags=("imports",),
)
async def list_jobs(request: web.Request) -> web.Response:
    await authenticate(request)
    jobs = await request.app[CATALOG].request_json(
        "GET",
        "/v1/jobs",
        authorization=request.headers["Authorization"],
        params=dict(request.query),
    )
    return json_response([_with_report_url(request, job) for job in jobs])
