"""Client-supplied filenames, made safe to store, show and put in a header.

A filename is display data: it never becomes a path on its own. `display_name`
keeps unicode but drops directories, control and bidi-override characters;
`key_component` is the ASCII-only form used inside object keys.
"""

from __future__ import annotations

import re
import unicodedata

from attache_core.errors import InvalidInput

MAX_FILENAME_BYTES = 255
# Bidi embedding/override/isolate marks let "invoice\u202Efdp.exe" render as "invoiceexe.pdf".
_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def _truncate_keeping_extension(name: str, limit: int) -> str:
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = limit - len(suffix.encode())
    encoded = stem.encode()[:budget]
    return encoded.decode(errors="ignore") + suffix


def display_name(raw: str) -> str:
    """The name to store and show, or InvalidInput when nothing usable is left."""
    if raw.isascii() and raw.isprintable():
        name = raw  # the common case: nothing to normalise, no bidi or control characters
    else:
        name = unicodedata.normalize("NFC", raw).translate(_BIDI_CONTROLS)
        name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    # Only the last path component, whichever separator the client's OS used.
    name = name.rpartition("/")[2].rpartition("\\")[2].strip().strip(".").strip()
    if not name:
        raise InvalidInput(
            "Invalid parameters", details={"filename": "Filename is empty or invalid"}
        )
    return _truncate_keeping_extension(name, MAX_FILENAME_BYTES)


def key_component(name: str, *, limit: int = 120) -> str:
    """ASCII-only form for object keys (the seed's `[^A-Za-z0-9._-]` → `_` rule)."""
    ascii_name = name
    if not name.isascii():
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    safe = _UNSAFE_KEY_CHARS.sub("_", ascii_name).strip("._") or "file"
    return _truncate_keeping_extension(safe, limit)


def extension(name: str) -> str:
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot and ext else ""


def content_disposition(name: str, *, inline: bool = False) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name (RFC 5987)."""
    from urllib.parse import quote

    fallback = key_component(name, limit=150).replace('"', "")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
