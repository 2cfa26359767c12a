"""Real cheque digits from ORAND-CAR-A, cut out of the amount crops with their per-digit boxes."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.data.errors import DataError


@dataclass(frozen=True)
class AmountImage:
    """One courtesy-amount crop with its digit string and its split."""

    path: Path
    digits: str
    split: str


def load_amount_labels(directory: Path) -> list[AmountImage]:
    """Read ``labels.csv``: every amount crop with its digit string and fixed split."""
    labels = directory / "labels.csv"
    rows = _read_csv(labels, {"image", "digits", "split"})
    return [AmountImage(directory / "images" / r["image"], r["digits"], r["split"]) for r in rows]


def load_orand_digits(
    directory: Path,
    split: str,
    images: set[str] | None = None,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
    copies: int = 1,
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Return the boxed digits of ``split`` as grey crops (dark ink), labels, and source image names.

    ``images``: only the digits of these amount images. ``jitter`` > 0 moves each side of every box by up to that
    share of the box's width (left, right) or height (top, bottom), drawn from ``rng``: a digit cut from a scan
    by a segmenter is never boxed as tightly as the annotation, and carries pieces of its neighbours and of the
    background, as the boxes of the val split often do. ``copies``: cuts of each digit (each box jittered anew),
    from one reading of each image.
    """
    if split not in ("train", "val"):
        raise ValueError(f"unknown ORAND split {split!r}")
    splits = {r["image"]: r["split"] for r in _read_csv(directory / "labels.csv", {"image", "split"})}
    boxes = _read_csv(directory / "digit_boxes.csv", {"image", "digit", "x", "y", "w", "h"})
    crops: list[np.ndarray] = []
    labels: list[int] = []
    sources: list[str] = []
    cache: dict[str, np.ndarray] = {}
    for row in boxes:
        name = row["image"]
        if splits.get(name) != split or (images is not None and name not in images):
            continue
        if name not in cache:
            image = cv2.imread(str(directory / "images" / name), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise DataError(f"{directory / 'images' / name}: missing or unreadable image")
            cache[name] = image
        image = cache[name]
        try:
            x, y, w, h = (int(float(row[k])) for k in ("x", "y", "w", "h"))
            digit = int(row["digit"])
        except ValueError:
            raise DataError(f"{directory / 'digit_boxes.csv'}: bad row {row}") from None
        for _ in range(copies):
            box = (x, y, w, h) if jitter <= 0 else _jittered(x, y, w, h, jitter, rng or np.random.default_rng())
            bx, by, bw, bh = box
            x0, y0 = max(bx, 0), max(by, 0)
            crop = image[y0 : by + bh, x0 : bx + bw]
            if crop.size == 0 or not 0 <= digit <= 9:
                raise DataError(f"{directory / 'digit_boxes.csv'}: empty box or bad digit in {row}")
            crops.append(crop)
            labels.append(digit)
            sources.append(name)
    if not crops:
        raise DataError(f"{directory}: no boxed digits for split {split!r}")
    return crops, np.array(labels, np.int64), sources


def _jittered(x: int, y: int, w: int, h: int, share: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """The box with each side moved independently, keeping at least half of the box's width and height."""
    dx0, dx1 = np.round(rng.uniform(-share, share, 2) * w).astype(int)
    dy0, dy1 = np.round(rng.uniform(-share, share, 2) * h).astype(int)
    left, right = x + dx0, x + w + dx1
    top, bottom = y + dy0, y + h + dy1
    right, bottom = max(right, left + (w + 1) // 2), max(bottom, top + (h + 1) // 2)
    return int(left), int(top), int(right - left), int(bottom - top)


def _read_csv(path: Path, required: set[str]) -> list[dict[str, str]]:
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = required - set(reader.fieldnames or [])
            if missing:
                raise DataError(f"{path}: missing columns {sorted(missing)}")
            return list(reader)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
