"""Scanning: what a cheque or mail scanner does to a page, applied with known geometry so the truth follows.

Skew (with a margin of scanner background), uneven light, optical blur, sensor noise, an earlier JPEG round trip,
grey or colour output, and bitonal output by adaptive thresholding as cheque image exchange (200 dpi, CCITT G4)
uses. Every geometric change is a 2x3 affine matrix that is applied to the truth boxes too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class ScanSettings:
    """The scan of one page; recorded in the truth as the document's scan style."""

    mode: str  # "color", "gray" or "bitonal"
    skew_deg: float
    margin_in: float  # scanner background around the page (0: cropped to the paper)
    backing: int  # grey level of the scanner background
    light_low: float  # darkest corner of the uneven illumination (1.0: even)
    blur_sigma: float
    noise_sigma: float
    jpeg_history: int  # quality of an earlier JPEG round trip (0: none)
    threshold_c: int  # bitonal: offset of the adaptive threshold
    dropout: int  # bitonal: grey level above which nothing turns black (drops pale security backgrounds)

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def random_scan(rng: np.random.Generator, mode: str, clean: bool = False, lossless: bool = False) -> ScanSettings:
    """Scan settings drawn from ranges seen on real scans; ``clean`` turns the degradations off (tests).

    ``lossless`` (PNG, LZW TIFF) keeps sensor noise low, as scanners that save lossless files denoise first, and
    so that such files stay a reasonable size.
    """
    if clean:
        return ScanSettings(mode, 0.0, 0.0, 255, 1.0, 0.0, 0.0, 0, 18, 150)
    skewed = rng.random() < 0.8
    return ScanSettings(
        mode=mode,
        skew_deg=float(rng.uniform(-3.0, 3.0)) if skewed else 0.0,
        margin_in=float(rng.choice([0.0, rng.uniform(0.04, 0.15)], p=[0.4, 0.6])),
        backing=int(rng.choice([245, 60, 20], p=[0.6, 0.25, 0.15])),
        light_low=float(rng.uniform(0.88, 1.0)),
        blur_sigma=float(rng.uniform(0.0, 1.1)),
        noise_sigma=float(rng.uniform(0.0, 1.2) if lossless else rng.uniform(1.0, 6.0)),
        jpeg_history=int(rng.choice([0, int(rng.integers(55, 90))], p=[0.7, 0.3])),
        threshold_c=int(rng.integers(12, 26)),
        dropout=int(rng.integers(125, 185)),
    )


@lru_cache(maxsize=1)
def _noise_field() -> np.ndarray:
    """One fixed field of unit Gaussian noise; pages take windows of it, which is much faster than drawing anew."""
    return np.random.default_rng(20240917).standard_normal((1900, 3300), dtype=np.float32)


def _noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    field = _noise_field()
    if h > field.shape[0] or w > field.shape[1]:
        return rng.standard_normal((h, w), dtype=np.float32)
    y = int(rng.integers(0, field.shape[0] - h + 1))
    x = int(rng.integers(0, field.shape[1] - w + 1))
    return field[y : y + h, x : x + w]


def _light_and_noise(image: np.ndarray, light: np.ndarray, noise: np.ndarray, sigma: float) -> np.ndarray:
    """``image * light + noise * sigma`` per channel, saturated to uint8 (OpenCV: five times numpy's speed)."""
    channels = []
    for channel in cv2.split(image) if image.ndim == 3 else [image]:
        f = channel.astype(np.float32)
        cv2.multiply(f, light, dst=f)
        cv2.scaleAdd(noise, float(sigma), f, dst=f)
        cv2.max(f, 0.0, dst=f)
        channels.append(cv2.convertScaleAbs(f))
    return cv2.merge(channels) if image.ndim == 3 else channels[0]


def scan(
    image: np.ndarray, settings: ScanSettings, dpi: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Scan an RGB page: returns (RGB, grey or boolean bitonal image, 2x3 matrix from page to scan pixels)."""
    h, w = image.shape[:2]
    margin = round(settings.margin_in * dpi)
    angle = settings.skew_deg
    out_w, out_h = w + 2 * margin, h + 2 * margin
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    matrix[:, 2] += (margin, margin)
    if settings.mode != "color":
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    backing = settings.backing if image.ndim == 2 else (settings.backing,) * 3
    if angle or margin:
        image = cv2.warpAffine(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=backing)
    if settings.blur_sigma > 0.2:
        image = cv2.GaussianBlur(image, (0, 0), settings.blur_sigma * dpi / 300)
    if settings.light_low < 0.999 or settings.noise_sigma > 0:
        # light falls off smoothly across the glass: a bilinear ramp between four corner levels
        coarse = rng.uniform(settings.light_low, 1.0, (2, 2)).astype(np.float32)
        light = cv2.resize(coarse, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        noise = _noise(rng, out_h, out_w)
        image = _light_and_noise(image, light, noise, settings.noise_sigma)
    if settings.jpeg_history:
        _ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_history])
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if settings.mode == "bitonal":
        block = int(dpi * 0.2) | 1
        local = cv2.adaptiveThreshold(image, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block,
                                      settings.threshold_c)  # fmt: skip
        image = (local > 0) | (image > settings.dropout)  # True is white
    return image, matrix


def transform_box(box: list[int], matrix: np.ndarray, width: int, height: int) -> list[int]:
    """The pixel box ``[x0, y0, x1, y1)`` around a page box after the scan's affine map, clipped to the image."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ matrix.T
    nx0, ny0 = np.floor(corners.min(0)).astype(int)
    nx1, ny1 = np.ceil(corners.max(0)).astype(int)
    return [max(0, int(nx0)), max(0, int(ny0)), min(width, int(nx1)), min(height, int(ny1))]
