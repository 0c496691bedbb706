"""Profile image use cases (seed 003): presign an upload, read and update the profile.

The seed stores the key before anything is uploaded; here an image becomes the
profile's only once verified, so a profile never points at nothing:

1. presign: a `pending` row, a PUT URL that signs the content type (and the size when
   the client gives it), and a POST policy whose `content-length-range` S3 enforces.
2. verify, on `PUT /profile {profileImageKey}` or lazily on a profile read (the seed's
   client uploads, then only reads): under the row's lock the object must exist, be at
   most the limit, and be the declared type by its magic bytes. If not, it is deleted
   and the upload `rejected`. If so, it takes the next version and becomes `accepting`,
   committed before the catalog hears of it, so the sweeper never touches it.
3. the catalog makes it the profile's image (writing `profile.image.updated`) only when
   its version is higher than the image it has; the row becomes `accepted`.
4. verified uploads below the profile's version can never be its image again: they are
   `retired` and their objects deleted.

A crash between any two steps leaves a state the next read finishes (or the sweeper,
for retired and expired rows), and no step needs a lock held across requests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from botocore.exceptions import BotoCoreError, ClientError

from attache_core import filenames, sniffing
from attache_core.auth import Principal
from attache_core.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
    UpstreamFailed,
)
from attache_core.s3 import BlobStore, ObjectHead
from attache_gateway import profile_repository as repo
from attache_gateway.catalog_client import CatalogClient, CatalogError
from attache_gateway.profile_domain import (
    PROFILE_IMAGE_TYPES,
    CatalogProfile,
    ImageUpload,
    PresignedPost,
    Profile,
    ProfileImageUploadRequest,
    ProfileImageUploadResponse,
    ProfileUpdate,
    settle,
)
from attache_gateway.settings import GatewaySettings
from attache_gateway.uploads import UploadExpired, UploadRejected

log = structlog.get_logger("attache.gateway.profile_images")

# Open uploads looked at per profile read: verified ones first, then the newest pending.
OPEN_UPLOADS_LIMIT = 20


class ImageNotUploaded(Unprocessable):
    pass


@dataclass(frozen=True)
class ProfileContext:
    settings: GatewaySettings
    pool: asyncpg.Pool
    blobs: BlobStore
    catalog: CatalogClient


def _image_type(declared: str) -> str:
    normalised = sniffing.normalise(declared)
    if normalised not in PROFILE_IMAGE_TYPES:
        raise UnsupportedMediaType(
            "Only JPEG, PNG and WebP images are accepted",
            details={"contentType": f"{declared} is not one of image/jpeg, image/png, image/webp"},
        )
    return normalised


def _object_key(principal: Principal, upload_id: uuid.UUID, content_type: str) -> str:
    return (
        f"profiles/{filenames.key_component(principal.org_id, limit=64)}"
        f"/{filenames.key_component(principal.sub, limit=64)}"
        f"/{upload_id}.{PROFILE_IMAGE_TYPES[content_type]}"
    )


async def _presigned_post(
    ctx: ProfileContext, bucket: str, key: str, content_type: str, max_bytes: int
) -> PresignedPost:
    try:
        post = await ctx.blobs.client.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=ctx.settings.profile_image_url_ttl_seconds,
        )
    except (BotoCoreError, ClientError) as exc:
        raise UpstreamFailed("Could not sign the upload") from exc
    # The policy is what is signed, not the URL: point clients at the public endpoint.
    return PresignedPost(
        url=f"{ctx.settings.presign_endpoint_url.rstrip('/')}/{bucket}", fields=post["fields"]
    )


async def presign_image_upload(
    ctx: ProfileContext, principal: Principal, req: ProfileImageUploadRequest
) -> ProfileImageUploadResponse:
    content_type = _image_type(req.contentType)
    max_bytes = ctx.settings.profile_image_max_bytes
    if req.size is not None and req.size > max_bytes:
        raise PayloadTooLarge(
            "Image too large", details={"size": f"Must be at most {max_bytes} bytes"}
        )
    try:
        file_name = filenames.display_name(req.fileName)
    except InvalidInput as exc:
        raise InvalidInput(
            "Invalid parameters", details={"fileName": "File name is empty or invalid"}
        ) from exc

    upload_id = uuid.uuid4()
    bucket = ctx.settings.s3_bucket
    key = _object_key(principal, upload_id, content_type)
    ttl = ctx.settings.profile_image_url_ttl_seconds
    now = datetime.now(UTC)
    # The client's Content-Type header must be what it declared: sign exactly that.
    url = ctx.blobs.presigner.presign_put(
        bucket, key, expires_in=ttl, content_type=req.contentType, content_length=req.size, now=now
    )
    post = await _presigned_post(ctx, bucket, key, req.contentType, req.size or max_bytes)
    await repo.insert_upload(
        ctx.pool,
        upload_id=upload_id,
        org_id=principal.org_id,
        user_id=principal.sub,
        bucket=bucket,
        object_key=key,
        file_name=file_name,
        content_type=content_type,
        declared_size=req.size,
        expires_at=now + timedelta(seconds=ttl + ctx.settings.confirm_grace_seconds),
    )
    log.info("profile_image_presigned", upload_id=str(upload_id), org_id=principal.org_id)
    return ProfileImageUploadResponse(
        presignedUrl=url,
        s3Key=key,
        expiresIn=ttl,
        headers={"Content-Type": req.contentType},
        maxBytes=max_bytes,
        presignedPost=post,
    )


def _rejection(
    ctx: ProfileContext, upload: ImageUpload, head: ObjectHead, prefix: bytes
) -> str | None:
    """Why this object can't be a profile image, or None when it can."""
    max_bytes = ctx.settings.profile_image_max_bytes
    if head.size == 0:
        return "the file is empty"
    if head.size > max_bytes:
        return f"the image is {head.size} bytes, more than the {max_bytes} accepted"
    if upload.declared_size is not None and head.size != upload.declared_size:
        return f"size {head.size} differs from the declared {upload.declared_size}"
    detected = sniffing.sniff(prefix)
    if detected != upload.content_type:
        return f"content is {detected}, not the declared {upload.content_type}"
    return None


