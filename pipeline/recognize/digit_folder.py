"""Classify a folder of single-digit images: the recognizer's own batch job.

Unreadable files become error rows with a message; the rest of the folder is still read. Results are written to a
temporary file and renamed, so a killed run never leaves a half-written result file.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import cv2
import numpy as np

from pipeline.recognize.classifier import DigitClassifier

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm"}


def read_labels(folder: Path) -> dict[str, int]:
    """``labels.csv`` (columns ``file,label``) if present, else an empty mapping."""
    path = folder / "labels.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        return {row["file"]: int(row["label"]) for row in csv.DictReader(handle)}


def classify_folder(
    folder: Path,
    out_dir: Path,
    weights: Path | None = None,
    target_error: float | None = None,
    device: str = "auto",
) -> dict:
    """Classify every image in ``folder``; write ``out_dir/digits.jsonl`` and return a summary."""
    classifier = DigitClassifier(weights, device=device, target_error=target_error)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    labels = read_labels(folder)
    rows: list[dict] = []
    images: list[np.ndarray] = []
    readable: list[int] = []
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None or image.size == 0:
            rows.append({"file": path.name, "status": "error", "error": "not a readable image"})
            continue
        rows.append({"file": path.name, "status": "ok", "error": None})
        images.append(image)
        readable.append(len(rows) - 1)
    predictions = classifier.classify(images) if images else None
    for i, row_index in enumerate(readable):
        assert predictions is not None
        rows[row_index].update(
            {
                "label": int(predictions.labels[i]),
                "confidence": round(float(predictions.scores[i]), 6),
                "accepted": bool(predictions.accepted[i]),
                "alternatives": [
                    {"label": int(d), "probability": round(float(p), 6)}
                    for d, p in zip(predictions.top3[i], predictions.top3_probabilities[i], strict=True)
                ],
            }
        )
    for row in rows:
        if row["file"] in labels:
            row["truth"] = labels[row["file"]]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "digits.jsonl"
    tmp = target.with_suffix(".jsonl.tmp")
    with open(tmp, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    os.replace(tmp, target)
    return summarize(rows, classifier.threshold, target)


def summarize(rows: list[dict], threshold: float, results_path: Path) -> dict:
    """Counts, and where truth is known: raw accuracy, and error and reject rates at the threshold."""
    ok = [r for r in rows if r["status"] == "ok"]
    summary = {
        "files": len(rows),
        "errors": len(rows) - len(ok),
        "accepted": sum(r["accepted"] for r in ok),
        "rejected": sum(not r["accepted"] for r in ok),
        "threshold": threshold,
        "results": str(results_path),
    }
    scored = [r for r in ok if "truth" in r]
    if scored:
        n = len(scored)
        summary["labelled"] = n
        summary["raw_accuracy"] = sum(r["label"] == r["truth"] for r in scored) / n
        summary["error_rate"] = sum(r["accepted"] and r["label"] != r["truth"] for r in scored) / n
        summary["reject_rate"] = sum(not r["accepted"] for r in scored) / n
    return summary
