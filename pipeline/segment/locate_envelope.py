"""Find the ZIP code on an envelope: the destination address block, its last line, and the ZIP at its end.

Mail is addressed the same way whatever the envelope: the destination block sits in the middle of the lower
part, the return address in the top-left corner, postage (stamp, meter, postmark) in the top-right, and a
sorter's barcode may run along the bottom. So text lines are grouped into blocks, the block below the top band
and clear of the bottom edge with the most handwriting is the address, its lowest line is the city line, and the
ZIP is the last word-group of that line (5 digits, or ZIP+4 with its dash). Pre-printed ZIP boxes are recognised
as a row of cells; then the digits inside the cells are the field and the cell frames are erased from the crop.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.segment.components import components_with_stats
from pipeline.segment.locate_cheque import Located, _ridges_of
from pipeline.segment.pageview import BoxXYXY, PageView


@dataclass
class Line:
    """One text line of the page in view pixels, with the boxes of its ink pieces."""

    box: BoxXYXY
    pieces: list[BoxXYXY]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def _pieces(ink: np.ndarray, min_area: int = 4) -> list[BoxXYXY]:
    _count, _labels, stats, _ = components_with_stats(ink)
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, a in stats[1:] if a >= min_area]


def _is_barcode(pieces: list[BoxXYXY], inch) -> bool:
    """A row of many thin upright bars at a regular pitch (the sorter's barcode), not writing."""
    bars = [p for p in pieces if p[2] - p[0] <= inch(0.035) and p[3] - p[1] >= 1.8 * (p[2] - p[0])]
    return len(bars) >= 20 and len(bars) >= 0.7 * len(pieces)


def blocks(view: PageView) -> list[Line]:
    """Ink joined into blocks: pieces smeared by a word gap sideways and a little up and down."""
    inch = view.inch
    ink = view.ink
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (inch(0.5), inch(0.08)))
    joined = cv2.dilate(ink.astype(np.uint8), kernel)
    count, labels = cv2.connectedComponents(joined, connectivity=8)  # labels only: its stats cost ~2 ms a page
    pieces_by_label: dict[int, list[BoxXYXY]] = {}
    for box in _pieces(ink):
        lab = int(labels[box[1], box[0] : box[2]].max())
        pieces_by_label.setdefault(lab, []).append(box)
    out = []
    for lab in range(1, count):
        pieces = pieces_by_label.get(lab, [])
        if pieces:
            b = _union(pieces)
            out.append(Line(b, pieces))
    return out


def address_block(view: PageView) -> list[Line]:
    """The destination block as its line blocks, top to bottom: the stack of writing below the top band, away
    from the left edge, with the most ink (empty when there is none)."""
    inch = view.inch
    h, w = view.shape
    found = []
    for block in blocks(view):
        x0, y0, x1, y1 = block.box
        if block.height < inch(0.12) or x1 - x0 < inch(0.3) or block.height > inch(2.5):
            continue
        if (y0 + y1) / 2 < 0.3 * h or (x0 + x1) / 2 < 0.25 * w:
            continue  # return-address corner and top band (postage)
        if _is_barcode(block.pieces, inch):
            continue
        found.append(block)
    if not found:
        return []
    found.sort(key=lambda b: b.box[1])
    stacks: list[list[Line]] = []
    for block in found:
        for stack in stacks:
            last = _union([b.box for b in stack])
            gap = block.box[1] - last[3]
            overlap = min(block.box[2], last[2]) - max(block.box[0], last[0])
            if gap < inch(0.35) and overlap > 0:
                stack.append(block)
                break
        else:
            stacks.append([block])
    return max(stacks, key=lambda st: sum((p[2] - p[0]) * (p[3] - p[1]) for b in st for p in b.pieces))


def last_line(ink: np.ndarray, box: BoxXYXY, inch) -> tuple[int, int, int]:
    """Rows (top, bottom) of a block's last text line, and how many lines the block seems to hold.

    Loops and descenders join handwritten lines, so lines are split at valleys of the smoothed row profile rather
    than at empty rows: the last line starts at the deepest valley a line's height above the block's bottom.
    """
    x0, y0, x1, y1 = box
    rows = ink[y0:y1, x0:x1].sum(axis=1).astype(np.float64)
    k = max(3, inch(0.06)) | 1
    smooth = np.convolve(rows, np.ones(k) / k, mode="same")
    n = len(smooth)
    lines = 1
    top = 0
    bottom = n
    while True:
        lo, hi = max(0, bottom - inch(0.6)), bottom - inch(0.16)
        if hi - lo < 2:
            break
        cut = lo + int(np.argmin(smooth[lo:hi]))
        below = smooth[cut:bottom].max() if bottom > cut else 0.0
        above = smooth[max(0, cut - inch(0.35)) : cut].max() if cut > 0 else 0.0
        if below == 0 or above == 0 or smooth[cut] > 0.45 * min(below, above):
            break
        if lines == 1:
            top = cut
        lines += 1
        bottom = cut
    return y0 + top, y1, lines


