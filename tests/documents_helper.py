"""Small generated documents for the location tests: rendered with the synthetic generator and the bundled MNIST
digits (no data directory needed), scanned with chosen settings so each test controls skew, mode and margins."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pipeline.synth.cheque import render_cheque
from pipeline.synth.digits import DigitSource, load_digit_source
from pipeline.synth.envelope import render_envelope
from pipeline.synth.scan import ScanSettings, scan, transform_box

DPI = 200


@lru_cache(maxsize=1)
def digit_source() -> DigitSource:
    return load_digit_source(None)


@dataclass
class Doc:
    image: np.ndarray  # grey uint8
    dpi: int
    truth: dict  # the primary field's truth (bbox [x0, y0, x1, y1] in scan pixels)
    style: dict


def make(kind: str, seed: int, cover: int | None = None, skew: float = 0.0, mode: str = "gray",
         margin: float = 0.0, noise: float = 1.0) -> Doc:  # fmt: skip
    """One cheque or envelope, scanned with the given skew (degrees), mode (gray | bitonal) and margin."""
    rng = np.random.default_rng([seed, 77])
    render = render_cheque if kind == "cheque" else render_envelope
    rendered = render(rng, digit_source(), DPI, False, cover)
    settings = ScanSettings(mode, skew, margin, 40, 0.95, 0.4, noise, 0, 18, 150)
    image, matrix = scan(rendered.image, settings, DPI, rng)
    if image.dtype == bool:
        image = np.where(image, 255, 0).astype(np.uint8)
    h, w = image.shape[:2]
    name = "amount" if kind == "cheque" else "zip"
    field = next(f for f in rendered.fields if f["name"] == name)
    truth = {**field, "bbox": transform_box(field["bbox"], matrix, w, h)}
    return Doc(image, DPI, truth, rendered.style)


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


def paper_over(image: np.ndarray, box, pad: int = 4) -> np.ndarray:
    """The image with a box painted in the paper colour around it (a field left empty)."""
    out = image.copy()
    x0, y0, x1, y1 = box
    paper = int(np.percentile(image, 90))
    out[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = paper
    return out
