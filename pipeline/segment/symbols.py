"""Separators and symbols told from geometry alone: size and position against the digits' band and stroke width.

LeNet-5 only knows digits, so the pieces around them (``. , - = / *``, specks, underline remnants) are judged by
shape. Sizes are measured in stroke widths as well as digit heights: a full stop is a blob one or two strokes
across whatever the writing size, a small digit ('o' written low) is several strokes tall. A full stop sits on
the baseline, a comma reaches below it, a dash is flat near the middle, ``=`` is two dashes stacked, ``/`` a tall
thin slanted stroke; flat strokes below the baseline are underline remnants (noise). Each guess carries a cost (a
negative log-likelihood on the same footing as the network's) so the search can weigh "not a digit" against
reading the piece as one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.segment.components import Piece, Scale, extent, union_mask

NOISE = ""


@dataclass(frozen=True)
class SymbolGuess:
    """What a non-digit piece most likely is (``""`` for noise), and the cost of calling it non-digit at all.

    ``digit_penalty``: extra cost of reading the piece as a digit instead, where its shape is unlike any digit."""

    char: str
    cost: float
    digit_penalty: float = 0.0


SHEARS = np.linspace(-0.5, 0.5, 11)  # slants tried for a straight bar, in x per y


def struck_through(mask: np.ndarray, stroke: float) -> bool:
    """A straight stroke runs the mask's whole height (at some slant) near its middle, sticks out alone at both
    ends, and has ink on both of its sides in the top and in the bottom quarter: the bar of a '$' through its S
    (a '1', '4' or '9' has a long stem, but not with ink left and right of it at both ends; a '2' is as tall as
    its diagonal)."""
    h, w = mask.shape
    if h < 8 or w < 5:
        return False
    # the bar's ends alone in the first and last rows: checked once, as a shear moves whole rows and keeps
    # each row's ink count (most digits end in an arc or a bar wider than one stroke and stop here)
    tip = max(2, round(0.06 * h))
    if np.concatenate([mask[:tip], mask[h - tip :]]).sum(axis=1).max() > 1.5 * stroke + 1:
        return False
    ys, xs = np.nonzero(mask)
    t = max(1, round(stroke / 2))
    for shear in SHEARS:
        # shear so that a bar leaning by ``shear`` stands upright; columns then hold the bar whole
        sx = np.round(xs - shear * (ys - h / 2)).astype(np.int64)
        sx -= sx.min()
        width = int(sx.max()) + 1
        grid = np.zeros((h, width), bool)
        grid[ys, sx] = True
        # rows covered within a band of columns a stroke wide, for each band position
        cum = np.concatenate([np.zeros((h, 1), np.int64), np.cumsum(grid, axis=1)], axis=1)
        lo = np.clip(np.arange(width) - t, 0, width)
        hi = np.clip(np.arange(width) + t + 1, 0, width)
        band = (cum[:, hi] - cum[:, lo]) > 0
        cover = band.mean(axis=0)
        middle = np.arange(width)
        mid = (middle >= 0.25 * width) & (middle <= 0.75 * width)
        best = np.where(mid, cover, 0.0)
        c = int(np.argmax(best))
        if best[c] < 0.9:
            continue
        q = max(2, h // 4)
        # the bar sticks out of the S: the first and last rows hold the bar's ends and nothing else
        reach = t + max(2, round(stroke))
        ends = np.concatenate([grid[:tip], grid[h - tip :]])
        if ends[:, : max(0, c - reach)].any() or ends[:, c + reach + 1 :].any():
            continue
        gap = t + 1
        sides = [grid[rows, : max(0, c - gap)].sum() >= stroke and grid[rows, c + gap + 1 :].sum() >= stroke
                 for rows in (slice(0, q), slice(h - q, h))]  # fmt: skip
        if all(sides):
            return True
    return False


def slant(mask: np.ndarray) -> float:
    """Slant of a stroke in degrees from vertical (positive leans right, as '/'), from second moments."""
    ys, xs = np.nonzero(mask)
    if ys.size < 3:
        return 0.0
    y = ys - ys.mean()
    x = xs - xs.mean()
    vy = float((y * y).mean())
    if vy < 1e-6:
        return 90.0
    return float(np.degrees(np.arctan2(-float((x * y).mean()), vy)))


def _flat(p: Piece, sw: float) -> bool:
    return p.h <= 2.8 * sw and p.w >= 1.8 * p.h


def classify_symbol(parts: list[Piece], scale: Scale) -> SymbolGuess:
    """Guess the symbol made of one or two pieces (two only for ``=`` or ``:``-like marks)."""
    sw = scale.stroke
    big_h = scale.digit_height
    x0, y0, x1, y1 = extent(parts)
    w, h = x1 - x0, y1 - y0
    cy = (y0 + y1) / 2
    size = max(w, h) / sw  # in stroke widths
    tall = h / sw
    if len(parts) == 2:
        a, b = sorted(parts, key=lambda p: p.y)
        if _flat(a, sw) and _flat(b, sw) and h < 0.7 * big_h and b.y >= a.y1 - 1 and cy < scale.baseline:
            return SymbolGuess("=", 0.3)
        return SymbolGuess(NOISE, 1.0 + 1.0 * max(0.0, tall - 2.5))
    p = parts[0]
    if p.fragment:
        # a bit cut off a larger piece: a digit's tail or a remnant of an underline, never a separator
        return SymbolGuess(NOISE, 0.3 + 0.5 * max(0.0, tall - 2.0))
    if size <= 1.2:
        return SymbolGuess(NOISE, 0.05)
    if _flat(p, sw) and w >= 0.3 * big_h:
        if cy > scale.baseline - 0.05 * big_h or cy < scale.top + 0.1 * big_h:
            return SymbolGuess(NOISE, 0.3)  # underline or overline remnant
        return SymbolGuess("-", 0.2)
    low = y0 >= scale.middle - 0.05 * big_h  # wholly in the lower half of the band
    if y0 >= scale.baseline - 0.05 * big_h or (w >= 2.2 * h and cy >= scale.baseline - 0.15 * big_h):
        return SymbolGuess(NOISE, 0.2)  # below the writing, or flat on the baseline: underline remnants
    if h <= (0.6 if low else 0.45) * big_h and w <= 0.5 * big_h and (size <= 2.6 or low):
        if low and (h <= 1.6 * w or y1 <= scale.baseline + 0.1 * big_h):
            return SymbolGuess(".", 0.2)
        if low:
            return SymbolGuess(",", 0.3)
        return SymbolGuess(NOISE, 0.5)
    if tall <= 4.5 and w <= 2.6 * sw and h > w and cy >= scale.middle:
        return SymbolGuess(",", 0.4)
    if h >= 0.5 * big_h and w <= 0.7 * big_h and slant(p.mask) > 25:
        return SymbolGuess("/", 1.5)
    return SymbolGuess(NOISE, 1.0 + 1.0 * max(0.0, tall - 2.5))


LEADING_SIGNS = frozenset("$*")  # signs that may only come before the first digit
ENDING_LETTERS = frozenset("x")  # the 'xx' of '35/xx' (no cents), only after the slash


def classify_sign(parts: list[Piece], scale: Scale) -> SymbolGuess | None:
    """A currency or fill sign, the 'x' of '/xx', or a speck-sized dot, told by shape; None when it is none of them.

    These shapes are also digit-like ('$' is an S with a bar, '*' a small '4' or '8', 'x' a small '4' or '7'), so
    the guess is only offered where its place allows it (see :func:`pipeline.segment.search.best_paths`): '$' and
    '*' before the first digit, 'x' after the ending slash, and the network's reading competes with it there.
    """
    H = scale.digit_height
    x0, y0, x1, y1 = extent(parts)
    w, h = x1 - x0, y1 - y0
    size = max(w, h) / scale.stroke
    if size <= 1.6:
        # a dot on the writing's lower half that could be taken for a speck: offer it as a decimal point too, so
        # '224.30' and '22430' compete and the field is rejected as ambiguous rather than read 100 times too big
        if size >= 0.5 and (y0 + y1) / 2 >= scale.middle:
            return SymbolGuess(".", 0.4)
        return None
    if h < 3.0 * scale.stroke:
        return None
    # '*': a small blob of crossing strokes that stays above the middle of the band (raised, unlike any digit
    # but raised cents, which come last and never before the digits)
    if y1 <= scale.middle + 0.12 * H and 0.2 * H <= h <= 0.75 * H and w <= 0.8 * H:
        # small and in the band's upper half: before the first digit, no digit stands like that
        wholly_raised = (y0 + y1) / 2 <= scale.middle - 0.1 * H and h <= 0.65 * H
        return SymbolGuess("*", 0.8, digit_penalty=1.5) if wholly_raised else SymbolGuess("*", 1.5)
    # '$' drawn as an S struck through by one straight bar: no digit has a stroke running its whole height
    # with ink on both sides of it at the top and at the bottom
    if 0.85 * H <= h <= 1.6 * H and 0.35 * H <= w <= 1.0 * H and struck_through(union_mask(parts), scale.stroke):
        return SymbolGuess("$", 0.3, digit_penalty=2.0)
    # '$': its bar sticks out of the digits' band above and below, and both ends are just the bar
    if y0 < scale.top - 0.04 * H and y1 > scale.baseline + 0.04 * H and 0.4 * H <= w <= 0.9 * H:
        mask = union_mask(parts)
        rows = max(1, int(0.06 * h))
        ends = [mask[:rows].any(axis=0), mask[-rows:].any(axis=0)]
        if all(0 < e.sum() <= 3.0 * scale.stroke for e in ends):
            return SymbolGuess("$", 2.0)
    # 'x': a letter smaller than the digits, sitting on their baseline
    if h <= 0.8 * H and y0 >= scale.middle - 0.3 * H and y1 >= scale.baseline - 0.2 * H and 0.2 * H <= w <= 0.9 * H:
        return SymbolGuess("x", 0.3, digit_penalty=1.0)  # after the slash a small letter is no digit
    return None

