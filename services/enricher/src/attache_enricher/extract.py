"""Text extraction. Pure functions over bytes; the worker runs them off the event loop."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PdfReadError

# pypdf logs every recoverable oddity of a malformed PDF as a warning.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class ExtractionFailed(Exception):
    pass


def pdf_text(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionFailed("encrypted PDF")
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionFailed(f"unreadable PDF: {type(exc).__name__}") from exc


def plain_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def extract_text(mime_type: str, data: bytes) -> str | None:
    """The document's text, or None for types without a text layer we read yet."""
    if mime_type == "application/pdf":
        return pdf_text(data)
    if mime_type.startswith("text/") or mime_type in {"application/json", "application/xml"}:
        return plain_text(data)
    return None
