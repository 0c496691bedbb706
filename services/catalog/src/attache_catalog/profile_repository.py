"""Plain SQL for catalog.profiles. Functions take a connection; callers own the transaction."""

from __future__ import annotations

import asyncpg

PROFILE_COLUMNS = (
    "org_id, user_id, email, nombre, apellido, profile_image_bucket, profile_image_key,"
    " profile_image_content_type, profile_image_file_name, profile_image_size_bytes,"
    " profile_image_version, profile_image_updated_at, created_at, updated_at"
)


async def get_profile(
    conn: asyncpg.Connection, org_id: str, user_id: str, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {PROFILE_COLUMNS} FROM catalog.profiles WHERE org_id = $1 AND user_id = $2{lock}",
        org_id,
        user_id,
    )


async def insert_profile(
    conn: asyncpg.Connection, org_id: str, user_id: str, email: str | None
) -> asyncpg.Record | None:
    """The new row, or None when another request created it first."""
    return await conn.fetchrow(
        f"""INSERT INTO catalog.profiles (org_id, user_id, email) VALUES ($1, $2, $3)
            ON CONFLICT (org_id, user_id) DO NOTHING
            RETURNING {PROFILE_COLUMNS}""",
        org_id,
        user_id,
        email,
    )


async def update_email(
    conn: asyncpg.Connection, org_id: str, user_id: str, email: str
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE catalog.profiles SET email = $3, updated_at = now()
            WHERE org_id = $1 AND user_id = $2
            RETURNING {PROFILE_COLUMNS}""",
        org_id,
        user_id,
        email,
    )


async def update_profile(
    conn: asyncpg.Connection,
    org_id: str,
    user_id: str,
    *,
    nombre: str | None,
    apellido: str | None,
    image: dict | None,
) -> asyncpg.Record:
    """Sets the names given (None keeps the stored one) and, with `image`, the image."""
    image = image or {}
    return await conn.fetchrow(
        f"""UPDATE catalog.profiles
            SET nombre = COALESCE($3, nombre),
                apellido = COALESCE($4, apellido),
                profile_image_bucket = COALESCE($5, profile_image_bucket),
                profile_image_key = COALESCE($6, profile_image_key),
                profile_image_content_type = COALESCE($7, profile_image_content_type),
                profile_image_file_name = COALESCE($8, profile_image_file_name),
                profile_image_size_bytes = COALESCE($9, profile_image_size_bytes),
                profile_image_version = COALESCE($10, profile_image_version),
                profile_image_updated_at = CASE WHEN $6::text IS NULL
                    THEN profile_image_updated_at ELSE now() END,
                updated_at = now()
            WHERE org_id = $1 AND user_id = $2
            RETURNING {PROFILE_COLUMNS}""",
        org_id,
        user_id,
        nombre,
        apellido,
        image.get("bucket"),
        image.get("key"),
        image.get("content_type"),
        image.get("file_name"),
        image.get("size_bytes"),
        image.get("version"),
    )
