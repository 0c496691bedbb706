"""Catalog models: what the API accepts and returns. No I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from attache_core.auth import Principal
from attache_core.errors import NotFound

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+()\-. ]*$")
]


class StrictModel(BaseModel):
    """JSON bodies: no unknown fields, no coercion ("12" is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class QueryModel(BaseModel):
    """Query strings are text by nature: values are parsed, unknown names refused."""

    model_config = ConfigDict(extra="forbid")


class CustomerCreate(StrictModel):
    full_name: Name
    email: EmailStr
    phone: Phone | None = None


class Customer(BaseModel):
    id: uuid.UUID
    org_id: str
    full_name: str
    email: str
    phone: str | None
    created_at: datetime


class CustomerPage(BaseModel):
    items: list[Customer]
    next_cursor: str | None


class PageQuery(QueryModel):
    limit: int = Field(default=20, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class CustomerQuery(PageQuery):
    search: str | None = Field(default=None, max_length=200)


class EmailSource(StrictModel):
    """Where an e-mail attachment came from (seed 004's e-mail fields)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    email_id: str | None = Field(default=None, alias="emailId", max_length=500)
    sender_email: str | None = Field(default=None, alias="senderEmail", max_length=320)
    sender_name: str | None = Field(default=None, alias="senderName", max_length=300)
    email_subject: str | None = Field(default=None, alias="emailSubject", max_length=1000)
    email_date: AwareDatetime | None = Field(default=None, alias="emailDate")


class AttachmentRegistration(StrictModel):
    """What the gateway registers after it has verified an uploaded object."""

    id: uuid.UUID
    customer_id: uuid.UUID | None = None
    bucket: str = Field(min_length=1, max_length=63)
    object_key: str = Field(min_length=1, max_length=1024)
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=255)
    size_bytes: int = Field(ge=0)
    etag: str | None = Field(default=None, max_length=200)
    checksum_sha256: str | None = Field(default=None, max_length=100)
    checksum_md5: str | None = Field(default=None, max_length=100)
    detected_mime_type: str | None = Field(default=None, max_length=255)
    file_type: str | None = Field(default=None, max_length=50)
    ticket_id: str | None = Field(default=None, max_length=100)
    service_id: str | None = Field(default=None, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)
    expires_at: AwareDatetime | None = None
    source: EmailSource | None = None


class Attachment(BaseModel):
    """The seed's attachment shape (000), plus the enrichment state."""

    id: uuid.UUID
    org_id: str
    customer_id: uuid.UUID | None
    object_key: str
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by: str
    created_at: datetime
    bucket: str
    detected_mime_type: str | None = None
    checksum_sha256: str | None = None
    checksum_md5: str | None = None
    file_type: str | None = None
    ticket_id: str | None = None
    service_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    expires_at: datetime | None = None
    ai_status: str
    aiProcessed: bool
    aiProcessedAt: datetime | None


class FileQuery(QueryModel):
    """The files API lists (seed 002): by customer or by ticket, offset-paged."""

    customer_id: uuid.UUID | None = None
    ticket_id: str | None = Field(default=None, min_length=1, max_length=100)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class SweepClaim(StrictModel):
    limit: int = Field(default=100, ge=1, le=1000)
    lease_seconds: int = Field(default=300, ge=10, le=3600)


class SweepPurge(StrictModel):
    ids: list[uuid.UUID] = Field(max_length=1000)


class DueObject(BaseModel):
    id: uuid.UUID
    org_id: str
    bucket: str
    object_key: str


class AttachmentPage(BaseModel):
    items: list[Attachment]
    next_cursor: str | None


def require_visible(principal: Principal, row: Any) -> Any:
    """Another tenant's or another customer's attachment is simply not found."""
    if row is None or (
        not principal.is_staff
        and (row["customer_id"] is None or str(row["customer_id"]) != principal.customer_id)
    ):
        raise NotFound("Attachment not found")
    return row
