"""A whole page seen at a low working resolution, deskewed and light-normalised, for finding fields fast.

Locating a field needs layout, not stroke detail: at 100 dpi a cheque is ~600x300 pixels, so every search over
rules, ink blocks and candidate zones costs a few milliseconds. Boxes found here are mapped back to page pixels
through the same affine matrix, and the field crop is cut from the full-resolution page, deskewed, so the reader
sees the original strokes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.segment.components import components_with_stats
from pipeline.segment.normalize import level_percentile

WORK_DPI = 100.0
INK_LEVEL = 0.62  # darker than this share of the local paper level is ink (pale security print and shading are not)
BoxXYXY = tuple[int, int, int, int]  # x0, y0, x1, y1 (end exclusive)
_LEVELS = np.arange(256, dtype=np.float64)


def box_through(box: BoxXYXY, matrix: np.ndarray) -> BoxXYXY:
    """The axis-aligned box (whole pixels, outward) around ``box``'s corners mapped by the 2x3 affine ``matrix``."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ matrix.T
    nx0, ny0 = np.floor(corners.min(0)).astype(int)
    nx1, ny1 = np.ceil(corners.max(0)).astype(int)
    return int(nx0), int(ny0), int(nx1), int(ny1)


def _rotation(center: tuple[float, float], angle: float) -> np.ndarray:
    return cv2.getRotationMatrix2D(center, angle, 1.0)