def last_line_pieces(pieces: list[BoxXYXY], inch) -> tuple[list[BoxXYXY], float, float]:
    """The pieces standing on the block's lowest baseline, the baseline's row and the writing height there.

    Lines of handwriting overlap (loops, tall digits), so pieces are taken by where they end, not by empty rows
    between lines.
    """
    pieces = [p for p in pieces if p[3] - p[1] >= 3 or p[2] - p[0] >= 3]
    if not pieces:
        return [], 0.0, 0.0
    bottoms = np.array([p[3] for p in pieces if p[3] - p[1] >= inch(0.08)] or [p[3] for p in pieces])
    base = float(np.percentile(bottoms, 95)) if bottoms.size >= 10 else float(bottoms.max())
    near = [p[3] - p[1] for p in pieces if p[3] >= base - inch(0.1) and p[3] - p[1] >= inch(0.08)]
    height = float(np.median(near)) if near else float(inch(0.25))
    reach = max(inch(0.12), 0.45 * height)
    return [p for p in pieces if p[3] >= base - reach and p[1] < base], base, height


def _cells(view: PageView, box: BoxXYXY) -> list[BoxXYXY]:
    """Pre-printed ZIP cells along a line: five or more straight upright rules a cell's width apart, returned (in
    view pixels) as the cells between neighbouring rules that have rules along their top or bottom too.

    Found at the scan's resolution, on darkness ridges: cell frames are printed thin and pale, and at the working
    resolution a one-pixel grey rule fades into the paper (cells were found on 1 of 40 boxed envelopes there)."""
    inch = view.inch
    # the line's ink may stop short of its first and last cells' outer rules: a cell's width more on each side
    x0, x1 = max(0, box[0] - inch(0.3)), min(view.shape[1], box[2] + inch(0.3))
    y0, y1 = box[1], box[3]
    oy0, oy1 = max(0, y0 - inch(0.1)), min(view.shape[0], y1 + inch(0.1))
    crop = view.crop((x0, oy0, x1, oy1)).astype(np.float32)
    if crop.size == 0:
        return []
    norm = crop / max(float(np.percentile(crop, 90)), 1.0)
    per_view = 1.0 / view.scale  # crop pixels per view pixel

    def px(inches: float) -> int:
        return max(1, round(inches * view.dpi))

    ridge = _ridges_of(norm, px(0.2), False, 0.25)
    cols = np.flatnonzero(ridge.sum(axis=0) >= px(0.12))
    if cols.size < 5:
        return []
    runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
    xs = [int(r.mean()) for r in runs]
    horizontal = _ridges_of(norm, px(0.12), True, 0.25)
    found: list[tuple[int, int, int, int]] = []  # (left rule, right rule, top, bottom) in crop pixels
    for a, b in itertools.pairwise(xs):
        if not px(0.15) <= b - a <= px(0.35):
            continue
        rows = np.flatnonzero(ridge[:, a] | ridge[:, b])
        if rows.size == 0:
            continue
        top, bottom = int(rows[0]), int(rows[-1])
        # a printed cell is closed: rules along its top and bottom too (handwritten strokes are not). The darkness
        # is averaged along the upright rules, so their ridges stop short of pale rules' ends and run past dark
        # ones' (bitonal scans): look for the top and bottom rules a tenth of an inch either way.
        span = horizontal[:, a + 1 : b]
        reach = px(0.1)
        near_top = span[max(0, top - reach) : top + reach].any(axis=0).mean() if span.size else 0.0
        near_bottom = span[max(0, bottom - reach) : bottom + reach].any(axis=0).mean() if span.size else 0.0
        if max(near_top, near_bottom) >= 0.3:  # bitonal scans often lose one of the two, or much of both
            found.append((a, b, top, bottom))
    if len(found) >= 2:
        found = _neighbour_cells(found, xs, px(0.06), (px(0.15), px(0.3)))
    return [(x0 + int(a / per_view), oy0 + int(top / per_view),
             x0 + int(np.ceil(b / per_view)), oy0 + int(np.ceil((bottom + 1) / per_view)))
            for a, b, top, bottom in found]  # fmt: skip


