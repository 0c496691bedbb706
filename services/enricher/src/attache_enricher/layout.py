"""Text as rows of cells, the way a reader sees a page.

A label and its value stand in one row ("Invoice date   15/03/2025") or one above the
other ("Invoice date" over "15/03/2025"), whatever the order the producer wrote them
in. PDF text runs and OCR words come with boxes; grouping them into visual rows and
columns lets the field extractors look right of and below a label, and works the same
for every layout, font and language. Sources without boxes (DOCX, e-mail, plain text)
become rows whose cells are split on tabs and runs of spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CELL_GAP = "   "
_CELL_SPLIT = re.compile(r"\t+| {2,}|\u00a0{2,}")


@dataclass
class Cell:
    text: str
    # Horizontal extent as a fraction of the page width (0 = left edge).
    x0: float
    x1: float


@dataclass
class Line:
    cells: list[Cell]
    # Vertical position of the row's top as a fraction of the page height, and its page.
    y: float = 0.0
    page: int = 0
    height: float = 0.0

    @property
    def text(self) -> str:
        return CELL_GAP.join(c.text for c in self.cells)


@dataclass
class Layout:
    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def extend(self, other: Layout) -> None:
        self.lines.extend(other.lines)


@dataclass
class Segment:
    """A run of text with its box, in page units with y growing downwards."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def from_segments(segments: list[Segment], width: float, height: float, page: int = 0) -> Layout:
    """Group text runs into visual rows (vertical overlap) and cells (horizontal gaps)."""
    segments = [s for s in segments if s.text.strip()]
    if not segments or width <= 0 or height <= 0:
        return Layout()
    segments.sort(key=lambda s: ((s.y0 + s.y1) / 2, s.x0))
    rows: list[list[Segment]] = []
    bands: list[tuple[float, float]] = []
    for seg in segments:
        centre = (seg.y0 + seg.y1) / 2
        placed = False
        # Compare with the last few rows only: rows come sorted by their centre.
        for i in range(len(rows) - 1, max(-1, len(rows) - 4), -1):
            top, bottom = bands[i]
            slack = 0.25 * (bottom - top)
            if top - slack <= centre <= bottom + slack:
                rows[i].append(seg)
                bands[i] = (min(top, seg.y0), max(bottom, seg.y1))
                placed = True
                break
        if not placed:
            rows.append([seg])
            bands.append((seg.y0, seg.y1))
    lines = []
    for row, (top, bottom) in sorted(zip(rows, bands, strict=True), key=lambda rb: rb[1][0]):
        row.sort(key=lambda s: s.x0)
        # The row's typical text height sets what counts as a gap between cells (the
        # median: a superscript or a small currency sign shouldn't split words apart).
        heights = sorted(s.y1 - s.y0 for s in row)
        char_height = max(1e-6, heights[len(heights) // 2])
        cells: list[Cell] = []
        current = [row[0]]
        for seg in row[1:]:
            gap = seg.x0 - current[-1].x1
            if gap > 1.2 * char_height:
                cells.append(_cell(current, width))
                current = [seg]
            else:
                current.append(seg)
        cells.append(_cell(current, width))
        lines.append(Line(cells, top / height, page, (bottom - top) / height))
    return Layout(lines)


def _cell(segments: list[Segment], width: float) -> Cell:
    parts: list[str] = []
    for seg in segments:
        text = " ".join(seg.text.split())
        if parts and not parts[-1].endswith((" ", "-", "/")):
            parts.append(" ")
        parts.append(text)
    return Cell("".join(parts).strip(), segments[0].x0 / width, segments[-1].x1 / width)


def from_text(text: str, page: int = 0) -> Layout:
    """Rows from plain text: one per line, cells split on tabs and runs of spaces."""
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    widest = max((len(line) for line in raw_lines), default=1) or 1
    lines = []
    count = max(1, len(raw_lines))
    for index, raw in enumerate(raw_lines):
        raw = raw.rstrip()
        if not raw.strip():
            continue
        cells = []
        position = 0
        # A tab always ends a cell (whatever column it would expand to).
        for part in _CELL_SPLIT.split(raw):
            start = raw.find(part, position)
            position = start + len(part)
            if part.strip():
                cells.append(Cell(" ".join(part.split()), start / widest, position / widest))
        lines.append(Line(cells, index / count, page, 1 / count))
    return Layout(lines)
