"""Office Open XML (DOCX, XLSX, PPTX): ZIP archives checked for bombs before any member
is inflated, then read with a hardened XML parser (defusedxml: no entities, no DTDs)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from attache_enricher.layout import Layout, from_text
from attache_enricher.text import Extraction, ExtractionFailed, Limits

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


def open_zip(path: Path, kind: str, limits: Limits) -> zipfile.ZipFile:
    """The archive, once its directory promises nothing a bomb would."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ExtractionFailed(f"corrupt {kind}: not a readable ZIP archive") from exc
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        archive.close()
        raise ExtractionFailed(f"{kind} refused: {len(members)} archive members")
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        archive.close()
        raise ExtractionFailed(
            f"{kind} refused (zip bomb?): it would inflate to {total // (1024 * 1024)} MiB"
        )
    for member in members:
        if member.file_size > 1024 * 1024 and member.file_size > limits.max_zip_ratio * max(
            1, member.compress_size
        ):
            archive.close()
            raise ExtractionFailed(
                f"{kind} refused (zip bomb?): {member.filename} compresses "
                f"{member.file_size // max(1, member.compress_size)}:1"
            )
    return archive


def _read_member(archive: zipfile.ZipFile, name: str, kind: str, limits: Limits) -> bytes:
    try:
        with archive.open(name) as member:
            # Never trust the directory's size: read one byte past the limit to notice a lie.
            data = member.read(limits.max_unzipped_bytes + 1)
    except KeyError as exc:
        raise ExtractionFailed(f"corrupt {kind}: {name} is missing") from exc
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ExtractionFailed(f"corrupt {kind}: {name} cannot be inflated") from exc
    if len(data) > limits.max_unzipped_bytes:
        raise ExtractionFailed(f"{kind} refused (zip bomb?): {name} inflates past the limit")
    return data


def _parse(data: bytes, kind: str):
    try:
        return ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise ExtractionFailed(f"corrupt {kind}: malformed XML ({type(exc).__name__})") from exc


def _paragraphs(root, para_tag: str, text_tag: str) -> list[str]:
    lines = []
    for para in root.iter(para_tag):
        parts = []
        for node in para.iter():
            if node.tag == text_tag and node.text:
                parts.append(node.text)
            elif node.tag in (f"{W}tab", f"{A}tab") or (node.tag == f"{W}cell"):
                parts.append("\t")
            elif node.tag in (f"{W}br", f"{W}cr", f"{A}br"):
                parts.append("\n")
        lines.append("".join(parts))
    return lines


def _docx_blocks(container) -> list[str]:
    """Paragraphs in document order; a table row is one line with its cells tab-separated."""
    lines: list[str] = []
    for node in container:
        if node.tag == f"{W}p":
            lines.extend(_paragraphs(node, f"{W}p", f"{W}t"))
        elif node.tag == f"{W}tbl":
            for row in node.iter(f"{W}tr"):
                cells = [" ".join(_docx_blocks(cell)) for cell in row.iter(f"{W}tc")]
                lines.append("\t".join(cells))
        elif node.tag in (f"{W}body", f"{W}sdt", f"{W}sdtContent", f"{W}hdr", f"{W}ftr"):
            lines.extend(_docx_blocks(node))
    return lines


def docx(path: Path, limits: Limits) -> Extraction:
    with open_zip(path, "DOCX", limits) as archive:
        names = set(archive.namelist())
        if "word/document.xml" not in names:
            raise ExtractionFailed("corrupt DOCX: word/document.xml is missing")
        parts = sorted(n for n in names if re.fullmatch(r"word/header\d*\.xml", n))
        parts.append("word/document.xml")
        parts += sorted(n for n in names if re.fullmatch(r"word/footer\d*\.xml", n))
        lines: list[str] = []
        for name in parts:
            root = _parse(_read_member(archive, name, "DOCX", limits), "DOCX")
            lines.extend(_docx_blocks(root))
    return Extraction(layout=from_text("\n".join(lines)[: limits.max_text_chars]))


def pptx(path: Path, limits: Limits) -> Extraction:
    with open_zip(path, "PPTX", limits) as archive:
        slides = sorted(
            (n for n in archive.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)),
            key=lambda n: int(re.search(r"(\d+)\.xml$", n).group(1)),  # type: ignore[union-attr]
        )
        layout = Layout()
        for number, name in enumerate(slides[: limits.max_pages]):
            root = _parse(_read_member(archive, name, "PPTX", limits), "PPTX")
            text = "\n".join(_paragraphs(root, f"{A}p", f"{A}t"))
            layout.extend(from_text(text, page=number))
    return Extraction(layout=layout, page_count=len(slides), slide_like=True)


def xlsx(path: Path, limits: Limits) -> Extraction:
    # openpyxl reads through the same checked archive; read-only mode streams rows.
    open_zip(path, "XLSX", limits).close()
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    handle = path.open("rb")  # a file object: openpyxl judges a path by its extension
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        handle.close()
        raise ExtractionFailed(f"corrupt XLSX: {type(exc).__name__}") from exc
    lines: list[str] = []
    size = 0
    try:
        for sheet in workbook.worksheets[:20]:
            lines.append(sheet.title)
            for row in sheet.iter_rows(values_only=True, max_row=5000, max_col=50):
                cells = ["" if v is None else str(v) for v in row]
                if any(cells):
                    line = "\t".join(cells).rstrip("\t")
                    lines.append(line)
                    size += len(line)
                    if size > limits.max_text_chars:
                        break
    finally:
        workbook.close()
        handle.close()
    return Extraction(layout=from_text("\n".join(lines)), page_count=len(workbook.worksheets))
