"""Unit tests (no I/O) of reading CSV as people export it, and of the import rules."""

from __future__ import annotations

import codecs
import csv
import os

import pytest

from attache_importer.csv_reader import (
    BlockSplitter,
    Decoder,
    FileRejected,
    RecordParser,
    check_text,
    detect_encoding,
    normalise_header,
    sniff_delimiter,
)
from attache_importer.passwords import ScryptCost, hash_password, verify_password
from attache_importer.rules import ConfigError, build_checker, match_columns

SEED_CSV = (
    b"full_name,email,phone,address,city,state,postal_code,country,password\n"
    b"John Doe,john@example.com,1234567890,123 Main St,Anytown,CA,12345,USA,password123\n"
    b"Jane Smith,jane@example.com,0987654321,456 Oak Ave,Anytown,CA,12345,USA,password456\n"
)

csv.field_size_limit(1024 * 1024)


def read(data: bytes, *, chunk: int = 7, max_line: int = 1024 * 1024, width: int | None = None):
    """(encoding, delimiter, records, problems, boundaries) of a whole file, fed in chunks."""
    encoding = detect_encoding(data)
    body = data[encoding.bom :]
    sample, _ = Decoder(encoding).decode(body[:65536])
    check_text(sample)
    delimiter = sniff_delimiter(sample)
    splitter = BlockSplitter(encoding, encoding.bom, max_line)
    blocks = []
    for i in range(0, len(body), chunk):
        blocks.extend(splitter.feed(body[i : i + chunk]))
    blocks.extend(splitter.finish())
    it = iter(blocks)
    records, problems, boundaries = [], [], []
    parser = RecordParser(lambda: next(it, None), Decoder(encoding), delimiter, width=width)
    parser.run(
        lambda line, fields: records.append((line, fields)),
        lambda line, reason: problems.append((line, reason)),
        lambda offset, line: boundaries.append((offset, line)),
    )
    return encoding, delimiter, records, problems, boundaries


def test_the_seed_sample():
    encoding, delimiter, records, problems, boundaries = read(SEED_CSV)
    assert (encoding.codec, delimiter, problems) == ("utf-8", ",", [])
    assert [line for line, _ in records] == [1, 2, 3]
    assert records[1][1][0] == "John Doe"
    assert boundaries[-1] == (len(SEED_CSV), 3)


def test_bom_semicolons_and_windows_1252():
    text = "Nombre;E-Mail;Teléfono\r\nJosé Müller;jose@example.com;+34 600 11 22 33\r\n"
    data = codecs.BOM_UTF8 + text.encode("utf-8")
    encoding, delimiter, records, problems, _ = read(data)
    assert (encoding.codec, encoding.bom, delimiter, problems) == ("utf-8", 3, ";", [])
    assert records[1] == (2, ["José Müller", "jose@example.com", "+34 600 11 22 33"])

    encoding, delimiter, records, _, _ = read(text.encode("cp1252"))
    assert (encoding.codec, delimiter) == ("cp1252", ";")
    assert records[1][1][0] == "José Müller"
    # €, “quotes” and the bytes Windows-1252 leaves undefined (read as Latin-1).
    encoding, _, records, _, _ = read(b"name,email\n\x80 \x93x\x94 \x81,a@b.co\n")
    assert records[1][1][0] == "€ “x” \x81"


def test_utf8_file_with_windows_1252_further_down_switches_over():
    data = b"name,email\n" + b"Ann,a@b.co\n" * 10_000 + "Zoë,z@b.co\n".encode("cp1252")
    encoding, _, records, problems, _ = read(data, chunk=4096)
    assert encoding.codec == "utf-8" and not problems
    assert records[-1][1][0] == "Zoë"


def test_tab_pipe_and_excel_separator_hint():
    assert sniff_delimiter("a\tb\tc\n1\t2\t3\n") == "\t"
    assert sniff_delimiter("a|b|c\n1|2|3\n") == "|"
    assert sniff_delimiter("name,email;x\nJo,jo@x.co;1\n") == ","


def test_utf16_with_bom():
    data = "\ufeffname\temail\nZoë\tz@example.com\n".encode("utf-16-le")
    encoding, delimiter, records, problems, _ = read(data, chunk=5)
    assert (encoding.codec, delimiter, problems) == ("utf-16-le", "\t", [])
    assert records[1] == (2, ["Zoë", "z@example.com"])


def test_quoted_newlines_and_doubled_quotes():
    data = (
        b'full_name,email,address\n"Doe, John",john@example.com,"1 Main St\nApt ""B""\r\nRear"\n'
        b"Ann,ann@example.com,x\n"
    )
    _, _, records, problems, _ = read(data, width=3)
    assert problems == []
    assert records[1] == (2, ["Doe, John", "john@example.com", '1 Main St\nApt "B"\r\nRear'])
    assert records[2][0] == 5  # line numbers count physical lines


def test_a_broken_quote_is_one_bad_line_not_the_rest_of_the_file():
    data = b'name,email,city\nAnn,"ann@example.com,Paris\nBob,bob@example.com,"Rome, IT"\n'
    data += b"Cy,cy@example.com,Oslo\n"
    _, _, records, problems, _ = read(data, width=3)
    assert problems == [(2, "Unterminated quoted field (a quote is never closed)")]
    assert [(line, f[0]) for line, f in records] == [(1, "name"), (3, "Bob"), (4, "Cy")]


