"""Background jobs (seed 002): CSV imports and file clean-up runs. No I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from attache_catalog.domain import QueryModel

JOB_TYPES = ("csv_import", "file_cleanup")
JobStatus = Literal["pending", "processing", "completed", "completed_with_errors", "failed"]
# What a mapping may map a CSV column to (first_name and last_name are joined into full_name).
IMPORT_FIELDS = (
    "full_name",
    "email",
    "phone",
    "address",
    "city",
    "state",
    "postal_code",
    "country",
    "password",
    "first_name",
    "last_name",
)


class ValidationRules(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # Customers are identified by their email: it can't be optional.
    email_required: Literal[True] = True
    phone_format: Literal["digits_only", "as_is"] = "digits_only"
    # The import fails (and writes nothing) past this many invalid rows...
    max_errors: int | None = Field(default=None, ge=0, le=100_000_000)
    # ...or when more than this share of the rows is invalid.
    max_error_percent: float | None = Field(default=None, ge=0, le=100)


class ImportCreate(BaseModel):
    """POST /files/csv-import."""

    model_config = ConfigDict(extra="forbid", strict=True)

    file_upload_id: uuid.UUID = Field(description="A CSV uploaded with POST /files/upload")
    import_type: Literal["customers"] = "customers"
    # CSV header → customer field; without it, columns are matched by their names.
    mapping_config: dict[str, str] | None = Field(default=None, max_length=100)
    validation_rules: ValidationRules = Field(default_factory=ValidationRules)
    # Validate and report what would happen, write nothing.
    dry_run: bool = False
    # A row whose email the organisation already has: skipped, or updates that customer.
    on_duplicate: Literal["skip", "update"] = "skip"

    @model_validator(mode="after")
    def _mapping(self) -> ImportCreate:
        if self.mapping_config:
            seen: set[str] = set()
            for column, target in self.mapping_config.items():
                if not column.strip() or len(column) > 200:
                    raise ValueError("mapping_config: column names must be 1-200 characters")
                if target not in IMPORT_FIELDS:
                    raise ValueError(
                        f"mapping_config: {target!r} is not a customer field "
                        f"(one of {', '.join(IMPORT_FIELDS)})"
                    )
                if target in seen:
                    raise ValueError(f"mapping_config: two columns are mapped to {target!r}")
                seen.add(target)
            if "email" not in seen or not (
                "full_name" in seen or {"first_name", "last_name"} & seen
            ):
                raise ValueError(
                    "mapping_config must map a column to email and one to full_name "
                    "(or first_name/last_name)"
                )
        return self


class ImportAccepted(BaseModel):
    job_id: uuid.UUID
    status: str
    created_at: datetime
    job_type: str = "csv_import"


class JobQuery(QueryModel):
    status: JobStatus | None = None
    job_type: Literal["csv_import", "file_cleanup"] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ErrorEntry(BaseModel):
    line: int
    column: str | None
    value: str | None
    reason: str
    # rejected (invalid row) or skipped (duplicate)
    outcome: str


class Job(BaseModel):
    """The seed's job object, with the progress, counts and timings of the run."""

    id: uuid.UUID
    job_type: str
    status: str
    total_rows: int
    processed_rows: int
    successful_rows: int
    failed_rows: int
    skipped_rows: int
    created_rows: int
    updated_rows: int
    error_log: list[ErrorEntry]
    progress: float = Field(description="Percent done")
    phase: str | None = Field(description="reading, merging, reporting, done")
    message: str | None
    import_type: str | None = None
    file_upload_id: uuid.UUID | None = None
    dry_run: bool = False
    on_duplicate: str | None = None
    mapping_config: dict[str, str] | None = None
    validation_rules: dict[str, Any] | None = None
    file: dict[str, Any] | None = Field(
        default=None, description="Encoding, delimiter and the columns as matched"
    )
    attempts: int
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    duration_seconds: float | None
    rows_per_second: float | None
    timings: dict[str, float]
    # Where the full error report is (the gateway turns it into a signed URL).
    error_report_bucket: str | None = None
    error_report_key: str | None = None


class CleanupRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: str = Field(min_length=1, max_length=200)
    deleted: int = Field(ge=0)
    failed: int = Field(ge=0)


class CleanupRuns(BaseModel):
    """What one run of the file expiry sweeper did, per organisation."""

    model_config = ConfigDict(extra="forbid")

    started_at: datetime
    finished_at: datetime
    runs: list[CleanupRun] = Field(max_length=10_000)
