"""The normalised digit sets LeNet-5 is trained, calibrated and evaluated on.

All three sources (MNIST, USPS, real ORAND cheque digits) pass through the shared normalisation here, once, into
``(N, 32, 32)`` float arrays; distortions are applied later, per batch.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.data.errors import DataError
from pipeline.data.mnist import load_mnist
from pipeline.data.orand import load_orand_digits
from pipeline.data.usps import load_usps
from pipeline.segment.normalize import NormalizationConfig, normalize_batch

SOURCES = ("mnist", "usps", "orand", "corrections")  # corrections: reviewers' digits (pipeline export-corrections)


@dataclass
class DigitSet:
    """Normalised digits with labels and the source each came from (index into :data:`SOURCES`)."""

    images: np.ndarray  # (N, S, S) float32, ink in [0, 1]
    labels: np.ndarray  # (N,) int64
    source: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> DigitSet:
        return DigitSet(self.images[index], self.labels[index], self.source[index])

    @staticmethod
    def empty(size: int) -> DigitSet:
        return DigitSet(np.zeros((0, size, size), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))

    @staticmethod
    def concat(parts: list[DigitSet]) -> DigitSet:
        return DigitSet(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.source for p in parts]),
        )


def _digit_set(images, labels: np.ndarray, source: str, norm: NormalizationConfig, polarity: str) -> DigitSet:
    normalized = normalize_batch(images, norm, polarity)  # type: ignore[arg-type]
    return DigitSet(normalized, labels.astype(np.int64), np.full(len(labels), SOURCES.index(source)))


def load_source(data_dir: Path, source: str, split: str, norm: NormalizationConfig) -> DigitSet:
    """One source's split, normalised. ORAND's held-out split is called ``val``; ``test`` maps to it."""
    if source == "mnist":
        images, labels = load_mnist(data_dir / "mnist", split)
        return _digit_set(images, labels, source, norm, "light")
    if source == "usps":
        images, labels = load_usps(data_dir / "usps", split)
        return _digit_set(images, labels, source, norm, "light")
    if source == "orand":
        crops, labels, _ = load_orand_digits(data_dir / "orand-car-a-dev", "val" if split == "test" else split)
        return _digit_set(crops, labels, source, norm, "dark")
    raise ValueError(f"unknown source {source!r}")


def train_validation_split(
    data_dir: Path,
    norm: NormalizationConfig,
    val_fraction: float,
    seed: int,
    orand_copies: int = 0,
    orand_jitter: float = 0.0,
) -> tuple[DigitSet, DigitSet]:
    """Train splits of all sources, with a seeded share of each held out for validation and calibration.

    ORAND digits are held out by whole amount image, so no writer's field is on both sides. ``orand_copies``
    more copies of each ORAND training digit are cut with boxes jittered by ``orand_jitter`` (see
    :func:`load_orand_digits`); validation keeps the annotated boxes only.
    """
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for source in ("mnist", "usps"):
        part = load_source(data_dir, source, "train", norm)
        order = rng.permutation(len(part))
        n_val = round(val_fraction * len(part))
        val_parts.append(part.subset(order[:n_val]))
        train_parts.append(part.subset(order[n_val:]))
    crops, labels, sources = load_orand_digits(data_dir / "orand-car-a-dev", "train")
    orand = _digit_set(crops, labels, "orand", norm, "dark")
    names = np.array(sorted(set(sources)))
    held = set(rng.choice(names, size=max(1, round(val_fraction * len(names))), replace=False))
    is_val = np.array([s in held for s in sources])
    val_parts.append(orand.subset(np.nonzero(is_val)[0]))
    train_parts.append(orand.subset(np.nonzero(~is_val)[0]))
    if orand_copies > 0 and orand_jitter > 0:
        folder, kept = data_dir / "orand-car-a-dev", set(names) - held
        crops, labels, _ = load_orand_digits(folder, "train", kept, orand_jitter, rng, orand_copies)
        train_parts.append(_digit_set(crops, labels, "orand", norm, "dark"))
    return DigitSet.concat(train_parts), DigitSet.concat(val_parts)


def load_corrections(folder: Path, norm: NormalizationConfig) -> tuple[DigitSet, np.ndarray]:
    """Reviewer-corrected digits written by ``pipeline export-corrections`` (``labels.csv`` + raw grey crops, dark ink
    on paper), normalised like every other digit; also returns each digit's field, to hold out whole fields."""
    labels_path = folder / "labels.csv"
    if not labels_path.is_file():
        raise DataError(f"{labels_path} not found: write it with `pipeline export-corrections OUT --to {folder}`")
    crops, labels, fields = [], [], []
    with open(labels_path, newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            name, label = row.get("file") or "", row.get("label") or ""
            if Path(name).name != name or not name or len(label) != 1 or not label.isdigit():
                raise DataError(f"{labels_path}:{line}: expected a file name in this folder and a digit label")
            image = cv2.imread(str(folder / name), cv2.IMREAD_GRAYSCALE)
            if image is None or image.size == 0:
                raise DataError(f"{folder / name}: missing or not an image")
            crops.append(image)
            labels.append(int(label))
            fields.append(row.get("field") or name)
    if not crops:
        raise DataError(f"{labels_path} lists no digits")
    return _digit_set(crops, np.array(labels), "corrections", norm, "dark"), np.array(fields)


def corrections_split(
    folder: Path, norm: NormalizationConfig, val_fraction: float, seed: int
) -> tuple[DigitSet, DigitSet]:
    """Corrected digits split into train and validation by whole field (none held out with fewer than 2 fields)."""
    digits, fields = load_corrections(folder, norm)
    names = np.array(sorted(set(fields)))
    if len(names) < 2:
        return digits, DigitSet.empty(norm.size)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(names, size=max(1, round(val_fraction * len(names))), replace=False))
    is_val = np.array([f in held for f in fields])
    return digits.subset(np.nonzero(~is_val)[0]), digits.subset(np.nonzero(is_val)[0])
