"""The CloudEvents 1.0 envelope (structured JSON) and the event payloads.

Routing key = event type. Payload models here are the published contract with
other teams: the AsyncAPI document in docs/asyncapi.json is generated from
`EVENT_PAYLOADS` (python -m attache_core.asyncapi) and a test keeps it current.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"

Payload = TypeVar("Payload", bound=BaseModel)


class CloudEvent(BaseModel, Generic[Payload]):
    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=200)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: str = "application/json"
    # CloudEvents extension attribute: the tenant, so consumers can route and filter.
    orgid: str | None = None
    # CloudEvents extension attribute: AMQP message priority (0-10) for queues that have
    # priorities (x-max-priority); unset for ordinary events.
    priority: int | None = Field(default=None, ge=0, le=10)
    data: Payload


class RawEvent(CloudEvent[dict[str, Any]]):  # type: ignore[type-var]
    """An envelope whose payload is not yet validated (the relay re-publishes stored rows)."""


# ---- payloads --------------------------------------------------------------------------


class AttachmentCreated(BaseModel):
    attachment_id: uuid.UUID
    org_id: str
    customer_id: str | None
    bucket: str
    object_key: str
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by: str
    created_at: datetime
    # False when the uploader's monthly AI quota is used up: the enricher leaves it alone.
    enrich: bool = True


class AttachmentEnriched(BaseModel):
    attachment_id: uuid.UUID
    org_id: str
    # "processed" when enrichment ran; "failed" with `error` (why, for people) otherwise;
    # "skipped" when AI enrichment was not wanted (quota: AttachmentCreated.enrich false)
    # or not possible (`skipped_reason`): checksum, type and thumbnails are still there.
    status: str
    detected_mime_type: str | None = None
    sha256: str | None = None
    text_length: int | None = None
    error: str | None = None
    model_version: str
    processed_at: datetime
    # The AI fields of seed 004 (documentType, classificationConfidence, extractedMetadata,
    # keyTerms): set when status is "processed". extracted_metadata has camelCase keys and
    # a "type": invoice {amount, currency, invoiceNumber, invoiceDate, dueDate, vendor,
    # isPaid, paymentStatus}, receipt {total, currency, date, merchant}, contract {parties,
    # effectiveDate, expirationDate}; amounts are JSON numbers, dates ISO 8601 (YYYY-MM-DD).
    document_type: str | None = None
    classification_confidence: float | None = Field(default=None, ge=0, le=1)
    extracted_metadata: dict[str, Any] | None = None
    key_terms: list[str] = Field(default_factory=list)
    # Object keys (same bucket, beside the original) of the WebP derivatives.
    thumbnail_path: str | None = None
    preview_path: str | None = None
    skipped_reason: str | None = None
    language: str | None = None
    page_count: int | None = None
    # "used", "not_needed", "unavailable" (no OCR engine installed), "failed", "skipped"
    ocr: str | None = None
    # The event that caused this run: attachment.created or attachment.reprocess-requested.
    trigger: str | None = None
    job_id: uuid.UUID | None = None


class ReprocessRequested(BaseModel):
    """POST /api/attachments/:id/reprocess: run enrichment again. Published with the
    CloudEvent extension `priority` = `priority` (the enricher's queue honours it)."""

    attachment_id: uuid.UUID
    org_id: str
    bucket: str
    object_key: str
    content_type: str
    filename: str
    priority: int = Field(default=5, ge=1, le=10)
    job_id: uuid.UUID
    # False when the tier's AI quota is used up (as AttachmentCreated.enrich).
    enrich: bool = True
    size_bytes: int | None = None
    requested_by: str | None = None
    requested_at: datetime | None = None


class IngestSource(BaseModel):
    emailId: str | None = Field(default=None, max_length=500)
    senderEmail: str | None = Field(default=None, max_length=320)
    senderName: str | None = Field(default=None, max_length=300)
    emailSubject: str | None = Field(default=None, max_length=1000)
    emailDate: datetime | None = None


class AttachmentIngest(BaseModel):
    """A command, not an event: internal systems (a mail importer) publish it to have the
    catalog register an object that is already in S3, e.g. an e-mail attachment. The
    catalog answers with attachment.created. Idempotent: the attachment id is
    `attachment_id`, or derived from the message id when absent."""

    attachment_id: uuid.UUID | None = None
    org_id: str = Field(min_length=1, max_length=200)
    customer_id: uuid.UUID | None = None
    bucket: str = Field(min_length=1, max_length=63)
    object_key: str = Field(min_length=1, max_length=1024)
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=255)
    size_bytes: int = Field(ge=0)
    uploaded_by: str = Field(default="ingest", min_length=1, max_length=200)
    # The tier whose monthly AI quota the enrichment counts against.
    tier: str = "free"
    checksum_sha256: str | None = Field(default=None, max_length=100)
    source: IngestSource | None = None


class AttachmentAccessed(BaseModel):
    """A download URL was handed out (seed 004: counts accesses)."""

    attachment_id: uuid.UUID
    org_id: str
    user_id: str
    access_count: int
    accessed_at: datetime


class AttachmentDeleted(BaseModel):
    attachment_id: uuid.UUID
    org_id: str
    bucket: str
    object_key: str
    # "deleted" by a user, or "expired" (its expires_at passed and the sweeper removed it).
    reason: str
    deleted_at: datetime


class ImportRequested(BaseModel):
    """A CSV import was requested; its options are in the job (GET /files/jobs/{job_id})."""

    job_id: uuid.UUID
    org_id: str
    bucket: str
    object_key: str
    import_type: str = "customers"


class ImportCompleted(BaseModel):
    """An import ended: `status` completed, completed_with_errors or failed (then `message`
    says why). Counts: rows read, rows created/updated, invalid rows, duplicates skipped."""

    job_id: uuid.UUID
    org_id: str
    import_type: str
    status: str
    dry_run: bool
    total_rows: int
    successful_rows: int
    failed_rows: int
    skipped_rows: int
    created_rows: int
    updated_rows: int
    message: str | None = None
    # The full error report (CSV), when there was anything to report.
    error_report_bucket: str | None = None
    error_report_key: str | None = None
    started_at: datetime | None = None
    finished_at: datetime


class ProfileImageUpdated(BaseModel):
    """A user's profile image was set or replaced (the replaced object is then deleted)."""

    org_id: str
    user_id: str
    bucket: str
    object_key: str
    content_type: str
    file_name: str
    size_bytes: int
    previous_object_key: str | None
    updated_at: datetime


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    "attachment.created": AttachmentCreated,
    "attachment.enriched": AttachmentEnriched,
    "attachment.deleted": AttachmentDeleted,
    "attachment.reprocess-requested": ReprocessRequested,
    "attachment.accessed": AttachmentAccessed,
    "attachment.ingest": AttachmentIngest,
    "import.requested": ImportRequested,
    "import.completed": ImportCompleted,
    "profile.image.updated": ProfileImageUpdated,
}


def make_event(
    event_type: str,
    data: BaseModel,
    *,
    source: str,
    subject: str | None,
    org_id: str | None,
    event_id: str | None = None,
    priority: int | None = None,
) -> RawEvent:
    """Build an envelope; `event_id` makes re-emission deterministic (idempotent consumers);
    `priority` (0-10) becomes the AMQP message priority."""
    return RawEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        subject=subject,
        orgid=org_id,
        priority=priority,
        data=data.model_dump(mode="json"),
    )