async def _verify(ctx: ProfileContext, upload_id: uuid.UUID) -> ImageUpload:
    """The upload once its object checks out (`accepting`, with a version); raises otherwise."""
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await repo.lock_upload(conn, upload_id)
        upload = ImageUpload.from_row(row) if row is not None else None
        if upload is None or upload.status == "retired":
            raise NotFound("Profile image upload not found")
        if upload.status in ("accepting", "accepted"):
            return upload
        if upload.status == "rejected":
            raise UploadRejected(f"Image rejected: {upload.reject_reason}")
        if upload.expires_at < datetime.now(UTC):
            raise UploadExpired("The upload expired; request a new upload URL")
        probed = await ctx.blobs.probe(upload.bucket, upload.object_key, sniffing.SNIFF_BYTES)
        if probed is None:
            raise ImageNotUploaded(
                "The image has not been uploaded yet",
                details={"profileImageKey": "No object at this key yet"},
            )
        head, prefix = probed
        rejection = _rejection(ctx, upload, head, prefix)
        if rejection is None:
            return ImageUpload.from_row(await repo.mark_accepting(conn, upload.id, head.size))
        await ctx.blobs.delete(upload.bucket, upload.object_key)
        await repo.mark_rejected(conn, upload.id, rejection)
    # Raised after the commit, so the rejection itself is recorded.
    log.info("profile_image_rejected", upload_id=str(upload_id), reason=rejection)
    raise UploadRejected(f"Image rejected: {rejection}")


async def delete_retired(
    pool: asyncpg.Pool, blobs: BlobStore, retired: list[asyncpg.Record]
) -> None:
    """Delete retired uploads' objects, then their rows (the sweeper retries leftovers)."""
    for row in retired:
        await blobs.delete(row["bucket"], row["object_key"])
        await repo.delete_upload(pool, row["id"])


async def _retire_older(ctx: ProfileContext, principal: Principal, version: int | None) -> None:
    """Delete the objects of verified uploads below the profile's image version."""
    if version is None:
        return
    retired = await repo.retire_older(ctx.pool, principal.org_id, principal.sub, version)
    if not retired:
        return
    try:
        await delete_retired(ctx.pool, ctx.blobs, retired)
    except UpstreamFailed:
        # The new image is in place already: the sweeper deletes what is left.
        log.warning("profile_image_delete_deferred", count=len(retired))
        return
    log.info("profile_images_retired", count=len(retired), org_id=principal.org_id)


