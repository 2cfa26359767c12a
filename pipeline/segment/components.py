"""Connected ink pieces of a field, in reading order, with the field's writing scale.

The scale (digit height, baseline, stroke width) is what separators, raised cents and noise are judged against:
a full stop is small *relative to the digits around it*, whatever the scan resolution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


# OpenCV before 4.13 does not check 16-bit labels for overflow: it crashes or miscounts instead of raising
_CV_CHECKS_LABEL_OVERFLOW = _version(cv2.__version__) >= (4, 13)


def _sixteen_bits_always_fit(shape: tuple[int, ...]) -> bool:
    """Whether no labelling of an image this size can need 65,535 labels: a pixel opens a new (provisional)
    label only when none of its already-scanned 8-neighbours is ink, so at most one pixel per 2x2 block does."""
    return ((shape[0] + 1) // 2) * ((shape[1] + 1) // 2) + 1 < 65_535


def components_with_stats(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats`` (8-connected) with 16-bit labels where they fit: the same count,
    labels and stats, 2-3 times faster on a page (the stats pass is the cost, and it scales with the label size).

    When the labelling runs out of 16-bit labels (a page of speckle; OpenCV counts provisional labels, so even a
    comb of many teeth can), OpenCV >= 4.13 raises and the mask is labelled again with 32-bit labels; older
    OpenCV gets 16-bit labels only where they cannot run out."""
    mask = mask.astype(np.uint8, copy=False)
    if mask.ndim == 2 and (_CV_CHECKS_LABEL_OVERFLOW or _sixteen_bits_always_fit(mask.shape)):
        try:
            return cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_16U)
        except cv2.error:
            pass  # out of 16-bit labels (anything else raises again below)
    return cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)


@dataclass
class Piece:
    """One ink piece: its pixel mask inside its own bounding box, and the box in field coordinates."""

    x: int
    y: int
    w: int
    h: int
    mask: np.ndarray  # (h, w) bool
    cut_cost: float = 0.0  # cost of a character boundary on this piece's left edge (>0 when cut from a piece)
    fragment: bool = False  # cut out of a larger connected piece (so it cannot be a separator on its own)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    @property
    def x1(self) -> int:
        return self.x + self.w

    @property
    def y1(self) -> int:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass(frozen=True)
class Scale:
    """The writing scale of a field: typical digit height, the band digits sit in, and the stroke width."""

    digit_height: float
    top: float  # typical top of the digits (y)
    baseline: float  # typical bottom of the digits (y)
    stroke: float
    digit_width: float = 0.0  # typical width of one (non-'1') digit in this field; 0 = unknown

    @property
    def width(self) -> float:
        """Typical digit width, falling back to 0.7 digit heights."""
        return self.digit_width if self.digit_width > 0 else 0.7 * self.digit_height

    @property
    def middle(self) -> float:
        return (self.top + self.baseline) / 2


def extent(pieces: list[Piece]) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` around a group of pieces."""
    return (min(p.x for p in pieces), min(p.y for p in pieces), max(p.x1 for p in pieces), max(p.y1 for p in pieces))


def union_mask(pieces: list[Piece]) -> np.ndarray:
    """The pieces' ink in one mask over their common box (see :func:`extent`)."""
    x0, y0, x1, y1 = extent(pieces)
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for p in pieces:
        mask[p.y - y0 : p.y1 - y0, p.x - x0 : p.x1 - x0] |= p.mask
    return mask


def find_pieces(ink: np.ndarray) -> list[Piece]:
    """8-connected pieces of the ink mask, sorted left to right by their centre."""
    count, labels, stats, _ = components_with_stats(ink)
    pieces = []
    for i in range(1, count):
        x, y, w, h = (int(v) for v in stats[i, :4])
        mask = labels[y : y + h, x : x + w] == i
        pieces.append(Piece(x, y, w, h, mask))
    pieces.sort(key=lambda p: (p.cx, p.y))
    return pieces


def estimate_scale(pieces: list[Piece], stroke: float) -> Scale:
    """Digit height from the larger pieces (separators and specks would drag a plain median down)."""
    if not pieces:
        return Scale(1.0, 0.0, 1.0, max(stroke, 1.0))
    heights = np.array([p.h for p in pieces], float)
    areas = np.array([p.area for p in pieces], float)
    big = heights >= 0.5 * heights.max()
    weights = areas[big]
    order = np.argsort(heights[big])
    cum = np.cumsum(weights[order])
    median_h = float(heights[big][order][np.searchsorted(cum, cum[-1] / 2)])
    # the band: pieces of about digit height
    band = [p for p in pieces if 0.6 * median_h <= p.h <= 1.6 * median_h] or pieces
    top = float(np.median([p.y for p in band]))
    baseline = float(np.median([p.y1 for p in band]))
    # single digits among the band pieces: not a narrow '1', not two touching digits
    widths = [p.w for p in band if 0.35 * median_h <= p.w <= 1.1 * median_h and p.h >= 0.6 * median_h]
    width = float(np.median(widths)) if len(widths) >= 2 else 0.0
    return Scale(max(median_h, 1.0), top, baseline, max(stroke, 1.0), width)
