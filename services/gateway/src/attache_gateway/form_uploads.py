"""multipart/form-data requests whose file part streams straight to S3.

Text fields are small and kept; the file part is handed to a `store` callback
as an async iterator of chunks the moment it arrives, with whatever fields came
before it. If anything fails after the file was stored, the object is removed
again before the error propagates, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from attache_core.errors import InvalidInput, PayloadTooLarge
from attache_core.s3 import BlobStore
from attache_gateway.streaming import StoredObject

CHUNK_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 32
# Room for the multipart framing and the text fields around the file.
FORM_OVERHEAD_BYTES = MAX_FIELDS * MAX_FIELD_BYTES


@dataclass
class FileArrival:
    """The file part as it starts to arrive."""

    filename: str | None
    declared_type: str | None
    fields_before: dict[str, str]
    chunks: AsyncIterator[bytes]


Store = Callable[[FileArrival], Awaitable[StoredObject]]


@dataclass
class ReceivedForm:
    fields: dict[str, str]
    stored: StoredObject | None
    filename: str | None
    declared_type: str | None


# What aiohttp's multipart parser raises for a malformed body (bad boundary, bad headers).
_MALFORMED = (ValueError, BadHttpMessage, RuntimeError, TypeError)


def _malformed(exc: Exception) -> InvalidInput:
    return InvalidInput(f"Malformed multipart body: {type(exc).__name__}")


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while True:
        try:
            chunk = await part.read_chunk(CHUNK_BYTES)
        except _MALFORMED as exc:
            raise _malformed(exc) from exc
        if not chunk:
            return
        yield chunk


async def _text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data.extend(chunk)
        if len(data) > MAX_FIELD_BYTES:
            raise InvalidInput("Invalid parameters", details={part.name or "field": "Too long"})
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "Invalid parameters", details={part.name or "field": "Not UTF-8"}
        ) from exc


async def receive_form(
    request: web.Request, *, max_file_bytes: int, store: Store, blobs: BlobStore
) -> ReceivedForm:
    if request.content_type != "multipart/form-data":
        raise InvalidInput("Expected multipart/form-data with a `file` part")
    if (
        request.content_length is not None
        and request.content_length > max_file_bytes + FORM_OVERHEAD_BYTES
    ):
        # Refused before a byte of the body is read.
        raise PayloadTooLarge(f"File exceeds the {max_file_bytes}-byte limit")
    form = ReceivedForm(fields={}, stored=None, filename=None, declared_type=None)
    try:
        reader = await request.multipart()
        while (part := await _next_part(reader)) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidInput("Nested multipart bodies are not accepted")
            if part.name == "file":
                if form.stored is not None:
                    raise InvalidInput(
                        "Invalid parameters", details={"file": "Only one file per request"}
                    )
                form.filename = part.filename
                form.declared_type = part.headers.get("Content-Type")
                form.stored = await store(
                    FileArrival(form.filename, form.declared_type, dict(form.fields), _chunks(part))
                )
            elif part.name:
                if len(form.fields) >= MAX_FIELDS:
                    raise InvalidInput("Too many form fields")
                form.fields[part.name] = await _text(part)
    except BaseException:
        await discard(blobs, form.stored)
        raise
    if form.stored is None:
        raise InvalidInput("Invalid parameters", details={"file": "Field required"})
    return form


async def _next_part(reader: MultipartReader) -> Any:
    try:
        return await reader.next()
    except _MALFORMED as exc:
        raise _malformed(exc) from exc


async def discard(blobs: BlobStore, stored: StoredObject | None) -> None:
    """Remove an object a refused request had already stored (best effort, logged by S3 layer)."""
    if stored is not None:
        with contextlib.suppress(Exception):
            await blobs.delete(stored.bucket, stored.key)
