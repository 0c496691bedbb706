"""OCR with the Tesseract engine (Debian: tesseract-ocr and its language packs).

The engine runs as a child process per page, image on stdin and word boxes (TSV) on
stdout, single-threaded (OMP_THREAD_LIMIT=1: the worker already runs one job per
core). Reading happens in two passes: English first (the cheapest model, and Latin
script reads well with it), then — when the words say the page is German, French,
Dutch or Spanish and that language pack is installed — again with that language, for
its accents and ligatures. Where the engine isn't installed, `available_languages`
is None and callers record `ocr: unavailable`.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from attache_enricher.language import TESSERACT_CODES, detect_language
from attache_enricher.layout import Layout, Segment, from_segments

TESSERACT_TIMEOUT = 60.0
# Words below this are dropped; low but not hopeless ones stay (bold figures often score
# low, and a total is worth a little noise).
MIN_CONFIDENCE = 10.0
# Pages are OCR'd at about this many pixels across at most (A4 at 300 dpi is 2480).
MAX_OCR_WIDTH = 3500
MIN_OCR_WIDTH = 1000
COMMAND = "tesseract"


class OcrFailed(Exception):
    pass


@functools.cache
def available_languages(command: str = COMMAND) -> frozenset[str] | None:
    """Installed Tesseract languages, or None when the engine is missing."""
    binary = shutil.which(command)
    if binary is None:
        return None
    try:
        listed = subprocess.run(  # noqa: S603 - a fixed binary, no shell
            [binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    langs = {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}
    return frozenset(langs) if "eng" in langs else None


@dataclass
class Word:
    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float


@dataclass
class OcrPage:
    width: int
    height: int
    words: list[Word] = field(default_factory=list)
    language: str | None = None

    @property
    def confident_words(self) -> int:
        return sum(1 for w in self.words if w.confidence >= 70 and len(w.text) > 1)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    def layout(self, page: int = 0) -> Layout:
        segments = [
            Segment(w.text, w.left, w.top, w.left + w.width, w.top + w.height) for w in self.words
        ]
        return from_segments(segments, self.width, self.height, page)


def _prepare(image):  # PIL.Image -> PIL.Image
    image = image.convert("L")
    width, height = image.size
    if width > MAX_OCR_WIDTH:
        image = image.resize((MAX_OCR_WIDTH, round(height * MAX_OCR_WIDTH / width)))
    elif width < MIN_OCR_WIDTH:
        factor = min(3.0, MIN_OCR_WIDTH / max(1, width))
        image = image.resize((round(width * factor), round(height * factor)))
    return image


def _tesseract(png: bytes, languages: str, command: str) -> list[Word]:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(  # noqa: S603 - a fixed binary, no shell
            [command, "stdin", "stdout", "-l", languages, "--psm", "3", "tsv"],
            input=png,
            capture_output=True,
            timeout=TESSERACT_TIMEOUT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"OCR took longer than {TESSERACT_TIMEOUT:.0f} s") from exc
    except OSError as exc:
        raise OcrFailed(f"OCR engine could not start: {exc.strerror}") from exc
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise OcrFailed(f"OCR engine failed: {' '.join(tail)[:200]}")
    words = []
    reader = csv.reader(
        io.StringIO(done.stdout.decode(errors="replace")), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    next(reader, None)
    for row in reader:
        if len(row) < 12 or row[0] != "5":
            continue
        text = row[11].strip()
        confidence = float(row[10])
        if not text or confidence < MIN_CONFIDENCE:
            continue
        words.append(Word(text, int(row[6]), int(row[7]), int(row[8]), int(row[9]), confidence))
    return words


def read_image(image, languages: frozenset[str] | None = None, command: str = COMMAND) -> OcrPage:
    """Words on the page with their boxes. Raises OcrFailed."""
    installed = available_languages(command) if languages is None else languages
    if not installed:
        raise OcrFailed("OCR unavailable: the Tesseract engine is not installed")
    prepared = _prepare(image)
    buffer = io.BytesIO()
    prepared.save(buffer, format="PNG", compress_level=1)
    png = buffer.getvalue()
    binary = shutil.which(command) or command
    page = OcrPage(*prepared.size, words=_tesseract(png, "eng", binary), language="en")
    language, share = detect_language(page.text)
    code = TESSERACT_CODES.get(language or "")
    if language and language != "en" and code in installed and share > 0.3:
        page = OcrPage(
            *prepared.size, words=_tesseract(png, f"{code}+eng", binary), language=language
        )
    return page
