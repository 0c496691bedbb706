"""What an object really is, from its first bytes (libmagic), and whether that
agrees with what the client declared.

The rule: a declared type we can recognise by its magic bytes must be what
libmagic finds; types that browsers would execute (HTML, SVG, JavaScript,
executables) are never accepted under another declared type.
"""

from __future__ import annotations

import magic

SNIFF_BYTES = 16 * 1024

_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "application/x-pdf": "application/pdf",
    "text/xml": "application/xml",
    "application/csv": "text/csv",
    "application/x-zip-compressed": "application/zip",
}

# Formats that live inside a ZIP: libmagic sees the container, sometimes the member.
_ZIP_BASED = {
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/epub+zip",
}
_OLE_BASED = {
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/x-ole-storage",
    "application/CDFV2",
}
_TEXT_BASED = {
    "text/plain",
    "text/csv",
    "text/markdown",
    "text/tab-separated-values",
    "application/json",
    "application/xml",
    "text/calendar",
    "text/vcard",
}

# Content a browser renders or runs: never accepted under another name.
ACTIVE_CONTENT = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/javascript",
    "application/javascript",
    "application/x-executable",
    "application/x-dosexec",
    "application/x-mach-binary",
    "application/x-sharedlib",
    "application/x-pie-executable",
    "application/vnd.microsoft.portable-executable",
    "application/x-msdownload",
    "application/java-archive",
    "application/x-sh",
    "text/x-shellscript",
}

EMPTY = "application/x-empty"


def normalise(mime: str) -> str:
    base = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def sniff(prefix: bytes) -> str:
    """The MIME type libmagic finds in the first bytes of an object."""
    if not prefix:
        return EMPTY
    return normalise(magic.from_buffer(prefix[:SNIFF_BYTES], mime=True))


def _family(mime: str) -> str:
    if mime in _ZIP_BASED:
        return "zip"
    if mime in _OLE_BASED or mime == "application/x-ole-storage":
        return "ole"
    if mime in _TEXT_BASED or (mime.startswith("text/") and mime not in ACTIVE_CONTENT):
        return "text"
    return mime


def matches_declared(declared: str, sniffed: str) -> bool:
    declared, sniffed = normalise(declared), normalise(sniffed)
    if sniffed == EMPTY:
        return False
    if declared == sniffed:
        return True
    if sniffed in ACTIVE_CONTENT:
        return False
    if _family(declared) == _family(sniffed):
        return True
    # Compressed or raw streams libmagic can't name (PCM audio, some MP3s without ID3).
    if sniffed == "application/octet-stream":
        return declared in {
            "application/octet-stream",
            "audio/pcm",
            "audio/l16",
            "audio/mpeg",
            "audio/opus",
            "audio/webm",
        }
    return False


# Types a browser may show inline without running anything; everything else (HTML, SVG,
# XML, JavaScript, unknown) is served as an attachment.
_INLINE_SAFE = {
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/bmp",
    "application/pdf",
    "text/plain",
    "text/csv",
}


def inline_safe(mime: str) -> bool:
    mime = normalise(mime)
    return mime in _INLINE_SAFE or mime.startswith(("audio/", "video/"))


_CATEGORY_BY_EXTENSION = {
    **dict.fromkeys(["pdf", "doc", "docx", "odt", "rtf", "txt", "md", "pages"], "document"),
    **dict.fromkeys(["xls", "xlsx", "ods", "csv", "tsv", "numbers"], "spreadsheet"),
    **dict.fromkeys(["ppt", "pptx", "odp", "key"], "presentation"),
    **dict.fromkeys(["zip", "rar", "7z", "gz", "tgz", "tar", "bz2"], "archive"),
    **dict.fromkeys(["eml", "msg"], "email"),
}


def category_for(extension: str | None, mime: str | None) -> str:
    """The library's file category: document, image, spreadsheet, presentation, audio,
    video, archive, email or other (seed 004's fileCategories)."""
    mime = normalise(mime or "")
    for prefix in ("image", "audio", "video"):
        if mime.startswith(prefix + "/"):
            return prefix
    return _CATEGORY_BY_EXTENSION.get((extension or "").lower(), "other")
