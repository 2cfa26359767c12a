"""The normalised digit sets LeNet-5 is trained, calibrated and evaluated on.

All three sources (MNIST, USPS, real ORAND cheque digits) pass through the shared normalisation here, once, into
``(N, 32, 32)`` float arrays; distortions are applied later, per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.data.mnist import load_mnist
from pipeline.data.orand import load_orand_digits
from pipeline.data.usps import load_usps
from pipeline.segment.normalize import NormalizationConfig, normalize_batch

SOURCES = ("mnist", "usps", "orand")


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
    data_dir: Path, norm: NormalizationConfig, val_fraction: float, seed: int
) -> tuple[DigitSet, DigitSet]:
    """Train splits of all sources, with a seeded share of each held out for validation and calibration.

    ORAND digits are held out by whole amount image, so no writer's field is on both sides.
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
    return DigitSet.concat(train_parts), DigitSet.concat(val_parts)
