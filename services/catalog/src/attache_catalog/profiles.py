"""Profile use cases (seed 003). The profile is the token's user's: (org_id, sub).

A profile row is created on first use. Changing the image writes the
`profile.image.updated` outbox row in the same transaction, and only ever moves
the profile to a higher image version than it has (the gateway numbers verified
uploads), so an image once replaced can never come back by a late or repeated
request: that is what lets the gateway delete replaced objects safely.
"""

from __future__ import annotations

import asyncpg

from attache_catalog import profile_repository as repo
from attache_catalog.profile_domain import Profile, ProfileChanges, ProfileUpdate
from attache_catalog.repository import add_outbox
from attache_core.auth import Principal
from attache_core.errors import Conflict
from attache_core.events import ProfileImageUpdated, make_event

SOURCE = "/attache/catalog"


def to_profile(row: asyncpg.Record) -> Profile:
    updated_at = row["profile_image_updated_at"]
    return Profile(
        userId=row["user_id"],
        orgId=row["org_id"],
        email=row["email"],
        nombre=row["nombre"],
        apellido=row["apellido"],
        profileImageBucket=row["profile_image_bucket"],
        profileImageKey=row["profile_image_key"],
        profileImageContentType=row["profile_image_content_type"],
        profileImageFileName=row["profile_image_file_name"],
        profileImageSizeBytes=row["profile_image_size_bytes"],
        profileImageVersion=row["profile_image_version"],
        profileImageUpdatedAt=int(updated_at.timestamp()) if updated_at else None,
        createdAt=row["created_at"],
    )


async def _ensure(
    conn: asyncpg.Connection, principal: Principal, *, for_update: bool
) -> asyncpg.Record:
    """The caller's profile row, created on first use; the token's email, when it has one."""
    org_id, user_id, email = principal.org_id, principal.sub, principal.email
    row = await repo.get_profile(conn, org_id, user_id, for_update=for_update)
    if row is None:
        # A row this transaction inserts is locked by it until commit.
        row = await repo.insert_profile(conn, org_id, user_id, email)
        if row is None:  # a concurrent request created it first
            row = await repo.get_profile(conn, org_id, user_id, for_update=for_update)
    if email and row["email"] != email:
        row = await repo.update_email(conn, org_id, user_id, email)
    return row


async def get_profile(pool: asyncpg.Pool, principal: Principal) -> Profile:
    async with pool.acquire() as conn, conn.transaction():
        return to_profile(await _ensure(conn, principal, for_update=False))


async def update_profile(
    pool: asyncpg.Pool, principal: Principal, changes: ProfileChanges
) -> ProfileUpdate:
    """PATCH: the given names, and the image when it is newer than the profile's."""
    image = changes.image
    async with pool.acquire() as conn, conn.transaction():
        row = await _ensure(conn, principal, for_update=True)
        previous_key = row["profile_image_key"]
        image_changed = image is not None and (
            image.bucket != row["profile_image_bucket"] or image.key != previous_key
        )
        if image_changed and (row["profile_image_version"] or 0) >= image.version:
            # A newer image was set meanwhile; this one must not replace it.
            raise Conflict(
                "A newer profile image was set meanwhile",
                details={"profileImageKey": "Superseded by a more recent image"},
            )
        if image_changed or changes.nombre is not None or changes.apellido is not None:
            row = await repo.update_profile(
                conn,
                principal.org_id,
                principal.sub,
                nombre=changes.nombre,
                apellido=changes.apellido,
                image=image.model_dump() if image_changed and image is not None else None,
            )
        if image_changed and image is not None:
            data = ProfileImageUpdated(
                org_id=row["org_id"],
                user_id=row["user_id"],
                bucket=row["profile_image_bucket"],
                object_key=row["profile_image_key"],
                content_type=row["profile_image_content_type"],
                file_name=row["profile_image_file_name"],
                size_bytes=row["profile_image_size_bytes"],
                previous_object_key=previous_key,
                updated_at=row["profile_image_updated_at"],
            )
            await add_outbox(
                conn,
                make_event(
                    "profile.image.updated",
                    data,
                    source=SOURCE,
                    subject=row["user_id"],
                    org_id=row["org_id"],
                ),
            )
    return ProfileUpdate(
        profile=to_profile(row),
        imageChanged=image_changed,
        previousImageKey=previous_key if image_changed else None,
    )
