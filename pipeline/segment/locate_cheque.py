"""Find the courtesy amount on a cheque without knowing its layout.

Cheque stocks differ, but the courtesy amount is always a short zone on the right half, made for a handwritten
number: a box, an underline or a shaded band, behind a printed currency sign. So candidates come from printed
structure (single boxes, underlines of box length, shaded bands) plus, as a fallback, handwritten blocks on the
right; each is scored by what makes it an amount zone (structure, handwriting inside, a compact printed sign just
left of it, height on the cheque) and against what makes it something else: a row of date boxes, a signature
line at the bottom, the MICR band, a rule longer than any amount zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.segment.components import components_with_stats
from pipeline.segment.pageview import BoxXYXY, PageView

INK_BLOCK_MIN = 0.25  # inches: the narrowest block of bare writing ('$ 6' after the payee line)
PAYEE_GAP = 1.3  # inches between the payee line's end and the sign after it, at most
SIGN_REACH = 0.8  # inches left of a block of writing where that sign may stand
AFTER_PAYEE_LINE = 1.0  # score for a block of writing after the payee line's sign (see _after_the_payee_line)


@dataclass
class Rule:
    """A horizontal printed rule in view pixels."""

    x0: int
    x1: int
    y: int

    @property
    def length(self) -> int:
        return self.x1 - self.x0


@dataclass
class Candidate:
    """A zone that may hold the amount: its box in view pixels, where it came from, and its score."""

    box: BoxXYXY
    source: str  # box | underline | shaded | ink
    score: float = 0.0
    ink_box: BoxXYXY | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Located:
    """A located field: boxes in page pixels, the deskewed crop for the reader, or why it was not found."""

    name: str
    kind: str
    bbox: BoxXYXY | None  # the handwritten ink, page pixels
    zone: BoxXYXY | None  # the printed zone (box, underline band) it sits in, page pixels
    crop: np.ndarray | None
    score: float = 0.0
    source: str = ""
    reason: str | None = None  # None when found, else why not
    crop_box: BoxXYXY | None = None  # where the crop was cut, page pixels (character boxes come in this frame)
    alternatives: list[Located] = field(default_factory=list)  # runner-up places, for the reader to settle
    crop_to_page: np.ndarray | None = None  # 2x3 map from crop pixels to page pixels, where it was kept


def _ridges(
    view: PageView, length: int, horizontal: bool, level: float = 0.3, window: BoxXYXY | None = None
) -> np.ndarray:
    """Pixels on a thin dark line at least ``length`` long: the line's mean darkness along it is high and peaks
    across it. Working on darkness, not on the thresholded ink, keeps faint hairline rules that downscaling greys.

    ``window`` (view pixels): only that part of the mask, worked out on the window and a margin wider than every
    filter's reach, which gives the same pixels as cutting it from the whole page's mask, at a fraction of the cost.
    """
    if window is None:
        return _ridges_of(view.norm, length, horizontal, level)
    x0, y0, x1, y1 = window
    h, w = view.norm.shape
    m = length + 4
    ox0, oy0, ox1, oy1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    ridge = _ridges_of(view.norm[oy0:oy1, ox0:ox1], length, horizontal, level)
    return ridge[y0 - oy0 : y1 - oy0, x0 - ox0 : x1 - ox0]


def _ridges_of(norm: np.ndarray, length: int, horizontal: bool, level: float) -> np.ndarray:
    dark = np.clip(1.0 - norm, 0.0, 1.0)
    k = (length, 1) if horizontal else (1, length)
    mean = cv2.blur(dark, k)
    across = np.ones((3, 1) if horizontal else (1, 3), np.uint8)
    peak = mean >= cv2.dilate(mean, across)
    # thin: three pixels away on either side the line is gone (a row of text or a stroke stays dark there)
    d = 3
    pad = (
        cv2.copyMakeBorder(mean, d, d, 0, 0, cv2.BORDER_REPLICATE)
        if horizontal
        else cv2.copyMakeBorder(mean, 0, 0, d, d, cv2.BORDER_REPLICATE)
    )
    a, b = (pad[: -2 * d], pad[2 * d :]) if horizontal else (pad[:, : -2 * d], pad[:, 2 * d :])
    # writing may touch one side of a rule, so one side must be clear and the other merely lighter
    thin = (mean - np.minimum(a, b) > 0.6 * mean) & (mean - np.maximum(a, b) > 0.1 * mean)
    return (mean > level) & peak & thin


def horizontal_rules(view: PageView, min_len: int) -> tuple[list[Rule], np.ndarray]:
    """Printed horizontal rules as segments (small breaks bridged), and their mask (one pixel each side grown)."""
    ridge = _ridges(view, min_len, True).astype(np.uint8)
    bridge = max(5, min_len // 3)
    ridge = cv2.morphologyEx(ridge, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (bridge, 1)))
    count, _labels, stats, _ = components_with_stats(ridge)
    rules = []
    keep = np.zeros(count, bool)
    for i in range(1, count):
        x, y, w, h, _ = stats[i]
        # the blur spreads a rule by half the kernel at each end
        x0, x1 = x + min_len // 2, x + w - min_len // 2
        if x1 - x0 >= min_len // 2 and h <= max(4, w // 12):
            rules.append(Rule(int(x0), int(x1), int(y + h // 2)))
            keep[i] = True
    mask = np.zeros_like(view.ink)
    for r in rules:
        mask[max(0, r.y - 1) : r.y + 2, r.x0 : r.x1] = True
    return rules, mask


def vertical_rules(view: PageView, min_len: int) -> np.ndarray:
    """Mask of straight vertical lines at least ``min_len`` tall (box sides, date-box dividers)."""
    return _ridges(view, min_len, False, 0.3)


_BLOBS: list[tuple[np.ndarray, np.ndarray]] = []  # (mask, its component stats): the last few masks asked about


def _window_stats(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Component boxes (x, y, w, h, area) of ``mask`` that meet the window, clipped to it, in window coordinates.

    The mask's components are labelled once and reused: scoring asks about dozens of windows per page, and
    labelling each window anew was most of the locator's time.
    """
    stats = next((known_stats for known, known_stats in _BLOBS if known is mask), None)
    if stats is None:
        _n, _labels, labelled, _ = components_with_stats(mask)
        stats = labelled[1:].astype(np.int64)
        _BLOBS.insert(0, (mask, stats))
        del _BLOBS[4:]
    bx0, by0 = stats[:, 0], stats[:, 1]
    bx1, by1 = bx0 + stats[:, 2], by0 + stats[:, 3]
    meet = (bx0 < x1) & (bx1 > x0) & (by0 < y1) & (by1 > y0)
    sel = stats[meet]
    cx0 = np.maximum(sel[:, 0], x0) - x0
    cy0 = np.maximum(sel[:, 1], y0) - y0
    cx1 = np.minimum(sel[:, 0] + sel[:, 2], x1) - x0
    cy1 = np.minimum(sel[:, 1] + sel[:, 3], y1) - y0
    return np.stack([cx0, cy0, cx1 - cx0, cy1 - cy0, sel[:, 4]], axis=1) if sel.size else np.zeros((0, 5), np.int64)


