"""The one digit normalisation shared by training and inference.

Every digit the network sees, whether a 28x28 MNIST digit, a 16x16 USPS digit or a crop cut from a scan, goes
through :func:`normalize_digit`, so that digits cut from documents look like the digits the network learned from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import cv2
import numpy as np
from skimage.morphology import skeletonize

from pipeline.segment.components import components_with_stats

InkPolarity = Literal["auto", "light", "dark"]


@dataclass(frozen=True)
class NormalizationConfig:
    """How a digit is laid into the network's input; stored with the weights so inference matches training."""

    size: int = 32  # the network's input side
    box: int = 20  # longest side of the ink box after scaling (MNIST's 20 px box, inside LeNet-5's 32x32)
    deslant: bool = False  # shear so the principal axis is vertical (moment deslant)
    ink_threshold: float = 0.2  # ink level (0..1) that counts for the bounding box
    min_stroke: float = 2.0  # thicken strokes thinner than this (px, after scaling); 0 turns it off
    edge_fragment_share: float = 0.35  # drop ink pieces touching the left/right edge smaller than this share

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NormalizationConfig:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def to_ink(image: np.ndarray, polarity: InkPolarity = "auto") -> np.ndarray:
    """Return float32 ink intensity in [0, 1] (1 = full ink, 0 = paper), whatever the input's scale and polarity.

    Scans carry grey paper and security backgrounds, so dark-ink images are stretched between a paper level and an
    ink level estimated with Otsu's threshold; background texture lighter than the threshold becomes 0.
    """
    if image.ndim == 3:
        image = cv2.cvtColor(
            np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        )
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a 2-D digit image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return _bytes_to_ink(image, polarity)
    img = image.astype(np.float32)
    lo, hi = float(img.min()), float(img.max())
    if hi - lo < 1e-6:
        return np.zeros(img.shape, np.float32)
    img = (img - lo) / (hi - lo)
    if polarity == "auto":
        polarity = "light" if _border_level(img) < 0.5 else "dark"
    if polarity == "light":
        # Already ink-bright on a dark background (MNIST, USPS): keep grey levels.
        return img
    ink = 1.0 - img
    u8 = np.round(ink * 255).astype(np.uint8)
    threshold, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = threshold / 255.0
    paper = ink[ink <= t]
    strokes = ink[ink > t]
    if strokes.size == 0:
        return np.zeros(img.shape, np.float32)
    paper_level = float(np.median(paper)) if paper.size else 0.0
    floor = max(paper_level, t * 0.85)
    top = float(np.percentile(strokes, 90))
    if top - floor < 1e-3:
        return (ink > t).astype(np.float32)
    return np.clip((ink - floor) / (top - floor), 0.0, 1.0).astype(np.float32)


_BYTE_LEVELS = np.arange(256, dtype=np.float32)


def _bytes_to_ink(image: np.ndarray, polarity: InkPolarity) -> np.ndarray:
    """:func:`to_ink` of a uint8 image (every digit cut from a scan), computed once per grey level, not per pixel.

    Every step above is a function of the pixel's byte, so each is worked out on the 256 levels (the same float32
    operations) and looked up; the median and percentile are the same order statistics, taken from the histogram
    (np.median and np.percentile cost ~80 us a digit in argument handling alone). Same values to the bit
    (tests/test_normalize.py), about three times faster on scan digits.
    """
    image = np.ascontiguousarray(image)
    counts = np.bincount(image.ravel(), minlength=256)
    present = np.flatnonzero(counts)
    lo, hi = float(present[0]), float(present[-1])
    if hi - lo < 1e-6:
        return np.zeros(image.shape, np.float32)
    img = (_BYTE_LEVELS - lo) / (hi - lo)
    if polarity == "auto":
        polarity = "light" if _level_of(img[_border(image)]) < 0.5 else "dark"
    if polarity == "light":
        return cv2.LUT(image, img)
    ink = 1.0 - img
    u8 = cv2.LUT(image, np.round(ink * 255).astype(np.uint8))  # a table lookup, as img[image] but ~5x faster
    threshold, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    t = threshold / 255.0
    is_stroke = ink > t
    paper = np.where(ink <= t, counts, 0)
    strokes = np.where(is_stroke, counts, 0)
    if not strokes.any():
        return np.zeros(image.shape, np.float32)
    paper_level = level_median(ink, paper) if paper.any() else 0.0
    floor = max(paper_level, t * 0.85)
    top = level_percentile(ink, strokes, 90)
    if top - floor < 1e-3:
        return cv2.LUT(image, is_stroke.astype(np.float32))
    scaled = (ink - floor) / (top - floor)
    return cv2.LUT(image, np.minimum(np.maximum(scaled, 0.0, out=scaled), 1.0, out=scaled))


def _order_statistics(values: np.ndarray, counts: np.ndarray, ranks: list[int]) -> np.ndarray:
    """The ``ranks``-th smallest (0-based) of ``values`` each repeated ``counts`` times."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(counts[order])
    return values[order[np.searchsorted(cumulative, ranks, side="right")]]


def level_median(values: np.ndarray, counts: np.ndarray) -> float:
    """``float(np.median(np.repeat(values, counts)))`` for float32 ``values`` (at least one count)."""
    n = int(counts.sum())
    if n % 2:
        return float(_order_statistics(values, counts, [n // 2])[0])
    a, b = _order_statistics(values, counts, [n // 2 - 1, n // 2])
    return float((a + b) / 2)  # in float32, as np.median's mean of the two middle values


def level_percentile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """``float(np.percentile(np.repeat(values, counts), q))`` (linear method) for float32 ``values``."""
    n = int(counts.sum())
    virtual = (n - 1) * (q / 100)  # numpy's virtual index for the linear method
    below = min(int(np.floor(virtual)), n - 1)
    a, b = _order_statistics(values, counts, [below, min(below + 1, n - 1)])
    gamma = virtual - below
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)  # numpy's _lerp, in float32


def _border_level(img: np.ndarray) -> float:
    """Whether the border is mostly bright (1.0) or mostly dark (0.0): its median's side of 0.5, without sorting."""
    return _level_of(_border(img))


