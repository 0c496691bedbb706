"""CSV as people really export it: from bytes in blocks to records with line numbers.

No I/O here. The async side cuts the byte stream into *blocks* that end at a line
break (`BlockSplitter`); the parser (`RecordParser`, run in a thread) decodes them,
feeds their lines to the stdlib `csv` module and reports each record with the
physical line it starts on. Where a record ends exactly at the end of a block, the
byte offset of the next record is known: those are the points an interrupted import
resumes from.

What it copes with:
- encodings: UTF-8 (with or without BOM), UTF-16 with BOM, Windows-1252 / Latin-1
  (bytes Windows-1252 leaves undefined read as Latin-1); a UTF-8 file that turns out to
  have Windows-1252 bytes further down switches over, unless real UTF-8 was seen before
  (then the undecodable lines are row errors);
- delimiters: comma, semicolon, tab, pipe (sniffed), and Excel's `sep=;` first line;
- quoted fields with line breaks and doubled quotes; `\\n`, `\\r\\n` and `\\r` line ends;
- malformed input as row errors with their line number, never a failed import: a quote
  that is never closed (the rest of the file is not swallowed: the line is reported and
  reading resumes on the next one), a line longer than the record limit, a field over
  the size limit, a line with more fields than the header.
"""

from __future__ import annotations

import codecs
import collections
import csv
import io
import itertools
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

DELIMITERS = (",", ";", "\t", "|")
# A record may span at most this many blocks (a runaway quote is cut off there).
MAX_RECORD_BLOCKS = 3
# Lines the header search looks at before giving up.
HEADER_SEARCH_LINES = 20


class FileRejected(Exception):
    """The file can't be imported at all (binary, empty, no header): the job fails."""


def _latin1_fallback(exc: UnicodeDecodeError) -> tuple[str, int]:
    # The five bytes Windows-1252 leaves undefined read as their Latin-1 characters.
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("attache-latin1", _latin1_fallback)


@dataclass(frozen=True)
class Encoding:
    codec: str  # utf-8 | cp1252 | utf-16-le | utf-16-be
    bom: int = 0  # bytes of byte-order mark at the start of the file

    @property
    def label(self) -> str:
        names = {"utf-8": "utf-8", "cp1252": "windows-1252"}
        name = names.get(self.codec, self.codec)
        return f"{name} (BOM)" if self.bom else name

    @property
    def unit(self) -> int:
        return 2 if self.codec.startswith("utf-16") else 1

    @property
    def newline(self) -> bytes:
        return "\n".encode(self.codec) if self.unit == 2 else b"\n"

    @property
    def carriage_return(self) -> bytes:
        return "\r".encode(self.codec) if self.unit == 2 else b"\r"


def detect_encoding(head: bytes) -> Encoding:
    """The encoding of a file from its first bytes (FileRejected for binary content)."""
    if not head:
        raise FileRejected("The file is empty")
    if head.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8", 3)
    if head.startswith(codecs.BOM_UTF16_LE):
        return Encoding("utf-16-le", 2)
    if head.startswith(codecs.BOM_UTF16_BE):
        return Encoding("utf-16-be", 2)
    sample = head[:65536]
    # A stray NUL is a bad line; many are a binary file.
    if sample.count(b"\x00") > 1 + len(sample) // 4096:
        raise FileRejected("The file is not text (it contains binary data): export it as CSV")
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(sample, final=False)
    return Encoding("utf-8") if _mostly_utf8(text) else Encoding("cp1252")


def _mostly_utf8(text: str) -> bool:
    """Windows-1252 text is almost never valid UTF-8 where it isn't ASCII; a UTF-8 file
    with a few bad bytes has more well-formed non-ASCII characters than bad ones."""
    invalid = text.count("\ufffd")
    if not invalid:
        return True
    return sum(1 for ch in text if ch > "\x7f") - invalid >= invalid