LOWEST_BAND = 0.4  # an underline's writing: the lowest row band with this share of the heaviest band's ink


def _ink_box(ink: np.ndarray, zone: BoxXYXY, reach: tuple[int, int, int, int], skip_left: int = 0,
             min_gap: int = 5, lowest: float | None = None) -> BoxXYXY | None:  # fmt: skip
    """Extent of the writing in the zone: blobs centred in it (allowed to overflow by ``reach``: left, up, right,
    down), restricted to the heaviest row band, so a date or words just above an underline are left out.

    ``lowest``: the lowest band with at least this share of the heaviest band's ink instead. Writing on an
    underline sits on it; a row of date boxes above it holds eight digits, more ink than a short amount.

    ``skip_left``: blobs wholly within this many pixels of the zone's left edge are left out (a sign printed inside
    a shaded band). Thin upright blobs at the zone's sides are box sides, not writing.
    """
    h, w = ink.shape
    x0, y0, x1, y1 = zone
    ox0, oy0 = max(0, x0 - reach[0]), max(0, y0 - reach[1])
    ox1, oy1 = min(w, x1 + reach[2]), min(h, y1 + reach[3])
    if ox1 <= ox0 or oy1 <= oy0:
        return None
    sub = ink[oy0:oy1, ox0:ox1].astype(np.uint8)
    _count, _labels, stats, _ = components_with_stats(sub)
    kept = []
    zx0, zy0, zx1, zy1 = x0 - ox0, y0 - oy0, x1 - ox0, y1 - oy0
    for bx, by, bw, bh, area in stats[1:].tolist():
        if area < 3:
            continue
        if skip_left and bx + bw <= zx0 + skip_left:
            continue
        if bw <= 3 and bh >= 0.5 * (zy1 - zy0) and (bx <= zx0 + 4 or bx + bw >= zx1 - 4):
            continue
        cx, cy = bx + bw / 2, by + bh / 2
        if zx0 <= cx < zx1 and zy0 <= cy < zy1:
            kept.append((bx, by, bx + bw, by + bh, area))
    if not kept:
        return None
    rows = np.zeros(oy1 - oy0 + 1, np.float64)
    for _bx0, by0, _bx1, by1, area in kept:
        rows[by0:by1] += area / max(1, by1 - by0)
    occupied = rows > 0
    bands, start, gap = [], None, 0
    for y, on in enumerate(occupied):
        if on:
            if start is None:
                start = y
            gap, end = 0, y + 1
        elif start is not None:
            gap += 1
            if gap >= min_gap:
                bands.append((start, end))
                start = None
    if start is not None:
        bands.append((start, end))
    band = max(bands, key=lambda b: (rows[b[0] : b[1]].sum(), b[0]))
    if lowest is not None:
        heaviest = rows[band[0] : band[1]].sum()
        band = max((b for b in bands if rows[b[0] : b[1]].sum() >= lowest * heaviest), key=lambda b: b[0])
    chosen = [k for k in kept if band[0] <= (k[1] + k[3]) / 2 < band[1]]
    b = np.array(chosen)
    return (int(b[:, 0].min() + ox0), int(b[:, 1].min() + oy0), int(b[:, 2].max() + ox0), int(b[:, 3].max() + oy0))


