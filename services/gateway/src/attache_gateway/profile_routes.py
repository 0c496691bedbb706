"""The profile image flow (seed 003): the caller's own profile and its image."""

from __future__ import annotations

from aiohttp import web

from attache_core.web import json_response, parse_body
from attache_gateway import profile_images
from attache_gateway.api import api, authenticate
from attache_gateway.keys import BLOBS, CATALOG, POOL, SETTINGS
from attache_gateway.profile_domain import (
    Profile,
    ProfileImageUploadRequest,
    ProfileImageUploadResponse,
    ProfileUpdate,
)


def _context(request: web.Request) -> profile_images.ProfileContext:
    app = request.app
    return profile_images.ProfileContext(app[SETTINGS], app[POOL], app[BLOBS], app[CATALOG])


@api.operation(
    "POST",
    "/profile/image",
    "Get a presigned URL to upload a profile image (JPEG, PNG or WebP, at most 2 MB)",
    request=ProfileImageUploadRequest,
    response=ProfileImageUploadResponse,
    errors=(400, 413, 415, 502),
    tags=("profile",),
)
async def presign_profile_image(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await parse_body(request, ProfileImageUploadRequest)
    return json_response(
        await profile_images.presign_image_upload(_context(request), principal, body)
    )


@api.operation(
    "GET",
    "/profile",
    "Your profile; the image as a presigned GET URL valid 5 minutes, or null",
    response=Profile,
    errors=(502,),
    tags=("profile",),
)
async def get_profile(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    return json_response(
        await profile_images.read_profile(
            _context(request), principal, request.headers["Authorization"]
        )
    )


@api.operation(
    "PUT",
    "/profile",
    "Update your profile: only the fields given change (profileImageKey: an uploaded image)",
    request=ProfileUpdate,
    response=Profile,
    errors=(400, 404, 409, 410, 422, 502),
    tags=("profile",),
)
async def update_profile(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await parse_body(request, ProfileUpdate)
    return json_response(
        await profile_images.update_profile(
            _context(request), principal, request.headers["Authorization"], body
        )
    )