def check_text(text: str) -> None:
    """Refuse what decodes but is not text (images, archives without NULs up front)."""
    sample = text[:65536]
    if not sample:
        return
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n")
    if controls > max(2, len(sample) // 100):
        raise FileRejected("The file is not text (it contains binary data): export it as CSV")


class Decoder:
    """Decodes blocks (each ends at a line break, so no character is ever split)."""

    def __init__(self, encoding: Encoding, *, seen_non_ascii: bool = False) -> None:
        self.encoding = encoding
        self.seen_non_ascii = seen_non_ascii

    def decode(self, data: bytes) -> tuple[str, bool]:
        """(text, whether it holds undecodable bytes, now U+FFFD)."""
        codec = self.encoding.codec
        if codec == "cp1252":
            return data.decode("cp1252", "attache-latin1"), False
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            text = data.decode(codec, "replace")
            if codec == "utf-8" and not self.seen_non_ascii and not _mostly_utf8(text):
                # Only ASCII so far: this is a Windows-1252 file after all.
                self.encoding = Encoding("cp1252", self.encoding.bom)
                return data.decode("cp1252", "attache-latin1"), False
            self.seen_non_ascii = True
            return text, True
        if codec == "utf-8" and not self.seen_non_ascii and not data.isascii():
            self.seen_non_ascii = True
        return text, False


@dataclass
class Block:
    end_offset: int  # byte offset in the file just after this block
    data: bytes
    # An over-long line was cut out here: the parser reports it as one bad line.
    overlong: bool = False


class BlockSplitter:
    """Cuts a byte stream into blocks ending at line breaks.

    A line longer than `max_line_bytes` is not buffered: its bytes are dropped up to the
    next line break and an `overlong` block stands in for it.
    """

    def __init__(self, encoding: Encoding, start_offset: int, max_line_bytes: int) -> None:
        self._newline = encoding.newline
        self._cr = encoding.carriage_return
        self._unit = encoding.unit
        self._offset = start_offset  # file offset of self._buffer[0]
        self._buffer = bytearray()
        self._max_line = max_line_bytes
        self._skipping = False

    def _last_break(self, data: bytearray | bytes) -> int:
        """Index just after the last line break in `data` (0 if none)."""
        for mark in (self._newline, self._cr):
            end = len(data)
            while True:
                at = data.rfind(mark, 0, end)
                if at < 0:
                    break
                if at % self._unit == 0:
                    return at + len(mark)
                end = at + len(mark) - 1
        return 0

    def feed(self, chunk: bytes) -> list[Block]:
        blocks: list[Block] = []
        if self._skipping:
            cut = self._first_break(chunk)
            if cut < 0:
                self._offset += len(chunk)
                return blocks
            self._offset += cut
            chunk = chunk[cut:]
            self._skipping = False
            blocks.append(Block(self._offset, b"", overlong=True))
        self._buffer += chunk
        cut = self._last_break(self._buffer)
        if cut:
            data = bytes(self._buffer[:cut])
            del self._buffer[:cut]
            self._offset += cut
            blocks.append(Block(self._offset, data))
        if len(self._buffer) > self._max_line:
            self._offset += len(self._buffer)
            self._buffer.clear()
            self._skipping = True
        return blocks

    def _first_break(self, data: bytes) -> int:
        at = data.find(self._newline)
        while at >= 0 and at % self._unit:
            at = data.find(self._newline, at + 1)
        return -1 if at < 0 else at + len(self._newline)

    def finish(self) -> list[Block]:
        if self._skipping:
            self._skipping = False
            return [Block(self._offset, b"", overlong=True)]
        if not self._buffer:
            return []
        data = bytes(self._buffer)
        self._offset += len(data)
        self._buffer.clear()
        return [Block(self._offset, data)]


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines most consistently into several fields."""
    lines = io.StringIO(text[:65536], newline="").readlines()[:50]
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines = lines[:-1]  # probably cut in the middle
    best, best_score = ",", (-1.0, 0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        consistent = sum(1 for r in rows if len(r) == width) / len(rows)
        score = (consistent, width, -DELIMITERS.index(delimiter))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def normalise_header(name: str) -> str:
    """'  E-Mail Address ' → 'e_mail_address'; accents dropped, BOM and quotes ignored."""
    name = unicodedata.normalize("NFKD", name.replace("\ufeff", "")).casefold()
    name = "".join(ch for ch in name if not unicodedata.combining(ch))
    out = []
    for ch in name:
        out.append(ch if ch.isalnum() else "_")
    return "_".join(part for part in "".join(out).split("_") if part)


@dataclass
class ParseState:
    """Where parsing stands: enough to resume at a block boundary."""

    line: int  # the last physical line consumed (0 before the first)
    offset: int  # byte offset of the next unread block


@dataclass
class RecordParser:
    """Records from decoded blocks, with their line numbers; runs in a thread.

    `next_block()` returns the next Block, or None at the end of the file.
    Callbacks: `on_record(line, fields)` for every non-blank record,
    `on_problem(line, reason)` for a malformed one, `on_boundary(offset, line)` where a
    record ends at the end of a block (the next record starts at byte `offset`, line
    `line + 1`).
    """

    next_block: Callable[[], Block | None]
    decoder: Decoder
    delimiter: str
    # Fields a record must have when it spans several lines (None: not known yet).
    width: int | None = None
    line: int = 0  # physical lines consumed before the first block
    # The last blocks' lines, to re-read a record cut off by a quote left open.
    _recent: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=MAX_RECORD_BLOCKS + 2)
    )
    _loaded: int = 0
    _blocks_in_record: int = 0
    _overlong: set = field(default_factory=set)
    # Line ranges of blocks with undecodable bytes or NULs: their records are checked.
    _suspect_lines: list = field(default_factory=list)
    _offset: int = 0

    def __post_init__(self) -> None:
        self._loaded = self.line

    def _blocks(self) -> Iterator[list[str]]:
        while True:
            block = self.next_block()
            if block is None:
                return
            self._offset = block.end_offset
            if block.overlong:
                lines = ["\n"]
                self._overlong.add(self._loaded + 1)
            else:
                text, suspect = self.decoder.decode(block.data)
                lines = io.StringIO(text, newline="").readlines()
                if suspect or "\x00" in text:
                    self._suspect_lines.append((self._loaded + 1, self._loaded + len(lines)))
            self._recent.append((self._loaded + 1, lines))
            self._loaded += len(lines)
            self._blocks_in_record += 1
            yield lines
            if self._blocks_in_record > MAX_RECORD_BLOCKS:
                # A quote that never closes: end the record here, it is reported and
                # re-read from its second line.
                self._runaway = True
                yield ['"\n']

    def _lines_between(self, first: int, last: int) -> list[str]:
        """Physical lines first..last (inclusive) from the blocks still held."""
        out: list[str] = []
        for start, lines in self._recent:
            end = start + len(lines) - 1
            if end < first or start > last:
                continue
            out.extend(lines[max(first, start) - start : min(last, end) - start + 1])
        return out

    def _reader(self, lines: Iterator[str]) -> csv.Reader:  # type: ignore[name-defined]
        return csv.reader(lines, delimiter=self.delimiter, quotechar='"', doublequote=True)

    def run(
        self,
        on_record: Callable[[int, list[str]], None],
        on_problem: Callable[[int, str], None],
        on_boundary: Callable[[int, int], None],
    ) -> None:
        self._runaway = False
        source = itertools.chain.from_iterable(self._blocks())
        reader = self._reader(source)
        base = self.line  # line numbers of this reader = base + reader.line_num
        line = self.line
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                start, end = line + 1, base + reader.line_num
                on_problem(start, f"Malformed CSV: {exc}")
                line, base, reader = self._replay(start, end, source)
                continue
            end = base + reader.line_num
            start = line + 1
            if end != start or self._runaway:
                sentinel = self._runaway
                if sentinel:
                    end -= 1  # the line that cut the record off is not in the file
                if sentinel or not self._plausible(fields, start, end):
                    self._runaway = False
                    on_problem(start, "Unterminated quoted field (a quote is never closed)")
                    line, base, reader = self._replay(start, end, source)
                    continue
                if self._overlong and any(start <= n <= end for n in self._overlong):
                    on_problem(start, "Record longer than the size limit")
                    line, base, reader = self._replay(start, end, source)
                    continue
            line = end
            self.line = line
            self._blocks_in_record = 0
            if fields:
                if self._suspect_lines and (reason := self._suspect(start, end)):
                    on_problem(start, reason)
                else:
                    on_record(start, fields)
            elif start in self._overlong:
                on_problem(start, "Line longer than the size limit")
            if end == self._loaded:
                on_boundary(self._offset, end)

    def _plausible(self, fields: list[str], start: int, end: int) -> bool:
        """Whether a record over several lines is a real quoted line break rather than a
        quote left open: it has the header's width, and reads without stray characters
        after a closing quote (what `"…"x` in a later line looks like once swallowed)."""
        if self.width is not None and len(fields) != self.width:
            return False
        text = "".join(self._lines_between(start, end))
        try:
            strict = csv.reader(
                io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True
            )
            return len(list(strict)) == 1
        except csv.Error:
            return False

    def _suspect(self, start: int, end: int) -> str | None:
        """Why the record can't be stored: undecodable bytes, or a NUL character."""
        for first, last in self._suspect_lines:
            if first <= end and start <= last:
                text = "".join(self._lines_between(start, end))
                if "\x00" in text:
                    return "The line contains a NUL character"
                if "\ufffd" in text:
                    return f"The line is not valid {self.decoder.encoding.codec} text"
        return None

    def _replay(self, start: int, end: int, source: Iterator[str]) -> tuple[int, int, object]:
        """Re-read lines start+1..end (the bad record's own first line is dropped)."""
        self._blocks_in_record = 0
        again = self._lines_between(start + 1, end)
        self.line = start
        return start, start, self._reader(itertools.chain(again, source))