def _writing(ink: np.ndarray, rules_mask: np.ndarray) -> np.ndarray:
    """Ink with printed horizontal rules taken out: what is left in a zone is writing (or printed glyphs)."""
    return ink & ~rules_mask


def candidates(view: PageView) -> list[Candidate]:
    """All zones worth scoring, from boxes, underlines, shaded bands and handwritten blocks on the right (best
    first; computed once per view and kept in its cache, as orientation and location both ask)."""
    if "candidates" not in view.cache:
        view.cache["candidates"] = _candidates(view)
    return view.cache["candidates"]


def _candidates(view: PageView) -> list[Candidate]:
    ink = view.ink
    _h, w = ink.shape
    inch = view.inch
    rules, rmask = horizontal_rules(view, inch(0.4))
    vmask = vertical_rules(view, inch(0.15))
    found: list[Candidate] = []
    right = [r for r in rules if (r.x0 + r.x1) / 2 > 0.5 * w and r.length <= max(inch(2.6), 0.45 * w)]
    used_as_box: set[int] = set()
    frame = np.zeros_like(rmask)
    # boxes: a top and a bottom rule of the same extent
    for i, bottom in enumerate(right):
        for j, top in enumerate(right):
            if j == i:
                continue
            gap = bottom.y - top.y
            if not (inch(0.18) <= gap <= inch(0.7)):
                continue
            if abs(top.x0 - bottom.x0) > inch(0.12) or abs(top.x1 - bottom.x1) > inch(0.12):
                continue
            if _rule_between(rules, top, bottom, inch(0.05)):
                continue  # two boxes stacked (a row of date boxes above the amount box), not one
            if not _has_a_side(vmask, top, bottom, inch(0.35)):
                continue  # two lines stacked (the date's above the amount's), each an underline, not a box
            x0, x1 = _box_sides(vmask, top, bottom, inch(0.35))
            cand = Candidate((x0, top.y, x1, bottom.y), "box")
            found.append(cand)
            # the whole frame is print, also where the rule finder lost it under writing: none of it is writing
            frame[top.y - 1 : top.y + 2, x0 : x1 + 1] = True
            frame[bottom.y - 1 : bottom.y + 2, x0 : x1 + 1] = True
            frame[top.y : bottom.y + 1, max(0, x0 - 1) : x0 + 2] = True
            frame[top.y : bottom.y + 1, max(0, x1 - 1) : x1 + 2] = True
            used_as_box.update((i, j))
    found += _holes(view, rmask | vmask)
    found = [b for b in found if not _cut_by_writing(b, found, vmask, inch)]
    for i, r in enumerate(right):
        if i in used_as_box or r.length < inch(0.8):
            continue
        found.append(Candidate((r.x0, max(0, r.y - inch(0.5)), r.x1, r.y), "underline"))
    found += _shaded(view)
    dates = [b.box for b in found if b.source == "box" and _divided(vmask, b.box, inch)]
    writing = _without_dates(_writing(ink, rmask | frame), dates + _date_rows(right, vmask, inch), inch)
    view.cache["writing"] = writing
    found += _ink_blocks(view, writing)
    for cand in found:
        _score(view, cand, writing, rules, vmask)
    _after_the_payee_line(view, found, rules)
    return sorted(found, key=lambda c: -c.score)


