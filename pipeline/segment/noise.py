"""Drop specks that survive binarisation (background dots, JPEG noise) but keep full stops and commas.

A written full stop is a compact blob about a stroke width across; a speck is a few pixels. The minimum area
therefore scales with the stroke width, not with the digit height.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.segment.components import components_with_stats


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the median distance to paper along the ink."""
    if not ink.any():
        return 0.0
    dist = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 3)
    inner = dist[dist >= 1.0]
    return float(2.0 * np.median(inner)) if inner.size else 1.0


def remove_noise(ink: np.ndarray, min_area: int | None = None) -> np.ndarray:
    """Ink mask without connected pieces smaller than ``min_area`` (default: about half a stroke-width square)."""
    if not ink.any():
        return ink
    if min_area is None:
        sw = max(stroke_width(ink), 1.0)
        min_area = max(4, round(0.5 * sw * sw))
    _count, labels, stats, _ = components_with_stats(ink)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    return keep[labels]
