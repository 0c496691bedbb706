"""Shapes of the catalog endpoints the gateway relays, for the OpenAPI document.

The catalog validates these itself; the gateway only documents them (services
never import each other, so the shapes are restated here and a test checks
they agree with the catalog's answers).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from attache_gateway.domain import Attachment


class CustomerCreate(BaseModel):
    full_name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320, json_schema_extra={"format": "email"})
    phone: str | None = Field(default=None, max_length=40)


class Customer(BaseModel):
    id: uuid.UUID
    org_id: str
    full_name: str
    email: str
    phone: str | None
    created_at: datetime


class PageQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=200)
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")


class CustomerQuery(PageQuery):
    search: str | None = Field(default=None, max_length=200, description="Name or email contains")


class CustomerPage(BaseModel):
    items: list[Customer]
    next_cursor: str | None


class AttachmentPage(BaseModel):
    items: list[Attachment]
    next_cursor: str | None