def _after_the_payee_line(view: PageView, found: list[Candidate], rules: list[Rule]) -> None:
    """A bare block of writing after a printed sign that ends a long printed line on its baseline is the amount of
    a band that left no print: a shaded band whose tint a bitonal scan dropped ('PAY TO THE ORDER OF ____ $ 127.00').
    Only where no printed zone holds the block. The sign may start the block or stand apart from it (up to
    ``SIGN_REACH``): the line's end before it makes it a sign and not the last letter of a word."""
    inch = view.inch
    writing = view.cache["writing"]
    zones = [c.box for c in found if c.source != "ink"]
    for cand in found:
        if cand.source != "ink" or cand.ink_box is None:
            continue
        if any(_overlap(cand.ink_box, z) >= 0.5 for z in zones):
            continue
        inside = "sign inside" in cand.notes
        sign = _sign_near(writing, cand.box, inch, inside=inside, reach=SIGN_REACH)  # reach: only when not inside
        if sign is None:
            continue
        # a long line that ends short of the sign, on the height of the sign's foot or of the block's (a raised '*'
        # before the digits can pass for the sign)
        feet = (sign[3], cand.box[3])
        ends = [r for r in rules if r.length >= inch(1.5) and inch(0.05) <= sign[0] - r.x1 <= inch(PAYEE_GAP)
                and min(abs(r.y - f) for f in feet) <= inch(0.15)]  # fmt: skip
        # and does not go on under the writing: a line that writing crosses is broken where the writing begins
        ends = [e for e in ends if not any(e.x1 < r.x0 < cand.box[2] and abs(r.y - e.y) <= inch(0.05) for r in rules)]
        if ends:
            cand.score += AFTER_PAYEE_LINE
            cand.notes.append("after the payee line")


def _rule_between(rules: list[Rule], top: Rule, bottom: Rule, margin: int) -> bool:
    """Another rule crosses most of the width between a top and a bottom rule."""
    x0, x1 = max(top.x0, bottom.x0), min(top.x1, bottom.x1)
    for r in rules:
        if top.y + margin < r.y < bottom.y - margin and min(r.x1, x1) - max(r.x0, x0) >= 0.5 * (x1 - x0):
            return True
    return False


def _box_sides(vmask: np.ndarray, top: Rule, bottom: Rule, reach: int) -> tuple[int, int]:
    """Left and right of the box a top and a bottom rule frame: the printed sides where they are seen.

    Writing that crosses a rule near its end breaks the rule there (the ridge is no longer thin), so a rule can
    stop short of the box's side and the box would cut the first or last digit in half. A straight vertical line
    joining both rules, a little beyond the shorter rule's end, is the side the box really has."""
    x0, x1 = max(top.x0, bottom.x0), min(top.x1, bottom.x1)
    y0, y1 = top.y + 2, bottom.y - 1
    if y1 - y0 < 4:
        return x0, x1
    span = vmask[y0:y1].sum(axis=0) >= 0.85 * (y1 - y0)
    left = np.flatnonzero(span[max(0, x0 - reach) : max(0, x0 - 2)])
    right = np.flatnonzero(span[x1 + 2 : x1 + reach])
    if left.size:
        x0 = max(0, x0 - reach) + int(left[-1])
    if right.size:
        x1 = x1 + 2 + int(right[0])
    return x0, x1


