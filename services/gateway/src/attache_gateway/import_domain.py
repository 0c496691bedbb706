"""Shapes of the CSV import and job API (seed 002), as the gateway documents them.

The catalog validates requests (the gateway forwards them with the caller's token);
these models describe the API in /openapi.json.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ValidationRulesDoc(BaseModel):
    email_required: Literal[True] = Field(
        default=True, description="Always true: customers are identified by their email"
    )
    phone_format: Literal["digits_only", "as_is"] = Field(
        default="digits_only",
        description="digits_only: formatting removed, 4-20 digits stored; as_is: kept as written",
    )
    max_errors: int | None = Field(
        default=None, description="More invalid rows than this: the job fails, nothing is written"
    )
    max_error_percent: float | None = Field(
        default=None,
        description="A larger share (0-100) of invalid rows: the job fails, nothing is written",
    )


class CsvImportRequest(BaseModel):
    file_upload_id: uuid.UUID = Field(description="The id POST /files/upload returned")
    import_type: Literal["customers"] = "customers"
    mapping_config: dict[str, str] | None = Field(
        default=None,
        description="CSV column → customer field (full_name, first_name, last_name, email, "
        "phone, address, city, state, postal_code, country, password). Without it, columns "
        "are matched by their (normalised) names.",
    )
    validation_rules: ValidationRulesDoc | None = None
    dry_run: bool = Field(default=False, description="Validate and report; write nothing")
    on_duplicate: Literal["skip", "update"] = Field(
        default="skip",
        description="A row whose email the organisation already has: skip it, or update "
        "that customer (empty cells keep the stored values)",
    )


class CsvImportAccepted(BaseModel):
    job_id: uuid.UUID
    status: str
    created_at: datetime
    job_type: str = "csv_import"


class ErrorEntryDoc(BaseModel):
    line: int = Field(description="Physical line of the file (the header is line 1)")
    column: str | None
    value: str | None = Field(description="As read (a password is never shown)")
    reason: str
    outcome: Literal["rejected", "skipped"]


class JobRecord(BaseModel):
    """The seed's job object, with progress, the full counts, timings and the report URL."""

    id: uuid.UUID
    job_type: Literal["csv_import", "file_cleanup"]
    status: Literal["pending", "processing", "completed", "completed_with_errors", "failed"]
    total_rows: int = Field(description="Data rows read (header and blank lines excluded)")
    processed_rows: int
    successful_rows: int = Field(description="Customers created or updated")
    failed_rows: int = Field(description="Invalid rows (each with its entries in error_log)")
    skipped_rows: int = Field(description="Duplicates skipped (in the file, or already known)")
    created_rows: int
    updated_rows: int
    error_log: list[ErrorEntryDoc] = Field(description="The first entries; all in the report")
    error_report_url: str | None = Field(description="Signed GET URL of the full report (CSV)")
    error_report_url_expires_at: datetime | None
    progress: float = Field(description="Percent done")
    phase: str | None
    message: str | None
    import_type: str | None
    file_upload_id: uuid.UUID | None
    dry_run: bool
    on_duplicate: str | None
    mapping_config: dict[str, str] | None
    validation_rules: dict[str, Any] | None
    file: dict[str, Any] | None = Field(description="Encoding, delimiter, columns as matched")
    attempts: int
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    duration_seconds: float | None
    rows_per_second: float | None
    timings: dict[str, float]


class JobListQuery(BaseModel):
    status: (
        Literal["pending", "processing", "completed", "completed_with_errors", "failed"] | None
    ) = None
    job_type: Literal["csv_import", "file_cleanup"] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)
