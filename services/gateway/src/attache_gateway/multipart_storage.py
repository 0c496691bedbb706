"""S3 multipart calls (create, list parts, complete, abort, list uploads) on the blob store's
aioboto3 client, with S3's errors mapped to the platform's.

Checked against SeaweedFS 4.48: it reports every upload of a part number in ListParts
(see multipart_domain), treats a repeated abort as success, answers NoSuchUpload for
ListParts on a completed upload, and pages ListMultipartUploads by upload id alone
(no NextKeyMarker) — which botocore's paginator follows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from attache_core.errors import Unprocessable, UpstreamFailed
from attache_core.s3 import BlobStore
from attache_gateway.multipart_domain import S3_MAX_PARTS, StoredPart

# S3 refuses a CompleteMultipartUpload whose parts don't fit: the client must fix them.
_PARTS_REFUSED = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "EntityTooLarge"}


class MultipartListing(NamedTuple):
    key: str
    upload_id: str
    initiated: datetime


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _no_such_upload(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return _code(exc) == "NoSuchUpload" or status == 404


async def create_upload(blobs: BlobStore, bucket: str, key: str, content_type: str) -> str:
    """S3's UploadId of a new multipart upload; the object will have this Content-Type."""
    try:
        resp = await blobs.client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type
        )
    except (ClientError, BotoCoreError) as exc:
        raise UpstreamFailed("Object storage request failed") from exc
    return resp["UploadId"]


async def list_parts(
    blobs: BlobStore, bucket: str, key: str, upload_id: str
) -> list[StoredPart] | None:
    """Every part S3 holds, or None when S3 no longer knows the upload."""
    parts: list[StoredPart] = []
    marker = 0
    try:
        while True:
            # AWS returns at most 1,000 parts a page whatever is asked; SeaweedFS all of them.
            resp: dict[str, Any] = await blobs.client.list_parts(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MaxParts=S3_MAX_PARTS,
                PartNumberMarker=marker,
            )
            parts.extend(
                StoredPart(
                    number=p["PartNumber"],
                    size=p["Size"],
                    etag=p["ETag"],
                    last_modified=p["LastModified"],
                )
                for p in resp.get("Parts", [])
            )
            next_marker = int(resp.get("NextPartNumberMarker") or 0)
            if not resp.get("IsTruncated") or next_marker <= marker:
                return parts
            marker = next_marker
    except ClientError as exc:
        if _no_such_upload(exc):
            return None
        raise UpstreamFailed("Object storage request failed") from exc
    except BotoCoreError as exc:
        raise UpstreamFailed("Object storage unavailable") from exc


async def complete_upload(
    blobs: BlobStore, bucket: str, key: str, upload_id: str, parts: list[StoredPart]
) -> bool:
    """Assemble the object from `parts`; False when S3 no longer knows the upload."""
    try:
        await blobs.client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
        )
    except ClientError as exc:
        if _code(exc) in _PARTS_REFUSED:
            # A part was replaced between our check and the assembly.
            raise Unprocessable(
                "Object storage refused the parts; list them and complete again",
                details={"parts": _code(exc)},
            ) from exc
        if _no_such_upload(exc):
            return False
        raise UpstreamFailed("Object storage request failed") from exc
    except BotoCoreError as exc:
        raise UpstreamFailed("Object storage unavailable") from exc
    return True


async def abort_upload(blobs: BlobStore, bucket: str, key: str, upload_id: str) -> None:
    """Drop the upload and its parts; an upload S3 no longer knows is already gone."""
    try:
        await blobs.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as exc:
        if not _no_such_upload(exc):
            raise UpstreamFailed("Object storage request failed") from exc
    except BotoCoreError as exc:
        raise UpstreamFailed("Object storage unavailable") from exc


async def list_uploads(blobs: BlobStore, bucket: str) -> AsyncIterator[list[MultipartListing]]:
    """The bucket's incomplete multipart uploads, a page at a time."""
    paginator = blobs.client.get_paginator("list_multipart_uploads")
    try:
        async for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 1000}):
            yield [
                MultipartListing(u["Key"], u["UploadId"], u["Initiated"])
                for u in page.get("Uploads", [])
            ]
    except (ClientError, BotoCoreError) as exc:
        raise UpstreamFailed("Object storage request failed") from exc