def _has_a_side(vmask: np.ndarray, top: Rule, bottom: Rule, reach: int) -> bool:
    """A straight vertical line joins the two rules near either end: a printed box's side.

    Without one, the two rules are lines that happen to line up, such as the date's line above the amount's on
    a cheque whose amount is written on a line. Taken for a box, their pair cut the amount's first digits off where
    one of them crossed the shorter rule's end (dev cheques of seeds 101 and 104: 4 more amounts read right of
    800, none located fewer)."""
    y0, y1 = top.y + 2, bottom.y - 1
    if y1 - y0 < 4:
        return True
    span = vmask[y0:y1].sum(axis=0) >= 0.85 * (y1 - y0)
    return any(span[max(0, x - reach) : x + reach].any() for x in (max(top.x0, bottom.x0), min(top.x1, bottom.x1)))


def _holes(view: PageView, rules: np.ndarray) -> list[Candidate]:
    """Closed printed frames of an amount box's size: paper enclosed by ink (faint rules bridged by their ridges).

    This finds boxes whose rules the rule finder only saw in pieces, and the cell right of a divider that keeps a
    printed sign apart (Indian cheques: a rupee sign, a bar, then the amount).
    """
    inch = view.inch
    _h, w = view.shape
    frame = (view.ink | rules).astype(np.uint8)
    contours, hierarchy = cv2.findContours(frame, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    if hierarchy is None:
        return out
    for contour, (_n, _p, _child, parent) in zip(contours, hierarchy[0], strict=True):
        if parent < 0:
            continue  # an outer boundary; holes have a parent
        x, y, bw, bh = cv2.boundingRect(contour)
        box_sized = inch(0.8) <= bw <= inch(2.8) and inch(0.18) <= bh <= inch(0.75) and x + bw / 2 > 0.5 * w
        if box_sized and cv2.contourArea(contour) >= 0.8 * bw * bh:  # rectangular
            # the hole's outline runs on the frame's inner pixels: step inside
            out.append(Candidate((x + 2, y + 2, x + bw - 2, y + bh - 2), "box"))
    return out


def _cut_by_writing(cand: Candidate, boxes: list[Candidate], vmask: np.ndarray, inch) -> bool:
    """A box that is only part of a wider box's inside: a digit touching the rules walled it off (a hole) or
    broke the rules short of the sides (a rule pair).

    A printed divider (the rupee cell's bar) is a straight vertical line and keeps its cell; a handwritten
    stroke is not."""
    x0, y0, x1, y1 = cand.box
    for box in boxes:
        bx0, by0, bx1, by1 = box.box
        same_rows = abs(by0 - y0) <= inch(0.06) and abs(by1 - y1) <= inch(0.06)
        inside = bx0 - 3 <= x0 and x1 <= bx1 + 3 and (x1 - x0) < (bx1 - bx0) - inch(0.1)
        if not (same_rows and inside):
            continue
        walls = []
        for side, edge in ((x0 > bx0 + inch(0.05), x0 - 2), (x1 < bx1 - inch(0.05), x1 + 2)):
            if side:  # this side of the hole is not the box's side: is it a printed divider?
                cols = vmask[y0:y1, max(0, edge - 3) : edge + 2]
                walls.append(cols.size > 0 and bool((cols.sum(axis=0) >= 0.85 * (y1 - y0)).any()))
        if walls and not all(walls):
            return True
    return False


def _shaded(view: PageView) -> list[Candidate]:
    """Bands printed a little darker than the paper (a tint the threshold drops), box-sized, on the right."""
    norm = view.norm
    _h, w = norm.shape
    inch = view.inch
    pale = (norm < 0.975) & (norm > 0.75)
    tint = cv2.morphologyEx((norm < 0.975).astype(np.uint8), cv2.MORPH_OPEN,
                            cv2.getStructuringElement(cv2.MORPH_RECT, (inch(0.5), inch(0.12))))  # fmt: skip
    count, _labels, stats, _ = components_with_stats(tint)
    out = []
    for i in range(1, count):
        x, y, bw, bh, area = stats[i]
        band_sized = inch(0.8) <= bw <= inch(2.6) and inch(0.15) <= bh <= inch(0.7) and x + bw / 2 > 0.5 * w
        if band_sized and area >= 0.7 * bw * bh and pale[y : y + bh, x : x + bw].mean() >= 0.5:
            out.append(Candidate((int(x), int(y), int(x + bw), int(y + bh)), "shaded"))
    return out


def _ink_blocks(view: PageView, writing: np.ndarray) -> list[Candidate]:
    """Word-sized blocks of ink on the right half, for zones with no printed structure left (bitonal shading)."""
    inch = view.inch
    _h, w = writing.shape
    joined = cv2.dilate(writing.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (inch(0.2), inch(0.05))))
    count, _labels, stats, _ = components_with_stats(joined)
    out = []
    for i in range(1, count):
        x, y, bw, bh, _ = stats[i]
        if x + bw / 2 > 0.55 * w and inch(INK_BLOCK_MIN) <= bw <= inch(2.4) and inch(0.15) <= bh <= inch(0.7):
            out.append(Candidate((int(x), int(y), int(x + bw), int(y + bh)), "ink"))
    return out


