"""Remove printed box lines and handwritten underlines without cutting the digits that cross them.

A rule is a long, thin run of ink: horizontally at least ``min_share`` of the crop width, vertically nearly the
crop height. Its pixels are erased except where a stroke continues on both sides of the rule (a digit crossing
it), so a '7' written through an underline keeps its stem. A full-height vertical rule in the left part of the
crop is a pre-printed partition (the currency-sign cell of a cheque's amount box): what lies left of it is
printed matter and is dropped too.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.segment.components import components_with_stats


@dataclass
class LineRemoval:
    """The cleaned ink mask and the mask of the rule pixels that were taken out (for debugging and tests)."""

    ink: np.ndarray
    lines: np.ndarray


def _rule_mask(ink: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    u8 = ink.astype(np.uint8)
    # close small gaps in a scanned rule before looking for long runs
    gap = (5, 1) if horizontal else (1, 5)
    closed = cv2.morphologyEx(u8, cv2.MORPH_CLOSE, np.ones(gap[::-1], np.uint8))
    kernel = np.ones((1, length), np.uint8) if horizontal else np.ones((length, 1), np.uint8)
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, kernel)
    # a rule's pixels are the original ink under the opened runs, grown by one pixel across the rule
    grow = np.ones((3, 1), np.uint8) if horizontal else np.ones((1, 3), np.uint8)
    return (cv2.dilate(opened, grow) > 0) & ink


def _keep_crossings(ink: np.ndarray, rule: np.ndarray, horizontal: bool, reach: int) -> np.ndarray:
    """Rule pixels to keep: those with stroke ink just beyond the rule on both sides."""
    r = rule if horizontal else rule.T
    k = ink if horizontal else ink.T
    other = k & ~r
    h = r.shape[0]
    keep = np.zeros_like(r)
    ys, xs = np.nonzero(r)
    if ys.size == 0:
        return keep if horizontal else keep.T
    # column-wise extent of the rule
    for x in np.unique(xs):
        col = r[:, x]
        rows = np.nonzero(col)[0]
        top, bottom = rows.min(), rows.max()
        above = other[max(0, top - reach) : top, x].any()
        below = other[bottom + 1 : min(h, bottom + 1 + reach), x].any()
        if above and below:
            keep[top : bottom + 1, x] = col[top : bottom + 1]
    return keep if horizontal else keep.T


def remove_boxes(ink: np.ndarray, min_side: int = 8, cover: float = 0.8) -> LineRemoval:
    """Erase printed cells (a ZIP code's row of boxes, one digit in each): pieces whose bounding box outline is
    drawn on all four sides. Only the outline band goes; a digit touching its cell keeps its inside part."""
    ink = ink.copy()
    removed = np.zeros_like(ink)
    count, labels, stats, _ = components_with_stats(ink)
    for i in range(1, count):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if w < min_side or h < min_side:
            continue
        piece = labels[y : y + h, x : x + w] == i
        t = max(2, min(w, h) // 12)
        sides = (piece[:t].any(axis=0), piece[-t:].any(axis=0), piece[:, :t].any(axis=1), piece[:, -t:].any(axis=1))
        if not all(side.mean() >= cover for side in sides):
            continue
        band = np.zeros_like(piece)
        band[:t] = band[-t:] = True
        band[:, :t] = band[:, -t:] = True
        outline = piece & band
        ink[y : y + h, x : x + w] &= ~outline
        removed[y : y + h, x : x + w] |= outline
    return LineRemoval(ink, removed)


def _writing_height(ink: np.ndarray) -> float:
    """Median height of the substantial ink pieces (the rules themselves are few and do not move the median)."""
    count, _, stats, _ = components_with_stats(ink)
    if count <= 1:
        return 0.0
    areas = stats[1:, cv2.CC_STAT_AREA]
    heights = stats[1:, cv2.CC_STAT_HEIGHT][areas >= 0.02 * areas.sum()]
    return float(np.median(heights)) if heights.size else 0.0


def remove_lines(ink: np.ndarray, min_share: float = 0.4, vertical_share: float = 0.5) -> LineRemoval:
    """Erase horizontal rules at least ``min_share`` of the width long, and vertical rules at least ``vertical_share``
    of the crop tall and 1.5 times the writing's height (a box side, not a tall '1') in crops at least twice as tall
    as the writing whose box has a top and a bottom side. With both a top and a bottom
    side of a box found, pieces mostly outside the box (the legal amount's tail above it) go too."""
    h, w = ink.shape
    ink = ink.copy()
    removed = np.zeros_like(ink)
    if not ink.any():
        return LineRemoval(ink, removed)
    reach = max(2, h // 25)
    h_len = max(int(min_share * w), 3 * h // 2)
    band = None
    if h_len < w:
        rule = _rule_mask(ink, h_len, horizontal=True)
        if rule.any():
            rows = np.nonzero(rule.sum(axis=1) >= 0.5 * w)[0]
            rule &= ~_keep_crossings(ink, rule, True, reach)
            ink &= ~rule
            removed |= rule
            # a box: writing outside its top and bottom sides belongs to other fields
            if rows.size and rows.max() - rows.min() >= h // 3:
                band = (int(rows.min()), int(rows.max()))
    # a vertical rule must also be much taller than the writing, or a straight '1' in a tight crop would go
    # and only in a loose crop with a printed box (top and bottom sides found), never in a crop cut tight around
    # the writing
    writing = _writing_height(ink)
    v_len = max(int(vertical_share * h), int(1.5 * writing))
    if band is not None and 8 <= v_len <= h and h >= 2.0 * writing:
        rule = _rule_mask(ink, v_len, horizontal=False)
        if rule.any():
            cols = np.nonzero(rule.any(axis=0))[0]
            # only near-straight thin rules: a handwritten '1' is slanted or thicker than a printed line
            rule &= ~_keep_crossings(ink, rule, False, reach)
            ink &= ~rule
            removed |= rule
            left_rules = cols[cols < 0.35 * w]
            if left_rules.size:
                cut = int(left_rules.max()) + 1
                removed[:, :cut] |= ink[:, :cut]
                ink[:, :cut] = False
    if band is not None:
        ink = _inside_band(ink, band)
    return LineRemoval(ink, removed)


def _inside_band(ink: np.ndarray, band: tuple[int, int]) -> np.ndarray:
    """Keep the pieces whose ink lies mostly between the box's top and bottom sides."""
    count, labels = cv2.connectedComponents(ink.astype(np.uint8), connectivity=8)
    if count <= 1:
        return ink
    rows = np.arange(ink.shape[0])[:, None]
    inside = np.bincount(labels[(rows >= band[0]) & (rows <= band[1]) & ink], minlength=count)
    total = np.bincount(labels[ink], minlength=count)
    keep = inside >= 0.5 * np.maximum(total, 1)
    keep[0] = False
    return keep[labels]


def cut_underlines(ink: np.ndarray, digit_height: float, stroke: float) -> np.ndarray:
    """Erase short straight strokes drawn under two or more digits and touching them (raised cents underlined,
    '25⁰⁰' with a bar beneath): joined by the bar, the digits would be read as one wide piece.

    A flat run at least half a digit long counts as such a bar only when taking it out leaves two or more
    pieces standing on it that are as small as raised cents and several strokes wide; a '2''s base, a '7''s bar
    or a '4''s crossbar (its arm and a thin stem above it) leave one, and the bases of two touching full-size
    '2's carry digits taller than cents, so they stay. Pixels where a
    stroke carries on below the bar are kept."""
    length = max(8, int(0.5 * digit_height))
    if ink.shape[1] <= length or digit_height <= 0:
        return ink
    runs = _rule_mask(ink, length, horizontal=True)
    if not runs.any():
        return ink
    count, labels, stats, _ = components_with_stats(runs)
    out = ink
    reach = max(2, int(stroke))
    for i in range(1, count):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if h > 2.5 * stroke + 2 or y < 2:
            continue  # a thick blob, not a drawn bar; or a bar at the crop's top, with nothing standing on it
        if out[y + h : y + h + int(0.3 * digit_height), x : x + w].sum() > 2 * stroke:
            continue  # ink hangs below it (a '4''s stem, a '5''s bowl): part of a digit
        # work in the bar's columns, from a digit's height above it to just below it
        top, bottom = max(0, y - int(digit_height)), min(out.shape[0], y + h + reach)
        local = out[top:bottom, x : x + w]
        bar = np.zeros_like(local)
        bar[y - top : y - top + h] = labels[y : y + h, x : x + w] == i
        bar &= ~_keep_crossings(local, bar, True, reach)
        trial = local & ~bar
        # what stood on the bar: pieces of the trial image just above it
        above = trial[: y - top].astype(np.uint8)
        _n, _lab, st, _ = components_with_stats(above)
        standing = [
            s
            for s in st[1:]
            if 0.25 * digit_height <= s[3] <= 0.8 * digit_height
            and s[2] >= 2.5 * stroke
            and s[1] + s[3] >= above.shape[0] - stroke - 2
        ]
        if len(standing) >= 2:
            # an underline: digits stand on it and nothing hangs below
            out = out.copy() if out is ink else out
            out[top:bottom, x : x + w] = trial
    return out
