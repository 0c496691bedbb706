"""Plain text, CSV, HTML and e-mail (RFC 822 / .eml) bodies."""

from __future__ import annotations

import csv
import email
import email.policy
import html
import io
import re
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

from attache_enricher.layout import from_text
from attache_enricher.text import Extraction, ExtractionFailed, Limits


def decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _read(path: Path, limits: Limits) -> bytes:
    with path.open("rb") as handle:
        return handle.read(limits.max_text_chars * 2)


def plain(path: Path, limits: Limits) -> Extraction:
    return Extraction(layout=from_text(decode(_read(path, limits))[: limits.max_text_chars]))


def csv_text(path: Path, limits: Limits) -> Extraction:
    text = decode(_read(path, limits))[: limits.max_text_chars]
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        rows = csv.reader(io.StringIO(text), dialect)
        lines = ["\t".join(cell.strip() for cell in row) for row in rows]
    except (csv.Error, ValueError):
        lines = text.splitlines()
    return Extraction(layout=from_text("\n".join(lines)))


class _TextOfHtml(HTMLParser):
    BLOCK = {
        "p",
        "div",
        "br",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "pre",
        "blockquote",
        "hr",
        "address",
        "title",
    }
    CELL = {"td", "th"}
    SKIP = {"script", "style", "head", "noscript", "template", "svg"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.title = ""

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
        elif tag in self.CELL:
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [re.sub(r"[ ]*\t[ ]*", "\t", line).strip(" \t") for line in joined.split("\n")]
        return "\n".join(line for line in lines if line)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):  # malformed markup html.parser gives up on
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return parser.text()


def html_document(path: Path, limits: Limits) -> Extraction:
    markup = decode(_read(path, limits))[: limits.max_text_chars]
    return Extraction(layout=from_text(html_to_text(markup)))


def eml(path: Path, limits: Limits) -> Extraction:
    try:
        message = email.message_from_bytes(_read(path, limits), policy=email.policy.default)
    except (ValueError, TypeError, IndexError) as exc:
        raise ExtractionFailed(f"corrupt e-mail: {type(exc).__name__}") from exc
    headers = {}
    for name in ("Subject", "From", "To", "Date"):
        try:
            value = message.get(name)
        except (ValueError, TypeError, IndexError):
            value = None
        if value:
            headers[name] = str(value)
    body = _body_text(message) if isinstance(message, EmailMessage) else ""
    # Subject first (it names the document), then the body; the envelope last, so the
    # mail's own date and sender don't pass for the document's.
    parts = [headers.get("Subject", ""), body]
    parts += [f"{name}: {headers[name]}" for name in ("From", "To", "Date") if name in headers]
    text = "\n".join(parts)
    return Extraction(layout=from_text(text[: limits.max_text_chars]))


def _body_text(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (ValueError, TypeError, KeyError, IndexError):
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, TypeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = decode(payload if isinstance(payload, bytes) else b"")
    if not isinstance(content, str):
        content = decode(content if isinstance(content, bytes) else b"")
    if part.get_content_type() == "text/html":
        return html_to_text(content)
    return content