def _sign_left(writing: np.ndarray, box: BoxXYXY, inch, inside: bool = False) -> bool:
    """A compact printed glyph just left of (or at the left inside edge of) the zone: the currency sign.

    ``inside``: look only within the zone's first quarter inch (a block of ink that starts with the sign)."""
    return _sign_near(writing, box, inch, inside) is not None


def _sign_near(writing: np.ndarray, box: BoxXYXY, inch, inside: bool = False, reach: float = 0.45) -> BoxXYXY | None:
    """The box of the currency sign :func:`_sign_left` looks for, up to ``reach`` inches left of the zone."""
    x0, y0, _x1, y1 = box
    h, w = writing.shape
    sx0, sx1 = max(0, x0 - inch(reach)), min(w, x0 + inch(0.05))
    if inside:
        sx0, sx1 = x0, min(w, x0 + inch(0.25))
    sy0, sy1 = max(0, y0 - inch(0.05)), min(h, y1 + inch(0.02))
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    for x, y, bw, bh, area in _window_stats(writing, sx0, sy0, sx1, sy1).tolist():
        if inch(0.11) <= bh <= inch(0.3) and inch(0.03) <= bw <= inch(0.22) and area >= 6:
            # isolated: no other printed glyph close on its left (the last letter of a printed word is not a sign)
            left = writing[sy0:sy1, max(0, sx0 + x - inch(0.08)) : sx0 + x]
            if not left.any():
                return (sx0 + x, sy0 + y, sx0 + x + bw, sy0 + y + bh)
    return None