def _to3(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def normalise_light(small: np.ndarray, dpi: float) -> np.ndarray:
    """Grey divided by a local paper estimate (max filter then blur): uneven light and tinted paper become ~1.0."""
    k = max(3, int(dpi * 0.25)) | 1
    paper = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    paper = cv2.blur(paper, (k, k)).astype(np.float32)
    return small.astype(np.float32) / np.maximum(paper, 16.0)


def estimate_skew(ink: np.ndarray, limit: float = 4.5, max_points: int = 12_000) -> float:
    """The rotation (degrees, cv2 sense) that makes text rows and rules horizontal: maximal row-profile contrast.

    Ink pixels are sheared, not the image rotated, so every angle is judged without interpolation (a rotated image
    is blurrier than the unrotated one, which biases an image-rotation search towards zero). Coarse to fine.
    """
    ys, xs = np.nonzero(ink)
    if ys.size < 50:
        return 0.0
    if ys.size > max_points:
        pick = np.random.default_rng(0).choice(ys.size, max_points, replace=False)
        ys, xs = ys[pick], xs[pick]
    xs = xs.astype(np.float64) - ink.shape[1] / 2
    ys = ys.astype(np.float64)
    offset = abs(xs).max() * np.tan(np.radians(limit + 1)) + 1

    def sharpness(angle: float) -> float:
        rows = np.rint(ys - xs * np.tan(np.radians(angle)) + offset).astype(np.int64)
        profile = np.bincount(rows).astype(np.float64)
        return float(np.square(np.diff(profile)).sum())

    best = max(np.arange(-limit, limit + 1e-6, 0.25), key=sharpness)
    fine = max(np.arange(best - 0.2, best + 0.21, 0.05), key=sharpness)
    return round(float(fine), 2)


@dataclass
class PageView:
    """The page at WORK_DPI: ``norm`` (paper ~1.0) and ``ink`` after deskew; ``matrix`` maps page px to view px."""

    page: np.ndarray  # the full-resolution grey page, as loaded (upright by then)
    dpi: float
    angle: float  # deskew rotation applied, degrees
    matrix: np.ndarray  # 2x3, page pixels -> view pixels
    norm: np.ndarray
    ink: np.ndarray
    cache: dict = field(default_factory=dict, repr=False)  # masks a locator computed, for the crop step

    @property
    def scale(self) -> float:
        """View pixels per page pixel."""
        return WORK_DPI / self.dpi

    @property
    def shape(self) -> tuple[int, int]:
        return self.ink.shape

    def inch(self, inches: float) -> int:
        """A length in view pixels."""
        return max(1, round(inches * WORK_DPI))

    def to_page(self, box: BoxXYXY) -> BoxXYXY:
        """An upright view box as the axis-aligned page-pixel box around its (possibly skewed) outline."""
        nx0, ny0, nx1, ny1 = box_through(box, cv2.invertAffineTransform(self.matrix))
        h, w = self.page.shape[:2]
        return max(0, nx0), max(0, ny0), min(w, nx1), min(h, ny1)

    def crop_to_page(self, box: BoxXYXY) -> np.ndarray:
        """The 2x3 affine map from pixels of :meth:`crop` of ``box`` to page pixels (the crop is deskewed, so its
        axes are not the page's)."""
        return np.linalg.inv(self._page_to_crop(box))[:2]

    def _page_to_crop(self, box: BoxXYXY) -> np.ndarray:
        """3x3: page pixels -> view pixels, then shifted by the box's corner and scaled back to page resolution."""
        x0, y0, _x1, _y1 = box
        s = 1.0 / self.scale
        return np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s], [0.0, 0.0, 1.0]]) @ _to3(self.matrix)

    def crop(self, box: BoxXYXY) -> np.ndarray:
        """The view box cut from the full-resolution page, deskewed (paper fills anything outside the page)."""
        x0, y0, x1, y1 = box
        s = 1.0 / self.scale
        out_w, out_h = max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))
        to_crop = self._page_to_crop(box)
        if abs(self.angle) < 0.05 and self.matrix[0, 0] > 0 and self.matrix[1, 1] > 0:
            px0, py0 = round(-to_crop[0, 2]), round(-to_crop[1, 2])
            h, w = self.page.shape[:2]
            if px0 >= 0 and py0 >= 0 and px0 + out_w <= w and py0 + out_h <= h:
                return self.page[py0 : py0 + out_h, px0 : px0 + out_w].copy()
        return cv2.warpAffine(
            self.page, to_crop[:2], (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=self.paper_level()
        )

    def paper_level(self) -> int:
        """The page's paper grey (90th percentile of every 8th pixel), worked out once: a page gives several crops."""
        if "paper" not in self.cache:
            sample = self.page[::8, ::8]
            if not sample.size:
                self.cache["paper"] = 255
            elif sample.dtype == np.uint8:  # from the histogram: np.percentile sorts, at ~0.3 ms a page
                counts = np.bincount(sample.ravel(), minlength=256)
                self.cache["paper"] = int(level_percentile(_LEVELS, counts, 90))
            else:
                self.cache["paper"] = int(np.percentile(sample, 90))
        return self.cache["paper"]


def clear_border(ink: np.ndarray, min_share: float = 0.3) -> np.ndarray:
    """Drop ink connected to the image edge that spans much of a side: scanner backing and the cut paper edge."""
    if not (ink[0].any() or ink[-1].any() or ink[:, 0].any() or ink[:, -1].any()):
        return ink  # nothing touches the edge (about half the pages): no labelling needed
    _count, labels, stats, _ = components_with_stats(ink)
    h, w = ink.shape
    x, y, bw, bh = (stats[1:, k] for k in range(4))  # hundreds of pieces on a page: no Python loop over them
    touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    drop = np.concatenate(([False], touches & ((bw >= min_share * w) | (bh >= min_share * h))))
    if not drop.any():
        return ink
    return ink & ~drop[labels]


def downscale(page: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray]:
    """The grey page at WORK_DPI (area average), and the 2x3 matrix from page pixels to its pixels.

    At a whole multiple of WORK_DPI (200, 300 dpi) the last rows and columns short of a whole block are left out,
    so that the factor is exact: OpenCV averages an exact 2x2 block ~25 times faster than it resizes by a fraction
    (0.1 ms against 2.4 ms a page on average over 188 envelope pages, 3.9 ms for a 1701x851 page), and most pages
    have an odd side.
    """
    h, w = page.shape
    factor = max(dpi, 1.0) / WORK_DPI
    k = round(factor)
    if k >= 2 and abs(factor - k) < 1e-6 and min(h, w) >= 8 * k:
        vh, vw = h // k, w // k
        small = cv2.resize(page[: vh * k, : vw * k], (vw, vh), interpolation=cv2.INTER_AREA)
        return small, np.array([[1.0 / k, 0.0, 0.0], [0.0, 1.0 / k, 0.0]])
    scale = WORK_DPI / max(dpi, 1.0)
    vw, vh = max(8, round(w * scale)), max(8, round(h * scale))
    small = cv2.resize(page, (vw, vh), interpolation=cv2.INTER_AREA)
    return small, np.array([[vw / w, 0.0, 0.0], [0.0, vh / h, 0.0]])


def make_view(page: np.ndarray, dpi: float, deskew: bool = True) -> PageView:
    """Downscale, normalise light, threshold, estimate skew and redo the view upright."""
    if page.ndim == 3:
        page = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    if page.dtype == bool:
        page = np.where(page, 255, 0).astype(np.uint8)
    small, base = downscale(page, dpi)
    vh, vw = small.shape
    norm = normalise_light(small, WORK_DPI)
    ink = norm < INK_LEVEL
    angle = 0.0
    if deskew:
        # the scanner's backing along the edges is not text: leave a border out of the skew estimate
        m = max(2, round(0.15 * WORK_DPI))
        inner = np.zeros_like(ink)
        inner[m:-m, m:-m] = ink[m:-m, m:-m]
        angle = estimate_skew(inner)
    if abs(angle) >= 0.05:
        rot = _rotation((vw / 2, vh / 2), angle)
        small = cv2.warpAffine(small, rot, (vw, vh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        norm = normalise_light(small, WORK_DPI)
        ink = norm < INK_LEVEL
        matrix = (_to3(rot) @ _to3(base))[:2]
    else:
        angle = 0.0
        matrix = base
    return PageView(page, float(dpi), angle, matrix, norm, clear_border(ink))
