"""PDF: the text layer through PDFium (pypdfium2), rows rebuilt from its text boxes;
pages without a text layer are rendered and OCR'd."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium

from attache_enricher import ocr
from attache_enricher.layout import Layout, Segment, from_segments
from attache_enricher.text import Extraction, ExtractionFailed, Limits

# Fewer characters than this on a page: it is a scan (or a picture), not text.
SCANNED_PAGE_CHARS = 25
OCR_DPI = 300


@contextlib.contextmanager
def open_pdf(path: Path) -> Iterator[pdfium.PdfDocument]:
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise ExtractionFailed("encrypted PDF: a password is required to open it") from exc
        if "format" in message or "file" in message:
            raise ExtractionFailed("corrupt or truncated PDF: PDFium cannot parse it") from exc
        raise ExtractionFailed(f"unreadable PDF: {exc}") from exc
    try:
        yield document
    finally:
        document.close()


def page_layout(page: pdfium.PdfPage, number: int) -> tuple[Layout, int]:
    """The page's rows, and how many characters its text layer has."""
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        chars = textpage.count_chars()
        if chars == 0:
            return Layout(), 0
        segments = []
        for index in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(index)
            text = textpage.get_text_bounded(left, bottom, right, top)
            segments.append(Segment(text, left, height - top, right, height - bottom))
        return from_segments(segments, width, height, number), chars
    finally:
        textpage.close()


def extract(
    path: Path,
    limits: Limits,
    ocr_languages: frozenset[str] | None,
    ocr_command: str = ocr.COMMAND,
    first_page_size: int | None = None,
) -> Extraction:
    """The text of the first `limits.max_pages` pages (OCR for scans), and the first page
    as an image whose longer side is `first_page_size` (for thumbnails), if asked."""
    with open_pdf(path) as document:
        count = len(document)
        if count == 0:
            raise ExtractionFailed("corrupt PDF: it has no pages")
        result = Extraction(page_count=count)
        scanned: list[int] = []
        slides = 0
        total_chars = 0
        read = min(count, limits.max_pages)
        for number in range(read):
            page = document[number]
            try:
                if number == 0 and first_page_size:
                    result.first_page = _render(page, first_page_size)
                layout, chars = page_layout(page, number)
                width, height = page.get_size()
            finally:
                page.close()
            total_chars += chars
            if chars < SCANNED_PAGE_CHARS:
                scanned.append(number)
            elif width > height * 1.2 and chars < 1200:
                slides += 1
            result.layout.extend(layout)
            if total_chars > limits.max_text_chars:
                result.notes.append(f"text truncated after page {number + 1}")
                read = number + 1
                break
        result.pages_read = read
        if count > read:
            result.notes.append(f"text read from the first {read} of {count} pages")
        result.slide_like = slides >= max(1, (read - len(scanned)) * 0.6)
        # A scan: most pages lack a text layer. OCR the first few of them.
        if scanned and len(scanned) * 2 >= read:
            if ocr_languages is None:
                result.ocr = "unavailable"
                return result
            pages = scanned[: limits.max_ocr_pages]
            for number in pages:
                page = document[number]
                try:
                    width, height = page.get_size()
                    # 300 dpi, but never more pixels than an image may have (huge MediaBoxes).
                    scale = min(
                        OCR_DPI / 72, (limits.max_image_pixels / max(1.0, width * height)) ** 0.5
                    )
                    image = page.render(scale=scale, grayscale=True).to_pil()
                finally:
                    page.close()
                try:
                    words = ocr.read_image(image, ocr_languages, ocr_command)
                except ocr.OcrFailed as exc:
                    result.ocr = "failed"
                    result.notes.append(str(exc))
                    return result
                result.ocr_words += words.confident_words
                result.layout.extend(words.layout(page=number))
            result.ocr = "used"
            if len(scanned) > len(pages):
                result.notes.append(
                    f"OCR of the first {len(pages)} of {len(scanned)} scanned pages"
                )
        return result


def _render(page: pdfium.PdfPage, longest_side: int):  # -> PIL.Image
    """The page as an image whose longer side is `longest_side` pixels."""
    width, height = page.get_size()
    scale = longest_side / max(width, height, 1)
    # RGBX straight from PDFium: PIL shares the bitmap's buffer instead of copying it,
    # and WebP encodes RGBX as it is.
    return page.render(scale=scale, rev_byteorder=True, prefer_bgrx=True).to_pil()