def _score(view: PageView, cand: Candidate, writing: np.ndarray, rules: list[Rule], vmask: np.ndarray) -> None:
    inch = view.inch
    h, w = writing.shape
    x0, y0, x1, y1 = cand.box
    zw = x1 - x0
    s = {"box": 3.0, "underline": 2.0, "shaded": 2.0, "ink": 0.5}[cand.source]
    inner = (x0 + 2, y0 + 1, x1 - 2, y1 - 1)
    up = inch(0.2) if cand.source != "ink" else 0
    skip = inch(0.21) if cand.source == "shaded" else 0
    sign = _sign_left(writing, cand.box, inch)
    sign_inside = cand.source in ("ink", "shaded") and not sign and _sign_left(writing, cand.box, inch, inside=True)
    if sign_inside and cand.source == "ink":
        # a block of bare writing that starts with the printed sign: a shaded band the threshold dropped (a sign
        # printed left of the block means the block starts with writing instead)
        skip = inch(0.21)
        s += 1.0
        cand.notes.append("sign inside")
    elif sign_inside:
        sign = True  # the band's own printed sign at its left end ('$' printed on the tint), skipped as before
    ink_box = _ink_box(writing, inner, (0, up, 0, inch(0.1) if cand.source != "underline" else inch(0.12)), skip,
                       lowest=LOWEST_BAND if cand.source == "underline" else None)
    cand.ink_box = ink_box
    if ink_box is None:
        cand.score = s - 3.0
        cand.notes.append("empty")
        return
    if ink_box[3] - ink_box[1] < inch(0.12):
        s -= 2.0  # flatter than handwritten digits: printed words or a rule's remains
        cand.notes.append("flat")
    ink_pixels = int(writing[y0:y1, x0:x1].sum())
    if ink_pixels < inch(0.05) * inch(0.3):
        s -= 1.5
        cand.notes.append("little ink")
    # zone size: an amount zone is 1-2.5 in wide; a block of bare writing is as wide as the amount ('$ 12')
    if not (inch(0.9) <= zw <= inch(2.7)) and not (cand.source == "ink" and zw <= inch(2.7)):
        s -= 1.0
    # height on the cheque: amount zones sit between the date (top) and the signature and MICR (bottom)
    cy = (y0 + y1) / 2 / h
    if cy < 0.26:
        s -= 3.5
    elif cy < 0.3:
        s -= 0.5
    if cy > 0.78:
        s -= 2.5
    elif cy > 0.7:
        s -= 1.0
    cx = (x0 + x1) / 2 / w
    s += 1.0 * (cx - 0.5)
    if _divided(vmask, cand.box, inch):
        s -= 3.0
        cand.notes.append("divided")
    if sign:
        s += 1.5
        cand.notes.append("sign")
    cand.score = s


def _divided(vmask: np.ndarray, box: BoxXYXY, inch) -> bool:
    """Straight lines spanning the zone's height, many of them: a row of date boxes (DDMMYYYY), not an amount."""
    x0, y0, x1, y1 = box
    inside_v = vmask[y0:y1, x0:x1]
    if not inside_v.size or y1 - y0 <= 4:
        return False
    cols = np.flatnonzero(inside_v.sum(axis=0) >= 0.7 * (y1 - y0))
    groups = int(np.count_nonzero(np.diff(cols) > 1) + 1) if cols.size else 0
    return groups >= 5 or (groups >= 4 and x1 - x0 < inch(1.2))


def _date_rows(rules: list[Rule], vmask: np.ndarray, inch) -> list[BoxXYXY]:
    """Rows of date boxes (DDMMYYYY): between a top and a bottom rule, five or more upright dividers reaching from
    one rule to the other, on an even pitch (some may be lost under writing). Writing crosses the dividers and
    the rules, so a row is often not found as one box with its sides, nor with its rules' whole length."""
    rows = []
    reach = inch(0.3)
    for bottom in rules:
        for top in rules:
            gap = bottom.y - top.y
            x0, x1 = max(0, min(top.x0, bottom.x0) - reach), min(vmask.shape[1], max(top.x1, bottom.x1) + reach)
            if not (inch(0.15) <= gap <= inch(0.5)) or min(top.x1, bottom.x1) - max(top.x0, bottom.x0) < inch(0.6):
                continue
            band = vmask[max(0, top.y - 1) : bottom.y + 2, x0:x1]
            # a divider: tall enough, and touching both rules (a handwritten '1' in an amount box touches neither)
            tall = (band.sum(axis=0) >= 0.5 * gap) & band[:4].any(axis=0) & band[-4:].any(axis=0)
            cols = np.flatnonzero(tall)
            if cols.size < 5:
                continue
            starts = np.concatenate(([0], np.flatnonzero(np.diff(cols) > 1) + 1))
            centres = np.array([cols[a:b].mean() for a, b in zip(starts, [*starts[1:], cols.size], strict=True)])
            if centres.size < 5:
                continue
            pitch = np.diff(centres)
            typical = float(np.min(pitch[pitch >= 0.6 * np.median(pitch)]))
            steps = pitch / typical
            if inch(0.12) <= typical <= inch(0.45) and np.all(np.abs(steps - np.round(steps)) <= 0.25):
                rows.append((x0 + int(centres[0]), top.y, x0 + int(centres[-1]), bottom.y))
    return rows