def test_a_quote_never_closed_does_not_swallow_a_large_file():
    rows = b"".join(b"Row %d,r%d@example.com\n" % (i, i) for i in range(20_000))
    data = b'name,email\n"Broken,b@example.com\n' + rows
    _, _, records, problems, _ = read(data, chunk=64 * 1024, width=2)
    assert problems[0][0] == 2
    assert len(records) == 20_001  # header + every row after the broken one


def test_overlong_line_is_a_row_error():
    data = b"name,email\n" + b"x" * 5000 + b"\nAnn,a@b.co\n"
    _, _, records, problems, _ = read(data, chunk=100, max_line=1000)
    assert problems == [(2, "Line longer than the size limit")]
    assert records[-1] == (3, ["Ann", "a@b.co"])


def test_ten_thousand_columns_in_one_line():
    header = b"full_name,email\n"
    wide = b",".join(b"c%d" % i for i in range(10_000)) + b"\n"
    _, _, records, _, _ = read(header + wide + b"Ann,a@b.co\n", chunk=4096)
    columns = match_columns(records[0][1], None)
    check = build_checker(columns)
    errors = check(*records[1])
    assert errors == [("", "c2", "The line has 10000 fields; the header has 2")]
    assert check(*records[2])[:3] == (3, "Ann", "a@b.co")


def test_binary_and_empty_files_are_refused():
    with pytest.raises(FileRejected, match="empty"):
        detect_encoding(b"")
    with pytest.raises(FileRejected, match="not text"):
        detect_encoding(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2000))
    with pytest.raises(FileRejected, match="not text"):
        check_text("".join(chr(i % 32) for i in range(1000)))


def test_nul_and_undecodable_bytes_are_row_errors():
    data = "name,email\nZoë,z@x.co\nAn\x00n,a@x.co\n".encode() + b"B\xffb,b@x.co\nOk,o@x.co\n"
    _, _, records, problems, _ = read(data, chunk=1000)
    assert problems == [
        (3, "The line contains a NUL character"),
        (4, "The line is not valid utf-8 text"),
    ]
    assert [f[0] for _, f in records] == ["name", "Zoë", "Ok"]


def test_header_names_are_normalised_and_matched():
    assert normalise_header("\ufeff E-Mail Address ") == "e_mail_address"
    columns = match_columns(["Nombre", "E-mail", "Phone Number", "ZIP", "Notes"], None)
    assert columns.index == {"full_name": 0, "email": 1, "phone": 2, "postal_code": 3}
    assert columns.ignored == ["Notes"]
    columns = match_columns(["First Name", "Last Name", "Email"], None)
    assert build_checker(columns)(2, ["Ada", "Lovelace", "ada@x.co"])[1] == "Ada Lovelace"
    mapped = match_columns(["name", "mail"], {"Name": "full_name", "MAIL": "email"})
    assert mapped.index == {"full_name": 0, "email": 1}
    with pytest.raises(ConfigError, match="email"):
        match_columns(["name", "phone"], None)
    with pytest.raises(ConfigError, match="'surname'"):
        match_columns(["name", "email"], {"surname": "full_name", "email": "email"})


def test_each_rule_once():
    columns = match_columns(SEED_CSV.decode().splitlines()[0].split(","), None)
    check = build_checker(columns)
    ok = ["John", "john@example.com", "(555) 123-4567", "1 St", "X", "CA", "123", "US", "secret99"]
    assert check(2, ok) == (
        2,
        "John",
        "john@example.com",
        "5551234567",
        "1 St",
        "X",
        "CA",
        "123",
        "US",
        "secret99",
    )

    def error(index: int, value: str) -> tuple:
        fields = list(ok)
        fields[index] = value
        (entry,) = check(2, fields)
        return entry

    assert error(0, " ") == ("full_name", "", "full_name is required")
    assert error(0, "x" * 201)[2] == "full_name is longer than 200 characters"
    assert error(1, "") == ("email", "", "email is required")
    for bad in ("not-an-email", "a@b", "a b@c.co", "a@@b.co", "a..b@c.co", "@c.co"):
        assert error(1, bad)[2] == "email is not a valid email address", bad
    assert error(2, "12ab34")[2] == "phone must be 4 to 20 digits (digits_only)"
    assert error(6, "1" * 21)[2] == "postal_code is longer than 20 characters"
    for index, name, limit in ((3, "address", 500), (4, "city", 200), (5, "state", 100)):
        assert check(2, [*ok[:index], "x" * limit, *ok[index + 1 :]])[0] == 2  # at the limit
        assert error(index, "x" * (limit + 1))[::2] == (
            name,
            f"{name} is longer than {limit} characters",
        )
    assert error(7, "x" * 101)[2] == "country is longer than 100 characters"
    both = [*ok[:3], "a" * 501, *ok[4:7], "c" * 101, ok[8]]
    assert [e[0] for e in check(2, both)] == ["address", "country"]
    assert error(8, "short") == ("password", "[redacted]", "password is shorter than 8 characters")
    assert check(2, ok[:2])[3:] == (None,) * 7  # missing trailing fields are empty
    assert build_checker(columns, phone_format="as_is")(2, ok)[3] == "(555) 123-4567"
    for good in ("ÿ@müller.de", "o'brien+tag@sub.example.co.uk", "x@xn--bcher-kva.ch"):
        assert check(2, [ok[0], good])[2] == good


def test_password_hashes_verify_and_never_hold_the_password():
    cost = ScryptCost(log2_n=10)
    digest = hash_password("password123", cost)
    assert digest.startswith("$scrypt$ln=10,r=8,p=1$") and "password123" not in digest
    assert verify_password("password123", digest)
    assert not verify_password("password124", digest)
    assert hash_password("password123", cost) != digest  # salted
