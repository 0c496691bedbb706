"""Profile image requests, responses and rules (seed 003; its camelCase names are the API).

No I/O here: the use cases are in profile_images.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator

from attache_gateway.domain import MimeType, StrictModel

# Only these, whatever the general upload allowlist says; the extension is ours, not the client's.
PROFILE_IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$"),
]


class ProfileImageUploadRequest(StrictModel):
    fileName: str = Field(min_length=1, max_length=1024)
    contentType: MimeType = Field(description="image/jpeg, image/png or image/webp")
    size: int | None = Field(
        default=None,
        ge=1,
        description="Exact size in bytes, optional. When given it is signed into the PUT "
        "URL, so S3 itself refuses a body of another size.",
    )


class PresignedPost(BaseModel):
    """A browser-form upload: POST `fields` and then the file (form field `file`) to `url`.
    The policy binds the key, the content type and the size limit: S3 itself refuses a
    larger file (400 EntityTooLarge)."""

    url: str
    fields: dict[str, str]


class ProfileImageUploadResponse(BaseModel):
    presignedUrl: str = Field(description="PUT the image here, with exactly `headers`.")
    s3Key: str = Field(description="The key to send as profileImageKey in PUT /profile.")
    expiresIn: int = Field(description="Seconds the upload URLs stay valid.")
    method: str = "PUT"
    headers: dict[str, str] = Field(description="Headers the PUT must carry, exactly.")
    maxBytes: int = Field(description="Larger images are never accepted.")
    presignedPost: PresignedPost


class Profile(BaseModel):
    """The seed's profile: the image is a short-lived presigned GET, or null."""

    userId: str
    email: str | None
    nombre: str | None
    apellido: str | None
    profileImageKey: str | None
    profileImageUrl: str | None
    profileImageUrlExpiresIn: int | None
    profileImageUpdatedAt: int | None = Field(description="Unix seconds")
    profileImageContentType: str | None
    profileImageFileName: str | None
    createdAt: datetime


class ProfileUpdate(StrictModel):
    """PATCH semantics: only the fields given change. `profileImageKey` must be the s3Key
    of one of your own uploads, uploaded and verified."""

    nombre: PersonName | None = None
    apellido: PersonName | None = None
    profileImageKey: str | None = Field(default=None, min_length=1, max_length=1024)

    @field_validator("nombre", "apellido", "profileImageKey")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only explicit nulls get here (defaults are not validated): leave a field out instead.
        if value is None:
            raise ValueError("Must not be null; leave the field out to keep it")
        return value


@dataclass(frozen=True)
class CatalogProfile:
    """The catalog's profile record (services never import each other: restated here)."""

    record: dict[str, Any]

    @property
    def image_key(self) -> str | None:
        return self.record.get("profileImageKey")

    @property
    def image_version(self) -> int | None:
        return self.record.get("profileImageVersion")


@dataclass(frozen=True)
class ImageUpload:
    """A row of gateway.profile_image_uploads."""

    id: uuid.UUID
    bucket: str
    object_key: str
    file_name: str
    content_type: str
    declared_size: int | None
    status: str
    reject_reason: str | None
    size_bytes: int | None
    version: int | None
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> ImageUpload:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Settlement:
    """What a profile read must do about the user's outstanding uploads."""

    finalize: list[ImageUpload]  # `accepting` rows that already are the profile's image
    recover: list[ImageUpload]  # `accepting` rows newer than the image: give them again
    candidates: list[ImageUpload]  # pending uploads presigned after the image, newest first
    obsolete: bool  # verified uploads older than the image remain: delete them

    @property
    def idle(self) -> bool:
        return not (self.finalize or self.recover or self.candidates or self.obsolete)


def settle(
    uploads: list[ImageUpload],
    image_key: str | None,
    image_version: int | None,
    *,
    max_candidates: int = 5,
) -> Settlement:
    """Decide from the user's open uploads and the catalog's image.

    A pending upload is a candidate only when it was presigned after the current image's
    upload: an older one the client abandoned must not replace a newer image on a read.
    """
    current = next((u for u in uploads if u.object_key == image_key), None)
    version = image_version or 0
    finalize = [u for u in uploads if u.status == "accepting" and u.object_key == image_key]
    recover = sorted(
        (
            u
            for u in uploads
            if u.status == "accepting" and u.object_key != image_key and (u.version or 0) > version
        ),
        key=lambda u: u.version or 0,
        reverse=True,
    )
    obsolete = any(
        u.status in ("accepting", "accepted") and (u.version or 0) < version for u in uploads
    )
    candidates = sorted(
        (
            u
            for u in uploads
            if u.status == "pending"
            and (current is None or (u.created_at, u.id) > (current.created_at, current.id))
        ),
        key=lambda u: (u.created_at, u.id),
        reverse=True,
    )[:max_candidates]
    return Settlement(finalize, recover, candidates, obsolete)