def _neighbour_cells(
    found: list[tuple[int, int, int, int]], rules: list[int], gap: int, dash: tuple[int, int]
) -> list[tuple[int, int, int, int]]:
    """The row of cells grown outward over upright rules alone: a digit written over a cell's top or bottom rule
    hides it, so a cell at the row's end may not be found closed. Its side rules still stand as far apart as the
    found cells' and a small gap (or a ZIP+4's dash gap, ``dash``) away from the next cell.

    The dash gap lies between a ZIP's five cells and the four after them, so the row is first grown over small
    gaps both ways, and only then across one dash gap: rightwards from a row of five, leftwards from a row of
    four or fewer (a row of five is the ZIP already, and what lies a dash gap before it is the state's letters)."""
    cells = sorted(found)
    _, _, top, bottom = cells[0]
    width = float(np.median([b - a for a, b, _, _ in cells]))

    def grow(step: int, first_gap: tuple[int, int]) -> None:
        nonlocal cells
        allowed = first_gap
        while len(cells) < 9:  # five cells and four
            edge = cells[0][0] if step < 0 else cells[-1][1]
            beyond = sorted((x for x in rules if (x - edge) * step > 0), key=lambda x: abs(x - edge))
            if not beyond or not allowed[0] <= abs(beyond[0] - edge) <= allowed[1]:
                return
            start = beyond[0]
            far = next((x for x in beyond[1:] if abs(abs(x - start) - width) <= 0.15 * width), None)
            if far is None:
                return
            cell = (min(start, far), max(start, far), top, bottom)
            cells = [cell, *cells] if step < 0 else [*cells, cell]
            allowed = (0, gap)  # past the first cell, only the small gaps between cells

    for step in (-1, 1):
        grow(step, (0, gap))
    if len(cells) == 5:
        grow(1, dash)
    elif len(cells) <= 4:
        grow(-1, dash)
    return cells


def _zip_groups(pieces: list[BoxXYXY], inch, alternatives: int = 2) -> list[list[BoxXYXY]]:
    """The ZIP's pieces: the right end of the line cut at the widest gap that leaves a part as wide as 5 to 10
    digits of the height written there (the word before it, the state, is cut off by that gap); then up to
    ``alternatives`` runner-up cuts, for the reader to settle (a ZIP+4's dash gap can be the widest)."""
    pieces = sorted(pieces, key=lambda p: p[0])
    right_edge = max(p[2] for p in pieces)
    tall = [p[3] - p[1] for p in pieces if p[2] >= right_edge - inch(0.8) and p[3] - p[1] >= inch(0.08)]
    height = float(np.median(tall)) if tall else float(inch(0.25))
    cuts = []  # (index of the first piece right of the gap, gap width; negative when the boxes overlap)
    reach = pieces[0][2]
    for i in range(1, len(pieces)):
        cuts.append((i, pieces[i][0] - reach))
        reach = max(reach, pieces[i][2])

    def digit_count(part: list[BoxXYXY]) -> int:
        return sum(1 for p in part if p[3] - p[1] >= 0.5 * height and p[2] - p[0] <= 1.1 * height)

    def score(i: int, gap: int) -> float:
        # a wide gap, a part that holds as many digit-sized pieces as a ZIP (5) or ZIP+4 (9) has, and no word in it
        part = pieces[i:]
        n = sum(1 for p in part if p[3] - p[1] >= 0.5 * height and p[2] - p[0] <= 1.1 * height)
        words = sum(1 for p in part if p[2] - p[0] > 1.6 * height)
        bonus = 0.6 * height if n in (5, 9, 10) else (-0.6 * height if n <= 4 else 0.0)
        return gap + bonus - 1.0 * height * words

    def best(limit_x: float) -> int | None:
        ok = [(score(i, g), i) for i, g in cuts
              if pieces[i][0] < limit_x and 2.0 * height <= right_edge - pieces[i][0] <= 14 * height]  # fmt: skip
        return max(ok)[1] if ok else None

    cut = best(right_edge)
    if cut is None:
        return [pieces]
    # ZIP+4: a dash just before the chosen part means the cut fell inside the ZIP; cut again left of the dash
    before = [p for p in pieces[:cut] if p[2] >= pieces[cut][0] - 1.5 * height]
    dashes = [p for p in before + pieces[cut : cut + 1] if _is_dash(p, height)]
    if dashes:
        again = best(min(d[0] for d in dashes))
        if again is not None:
            cut = again
    # ZIP+4 whose dash gap won: four digits right of the cut, five more (four when one touches the state word)
    # and a dash just before it
    if digit_count(pieces[cut:]) == 4:
        plus = [(g, i) for i, g in cuts if i < cut and digit_count(pieces[i:cut]) in (4, 5)
                and right_edge - pieces[i][0] <= 14 * height]  # fmt: skip
        if plus:
            cut = max(plus)[1]
    ranked = sorted(((score(i, g), i) for i, g in cuts if 2.0 * height <= right_edge - pieces[i][0] <= 14 * height),
                    reverse=True)  # fmt: skip
    # runner-ups: the cut a ZIP+4's dash anchors (below), the best cut that leaves as many digits as a ZIP has, and
    # as a ZIP+4 has, then the best others, two at most (a ZIP+4 cut at its dash, or a cut that took the state's
    # letters in, is rarely the second-widest gap)
    shaped = [next((i for _s, i in ranked if digit_count(pieces[i:]) in counts), None) for counts in ((5,), (9, 10))]
    # a ZIP+4's dash anchors it wherever the gaps fall: the best cut left of a dash followed by about four digits'
    # width of ink (spaced-out writing puts the widest gaps inside the +4 part, touching digits hide from counts)
    dashes_at_end = [p for p in pieces if _is_dash(p, height) and 2.0 * height <= right_edge - p[2] <= 6.0 * height]
    anchored = best(max(dashes_at_end)[0]) if dashes_at_end else None
    others: list[int] = []
    for i in [anchored, *shaped, *(i for _s, i in ranked)]:
        if i is not None and i != cut and i not in others and len(others) < alternatives:
            others.append(i)
    return [pieces[i:] for i in [cut, *others]]


