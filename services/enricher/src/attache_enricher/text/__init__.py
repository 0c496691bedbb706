"""Text out of documents: one `Extraction` per file, whatever its format.

Every reader here runs inside the sandbox process (attache_enricher.sandbox): they
parse hostile bytes, so they get a memory limit, a time limit and a process of
their own. Readers raise `ExtractionFailed` with a message fit for the attachment's
status ("encrypted PDF", "corrupt DOCX: …"); anything else is a bug or a limit hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from attache_enricher.layout import Layout


class ExtractionFailed(Exception):
    """The document can't be read; the message says why, for the attachment's status."""


@dataclass
class Limits:
    max_pages: int = 50  # text layer read from at most this many pages
    max_ocr_pages: int = 3  # scanned pages OCR'd at most
    max_image_pixels: int = 50_000_000
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_zip_ratio: int = 200
    max_zip_members: int = 10_000
    max_text_chars: int = 2_000_000


@dataclass
class Extraction:
    layout: Layout = field(default_factory=Layout)
    page_count: int | None = None
    pages_read: int | None = None
    # "used", "not_needed", "unavailable" (no Tesseract here), "failed", "skipped"
    ocr: str = "not_needed"
    # Landscape pages with little text each (slides exported to PDF).
    slide_like: bool = False
    # Words the OCR engine was confident about (images: is there a document in it?).
    ocr_words: int = 0
    notes: list[str] = field(default_factory=list)
    # The first page as a PIL image, when the reader renders pages (PDF) and was asked to.
    first_page: Any = None

    @property
    def text(self) -> str:
        return self.layout.text
