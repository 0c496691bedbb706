"""Gateway request and response models (the seeds' shapes). No I/O here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

MimeType = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=255,
        pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$",
    ),
]
# base64 of a 16-byte MD5 / 32-byte SHA-256, as S3 expects them.
ContentMD5 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{22}==$")]
ChecksumSHA256 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PresignRequest(StrictModel):
    filename: str = Field(min_length=1, max_length=1024)
    content_type: MimeType
    size: int = Field(ge=1, description="Exact size in bytes; S3 refuses a body of another size.")
    checksum_sha256: ChecksumSHA256 | None = Field(
        default=None,
        description="Base64 SHA-256; the client must send it as x-amz-checksum-sha256.",
    )
    content_md5: ContentMD5 | None = Field(
        default=None, description="Base64 MD5; the client must send it as Content-MD5."
    )


class PresignResponse(BaseModel):
    url: str
    object_key: str
    method: str = "PUT"
    headers: dict[str, str] = Field(description="Headers the PUT must carry, exactly.")
    expires_at: datetime


class EmailSource(StrictModel):
    """Where an e-mail attachment came from (the e-mail fields of seed 004)."""

    emailId: str | None = Field(default=None, max_length=500)
    senderEmail: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    senderName: str | None = Field(default=None, max_length=300)
    emailSubject: str | None = Field(default=None, max_length=1000)
    emailDate: AwareDatetime | None = None


class ConfirmRequest(StrictModel):
    object_key: str = Field(min_length=1, max_length=1024)
    filename: str | None = Field(default=None, max_length=1024)
    content_type: MimeType | None = None
    size: int | None = Field(default=None, ge=0)
    # Internal systems registering e-mail attachments say where they came from.
    source: EmailSource | None = None


class Attachment(BaseModel):
    """The seed's attachment item, with enrichment state."""

    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    org_id: str
    customer_id: uuid.UUID | None
    object_key: str
    filename: str
    content_type: str
    size_bytes: int
    uploaded_by: str
    created_at: datetime
