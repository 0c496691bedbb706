"""Shapes of the files API (seed 002) and the direct storage upload (seed 001)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Checksums(BaseModel):
    md5: str | None
    sha256: str | None


class FileRecord(BaseModel):
    """The seed's file object. Deviation: `id` is a UUID and `url` a short-lived
    presigned GET (objects are private), not a public bucket URL."""

    id: uuid.UUID
    filename: str
    file_size: int
    mime_type: str
    file_type: str | None
    upload_status: str = "completed"
    url: str
    url_expires_at: datetime
    created_at: datetime
    customer_id: uuid.UUID | None = None
    ticket_id: str | None = None
    service_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    expires_at: datetime | None = None
    bucket: str
    checksums: Checksums


class FileUploadForm(BaseModel):
    """multipart/form-data fields of POST /files/upload (documentation only)."""

    file: bytes = Field(json_schema_extra={"format": "binary"}, description="At most 100 MB")
    file_type: str | None = Field(default=None, description="csv, image, document, …")
    customer_id: uuid.UUID | None = None
    ticket_id: str | None = None
    service_id: str | None = None
    metadata: str | None = Field(default=None, description="A JSON object")
    expires_at: datetime | None = Field(default=None, description="ISO 8601; deleted when due")


class StorageUploadForm(BaseModel):
    """multipart/form-data fields of POST /api/v1/storage/upload (documentation only)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})
    category: str
    action: str
    customerId: str = Field(description="The customer's id (a UUID in Attache)")
    userInput: str | None = Field(default=None, description='JSON, e.g. {"force_filename": true}')
    userSettings: str | None = Field(default=None, description="JSON object")
    assetInput: str | None = Field(default=None, description="JSON object")


class StorageUploadData(BaseModel):
    url: str
    result: str
    filename: str


class StorageUploadMeta(BaseModel):
    category: str
    action: str
    extension: str
    content_type: str


class StorageUploadResponse(BaseModel):
    """The seed's ApiResponse envelope."""

    code: int = 200
    success: bool = True
    message: str = "File uploaded successfully"
    data: StorageUploadData | None
    meta: StorageUploadMeta | dict[str, Any] | None = None