def _border(img: np.ndarray) -> np.ndarray:
    return np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])


def _level_of(border: np.ndarray) -> float:
    return 1.0 if 2 * np.count_nonzero(border > 0.5) > border.size else 0.0


def drop_edge_fragments(ink: np.ndarray, threshold: float, share: float) -> np.ndarray:
    """Remove pieces of neighbouring characters that a digit box cut into at its left or right edge.

    A connected piece touching the left or right border whose ink is below ``share`` of the largest piece is a
    neighbour's stroke, not part of this digit. Pieces inside the box (a broken stroke) always stay.
    """
    mask = (ink > threshold).astype(np.uint8)
    if not (mask[:, 0].any() or mask[:, -1].any()):
        return ink  # nothing reaches either edge (a segment rendered with its margin): no labelling needed
    count, labels, stats, _ = components_with_stats(mask)
    if count <= 2:
        return ink
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = areas.max()
    left = stats[1:, cv2.CC_STAT_LEFT]
    at_edge = (left == 0) | (left + stats[1:, cv2.CC_STAT_WIDTH] == ink.shape[1])
    dropped = at_edge & (areas < share * largest)
    if not dropped.any():
        return ink
    keep = np.concatenate(([True], ~dropped))
    # grey pixels below the threshold near a dropped piece go too: blank everything not near a kept piece
    kept = keep[labels] & (labels > 0)
    near = cv2.dilate(kept.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(near, ink, 0.0).astype(np.float32)


def deslant(ink: np.ndarray) -> np.ndarray:
    """Shear the digit so its principal axis is vertical (second-order moments), as USPS digits were."""
    m = cv2.moments(ink)
    if abs(m["mu02"]) < 1e-2:
        return ink
    skew = m["mu11"] / m["mu02"]
    h, _w = ink.shape
    pad = int(np.ceil(abs(skew) * h / 2)) + 1
    padded = cv2.copyMakeBorder(ink, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=0)
    cy = m["m01"] / m["m00"]
    matrix = np.float32([[1, skew, -skew * cy], [0, 1, 0]])
    return cv2.warpAffine(
        padded, matrix, (padded.shape[1], h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0
    )


def normalize_digit(
    image: np.ndarray, config: NormalizationConfig | None = None, polarity: InkPolarity = "auto"
) -> np.ndarray:
    """Turn one digit image into the network input: a float32 ``size x size`` array, ink in [0, 1].

    Steps: ink intensity, optional deslant, crop to the ink bounding box, scale the longest side to ``box`` with
    the aspect ratio kept, place it so the centre of mass sits at the centre of the canvas, and thicken strokes
    thinner than ``min_stroke``. A blank image
    gives a blank canvas (the caller decides what an empty cell means).
    """
    cfg = config or NormalizationConfig()
    ink = to_ink(image, polarity)
    if cfg.edge_fragment_share > 0:
        ink = drop_edge_fragments(ink, cfg.ink_threshold, cfg.edge_fragment_share)
    if cfg.deslant:
        ink = deslant(ink)
    canvas = np.zeros((cfg.size, cfg.size), np.float32)
    left, top, w, h = cv2.boundingRect((ink > cfg.ink_threshold).view(np.uint8))  # the ink's box; w = 0: none
    if w == 0:
        return canvas
    crop = ink[top : top + h, left : left + w]
    scale = cfg.box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    scaled = np.minimum(np.maximum(scaled, 0.0, out=scaled), 1.0, out=scaled)  # np.clip, without its overhead
    m = cv2.moments(scaled)
    if m["m00"] > 1e-6:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    else:
        cx, cy = new_w / 2, new_h / 2
    half = cfg.size / 2
    x0 = round(half - cx)
    y0 = round(half - cy)
    x0 = min(max(x0, 0), cfg.size - new_w)
    y0 = min(max(y0, 0), cfg.size - new_h)
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = scaled
    if cfg.min_stroke > 0 and stroke_width(canvas, cfg.ink_threshold) < cfg.min_stroke:
        canvas = cv2.dilate(canvas, np.ones((2, 2), np.uint8))
    return canvas


def stroke_width(ink: np.ndarray, threshold: float = 0.2) -> float:
    """Mean stroke width in pixels: ink mass over skeleton length.

    Amount crops cut from 200-300 dpi scans shrink to strokes of ~1.6 px at the 20 px box, where MNIST digits have
    ~2.6 px; thickening thin strokes keeps scan digits looking like the training digits.
    """
    length = int(skeletonize(ink > threshold).sum())
    return float(ink.sum()) / length if length else 0.0


def normalize_batch(
    images: list[np.ndarray] | np.ndarray,
    config: NormalizationConfig | None = None,
    polarity: InkPolarity = "auto",
) -> np.ndarray:
    """Normalise many digits into an ``(N, size, size)`` float32 array."""
    cfg = config or NormalizationConfig()
    out = np.zeros((len(images), cfg.size, cfg.size), np.float32)
    for i, image in enumerate(images):
        out[i] = normalize_digit(image, cfg, polarity)
    return out
