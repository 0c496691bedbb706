"""Catalog models: what the API accepts and returns. No I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

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


class AttachmentRegistration(StrictModel):
    """What the gateway registers after it has verified an uploaded object."""

    id: uuid.UUID
    customer_id: uuid.UUID
    bucket: str = Field(min_length=1, max_length=63)
    object_key: str = Field(min_length=1, max_length=1024)
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=255)
    size_bytes: int = Field(ge=0)
    etag: str | None = Field(default=None, max_length=200)
    checksum_sha256: str | None = Field(default=None, max_length=100)
    detected_mime_type: str | None = Field(default=None, max_length=255)


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
    detected_mime_type: str | None = None
    checksum_sha256: str | None = None
    ai_status: str
    aiProcessed: bool
    aiProcessedAt: datetime | None


class AttachmentPage(BaseModel):
    items: list[Attachment]
    next_cursor: str | None
