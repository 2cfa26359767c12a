"""results.jsonl and results.csv, derived from the store.

The store is the truth. During a run each committed batch is appended to results.jsonl (flushed and synced), so
what was reported survives a kill; at the start and the end of every run both files are rewritten from the store
through a temporary file and an atomic rename, which also repairs a line cut short by a kill.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from pipeline.flows.store import ResultStore

CSV_COLUMNS = [
    "document", "page", "sha256", "kind", "document_status", "error", "field", "status", "value", "digits", "text",
    "confidence", "reason", "bbox", "review_state", "reviewer", "reviewed_at", "machine_value",
]  # fmt: skip


def _temporary(path: Path) -> Path:
    """A temporary name of this process and thread: a run and the review server may export at the same time."""
    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")


def _atomic_write_lines(path: Path, lines: Iterable[str]) -> None:
    tmp = _temporary(path)
    with open(tmp, "w", newline="") as handle:
        for line in lines:
            handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def append_jsonl(path: Path, documents: list[dict]) -> None:
    """Append one batch's documents (after the store committed them)."""
    with open(path, "a") as handle:
        for doc in documents:
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def export_jsonl(store: ResultStore, path: Path) -> int:
    """Rewrite results.jsonl from the store; returns the number of documents."""
    count = 0

    def lines():
        nonlocal count
        for doc in store.iter_documents():
            count += 1
            yield json.dumps(doc, ensure_ascii=False) + "\n"

    _atomic_write_lines(path, lines())
    return count


def csv_rows(doc: dict) -> list[dict]:
    """One row per field; a document with no field (an error) still gets one row."""
    base = {
        "document": doc["document"], "page": doc["page"], "sha256": doc["sha256"], "kind": doc["kind"],
        "document_status": doc["status"], "error": doc["error"] or "",
    }  # fmt: skip
    if not doc["fields"]:
        return [{**base, **{k: "" for k in CSV_COLUMNS if k not in base}}]
    return [
        {
            **base,
            "field": f["name"],
            "status": f["status"],
            "value": f["value"] or "",
            "digits": f["digits"] or "",
            "text": f["text"] or "",
            "confidence": "" if f["confidence"] is None else f"{f['confidence']:.6f}",
            "reason": f["reason"] or "",
            "bbox": "" if f["bbox"] is None else " ".join(str(int(v)) for v in f["bbox"]),
            **_review_columns(f.get("review")),
        }
        for f in doc["fields"]
    ]


def _review_columns(review: dict | None) -> dict:
    """A reviewer's decision in CSV columns: state, who, when, and what the machine had read."""
    if not review:
        return {"review_state": "", "reviewer": "", "reviewed_at": "", "machine_value": ""}
    machine = review["machine"]
    return {
        "review_state": review["state"],
        "reviewer": review["reviewer"],
        "reviewed_at": review["at"],
        "machine_value": machine["value"] or machine["digits"] or "",
    }


def export_csv(store: ResultStore, path: Path) -> None:
    tmp = _temporary(path)
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for doc in store.iter_documents():
            writer.writerows(csv_rows(doc))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def export_all(store: ResultStore, out_dir: Path) -> int:
    count = export_jsonl(store, out_dir / "results.jsonl")
    export_csv(store, out_dir / "results.csv")
    return count
