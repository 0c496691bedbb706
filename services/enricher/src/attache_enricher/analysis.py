"""What crosses the sandbox boundary: the job and its result, as JSON-able models.

JSON, not pickle, on purpose: the sandbox parses hostile files, and whatever comes
back from it is validated before the worker believes it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AnalysisJob(BaseModel):
    path: str
    mime_type: str
    filename: str
    # False: only the non-AI part (text length, thumbnails); no OCR, no classification.
    enrich: bool = True
    ocr: bool = True
    ocr_command: str = "tesseract"
    max_pages: int = 50
    max_ocr_pages: int = 3
    max_image_pixels: int = 50_000_000
    max_unzipped_bytes: int = 200 * 1024 * 1024
    thumbnails: bool = True
    excerpt_chars: int = 12_000


class LocalResult(BaseModel):
    """What the local models found; a provider may replace the three AI fields."""

    document_type: str
    confidence: float
    extracted_metadata: dict[str, Any] | None = None
    key_terms: list[str] = Field(default_factory=list)
    model_version: str


class AnalysisResult(BaseModel):
    # The derivatives travel back as base64 in the JSON: no files to write, read and clean up.
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    status: Literal["processed", "failed", "skipped"]
    error: str | None = None
    text_length: int | None = None
    language: str | None = None
    page_count: int | None = None
    ocr: str = "not_needed"
    notes: list[str] = Field(default_factory=list)
    # The start of the text (for an LLM provider) and its rows with cells tab-separated.
    excerpt: str = ""
    local: LocalResult | None = None
    # WebP bytes of the thumbnail and the medium preview.
    thumbnail: bytes | None = None
    medium: bytes | None = None
    thumbnail_error: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