async def _make_current(
    ctx: ProfileContext,
    principal: Principal,
    authorization: str,
    upload: ImageUpload,
    names: dict[str, str],
) -> CatalogProfile:
    """Give a verified upload (and any name changes) to the catalog, then tidy up.

    CatalogError 409 when a newer image is already the profile's.
    """
    image = {
        "bucket": upload.bucket,
        "key": upload.object_key,
        "content_type": upload.content_type,
        "file_name": upload.file_name,
        "size_bytes": upload.size_bytes,
        "version": upload.version,
    }
    result = await ctx.catalog.profile(authorization, {**names, "image": image})
    await repo.mark_accepted(ctx.pool, upload.id)
    profile = CatalogProfile(result["profile"])
    if result["imageChanged"]:
        log.info("profile_image_updated", upload_id=str(upload.id), org_id=principal.org_id)
    await _retire_older(ctx, principal, profile.image_version)
    return profile


def _superseded(exc: CatalogError) -> bool:
    return exc.status == 409


async def _settle(
    ctx: ProfileContext, principal: Principal, authorization: str, profile: CatalogProfile
) -> CatalogProfile:
    """Bring the profile up to date with the user's uploads (see the module docstring)."""
    rows = await repo.open_uploads(
        ctx.pool, principal.org_id, principal.sub, limit=OPEN_UPLOADS_LIMIT
    )
    plan = settle([ImageUpload.from_row(r) for r in rows], profile.image_key, profile.image_version)
    if plan.idle:
        return profile
    for upload in plan.finalize:
        await repo.mark_accepted(ctx.pool, upload.id)
    for upload in [*plan.recover, *plan.candidates]:
        try:
            verified = await _verify(ctx, upload.id)
            return await _make_current(ctx, principal, authorization, verified, {})
        except (ImageNotUploaded, UploadRejected, UploadExpired, NotFound):
            continue  # not (or no longer) a usable image: try the next one
        except UpstreamFailed:
            # S3 or the catalog is struggling: show the profile as it is, settle next time.
            log.warning("profile_settle_deferred", upload_id=str(upload.id))
            return profile
        except CatalogError as exc:
            if not _superseded(exc):
                raise
            # A concurrent request set a newer image: show that one.
            profile = CatalogProfile(await ctx.catalog.profile(authorization))
            break
    await _retire_older(ctx, principal, profile.image_version)
    return profile


def present(ctx: ProfileContext, profile: CatalogProfile) -> Profile:
    record: dict[str, Any] = profile.record
    url = expires_in = None
    if profile.image_key:
        expires_in = ctx.settings.profile_image_url_ttl_seconds
        file_name = filenames.key_component(record.get("profileImageFileName") or "image")
        url = ctx.blobs.presigner.presign_get(
            record["profileImageBucket"],
            profile.image_key,
            expires_in=expires_in,
            response_content_type=record["profileImageContentType"],
            response_content_disposition=f'inline; filename="{file_name}"',
        )
    return Profile(
        userId=record["userId"],
        email=record["email"],
        nombre=record["nombre"],
        apellido=record["apellido"],
        profileImageKey=profile.image_key,
        profileImageUrl=url,
        profileImageUrlExpiresIn=expires_in,
        profileImageUpdatedAt=record["profileImageUpdatedAt"],
        profileImageContentType=record["profileImageContentType"],
        profileImageFileName=record["profileImageFileName"],
        createdAt=record["createdAt"],
    )


async def read_profile(
    ctx: ProfileContext,
    principal: Principal,
    authorization: str,
    record: dict[str, Any] | None = None,
) -> Profile:
    """The caller's profile, having accepted an image uploaded since the last read."""
    if record is None:
        record = await ctx.catalog.profile(authorization)
    profile = await _settle(ctx, principal, authorization, CatalogProfile(record))
    return present(ctx, profile)


async def update_profile(
    ctx: ProfileContext, principal: Principal, authorization: str, body: ProfileUpdate
) -> Profile:
    """PATCH semantics. With `profileImageKey` nothing changes unless that image is accepted."""
    names = {f: getattr(body, f) for f in ("nombre", "apellido") if f in body.model_fields_set}
    if body.profileImageKey is None:
        record = (await ctx.catalog.profile(authorization, names))["profile"] if names else None
        return await read_profile(ctx, principal, authorization, record)
    row = await repo.find_upload(
        ctx.pool, principal.org_id, principal.sub, ctx.settings.s3_bucket, body.profileImageKey
    )
    if row is None:
        # Another user's key is exactly as unknown as one never issued.
        raise NotFound(
            "Profile image upload not found",
            details={"profileImageKey": "None of your image uploads has this key"},
        )
    upload = await _verify(ctx, row["id"])
    return present(ctx, await _make_current(ctx, principal, authorization, upload, names))
