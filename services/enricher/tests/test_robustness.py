"""Hostile and broken files end with a clear status, and the sandbox keeps working.

Each analysis runs in the sandbox's child process (memory limit, time limit), exactly
as in the worker; the last test checks the same child still reads a good document.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from pypdf import PdfWriter

from attache_core import sniffing
from attache_devstack.documents import DocumentSpec, make_document
from attache_devstack.samples import make_pdf, make_png
from attache_enricher.analysis import AnalysisJob
from attache_enricher.sandbox import Sandbox, SandboxTimeout

LIMIT = 60.0


@pytest.fixture(scope="module")
async def sandbox():
    box = Sandbox(1, memory_bytes=1024 * 1024 * 1024, timeout=LIMIT)
    await box.start()
    yield box
    await box.close()


def job(tmp_path: Path, data: bytes, filename: str, **options) -> AnalysisJob:
    path = tmp_path / "object"
    path.write_bytes(data)
    mime = options.pop("mime", None) or sniffing.sniff(data[: sniffing.SNIFF_BYTES])
    return AnalysisJob(path=str(path), mime_type=mime, filename=filename, **options)


def png_of(width: int, height: int) -> bytes:
    """A 1-bit PNG: a few KB on disk whatever its size in pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner")  # noqa: S106
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def many_pages_pdf(pages: int) -> bytes:
    """A PDF of `pages` pages sharing one content stream (small, valid xref)."""
    stream = b"BT /F1 12 Tf 72 720 Td (Page of a long annual report) Tj ET"
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    ] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def docx_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<" + b"a" * (64 * 1024 * 1024))
    return out.getvalue()


async def test_encrypted_pdf(sandbox, tmp_path):
    result = await sandbox.run(job(tmp_path, encrypted_pdf(), "secret.pdf"))
    assert result.status == "failed" and "encrypted PDF" in result.error


async def test_corrupt_pdf(sandbox, tmp_path):
    result = await sandbox.run(job(tmp_path, b"%PDF-1.7\n" + b"\x00garbage" * 500, "bad.pdf"))
    assert result.status == "failed" and "PDF" in result.error


async def test_truncated_pdf_is_read_or_refused_clearly(sandbox, tmp_path):
    whole = make_pdf(["Invoice INV-1", "Total due: $10.00"])
    result = await sandbox.run(job(tmp_path, whole[: len(whole) // 2], "cut.pdf"))
    # PDFium repairs what it can: either it read the page, or it says why it couldn't.
    assert result.status in ("processed", "failed")
    if result.status == "failed":
        assert "PDF" in result.error


async def test_docx_zip_bomb_is_refused_before_inflating(sandbox, tmp_path):
    result = await sandbox.run(
        job(tmp_path, docx_bomb(), "bomb.docx", mime=sniffing.normalise("application/zip"))
    )
    assert result.status == "failed" and "zip bomb" in result.error


async def test_decompression_bomb_png_is_refused_before_decoding(sandbox, tmp_path):
    result = await sandbox.run(job(tmp_path, png_of(20_000, 20_000), "huge.png"))
    assert result.status == "failed"
    assert "megapixels" in result.error and result.thumbnail is None


async def test_500_page_pdf_reads_a_bounded_number_of_pages(sandbox, tmp_path):
    result = await sandbox.run(job(tmp_path, many_pages_pdf(500), "annual.pdf", max_pages=50))
    assert result.status == "processed" and result.page_count == 500
    assert any("first 50 of 500 pages" in note for note in result.notes)
    assert result.thumbnail is not None


async def test_an_analysis_over_its_time_limit_is_stopped_and_the_child_replaced(sandbox, tmp_path):
    receipt = make_document(DocumentSpec("receipt", "de", 0, "png", "sans", seed=3))
    with pytest.raises(SandboxTimeout):
        await sandbox.run(job(tmp_path, receipt.data, "slow.png"), limit=0.05)
    result = await sandbox.run(job(tmp_path, make_pdf("Quarterly report"), "ok.pdf"))
    assert result.status == "processed"


async def test_memory_limit_ends_in_a_status_not_a_dead_worker(tmp_path):
    small = Sandbox(1, memory_bytes=320 * 1024 * 1024, timeout=LIMIT)
    await small.start()
    try:
        # 49 megapixels: allowed by the pixel limit, too big for this memory limit.
        result = await small.run(job(tmp_path, png_of(7000, 7000), "big.png", enrich=False))
        assert result.status == "failed" and "memory" in result.error
        again = await small.run(job(tmp_path, make_png(64, 64), "small.png", enrich=False))
        assert again.status == "skipped" and again.thumbnail
    finally:
        await small.close()


async def test_a_child_left_over_its_memory_bound_is_replaced_after_the_job(tmp_path):
    # A bound below any Python process's resident memory: every analysis outgrows it.
    box = Sandbox(1, memory_bytes=1024 * 1024 * 1024, timeout=LIMIT, max_rss=1)
    await box.start()
    try:
        before = box.pids()
        result = await box.run(job(tmp_path, make_pdf("Quarterly report"), "ok.pdf"))
        assert result.status == "processed"
        assert box.pids() and box.pids() != before  # a fresh child already waits
        again = await box.run(job(tmp_path, make_pdf("Quarterly report"), "ok.pdf"))
        assert again.status == "processed"
    finally:
        await box.close()


async def test_missing_ocr_engine_says_unavailable(sandbox, tmp_path):
    receipt = make_document(DocumentSpec("receipt", "en", 0, "png", "sans", seed=4))
    result = await sandbox.run(
        job(tmp_path, receipt.data, "r.png", ocr_command="/nonexistent/tesseract")
    )
    assert result.status == "processed" and result.ocr == "unavailable"
    assert result.local.document_type == "image" and result.thumbnail


async def test_the_same_child_still_reads_a_good_document(sandbox, tmp_path):
    invoice = make_document(DocumentSpec("invoice", "en", 2, "pdf", "helvetica", seed=11))
    pids = sandbox.pids()
    result = await sandbox.run(job(tmp_path, invoice.data, "invoice.pdf"))
    assert sandbox.pids() == pids  # well under the memory bound: the child is kept
    assert result.status == "processed" and result.local.document_type == "invoice"
    expected = invoice.labels["fields"]
    assert result.local.extracted_metadata["invoiceNumber"] == expected["invoiceNumber"]
    assert f"{result.local.extracted_metadata['amount']:.2f}" == expected["amount"]
    assert result.thumbnail[8:12] == b"WEBP" and result.medium[8:12] == b"WEBP"
