"""Text out of every format the enricher reads (in-process: no sandbox needed here)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from attache_devstack.documents import make_docx, make_eml, make_html, make_xlsx
from attache_devstack.samples import make_pdf
from attache_enricher.pipeline import reader_for
from attache_enricher.text import ExtractionFailed, Limits, markup, office, pdf

LIMITS = Limits()


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "object"  # as the worker stores it: no extension to go by
    path.write_bytes(data)
    return path


def test_pdf_text_layer_in_rows(tmp_path):
    got = pdf.extract(
        write(tmp_path, make_pdf(["Invoice INV-7", "Total due: $10.00"])), LIMITS, None
    )
    assert got.text.splitlines() == ["Invoice INV-7", "Total due: $10.00"]
    assert got.page_count == 1 and got.ocr == "not_needed"


def test_docx_paragraphs_and_tabs(tmp_path):
    got = office.docx(write(tmp_path, make_docx(["Rechnung", "Summe\t119,00 €"])), LIMITS)
    assert [[c.text for c in line.cells] for line in got.layout.lines] == [
        ["Rechnung"],
        ["Summe", "119,00 €"],
    ]


def test_xlsx_rows_without_a_file_extension(tmp_path):
    got = office.xlsx(write(tmp_path, make_xlsx([["Month", "Revenue"], ["2025-01", 12.5]])), LIMITS)
    assert "Month   Revenue" in got.text and "2025-01   12.5" in got.text


def test_pptx_slides(tmp_path):
    slide = (
        '<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>'
        "<p:sp><p:txBody><a:p><a:r><a:t>Agenda</a:t></a:r></a:p>"
        "<a:p><a:r><a:t>Next steps</a:t></a:r></a:p></p:txBody></p:sp>"
        "</p:spTree></p:cSld></p:sld>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ppt/slides/slide1.xml", slide)
        archive.writestr("ppt/slides/slide2.xml", slide.replace("Agenda", "Questions?"))
    got = office.pptx(write(tmp_path, buffer.getvalue()), LIMITS)
    assert got.page_count == 2 and got.slide_like
    assert got.text.splitlines() == ["Agenda", "Next steps", "Questions?", "Next steps"]


def test_xml_entities_are_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", bomb)
    with pytest.raises(ExtractionFailed, match="corrupt DOCX"):
        office.docx(write(tmp_path, buffer.getvalue()), LIMITS)


def test_email_subject_body_then_envelope(tmp_path):
    got = markup.eml(
        write(
            tmp_path, make_eml("Invoice 2024-17", "Total due: 120,00 €", "Billing <b@acme.test>")
        ),
        LIMITS,
    )
    lines = got.text.splitlines()
    assert lines[0] == "Invoice 2024-17" and lines[1] == "Total due: 120,00 €"
    assert "From: Billing <b@acme.test>" in lines


def test_html_without_scripts_and_with_table_cells(tmp_path):
    page = make_html("Factuur", ["Factuur", "Totaal\t€ 121,00"]).replace(
        b"<body>", b"<body><script>alert('x')</script>"
    )
    got = markup.html_document(write(tmp_path, page), LIMITS)
    assert "alert" not in got.text
    assert ["Totaal", "€ 121,00"] in [[c.text for c in line.cells] for line in got.layout.lines]


def test_csv_any_delimiter(tmp_path):
    got = markup.csv_text(write(tmp_path, b"Month;Units\n2025-01;12\n"), LIMITS)
    assert got.text.splitlines() == ["Month   Units", "2025-01   12"]


@pytest.mark.parametrize(
    ("mime", "name", "reader"),
    [
        ("application/pdf", "x", "pdf"),
        ("application/zip", "report.docx", "docx"),
        ("application/octet-stream", "sheet.xlsx", "xlsx"),
        ("text/plain", "data.csv", "csv"),
        ("message/rfc822", "mail", "eml"),
        ("text/plain", "mail.eml", "eml"),
        ("image/jpeg", "photo", "image"),
        ("application/x-empty", "x", None),
        ("video/mp4", "clip.mp4", None),
    ],
)
def test_reader_by_content_then_name(mime, name, reader):
    assert reader_for(mime, name) == reader
