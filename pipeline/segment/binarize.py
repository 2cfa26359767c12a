"""Grey field crop in, boolean ink mask out, robust to security backgrounds and already-bitonal scans.

Cheque backgrounds carry light guilloche patterns whose local contrast fools a plain local threshold. A pixel is
ink only when it is dark relative to its neighbourhood (Sauvola) AND darker than a global level between paper and
ink (Otsu, loosened), so background texture away from the strokes stays paper.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.filters import threshold_sauvola


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 grey image, dark ink on light paper as scanned (colour and float inputs accepted)."""
    if image.ndim == 3:
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = cv2.cvtColor(np.ascontiguousarray(image), code)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D field image, got shape {image.shape}")
    if image.dtype == bool:
        return np.where(image, 0, 255).astype(np.uint8)
    if image.dtype != np.uint8:
        img = image.astype(np.float32)
        hi = float(img.max()) if img.size else 0.0
        scale = 255.0 if hi <= 1.0 else 1.0
        return np.clip(img * scale, 0, 255).astype(np.uint8)
    return image


def is_bitonal(grey: np.ndarray) -> bool:
    """True when (almost) every pixel is one of two levels: a fax-like scan that needs no thresholding."""
    hist = np.bincount(grey.ravel(), minlength=256)
    top2 = np.sort(hist)[-2:].sum()
    return top2 >= 0.98 * grey.size


def binarize(grey: np.ndarray, window: int | None = None, k: float = 0.08, global_slack: float = 0.1) -> np.ndarray:
    """Boolean ink mask (True = ink) of a field crop with dark ink on light paper.

    ``window`` is the Sauvola window (odd); by default about a third of the crop height, so it spans a stroke
    and its paper. ``global_slack`` loosens the Otsu level towards the paper so faint strokes survive.
    """
    grey = to_grey(grey)
    if grey.size == 0:
        return np.zeros(grey.shape, bool)
    lo, hi = int(grey.min()), int(grey.max())
    if hi - lo < 24:
        # no contrast at all: an empty field
        return np.zeros(grey.shape, bool)
    if is_bitonal(grey):
        return grey < (lo + hi) / 2
    if window is None:
        window = max(15, (grey.shape[0] // 3) | 1)
    window = int(window) | 1
    smooth = cv2.GaussianBlur(grey, (3, 3), 0)
    local = smooth < threshold_sauvola(smooth, window_size=window, k=k)
    otsu, _ = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper = float(np.percentile(smooth, 90))
    level = otsu + global_slack * (paper - otsu)
    return local & (smooth < level)
