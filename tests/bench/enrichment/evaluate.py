"""Accuracy of the enricher's local models on a labelled set of documents.

    python -m tests.bench.enrichment.evaluate               # the generated set (manifest.json)
    python -m tests.bench.enrichment.evaluate --set vendor-styles   # hand-written, vendor_styles.py
    python -m tests.bench.enrichment.evaluate --dir DIR     # your documents: DIR/labels.jsonl
    python -m tests.bench.enrichment.evaluate --write DIR   # write the generated set to DIR

`labels.jsonl` for real documents has one object per line:
    {"file": "acme-2024-17.pdf", "documentType": "invoice",
     "fields": {"amount": "1234.50", "currency": "EUR", "invoiceNumber": "2024-17",
                "invoiceDate": "2024-03-15", "dueDate": null, "vendor": "ACME GmbH"}}
Fields that are absent or null in the labels are not scored.

Each document goes through the same sandboxed pipeline the worker runs
(attache_enricher.sandbox), so the figures include OCR and the process limits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from attache_core import sniffing
from attache_devstack.documents import DocumentSpec, make_document
from attache_enricher.analysis import AnalysisJob, AnalysisResult
from attache_enricher.sandbox import Sandbox, SandboxError

HERE = Path(__file__).parent
MANIFEST = HERE / "manifest.json"

AMOUNT_FIELDS = {"amount", "total"}
DATE_FIELDS = {"invoiceDate", "dueDate", "date", "effectiveDate", "expirationDate"}
NAME_FIELDS = {"vendor", "merchant"}


@dataclass
class LabelledDocument:
    name: str
    data: bytes
    labels: dict[str, Any]


def generated_set() -> list[LabelledDocument]:
    manifest = json.loads(MANIFEST.read_text())
    out = []
    for entry in manifest["documents"]:
        document = make_document(DocumentSpec(**entry["spec"]))
        if document.labels != entry["labels"]:
            raise RuntimeError(
                f"{entry['id']}: the generator no longer makes the labelled document; "
                "regenerate the manifest (python -m tests.bench.enrichment.manifest)"
            )
        out.append(LabelledDocument(entry["id"], document.data, entry["labels"]))
    return out


def vendor_style_set() -> list[LabelledDocument]:
    from tests.bench.enrichment.vendor_styles import vendor_style_documents

    return [LabelledDocument(n, d, labels) for n, d, labels in vendor_style_documents()]


def directory_set(directory: Path) -> list[LabelledDocument]:
    out = []
    for line in (directory / "labels.jsonl").read_text().splitlines():
        if line.strip():
            labels = json.loads(line)
            out.append(
                LabelledDocument(labels["file"], (directory / labels["file"]).read_bytes(), labels)
            )
    return out


def _name(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value or "")).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^\w]+", " ", text).strip()


def field_correct(name: str, expected: Any, found: Any) -> bool:
    if name in AMOUNT_FIELDS:
        try:
            return found is not None and Decimal(str(found)).quantize(Decimal("0.01")) == Decimal(
                str(expected)
            ).quantize(Decimal("0.01"))
        except InvalidOperation:
            return False
    if name in NAME_FIELDS:
        return _name(found) == _name(expected)
    if name == "parties":
        return sorted(_name(p) for p in found or []) == sorted(_name(p) for p in expected)
    if name == "invoiceNumber":
        return str(found or "").strip() == str(expected).strip()
    return found == expected


async def analyse_all(
    documents: list[LabelledDocument], processes: int, limit: float = 60.0
) -> tuple[list[AnalysisResult | None], float]:
    sandbox = Sandbox(processes, memory_bytes=1536 * 1024 * 1024, timeout=limit)
    await sandbox.start()
    results: list[AnalysisResult | None] = [None] * len(documents)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="attache-eval-") as tmp:

        async def one(index: int, document: LabelledDocument) -> None:
            path = Path(tmp) / str(index)
            path.write_bytes(document.data)
            job = AnalysisJob(
                path=str(path),
                mime_type=sniffing.sniff(document.data[: sniffing.SNIFF_BYTES]),
                filename=document.name,
                thumbnails=False,
            )
            try:
                results[index] = await sandbox.run(job)
            except SandboxError:
                results[index] = None

        await asyncio.gather(*(one(i, d) for i, d in enumerate(documents)))
    elapsed = time.monotonic() - started
    await sandbox.close()
    return results, elapsed


def score(
    documents: list[LabelledDocument], results: list[AnalysisResult | None]
) -> dict[str, Any]:
    type_hits = 0
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fields: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_format: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    calibration: list[tuple[float, bool]] = []
    misses: list[dict[str, Any]] = []
    for document, result in zip(documents, results, strict=True):
        expected_type = document.labels["documentType"]
        local = result.local if result is not None else None
        found_type = local.document_type if local else "(failed)"
        hit = found_type == expected_type
        type_hits += hit
        by_type[expected_type][0] += hit
        by_type[expected_type][1] += 1
        fmt = document.labels.get("format") or document.name.rsplit(".", 1)[-1]
        by_format[fmt][0] += hit
        by_format[fmt][1] += 1
        confusion[expected_type][found_type] += 1
        if local:
            calibration.append((local.confidence, hit))
        found = (local.extracted_metadata or {}) if local else {}
        for name, expected in (document.labels.get("fields") or {}).items():
            if expected is None and name not in ("dueDate",):
                continue
            key = f"{expected_type}.{name}"
            ok = hit and field_correct(name, expected, found.get(name))
            fields[key][0] += ok
            fields[key][1] += 1
            if not ok and len(misses) < 400:
                misses.append(
                    {
                        "doc": document.name,
                        "field": key,
                        "expected": expected,
                        "found": found.get(name) if hit else f"(type {found_type})",
                    }
                )
    ece = _expected_calibration_error(calibration)
    return {
        "documents": len(documents),
        "document_type_accuracy": round(type_hits / max(1, len(documents)), 3),
        "document_type_accuracy_by_type": {
            k: round(v[0] / v[1], 3) for k, v in sorted(by_type.items())
        },
        "document_type_accuracy_by_format": {
            k: round(v[0] / v[1], 3) for k, v in sorted(by_format.items())
        },
        "field_accuracy": {k: round(v[0] / v[1], 3) for k, v in sorted(fields.items())},
        "field_counts": {k: v[1] for k, v in sorted(fields.items())},
        "confidence_calibration_error": ece,
        "confusion": {k: dict(v) for k, v in confusion.items()},
        "misses": misses,
    }


def _expected_calibration_error(pairs: list[tuple[float, bool]], bins: int = 10) -> float | None:
    """Mean |confidence − accuracy| over confidence bins, weighted by bin size."""
    if not pairs:
        return None
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [(c, h) for c, h in pairs if low <= c < high or (b == bins - 1 and c == 1.0)]
        if members:
            confidence = sum(c for c, _ in members) / len(members)
            accuracy = sum(h for _, h in members) / len(members)
            total += len(members) * abs(confidence - accuracy)
    return round(total / len(pairs), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.enrichment.evaluate")
    parser.add_argument("--dir", type=Path, help="a directory with labels.jsonl and the files")
    parser.add_argument(
        "--set",
        choices=("generated", "vendor-styles"),
        default="generated",
        help="generated: manifest.json; vendor-styles: hand-written real-world layouts",
    )
    parser.add_argument("--write", type=Path, help="write the generated set here and stop")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--misses", action="store_true", help="list every wrong field")
    args = parser.parse_args(argv)
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        with (args.write / "labels.jsonl").open("w") as labels:
            for document in generated_set():
                (args.write / document.name).write_bytes(document.data)
                labels.write(json.dumps({"file": document.name, **document.labels}) + "\n")
        return 0
    if args.dir:
        documents = directory_set(args.dir)
    elif args.set == "vendor-styles":
        documents = vendor_style_set()
    else:
        documents = generated_set()
    results, elapsed = asyncio.run(analyse_all(documents, args.processes))
    report = score(documents, results)
    report["seconds"] = round(elapsed, 1)
    if not args.misses:
        report.pop("misses")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