def _is_dash(p: BoxXYXY, height: float) -> bool:
    """A ZIP+4's dash: flat, thin and short against the writing's ``height``."""
    w, h = p[2] - p[0], p[3] - p[1]
    return w >= 1.3 * h and h <= 0.35 * height and w <= 0.9 * height


def _union(boxes: list[BoxXYXY]) -> BoxXYXY:
    b = np.array(boxes)
    return int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())


def erase_frames(crop: np.ndarray, dpi: float) -> np.ndarray:
    """Paint printed cell frames in the paper colour: straight runs longer than a digit's strokes, and thin.

    Thin, because a digit's stroke can be as long ('7's bar; '38370' read '38310' when every long run was painted)
    but is several times thicker than a printed frame."""
    grey = crop.copy()
    paper = int(np.percentile(grey, 90))
    ink = (grey < 0.8 * paper).astype(np.uint8)
    thick = max(4, round(0.025 * dpi))

    def rect(w: int, h: int) -> np.ndarray:
        return cv2.getStructuringElement(cv2.MORPH_RECT, (w, h))

    long_h = cv2.morphologyEx(ink, cv2.MORPH_OPEN, rect(round(0.2 * dpi), 1))
    long_h &= 1 - cv2.morphologyEx(long_h, cv2.MORPH_OPEN, rect(1, thick))
    long_v = cv2.morphologyEx(ink, cv2.MORPH_OPEN, rect(1, round(0.26 * dpi)))
    long_v &= 1 - cv2.morphologyEx(long_v, cv2.MORPH_OPEN, rect(thick, 1))
    frames = cv2.dilate(long_h | long_v, np.ones((3, 3), np.uint8)).astype(bool)
    grey[frames] = paper
    return grey


