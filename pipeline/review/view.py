"""A field as the review page shows it: where it came from, the crop's geometry, and each character's doubts."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.review.decisions import previous_entry
from pipeline.review.images import crop_file, crop_origin, image_size
from pipeline.review.keyed import HINTS

REASON_TEXT = {
    "low_confidence": "the network was unsure of a digit",
    "segmentation_ambiguous": "the digits could be cut apart in more than one way",
    "bad_syntax": "what was read is not a valid value",
    "not_found": "the field was not found on the page",
}


@dataclass
class CharacterView:
    char: str
    confidence: float | None
    doubtful: bool  # a digit below the acceptance threshold
    alternatives: list[tuple[str, int]]  # (digit, percent)
    box: tuple[float, float, float, float] | None  # left, top, width, height in % of the crop, for the overlay


@dataclass
class FieldView:
    id: int
    document_id: int
    document: str
    page: int
    kind: str
    name: str
    reason: str | None
    reason_text: str
    confidence: float | None
    batch_id: int | None
    batch_started: str | None
    processed_at: str
    guess: str  # pre-filled in the input
    machine_text: str
    hint: str
    has_crop: bool
    crop_size: tuple[int, int] | None
    characters: list[CharacterView] = field(default_factory=list)


def load_field(db: sqlite3.Connection, out_dir: Path, field_id: int) -> FieldView | None:
    row = db.execute(
        "SELECT f.*, d.document, d.page, d.kind, d.batch_id, d.processed_at, b.threshold, b.started_at"
        " FROM fields f JOIN documents d ON d.id = f.document_id LEFT JOIN batches b ON b.id = d.batch_id"
        " WHERE f.id = ?",
        (field_id,),
    ).fetchone()
    if row is None:
        return None
    crop = crop_file(out_dir, row["crop"])
    size = image_size(crop) if crop else None
    bbox = json.loads(row["bbox"]) if row["bbox"] else None
    threshold = row["threshold"] if row["threshold"] is not None else 0.5
    characters = [
        _character(c, threshold, crop_origin(bbox), size)
        for c in db.execute("SELECT * FROM characters WHERE field_id = ? ORDER BY position", (field_id,))
    ]
    machine = row["text"] or row["value"] or row["digits"] or ""
    # a reading whose syntax is bad but whose value could be mended (a ZIP among stray marks, '9.4843-0865'; an
    # amount whose separators break the grouping, '4.627.95') kept the value it most likely meant: offer that, and
    # the page still says what the machine read
    repaired = row["reason"] == "bad_syntax" and row["value"]
    offered = row["value"] if repaired else machine
    return FieldView(
        id=row["id"], document_id=row["document_id"], document=row["document"], page=row["page"], kind=row["kind"],
        name=row["name"], reason=row["reason"], reason_text=REASON_TEXT.get(row["reason"] or "", ""),
        confidence=row["confidence"], batch_id=row["batch_id"], batch_started=row["started_at"],
        processed_at=row["processed_at"], guess=previous_entry(db, field_id) or offered, machine_text=machine,
        hint=HINTS.get(row["name"], ""), has_crop=crop is not None, crop_size=size, characters=characters,
    )  # fmt: skip


def _character(
    row: sqlite3.Row, threshold: float, origin: tuple[int, int], size: tuple[int, int] | None
) -> CharacterView:
    alternatives = [(a["char"], round(100 * a["probability"])) for a in json.loads(row["alternatives"] or "[]")]
    is_digit = row["char"].isdigit()
    confidence = row["confidence"]
    box = None
    bbox = json.loads(row["bbox"]) if row["bbox"] else None
    if bbox and size:
        w, h = size
        x0, y0 = max(0, bbox[0] - origin[0]), max(0, bbox[1] - origin[1])
        x1, y1 = min(w, bbox[2] - origin[0]), min(h, bbox[3] - origin[1])
        if x1 > x0 and y1 > y0:
            box = (100 * x0 / w, 100 * y0 / h, 100 * (x1 - x0) / w, 100 * (y1 - y0) / h)
    return CharacterView(
        row["char"],
        confidence,
        is_digit and confidence is not None and confidence < threshold,
        [a for a in alternatives if a[1] >= 1] if is_digit else [],
        box,
    )
