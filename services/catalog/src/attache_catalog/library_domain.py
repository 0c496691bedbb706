"""The attachment library API (seed 004): query parameters and response shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from attache_core.errors import InvalidInput

MAX_LIMIT = 200
SORT_FIELDS = ("date", "name", "size", "sender", "type")


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _parse_date(name: str, value: str, *, end_of_day: bool) -> datetime:
    """ISO date or date-time; a bare date covers its whole (UTC) day."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad(name, "Must be an ISO 8601 date or date-time") from exc
    if parsed.tzinfo is None:
        raise _bad(name, "A date-time needs a time zone (e.g. Z)")
    return parsed


def _bad(name: str, message: str) -> InvalidInput:
    return InvalidInput("Invalid parameters", details={name: message})


def _int(query: dict[str, str], name: str, low: int, high: int, default: int | None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise _bad(name, f"Must be an integer between {low} and {high}") from exc
    if not low <= value <= high:
        raise _bad(name, f"Must be between {low} and {high}")
    return value


def _bool(query: dict[str, str], name: str) -> bool:
    raw = query.get(name, "false").lower()
    if raw not in {"true", "false", "1", "0"}:
        raise _bad(name, "Must be true or false")
    return raw in {"true", "1"}


class LibraryQuery(BaseModel):
    """Every documented filter of GET /api/attachments, plus a few the smart filters need
    (paymentStatus, minAmount, expiration range, aiProcessed) so their params reproduce
    their counts exactly."""

    model_config = ConfigDict(frozen=True)

    page: int = 1
    limit: int = 50
    cursor: str | None = None
    search: str | None = None
    file_types: list[str] = Field(default_factory=list)
    file_categories: list[str] = Field(default_factory=list)
    document_types: list[str] = Field(default_factory=list)
    date_from: datetime | None = None
    date_to: datetime | None = None
    senders: list[str] = Field(default_factory=list)
    min_size: int | None = None
    max_size: int | None = None
    ai_processed_only: bool = False
    has_metadata: bool = False
    payment_status: Literal["paid", "unpaid"] | None = None
    min_amount: float | None = None
    expiration_from: date | None = None
    expiration_to: date | None = None
    # Tri-state, unlike aiProcessedOnly: false selects what AI has not processed yet.
    ai_processed: bool | None = None
    customer_id: uuid.UUID | None = None
    sort_by: str = "date"
    sort_order: Literal["asc", "desc"] = "desc"

    KNOWN: ClassVar[frozenset[str]] = frozenset(
        {
            "page",
            "limit",
            "cursor",
            "search",
            "fileTypes",
            "fileCategories",
            "documentTypes",
            "dateFrom",
            "dateTo",
            "senders",
            "minSize",
            "maxSize",
            "aiProcessedOnly",
            "hasMetadata",
            "paymentStatus",
            "minAmount",
            "expirationFrom",
            "expirationTo",
            "aiProcessed",
            "customerId",
            "sortBy",
            "sortOrder",
        }
    )

    @field_validator("search")
    @classmethod
    def _search(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @classmethod
    def parse(cls, query: dict[str, str]) -> LibraryQuery:
        """From a query string, with a 400 naming each bad parameter."""
        unknown = set(query) - cls.KNOWN
        if unknown:
            raise InvalidInput(
                "Invalid parameters",
                details={name: "Unknown parameter" for name in sorted(unknown)},
            )
        values: dict[str, Any] = {
            "page": _int(query, "page", 1, 1_000_000, 1),
            "limit": _int(query, "limit", 1, MAX_LIMIT, 50),
            "min_size": _int(query, "minSize", 0, 2**62, None),
            "max_size": _int(query, "maxSize", 0, 2**62, None),
            "ai_processed_only": _bool(query, "aiProcessedOnly"),
            "has_metadata": _bool(query, "hasMetadata"),
            "file_types": [t.lower().lstrip(".") for t in _csv(query.get("fileTypes"))],
            "file_categories": [c.lower() for c in _csv(query.get("fileCategories"))],
            "document_types": [d.lower() for d in _csv(query.get("documentTypes"))],
            "senders": [s.lower() for s in _csv(query.get("senders"))],
        }
        for name, key in (("search", "search"), ("cursor", "cursor")):
            if key in query:
                if len(query[key]) > 500:
                    raise _bad(key, "At most 500 characters")
                values[name] = query[key]
        if "dateFrom" in query:
            values["date_from"] = _parse_date("dateFrom", query["dateFrom"], end_of_day=False)
        if "dateTo" in query:
            values["date_to"] = _parse_date("dateTo", query["dateTo"], end_of_day=True)
        sort_by = query.get("sortBy", "date")
        if sort_by not in SORT_FIELDS:
            raise _bad("sortBy", f"Must be one of {', '.join(SORT_FIELDS)}")
        sort_order = query.get("sortOrder", "desc")
        if sort_order not in ("asc", "desc"):
            raise _bad("sortOrder", "Must be asc or desc")
        values.update(sort_by=sort_by, sort_order=sort_order)
        if "paymentStatus" in query:
            if query["paymentStatus"] not in ("paid", "unpaid"):
                raise _bad("paymentStatus", "Must be paid or unpaid")
            values["payment_status"] = query["paymentStatus"]
        if "minAmount" in query:
            try:
                values["min_amount"] = float(query["minAmount"])
            except ValueError as exc:
                raise _bad("minAmount", "Must be a number") from exc
        for name, key in (("expiration_from", "expirationFrom"), ("expiration_to", "expirationTo")):
            if key in query:
                try:
                    values[name] = date.fromisoformat(query[key])
                except ValueError as exc:
                    raise _bad(key, "Must be an ISO 8601 date") from exc
        if "aiProcessed" in query:
            values["ai_processed"] = _bool(query, "aiProcessed")
        if "customerId" in query:
            try:
                values["customer_id"] = uuid.UUID(query["customerId"])
            except ValueError as exc:
                raise _bad("customerId", "Must be a customer id (UUID)") from exc
        if (
            values["min_size"] is not None
            and values["max_size"] is not None
            and values["min_size"] > values["max_size"]
        ):
            raise _bad("minSize", "Must not exceed maxSize")
        if (
            values.get("date_from")
            and values.get("date_to")
            and values["date_from"] > values["date_to"]
        ):
            raise _bad("dateFrom", "Must not be after dateTo")
        return cls(**values)

    def applied_filters(self) -> dict[str, Any]:
        """The seed's `filters` block: what was applied, in the API's names."""
        out: dict[str, Any] = {}
        if self.search:
            out["search"] = self.search
        for key, value in (
            ("fileTypes", self.file_types),
            ("fileCategories", self.file_categories),
            ("documentTypes", self.document_types),
            ("senders", self.senders),
        ):
            if value:
                out[key] = value
        if self.date_from or self.date_to:
            out["dateRange"] = {"from": self.date_from, "to": self.date_to}
        for key, value in (
            ("minSize", self.min_size),
            ("maxSize", self.max_size),
            ("paymentStatus", self.payment_status),
            ("minAmount", self.min_amount),
            ("expirationFrom", self.expiration_from),
            ("expirationTo", self.expiration_to),
            ("aiProcessed", self.ai_processed),
            ("customerId", self.customer_id),
        ):
            if value is not None:
                out[key] = value
        if self.ai_processed_only:
            out["aiProcessedOnly"] = True
        if self.has_metadata:
            out["hasMetadata"] = True
        out["sortBy"], out["sortOrder"] = self.sort_by, self.sort_order
        return out


class LibraryAttachment(BaseModel):
    """Seed 004's Attachment, plus the customer and enrichment status."""

    id: uuid.UUID
    userId: str
    customerId: uuid.UUID | None
    emailId: str | None
    filename: str
    fileExtension: str | None
    fileCategory: str | None
    mimeType: str
    fileSizeBytes: int
    storagePath: str
    storageBucket: str
    thumbnailPath: str | None
    senderEmail: str | None
    senderName: str | None
    emailSubject: str | None
    emailDate: datetime | None
    documentType: str | None
    classificationConfidence: float | None
    extractedMetadata: dict[str, Any] | None
    keyTerms: list[str]
    aiProcessed: bool
    aiProcessedAt: datetime | None
    aiModelVersion: str | None
    aiStatus: str
    aiSkippedReason: str | None
    accessCount: int
    lastAccessedAt: datetime | None
    createdAt: datetime
    updatedAt: datetime


class Pagination(BaseModel):
    total: int
    # True when `total` is the planner's estimate (a very large result; see the README).
    totalIsEstimate: bool = False
    page: int
    limit: int
    totalPages: int
    hasMore: bool
    nextCursor: str | None


class LibraryPage(BaseModel):
    data: list[LibraryAttachment]
    pagination: Pagination
    filters: dict[str, Any]
