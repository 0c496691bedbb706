"""Multipart uploads of large files: request/response models and the part arithmetic.

No I/O here. An upload of `size` bytes is cut into parts of `part_size` bytes (the
last one shorter); complete assembles exactly parts 1..part_count, each of its
expected size, so the object is the declared size by construction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from attache_core.errors import Conflict, InvalidInput, Unprocessable
from attache_gateway.domain import MimeType, StrictModel

MIB = 1024**2
# S3's limits (AWS and SeaweedFS alike): every part but the last is 5 MiB to 5 GiB.
S3_MIN_PART_BYTES = 5 * MIB
S3_MAX_PART_BYTES = 5 * 1024**3
S3_MAX_PARTS = 10_000
S3_MAX_OBJECT_BYTES = 5 * 1024**4
# Part URLs one request may ask for; clients sign as they go, so URLs stay short-lived.
MAX_PART_URLS_PER_REQUEST = 1000

PartNumber = Annotated[int, Field(ge=1, le=S3_MAX_PARTS)]


# ---- the arithmetic -----------------------------------------------------------------------


def plan_part_size(size: int, preferred: int) -> int:
    """`preferred`, or the smallest whole number of MiB that fits `size` into 10,000 parts."""
    needed = -(-size // S3_MAX_PARTS)
    return max(preferred, -(-needed // MIB) * MIB)


def part_count(size: int, part_size: int) -> int:
    return max(1, -(-size // part_size))


def expected_part_size(size: int, part_size: int, number: int) -> int:
    count = part_count(size, part_size)
    return part_size if number < count else size - (count - 1) * part_size


def normalise_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


@dataclass(frozen=True)
class StoredPart:
    """A part as S3's ListParts reports it."""

    number: int
    size: int
    etag: str
    last_modified: datetime


def _versions(stored: Iterable[StoredPart]) -> dict[int, list[StoredPart]]:
    # SeaweedFS keeps every upload of a part number and ListParts reports them all, in no
    # particular order (AWS keeps the last only): group them so the caller can choose.
    by_number: dict[int, list[StoredPart]] = defaultdict(list)
    for part in stored:
        by_number[part.number].append(part)
    return by_number


def _newest(versions: list[StoredPart], expected_size: int) -> list[StoredPart]:
    """The distinct candidates for "the last upload" of one part number: those of the newest
    timestamp (S3's are whole seconds), narrowed to the right size where any has it."""
    newest = max(p.last_modified for p in versions)
    candidates = list(
        {normalise_etag(p.etag): p for p in versions if p.last_modified == newest}.values()
    )
    fitting = [p for p in candidates if p.size == expected_size]
    return fitting or candidates


def _latest(versions: list[StoredPart], expected_size: int) -> StoredPart:
    candidates = _newest(versions, expected_size)
    if len(candidates) > 1:
        # Two different uploads of one part within the same second: only the client
        # knows which one it means.
        raise Conflict(
            f"Part {versions[0].number} was uploaded more than once at the same time; "
            "complete with the ETags of the parts to use",
            details={"parts": f"Ambiguous part {versions[0].number}"},
        )
    return candidates[0]


def current_parts(stored: Iterable[StoredPart], size: int, part_size: int) -> dict[int, StoredPart]:
    """The newest version of every uploaded part number (any one on an ambiguous tie)."""
    return {
        number: _newest(versions, expected_part_size(size, part_size, number))[0]
        for number, versions in sorted(_versions(stored).items())
    }


def missing_part_numbers(current: dict[int, StoredPart], size: int, part_size: int) -> list[int]:
    """Parts still to upload: absent, or not of the size their position requires."""
    return [
        number
        for number in range(1, part_count(size, part_size) + 1)
        if number not in current
        or current[number].size != expected_part_size(size, part_size, number)
    ]


