"""The analysis of one file: text (with OCR where needed), derivatives, document type,
fields and key terms. Runs inside a sandbox process (attache_enricher.sandbox).

Each stage fails on its own: a thumbnail that can't be made doesn't lose the text, and
a file that can't be read still gets a clear status saying why.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from attache_enricher import classify, fields, keyterms, ocr, thumbnails
from attache_enricher.analysis import AnalysisJob, AnalysisResult, LocalResult
from attache_enricher.language import detect_language
from attache_enricher.text import Extraction, ExtractionFailed, Limits, markup, office, pdf

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
IMAGE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/tiff",
    "image/bmp",
    "image/x-ms-bmp",
}
_BY_EXTENSION = {
    "pdf": "pdf",
    "docx": "docx",
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "pptx": "pptx",
    "csv": "csv",
    "tsv": "csv",
    "html": "html",
    "htm": "html",
    "eml": "eml",
    "txt": "text",
    "md": "text",
    "json": "text",
    "xml": "text",
}


def reader_for(mime: str, filename: str) -> str | None:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if mime == "application/pdf":
        return "pdf"
    if mime == DOCX:
        return "docx"
    if mime == XLSX:
        return "xlsx"
    if mime == PPTX:
        return "pptx"
    if mime in IMAGE_TYPES:
        return "image"
    if mime == "message/rfc822":
        return "eml"
    if mime in ("text/html", "application/xhtml+xml"):
        return "html"
    if mime in ("text/csv", "text/tab-separated-values"):
        return "csv"
    if mime in ("application/zip", "application/octet-stream") and extension in (
        "docx",
        "xlsx",
        "xlsm",
        "pptx",
    ):
        return _BY_EXTENSION[extension]
    if mime.startswith("text/") or mime in ("application/json", "application/xml"):
        if extension in ("csv", "tsv", "eml", "html", "htm"):
            return _BY_EXTENSION[extension]
        return "text"
    return None


def _ocr_languages(job: AnalysisJob) -> frozenset[str] | None:
    return ocr.available_languages(job.ocr_command) if job.ocr else None


def _image(job: AnalysisJob, limits: Limits, result: AnalysisResult) -> Extraction:
    image = thumbnails.open_image(Path(job.path), limits.max_image_pixels)
    extraction = Extraction(page_count=1)
    want_ocr = job.enrich
    languages = _ocr_languages(job) if want_ocr else None
    decoded = thumbnails.load_image(image, None if languages else thumbnails.MEDIUM_SIZE)
    if job.thumbnails:
        _derivatives(decoded, result)
    if not want_ocr:
        extraction.ocr = "skipped"
    elif languages is None:
        extraction.ocr = "unavailable"
    else:
        try:
            page = ocr.read_image(decoded, languages, job.ocr_command)
        except ocr.OcrFailed as exc:
            extraction.ocr = "failed"
            extraction.notes.append(str(exc))
        else:
            extraction.ocr = "used"
            extraction.ocr_words = page.confident_words
            # Words from a photo that isn't a document are noise; keep confident text only.
            extraction.layout = page.layout()
    return extraction


def _derivatives(image, result: AnalysisResult) -> None:
    try:
        made = thumbnails.derivatives(image)
    except (OSError, ValueError) as exc:
        result.thumbnail_error = f"thumbnail failed: {type(exc).__name__}"
        return
    result.thumbnail, result.medium = made.thumbnail, made.medium


def _pdf(job: AnalysisJob, limits: Limits, result: AnalysisResult) -> Extraction:
    languages = _ocr_languages(job) if job.enrich else None
    extraction = pdf.extract(
        Path(job.path),
        limits,
        languages,
        job.ocr_command,
        first_page_size=thumbnails.MEDIUM_SIZE if job.thumbnails else None,
    )
    if not job.enrich and extraction.ocr == "unavailable":
        extraction.ocr = "skipped"
    if extraction.first_page is not None:
        _derivatives(extraction.first_page, result)
        extraction.first_page = None
    return extraction


def extract(job: AnalysisJob, limits: Limits, result: AnalysisResult) -> Extraction:
    kind = reader_for(job.mime_type, job.filename)
    path = Path(job.path)
    if kind == "pdf":
        return _pdf(job, limits, result)
    if kind == "image":
        return _image(job, limits, result)
    if kind == "docx":
        return office.docx(path, limits)
    if kind == "xlsx":
        return office.xlsx(path, limits)
    if kind == "pptx":
        return office.pptx(path, limits)
    if kind == "csv":
        return markup.csv_text(path, limits)
    if kind == "html":
        return markup.html_document(path, limits)
    if kind == "eml":
        return markup.eml(path, limits)
    if kind == "text":
        return markup.plain(path, limits)
    return Extraction()


# What the classifier is told the format is, when the name tells more than the bytes.
_FORMAT_OF_READER = {"csv": "text/csv", "xlsx": XLSX, "pptx": PPTX, "docx": DOCX}


def understand(extraction: Extraction, job: AnalysisJob, language: str | None) -> LocalResult:
    text = extraction.text
    kind = reader_for(job.mime_type, job.filename)
    found = classify.classify(
        text,
        _FORMAT_OF_READER.get(kind or "", job.mime_type),
        slide_like=extraction.slide_like,
        ocr_words=extraction.ocr_words,
        filename=job.filename,
    )
    metadata = fields.extract_fields(found.document_type, extraction.layout, language)
    leading = [found.document_type] if found.document_type not in ("other", "image") else []
    if metadata:
        for key in ("vendor", "merchant"):
            if metadata.get(key):
                leading.append(metadata[key])
        leading.extend(metadata.get("parties") or [])
    terms = keyterms.key_terms(text, leading=leading) if text.strip() else leading
    return LocalResult(
        document_type=found.document_type,
        confidence=found.confidence,
        extracted_metadata=metadata,
        key_terms=terms,
        model_version=classify.MODEL_VERSION,
    )


def analyse(job: AnalysisJob) -> AnalysisResult:
    limits = Limits(
        max_pages=job.max_pages,
        max_ocr_pages=job.max_ocr_pages,
        max_image_pixels=job.max_image_pixels,
        max_unzipped_bytes=job.max_unzipped_bytes,
    )
    result = AnalysisResult(status="processed" if job.enrich else "skipped")
    started = time.perf_counter()
    try:
        extraction = extract(job, limits, result)
    except ExtractionFailed as exc:
        result.status, result.error = "failed", str(exc)
        return result
    except MemoryError:
        result.status = "failed"
        result.error = "the file needs more memory than the enricher allows (memory limit)"
        return result
    except Exception as exc:  # a reader's bug or a file no reader expected: one status
        traceback.print_exc(file=sys.stderr)
        result.status, result.error = "failed", f"unreadable file ({type(exc).__name__})"
        return result
    result.timings_ms["extract"] = round((time.perf_counter() - started) * 1000, 1)
    text = extraction.text
    result.text_length = len(text)
    result.page_count = extraction.page_count
    result.ocr = extraction.ocr
    result.notes = extraction.notes
    result.language = detect_language(text)[0] if text.strip() else None
    result.excerpt = text[: job.excerpt_chars]
    if not job.enrich:
        return result
    started = time.perf_counter()
    try:
        result.local = understand(extraction, job, result.language)
    except MemoryError:
        result.status = "failed"
        result.error = "the file needs more memory than the enricher allows (memory limit)"
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        result.status, result.error = "failed", f"analysis failed ({type(exc).__name__})"
    result.timings_ms["understand"] = round((time.perf_counter() - started) * 1000, 1)
    return result