def _without_dates(writing: np.ndarray, dates: list[BoxXYXY], inch) -> np.ndarray:
    """The writing with every row of date boxes blanked, with the printed D D M M Y Y Y Y under it: a date written
    just above the amount otherwise joins its block of writing, or is the heaviest writing over its underline."""
    if not dates:
        return writing
    out = writing.copy()
    for x0, y0, x1, y1 in dates:
        out[max(0, y0 - 2) : y1 + inch(0.12), max(0, x0 - inch(0.3)) : x1 + inch(0.3)] = False
    return out


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    return cands


def best_score(view: PageView) -> float:
    """How convincing the best amount zone of this view is (for telling which way up a cheque is)."""
    cands = [c for c in candidates(view) if c.ink_box is not None]
    return cands[0].score if cands else -10.0


def locate_amount(view: PageView, name: str = "amount") -> Located:
    """The courtesy amount's ink box and a deskewed crop for the reader, or not_found with a reason."""
    cands = [c for c in candidates(view) if c.ink_box is not None]
    if not cands:
        return Located(name, "amount", None, None, None, 0.0, "", "no zone with handwriting on the right half")
    best = cands[0]
    if best.score < 1.0:
        return Located(name, "amount", None, view.to_page(best.box), None, best.score, best.source,
                       f"no convincing amount zone (best {best.source} scored {best.score:.1f})")  # fmt: skip
    located = finish(view, name, "amount", best.ink_box, best.box, best.score, best.source)
    # a runner-up zone of a different kind of evidence, well apart from the first, for the reader to settle
    for other in cands[1:]:
        if other.score >= max(1.0, best.score - 1.5) and _overlap(other.ink_box, best.ink_box) < 0.3:
            located.alternatives.append(finish(view, name, "amount", other.ink_box, other.box, other.score,
                                               other.source))  # fmt: skip
            break
    return located


def _overlap(a: BoxXYXY, b: BoxXYXY) -> float:
    """Intersection over the smaller box's area."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / small if small > 0 else 0.0


def _whole_strokes(view: PageView, box: BoxXYXY) -> BoxXYXY:
    """Grow the box to the whole ink blobs it cuts (a digit whose centre fell just outside the zone), within
    a quarter inch sideways and a sixth of an inch up and down, so the reader never gets half a digit."""
    writing = view.cache.get("writing")
    if writing is None:
        return box
    x0, y0, x1, y1 = box
    h, w = writing.shape
    dx, dy = view.inch(0.25), view.inch(0.16)
    ox0, oy0, ox1, oy1 = max(0, x0 - dx), max(0, y0 - dy), min(w, x1 + dx), min(h, y1 + dy)
    nx0, ny0, nx1, ny1 = x0, y0, x1, y1
    for bx, by, bw, bh, area in _window_stats(writing, ox0, oy0, ox1, oy1).tolist():
        bx, by = bx + ox0, by + oy0
        if area < 3 or bx >= x1 or bx + bw <= x0 or by >= y1 or by + bh <= y0:
            continue
        nx0, ny0 = min(nx0, bx), min(ny0, by)
        nx1, ny1 = max(nx1, bx + bw), max(ny1, by + bh)
    return nx0, ny0, nx1, ny1


def finish(view: PageView, name: str, kind: str, ink_box: BoxXYXY, zone: BoxXYXY, score: float,
           source: str) -> Located:  # fmt: skip
    """Page boxes and the reader's crop (the ink plus a small margin, cut from the full-resolution page)."""
    h, w = view.shape
    m = view.inch(0.06)
    x0, y0, x1, y1 = _whole_strokes(view, ink_box)
    left, right = max(0, x0 - m), min(w, x1 + m)
    if source == "box":
        # the box's printed sides stay out of the crop: in a crop cut tight round the writing the reader cannot
        # tell a side from a '1' (a digit written across a side loses only what lies beyond it)
        left, right = max(left, zone[0] + 2), min(right, zone[2] - 2)
    crop_box = (left, max(0, y0 - m), right, min(h, y1 + m))
    crop = view.crop(crop_box)
    return Located(name, kind, view.to_page(ink_box), view.to_page(zone), crop, score, source, None,
                   view.to_page(crop_box))  # fmt: skip