def locate_zip(view: PageView, name: str = "zip") -> Located:
    """The ZIP's ink box and a deskewed crop for the reader, or not_found with a reason."""
    inch = view.inch
    stack = address_block(view)
    if not stack:
        return Located(name, "zip", None, None, None, 0.0, "", "no handwritten address block below the top band")
    block = Line(_union([b.box for b in stack]), [p for b in stack for p in b.pieces])
    lowest = max(stack, key=lambda b: b.box[3])
    _top, _bottom, n_lines = last_line(view.ink, lowest.box, inch)
    score = float(n_lines + len(stack) - 1)
    pieces, base, height = last_line_pieces(block.pieces, inch)
    if not pieces:
        return Located(name, "zip", None, view.to_page(block.box), None, 0.0, "", "last address line has no ink")
    # cut the last line out as a band and take its pieces again: a loop from the line above that touches a
    # digit no longer drags the whole block into the ZIP
    lx0, lx1 = min(p[0] for p in pieces), max(p[2] for p in pieces)
    by0 = max(0, int(base - 1.4 * height))
    by1 = min(view.shape[0], int(max(p[3] for p in pieces)) + 1)
    band = [(a + lx0, b + by0, c + lx0, d + by0) for a, b, c, d in _pieces(view.ink[by0:by1, lx0:lx1], 3)]
    # a ZIP+4's dash stands at mid-height, above the foot of the line: kept, or the cut may fall at its gap
    band = [p for p in band if (p[3] - p[1] >= 3 or p[2] - p[0] >= 3)
            and (p[3] >= base - max(inch(0.12), 0.6 * height) or (_is_dash(p, height) and p[1] >= base - height))]
    pieces = band or pieces
    cells = _cells(view, _union(pieces))
    boxed = len(cells) >= 4
    groups = _zip_groups(pieces, inch)
    if boxed:
        # the ZIP is what is written in the cells, wherever the line's gaps fall (cells space the digits evenly,
        # so the widest gap may be any of them); the cuts by gaps stay as runner-ups
        inside = [p for p in pieces if cells[0][0] <= (p[0] + p[2]) / 2 <= cells[-1][2]]
        if inside:
            groups = [inside, *(g for g in groups if sorted(g) != sorted(inside))][:3]
    located = [_zip_field(view, name, group, pieces, boxed, block.box, score) for group in groups]
    first = located[0]
    first.alternatives = [loc for loc in located[1:] if loc.crop is not None]
    return first


def _zip_field(view: PageView, name: str, group: list[BoxXYXY], pieces: list[BoxXYXY], boxed: bool,
               block: BoxXYXY, score: float) -> Located:  # fmt: skip
    """One reading of where the ZIP is, with its crop (cell frames erased when the ZIP is written in cells)."""
    inch = view.inch
    group_box = _union(group)
    if boxed:
        # printed cells: the field is the digits inside them; their frames are erased from the crop, and what ink
        # is left there is the field's (a digit touching a frame makes one piece with it, so pieces cannot tell)
        crop_box = _margin(view, group_box, 0.03)
        crop = erase_frames(view.crop(crop_box), view.dpi)
        ink_box = _erased_ink_box(crop, crop_box, view.scale) or group_box
        return Located(name, "zip", view.to_page(ink_box), view.to_page(block), crop, score, "boxes", None,
                       view.to_page(crop_box), crop_to_page=view.crop_to_page(crop_box))  # fmt: skip
    ink_box = group_box
    before = [p for p in pieces if p[2] <= ink_box[0]]
    left_gap = ink_box[0] - max(p[2] for p in before) if before else inch(0.2)
    crop_box = _margin(view, ink_box, 0.06, left=max(1, min(inch(0.06), left_gap // 2)))
    if ink_box[2] - ink_box[0] < inch(0.3):
        return Located(name, "zip", view.to_page(ink_box), view.to_page(block), None, 0.0, "",
                       "last word of the address is too short for a ZIP code")  # fmt: skip
    return Located(name, "zip", view.to_page(ink_box), view.to_page(block), view.crop(crop_box), score, "line",
                   None, view.to_page(crop_box), crop_to_page=view.crop_to_page(crop_box))  # fmt: skip


def _erased_ink_box(crop: np.ndarray, crop_box: BoxXYXY, scale: float) -> BoxXYXY | None:
    """The box (view pixels) of a crop's ink bigger than specks, from crop pixels at ``scale`` view px each."""
    ink = (crop < 0.8 * np.percentile(crop, 90)).astype(np.uint8)
    ink = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    ys, xs = np.nonzero(ink)
    if xs.size == 0:
        return None
    x0, y0 = crop_box[0], crop_box[1]
    return (x0 + int(xs.min() * scale), y0 + int(ys.min() * scale),
            x0 + int(np.ceil((xs.max() + 1) * scale)), y0 + int(np.ceil((ys.max() + 1) * scale)))  # fmt: skip


def _margin(view: PageView, box: BoxXYXY, inches: float, left: int | None = None) -> BoxXYXY:
    h, w = view.shape
    m = view.inch(inches)
    x0, y0, x1, y1 = box
    return max(0, x0 - (m if left is None else left)), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
