"""Reviewed fields' digits as labelled images, for fine-tuning the recognizer on the writing it got wrong.

A field is exported only when its segmentation matches the reviewer's value: as many digit characters as the keyed
value has digits, so each cut is paired with its true digit. The images are the raw grey pixels of each character's
box, cut from the original scan (found again by its content hash) or, when the scan is gone, from the review crop;
normalisation happens when they are loaded for training, through the same function as every other digit.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.review.db import connect, prepare_store
from pipeline.review.images import crop_file, crop_origin, load_page
from pipeline.review.scans import ScanLocator
from pipeline.segment.pages import ScanError

LABELS = "labels.csv"
COLUMNS = ["file", "label", "field", "document", "page", "reviewer", "decided_at", "machine", "confidence"]
OURS = re.compile(r"^[0-9a-f]{16}-p\d+-f\d+-\d{2}\.png$")


@dataclass
class ExportSummary:
    reviewed_fields: int = 0  # settled with a value by a reviewer
    exported_fields: int = 0
    digits: int = 0  # images written
    corrected_digits: int = 0  # of those, digits the machine had read as another digit
    mismatched: int = 0  # segmentation did not match the keyed digits: left out
    no_image: int = 0  # neither the scan nor the review crop covers the characters: left out
    from_scans: int = 0  # fields cut from the original scan
    from_crops: int = 0  # fields cut from the review crop
    to: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _source(db, out_dir: Path, locator: ScanLocator, row, pages: dict) -> tuple[np.ndarray, tuple[int, int], str]:
    """The grey image the characters are cut from, its origin in page pixels, and which it is."""
    key = (row["document_id"], row["page"])
    if key not in pages:
        path = locator.find(db, row["document_id"])
        try:
            pages[key] = load_page(path, row["page"]).image if path else None
        except ScanError:
            pages[key] = None
    if pages[key] is not None:
        return pages[key], (0, 0), "scan"
    crop = crop_file(out_dir, row["crop"])
    image = cv2.imread(str(crop), cv2.IMREAD_GRAYSCALE) if crop else None
    if image is None:
        return np.zeros((0, 0), np.uint8), (0, 0), "none"
    return image, crop_origin(json.loads(row["bbox"]) if row["bbox"] else None), "crop"


def _cut(image: np.ndarray, origin: tuple[int, int], bbox: list[int]) -> np.ndarray | None:
    """The character's box from the image, or None when the box is not wholly inside it."""
    x0, y0, x1, y1 = bbox[0] - origin[0], bbox[1] - origin[1], bbox[2] - origin[0], bbox[3] - origin[1]
    h, w = image.shape[:2]
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h or x1 <= x0 or y1 <= y0:
        return None
    return image[y0:y1, x0:x1]


def export_corrections(out_dir: Path, to_dir: Path, scans: list[Path] | None = None) -> ExportSummary:
    """Write ``to_dir/*.png`` and ``to_dir/labels.csv`` for every reviewed field whose segmentation matches."""
    db = connect(prepare_store(out_dir))
    locator = ScanLocator(scans or [])
    summary = ExportSummary(to=str(to_dir))
    to_dir.mkdir(parents=True, exist_ok=True)
    rows_out: list[dict] = []
    images: dict[str, np.ndarray] = {}
    pages: dict = {}
    try:
        fields = db.execute(
            "SELECT f.id, f.document_id, f.position, f.digits, f.bbox, f.crop, d.sha256, d.page, d.document,"
            " c.reviewer, c.decided_at FROM fields f JOIN documents d ON d.id = f.document_id"
            " JOIN corrections c ON c.id = (SELECT MAX(id) FROM corrections WHERE sha256 = d.sha256"
            " AND page = d.page AND position = f.position AND name = f.name)"
            " WHERE f.status = 'corrected' AND f.review_state = 'done' AND c.action = 'correct' ORDER BY f.id"
        ).fetchall()
        for row in fields:
            summary.reviewed_fields += 1
            characters = [
                c for c in db.execute("SELECT * FROM characters WHERE field_id = ? ORDER BY position", (row["id"],))
                if len(c["char"]) == 1 and c["char"] in "0123456789"
            ]  # fmt: skip
            digits = row["digits"] or ""
            if not characters or len(characters) != len(digits):
                summary.mismatched += 1
                continue
            image, origin, source = _source(db, out_dir, locator, row, pages)
            cuts = []
            for c in characters:
                box = json.loads(c["bbox"]) if c["bbox"] else None
                cuts.append(_cut(image, origin, box) if box and image.size else None)
            if any(cut is None for cut in cuts):
                summary.no_image += 1
                continue
            summary.exported_fields += 1
            summary.from_scans += source == "scan"
            summary.from_crops += source == "crop"
            for i, (c, cut, label) in enumerate(zip(characters, cuts, digits, strict=True)):
                name = f"{row['sha256'][:16]}-p{row['page']}-f{row['position']}-{i:02d}.png"
                images[name] = cut
                summary.corrected_digits += c["char"] != label
                rows_out.append({
                    "file": name, "label": label, "field": row["id"], "document": row["document"],
                    "page": row["page"], "reviewer": row["reviewer"], "decided_at": row["decided_at"],
                    "machine": c["char"], "confidence": "" if c["confidence"] is None else f"{c['confidence']:.4f}",
                })  # fmt: skip
    finally:
        db.close()
    for name, cut in images.items():
        cv2.imwrite(str(to_dir / name), np.ascontiguousarray(cut))
    summary.digits = len(images)
    _write_labels(to_dir / LABELS, rows_out)
    for stale in to_dir.iterdir():  # images of an earlier export whose field is no longer exported
        if OURS.match(stale.name) and stale.name not in images:
            stale.unlink()
    return summary


def _write_labels(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
