"""A small, deterministic output folder for the review tests: real scan files on disk, their pages stored through
the real store, review crops written by the flow's own crop writer, characters with exact boxes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.flows.discover import ScanFile
from pipeline.flows.exports import export_all
from pipeline.flows.process import _PageKept, _write_crop
from pipeline.flows.store import ResultStore
from pipeline.hashing import file_sha256

# (file, field name, digits written, digits the "machine" read): the machine errs on purpose in the first two
FIELDS = [
    ("amount_a.png", "amount", "1234", "1734"),
    ("zip_a.png", "zip", "90210", "90216"),
    ("amount_b.png", "amount", "507", "507"),
    ("number_a.png", "number", "3141", "3141"),
    ("zip_b.png", "zip", "12345", "12345"),
]
DIGIT = 28
LEFT, TOP, GAP = 40, 30, 6


@dataclass
class ReviewOut:
    out: Path
    scans: Path
    truth: dict[str, str]  # document -> true digits


def _pick(images: np.ndarray, labels: np.ndarray, digit: str, k: int) -> np.ndarray:
    return images[np.nonzero(labels == int(digit))[0][k]]


def build_review_out(root: Path, images: np.ndarray, labels: np.ndarray) -> ReviewOut:
    """Write the scans, store one rejected field per page (and one accepted page), export like a run does."""
    scans, out = root / "scans", root / "out"
    scans.mkdir(parents=True)
    store = ResultStore(out / "results.db")
    batch = store.start_batch([str(scans.resolve())], "auto", "0" * 64, 0.9, 0.001)
    documents, truth = [], {}
    for k, (name, field, written, read) in enumerate(FIELDS):
        width = LEFT * 2 + len(written) * (DIGIT + GAP)
        page = np.full((TOP * 2 + DIGIT, width), 250, np.uint8)
        characters = []
        for i, (true_digit, read_digit) in enumerate(zip(written, read, strict=True)):
            x = LEFT + i * (DIGIT + GAP)
            page[TOP : TOP + DIGIT, x : x + DIGIT] = 250 - (_pick(images, labels, true_digit, k).astype(int) * 230
                                                             // 255)  # fmt: skip
            wrong = read_digit != true_digit
            characters.append({
                "char": read_digit, "bbox": [x, TOP, x + DIGIT, TOP + DIGIT], "confidence": 0.41 if wrong else 0.97,
                "alternatives": [{"char": true_digit if wrong else "1", "probability": 0.38 if wrong else 0.02}],
            })  # fmt: skip
        path = scans / name
        cv2.imwrite(str(path), page)
        bbox = [LEFT, TOP, LEFT + len(written) * (DIGIT + GAP) - GAP, TOP + DIGIT]
        scan = ScanFile(path, name, path.stat().st_size, file_sha256(path))
        field_result = {
            "name": field, "status": "rejected", "value": read, "digits": read, "text": read,
            "confidence": 0.4, "reason": "low_confidence", "bbox": bbox, "characters": characters,
        }  # fmt: skip
        whole = _PageKept(0, 200.0, page.shape[1], page.shape[0], page, (0, 0))  # the whole page, as kept for a review
        field_result["crop"] = _write_crop(out, whole, field_result, scan, 0)
        documents.append({
            "document": name, "sha256": scan.sha256, "page": 0, "kind": field, "status": "ok", "error": None,
            "fields": [field_result], "width": page.shape[1], "height": page.shape[0], "dpi": 200.0,
        })  # fmt: skip
        truth[name] = written
        time.sleep(0.002)  # distinct processed_at: the queue is oldest first
        store.save_documents(documents[-1:], batch)
    accepted = dict(documents[0], document="accepted.png", sha256="f" * 64)
    accepted["fields"] = [dict(documents[0]["fields"][0], status="accepted", reason=None, crop=None)]
    store.save_documents([accepted], batch)
    store.finish_batch(batch)
    export_all(store, out)
    store.close()
    old = time.time() - 60
    for path in scans.iterdir():
        os.utime(path, (old, old))
    return ReviewOut(out, scans, truth)
