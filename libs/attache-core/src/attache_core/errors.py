"""Domain errors shared by every service.

Handlers raise these; the error middleware (attache_core.web) turns each into
its status code and the documented JSON body. Messages are safe to show clients.
"""

from __future__ import annotations

from typing import Any


class AttacheError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(AttacheError):
    status = 400
    code = "invalid_input"


class Unauthenticated(AttacheError):
    status = 401
    code = "unauthenticated"


class Forbidden(AttacheError):
    status = 403
    code = "forbidden"


class NotFound(AttacheError):
    status = 404
    code = "not_found"


class Conflict(AttacheError):
    status = 409
    code = "conflict"


class PayloadTooLarge(AttacheError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AttacheError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(AttacheError):
    status = 422
    code = "unprocessable"


class RateLimited(AttacheError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamFailed(AttacheError):
    """A dependency (S3, catalog) failed; the client may retry."""

    status = 502
    code = "upstream_failed"


class Unavailable(AttacheError):
    status = 503
    code = "unavailable"
