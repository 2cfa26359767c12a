"""USPS zip-code digits in the Hastie et al. text format: ``label v1 .. v256`` per line, values in [-1, 1]."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from pipeline.data.errors import DataError

FILES = {"train": "zip.train", "test": "zip.test"}


def read_usps_text(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse one USPS file into ``(images N x 16 x 16 uint8 ink-bright, labels N int64)``."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:
            lines = [line for line in handle if line.strip()]
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if not lines:
        raise DataError(f"{path}: no digits in file")
    images = np.empty((len(lines), 256), np.float32)
    labels = np.empty(len(lines), np.int64)
    for i, line in enumerate(lines):
        fields = line.split()
        if len(fields) != 257:
            raise DataError(f"{path}:{i + 1}: expected 257 values (label + 256 pixels), got {len(fields)}")
        try:
            values = np.array(fields, np.float32)
        except ValueError:
            raise DataError(f"{path}:{i + 1}: non-numeric value") from None
        label = values[0]
        if label != int(label) or not 0 <= label <= 9:
            raise DataError(f"{path}:{i + 1}: label {fields[0]} is not a digit")
        labels[i] = int(label)
        images[i] = values[1:]
    if images.min() < -1.0001 or images.max() > 1.0001:
        raise DataError(f"{path}: pixel values outside [-1, 1]")
    pixels = np.round((images.reshape(-1, 16, 16) + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    return pixels, labels


def load_usps(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return USPS ``split`` ("train" or "test") from ``directory`` (``zip.train.gz`` or ``zip.train``)."""
    if split not in FILES:
        raise ValueError(f"unknown USPS split {split!r}")
    stem = FILES[split]
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return read_usps_text(directory / name)
    raise DataError(f"{directory}: missing {stem}.gz (or {stem})")
