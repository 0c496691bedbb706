"""Filenames and type sniffing: pure functions, no I/O."""

from __future__ import annotations

import pytest

from attache_core import filenames, sniffing
from attache_core.errors import InvalidInput
from attache_devstack.samples import make_pdf, make_png


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("document.pdf", "document.pdf"),
        ("../../etc/passwd", "passwd"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("tab\tand\nnewline.txt", "tabandnewline.txt"),
        ("  spaced .pdf ", "spaced .pdf"),
        ("résumé.pdf", "résumé.pdf"),
        ("invoice.pdf.exe", "invoice.pdf.exe"),
        ("dir\\sub/file.txt", "file.txt"),
        ("sub/dir\\file.txt", "file.txt"),
        ("..hidden..", "hidden"),
        (" . name . ", "name"),
        ("del\x7f.txt", "del.txt"),
    ],
)
def test_display_name(raw, expected):
    assert filenames.display_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "..", "../..", "/", "\u202e", "\x00\x00", "   ", "a/b\\"])
def test_display_name_rejects_names_with_nothing_left(raw):
    with pytest.raises(InvalidInput):
        filenames.display_name(raw)


def test_long_names_are_cut_to_255_bytes_keeping_the_extension():
    name = filenames.display_name("é" * 300 + ".pdf")
    assert len(name.encode()) <= 255 and name.endswith(".pdf")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("document.pdf", "document.pdf"),
        ("my file (1).pdf", "my_file__1_.pdf"),
        ("résumé.pdf", "resume.pdf"),
        ("日本語.txt", "txt"),
        ("...", "file"),
    ],
)
def test_key_component_is_ascii_safe(raw, expected):
    assert filenames.key_component(raw) == expected


@pytest.mark.parametrize(
    "data, declared, ok",
    [
        (make_pdf(), "application/pdf", True),
        (b"<!DOCTYPE html><html><body>x</body></html>", "application/pdf", False),
        (b"<!DOCTYPE html><html><body>x</body></html>", "text/plain", False),
        (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "image/png", False),
        (make_png(), "image/png", True),
        (make_png(), "image/jpg", False),
        (make_png(), "image/jpeg", False),
        (b"name,email\nAda,ada@example.com\n", "text/csv", True),
        (b"plain words\n", "text/plain", True),
        (
            b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode",
            "application/pdf",
            False,
        ),
        (b"", "text/plain", False),
        (make_pdf(), "image/png", False),
    ],
)
def test_declared_type_must_match_the_bytes(data, declared, ok):
    assert sniffing.matches_declared(declared, sniffing.sniff(data)) is ok


def test_aliases_normalise():
    assert sniffing.normalise("IMAGE/JPG; charset=binary") == "image/jpeg"


def test_new_uuid_is_random_version_4_and_unique():
    from attache_core.ids import new_uuid

    ids = [new_uuid() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(u.version == 4 and u.variant == "specified in RFC 4122" for u in ids)


def test_new_uuid_text_is_the_canonical_text_of_a_random_version_4_uuid():
    import uuid

    from attache_core.ids import new_uuid_text

    texts = [new_uuid_text() for _ in range(2000)]
    assert len(set(texts)) == 2000
    for text in texts:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == "specified in RFC 4122"
