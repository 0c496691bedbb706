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


class AttachmentEnriched(BaseModel):
    attachment_id: uuid.UUID
    org_id: str
    # "processed" when enrichment ran; "failed" with `error` otherwise.
    status: str
    detected_mime_type: str | None = None
    sha256: str | None = None
    text_length: int | None = None
    error: str | None = None
    model_version: str
    processed_at: datetime


class AttachmentDeleted(BaseModel):
    attachment_id: uuid.UUID
    org_id: str
    bucket: str
    object_key: str
    # "deleted" by a user, or "expired" (its expires_at passed and the sweeper removed it).
    reason: str
    deleted_at: datetime


class ImportRequested(BaseModel):
    job_id: uuid.UUID
    org_id: str
    bucket: str
    object_key: str


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
    "import.requested": ImportRequested,
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
) -> RawEvent:
    """Build an envelope; `event_id` makes re-emission deterministic (idempotent consumers)."""
    return RawEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        subject=subject,
        orgid=org_id,
        data=data.model_dump(mode="json"),
    )
