"""The file expiry sweeper's runs as `file_cleanup` jobs (seed 002's job types).

A sweep covers every organisation; each organisation whose files it deleted (or failed
to delete) gets one finished job in its own list, beside its CSV imports. Runs that
found nothing due record nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from attache_core.s3 import BlobStore
from attache_gateway.catalog_client import CatalogClient
from attache_gateway.files import sweep_due_files


async def sweep_and_record(catalog: CatalogClient, blobs: BlobStore) -> int:
    """One sweep of due files, recorded as jobs; the records purged."""
    started_at = datetime.now(UTC)
    runs: dict[str, list[int]] = {}
    purged = await sweep_due_files(catalog, blobs, runs=runs)
    if runs:
        await catalog.request_json(
            "POST",
            "/internal/v1/jobs/file-cleanup",
            internal=True,
            json_body={
                "started_at": started_at.isoformat(),
                "finished_at": datetime.now(UTC).isoformat(),
                "runs": [
                    {"org_id": org, "deleted": deleted, "failed": failed}
                    for org, (deleted, failed) in runs.items()
                ],
            },
        )
    return purged