def number_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] → "1-3, 7, 9-10": readable even for thousands of parts."""
    spans: list[str] = []
    start = previous = None
    for number in [*numbers, None]:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            spans.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return ", ".join(spans)


def choose_parts(
    stored: Iterable[StoredPart],
    *,
    size: int,
    part_size: int,
    requested: list[CompletedPart] | None,
) -> list[StoredPart]:
    """The parts to assemble, 1..part_count in order, each of its expected size.

    With `requested` (the client's part numbers and ETags, as S3's own API takes them)
    each must name an uploaded version; without, the newest version of each is taken.
    InvalidInput for a list that isn't 1..part_count, Unprocessable for parts that are
    missing or of the wrong size (upload them and complete again).
    """
    count = part_count(size, part_size)
    versions = _versions(stored)
    chosen: list[StoredPart] = []
    missing: list[int] = []
    unmatched: list[int] = []
    if requested is not None:
        if [p.part_number for p in requested] != list(range(1, count + 1)):
            raise InvalidInput(
                "Invalid parameters",
                details={"parts": f"Must list parts 1 to {count}, each once, in order"},
            )
        for wanted in requested:
            uploaded = versions.get(wanted.part_number, [])
            etag = normalise_etag(wanted.etag)
            match = next((p for p in uploaded if normalise_etag(p.etag) == etag), None)
            if match is not None:
                chosen.append(match)
            elif uploaded:
                unmatched.append(wanted.part_number)
            else:
                missing.append(wanted.part_number)
    else:
        for number in range(1, count + 1):
            if number in versions:
                expected = expected_part_size(size, part_size, number)
                chosen.append(_latest(versions[number], expected))
            else:
                missing.append(number)

    problems: dict[str, str] = {}
    if missing:
        problems["missing_parts"] = number_ranges(missing)
    if unmatched:
        problems["etag_mismatch"] = number_ranges(unmatched)
    wrong = [p for p in chosen if p.size != expected_part_size(size, part_size, p.number)]
    if wrong:
        problems["wrong_size"] = "; ".join(
            f"part {p.number} is {p.size} bytes, "
            f"expected {expected_part_size(size, part_size, p.number)}"
            for p in wrong[:20]
        )
    if problems:
        summary = ", ".join(
            f"{len(numbers)} {label}"
            for numbers, label in (
                (missing, "missing"),
                (unmatched, "with another ETag"),
                (wrong, "of the wrong size"),
            )
            if numbers
        )
        raise Unprocessable(
            f"The upload is not complete: of {count} parts, {summary}", details=problems
        )
    return chosen


# ---- HTTP models --------------------------------------------------------------------------


class MultipartStartRequest(StrictModel):
    filename: str = Field(min_length=1, max_length=1024)
    content_type: MimeType
    size: int = Field(ge=1, description="Exact size in bytes of the whole file.")


class MultipartUpload(BaseModel):
    upload_id: uuid.UUID = Field(description="Also the id the attachment will have.")
    object_key: str
    part_size: int = Field(description="Bytes of every part but the last.")
    part_count: int
    expires_at: datetime = Field(description="Complete before this; then the upload is swept.")


class PartUrlsRequest(StrictModel):
    part_numbers: list[PartNumber] = Field(min_length=1, max_length=MAX_PART_URLS_PER_REQUEST)


class PartUrl(BaseModel):
    part_number: int
    url: str
    method: Literal["PUT"] = "PUT"
    size: int = Field(description="Bytes this part must have.")


class PartUrls(BaseModel):
    upload_id: uuid.UUID
    parts: list[PartUrl]
    expires_at: datetime = Field(description="When these URLs stop working.")


class UploadedPart(BaseModel):
    part_number: int
    size: int
    etag: str


class MultipartUploadState(BaseModel):
    upload_id: uuid.UUID
    object_key: str
    status: Literal["pending", "expired", "confirmed", "rejected", "aborted"]
    size: int
    part_size: int
    part_count: int
    expires_at: datetime
    parts: list[UploadedPart] = Field(description="What S3 holds (while pending).")
    missing_part_numbers: list[int] = Field(
        description="Parts absent or of the wrong size: upload these (again), then complete."
    )


class CompletedPart(StrictModel):
    part_number: PartNumber
    etag: str = Field(min_length=1, max_length=200)


class CompleteRequest(StrictModel):
    parts: list[CompletedPart] | None = Field(
        default=None,
        max_length=S3_MAX_PARTS,
        description="Each part's ETag from its PUT; leave out to complete with what S3 holds.",
    )
