"""Profile models (seed 003): what the catalog's internal profile API accepts and returns.

The profile's attribute names are the seed's (camelCase): the gateway passes them on
to clients as they are, adding only the presigned image URL. No I/O here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from attache_catalog.domain import StrictModel

# A name may be cleared with "", but never carry control characters.
PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$"),
]


class ProfileImage(StrictModel):
    """An image the gateway has verified and now makes the profile's."""

    bucket: str = Field(min_length=1, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    content_type: str = Field(min_length=1, max_length=255)
    file_name: str = Field(min_length=1, max_length=255)
    size_bytes: int = Field(ge=1)
    # Orders verified uploads: the profile only ever moves to a higher version.
    version: int = Field(ge=1)


class ProfileChanges(StrictModel):
    """PATCH semantics: only the fields given change."""

    nombre: PersonName | None = None
    apellido: PersonName | None = None
    image: ProfileImage | None = None


class Profile(BaseModel):
    userId: str
    orgId: str
    email: str | None
    nombre: str | None
    apellido: str | None
    profileImageBucket: str | None
    profileImageKey: str | None
    profileImageContentType: str | None
    profileImageFileName: str | None
    profileImageSizeBytes: int | None
    profileImageVersion: int | None
    # Unix seconds, as the seed stores it.
    profileImageUpdatedAt: int | None
    createdAt: datetime


class ProfileUpdate(BaseModel):
    """The profile after a change, and the image it replaced (None when it didn't)."""

    profile: Profile
    imageChanged: bool
    previousImageKey: str | None
