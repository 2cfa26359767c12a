"""Heuristic over-segmentation: cut pieces too wide for one digit at every plausible place.

Following LeCun et al. (1998), cuts are generated generously and the recogniser decides later which of them are
real, so a missed cut costs a field while an extra cut costs only a few network inputs. Candidate cuts are
minima of the vertical ink projection and valleys of the upper and lower contours, inside the piece and not too
close to its ends; each is a column. A cut piece becomes a row of *atoms*, the units the search combines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.segment.components import Piece, Scale


@dataclass(frozen=True)
class CutConfig:
    """Which pieces are cut and how near their ends: in digit heights, and width over the piece's own height."""

    min_part: float = 0.25  # no cut nearer a piece's end than this
    min_width: float = 0.9  # pieces narrower than this are not cut ...
    min_aspect: float = 0.85  # ... nor those narrower than this share of their own height


FIRST_CUTS = CutConfig()  # every field's first look

# For a second look at a field whose first reading cannot be right (a ZIP of four digits): a '1' touching its
# neighbour makes a piece barely wider than one digit, with the cut near its end. Cutting this generously
# everywhere loses more than it wins (dev envelopes: raw 76-80% -> 67-73%), so it is never the first look.
GENEROUS_CUTS = CutConfig(min_part=0.12, min_width=0.7, min_aspect=0.7)


def candidate_cuts(piece: Piece, scale: Scale, config: CutConfig = FIRST_CUTS) -> list[tuple[int, float]]:
    """Cuts ``(column, slope)`` inside the piece where it may be split between two touching digits."""
    h = scale.digit_height
    min_part = config.min_part
    if piece.w < config.min_width * h or piece.w < config.min_aspect * piece.h:
        return []
    mask = piece.mask
    proj = mask.sum(axis=0).astype(float)
    cols = np.arange(piece.w)
    rows = np.arange(piece.h)[:, None]
    has = mask.any(axis=0)
    top = np.where(has, np.where(mask, rows, piece.h).min(axis=0), piece.h).astype(float)
    bottom = np.where(has, np.where(mask, rows, -1).max(axis=0), -1).astype(float)
    margin = max(2, int(min_part * h))
    inner = cols[margin : piece.w - margin]
    if inner.size == 0:
        return []
    half = max(1, margin // 2)
    smooth = np.convolve(proj, np.ones(3) / 3, mode="same")
    # over the window of +-half columns around each column (cut short at the piece's ends)
    smooth_min, top_min, bottom_min = (_window(v, half, np.min) for v in (smooth, top, bottom))
    top_max, bottom_max = (_window(v, half, np.max) for v in (top, bottom))
    is_cut = (
        (smooth <= smooth_min)  # projection minimum
        | ((top >= top_max) & (top > top_min + 1))  # valley of the upper contour
        | ((bottom <= bottom_min) & (bottom < bottom_max - 1))  # valley of the lower contour (seen from below)
    )
    # in a set's order, which breaks ties between equally cheap cuts below (as it always has; 36 of 296 test
    # documents read differently in column order)
    candidates = list({int(x) for x in inner[is_cut[inner]]})
    # rank by how cheap the cut is: one thin stroke crossed beats two strokes (the inside of a '0'); each cut
    # may lean (digits touching along a slanted stroke), taking the lean that crosses the least ink
    scores = _best_leans(mask, candidates, scale.stroke)
    # keep the best cut in each neighbourhood, at most as many cuts as the piece could hold digits
    chosen: list[int] = []
    for x in sorted(scores, key=lambda c: scores[c][0]):
        if all(abs(x - c) >= margin for c in chosen):
            chosen.append(x)
    limit = max(1, int(2 * piece.w / max(0.35 * h, 1)))
    chosen = sorted(sorted(chosen, key=lambda c: scores[c][0])[:limit])
    return [(x, scores[x][1]) for x in chosen]


def _window(values: np.ndarray, half: int, reduce) -> np.ndarray:
    """``reduce`` (np.min or np.max) of ``values[x - half : x + half + 1]`` at every x, the window clipped at the
    ends (padding with the end values leaves a min or max unchanged)."""
    padded = np.pad(values, half, mode="edge")
    return reduce(np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1)


SLOPES = (0.0, -0.2, 0.2, -0.4, 0.4)  # column shift per row of a cut, relative to its middle


def _boundary(height: int, x: int, slope: float) -> np.ndarray:
    """Column of a (possibly leaning) cut at every row."""
    rows = np.arange(height)
    return np.round(x + slope * (rows - (height - 1) / 2)).astype(int)


def _best_leans(mask: np.ndarray, xs: list[int], stroke: float) -> dict[int, tuple[float, float]]:
    """``x -> (cost, slope)`` of the cheapest lean of a cut at each column ``x`` (ties: the smaller slope), as
    ``min((cut_cost(_line(mask, x, s), stroke), s) for s in SLOPES)``, all cuts and leans in one array pass."""
    if not xs:
        return {}
    h, w = mask.shape
    slopes = np.array(SLOPES)
    offsets = slopes[:, None] * (np.arange(h) - (h - 1) / 2)  # (leans, rows)
    cols = np.round(np.array(xs, float)[:, None, None] + offsets[None]).astype(int)  # (cuts, leans, rows)
    inside = (cols >= 0) & (cols < w)
    lines = np.where(inside, mask[np.arange(h), np.clip(cols, 0, w - 1)], False)
    padded = np.zeros((*lines.shape[:2], h + 2), np.int8)
    padded[..., 1:-1] = lines
    runs = (np.diff(padded, axis=2) == 1).sum(axis=2)
    ink = lines.sum(axis=2)
    s = max(stroke, 1.0)  # the operations in cut_cost's order, so the costs are the same to the bit
    costs = np.where(runs <= 1, 0.3 + 0.3 * np.maximum(0.0, ink / s - 1.5), 2.0 * (runs - 1) + 0.3 * ink / s)
    order = np.lexsort((np.broadcast_to(slopes, costs.shape), costs), axis=1)[:, 0]  # by cost, then by slope
    return {x: (float(costs[i, k]), float(slopes[k])) for i, (x, k) in enumerate(zip(xs, order, strict=True))}


def _line(mask: np.ndarray, x: int, slope: float) -> np.ndarray:
    """The mask's pixels along a cut, row by row (outside the piece counts as paper)."""
    cols = _boundary(mask.shape[0], x, slope)
    inside = (cols >= 0) & (cols < mask.shape[1])
    out = np.zeros(mask.shape[0], bool)
    out[inside] = mask[np.nonzero(inside)[0], cols[inside]]
    return out


def cut_cost(column: np.ndarray, stroke: float) -> float:
    """How unlikely a boundary between two digits is here: touching digits meet at one thin stroke.

    A cut through one stroke costs little; through two strokes (both sides of a '0' or a loop) much more.
    """
    col = column.astype(np.int8)
    runs = int((np.diff(np.concatenate([[0], col, [0]])) == 1).sum())
    ink = int(column.sum())
    if runs <= 1:
        return 0.3 + 0.3 * max(0.0, ink / max(stroke, 1.0) - 1.5)
    return 2.0 * (runs - 1) + 0.3 * ink / max(stroke, 1.0)


def split_piece(piece: Piece, cuts: list[tuple[int, float]], stroke: float = 2.0) -> list[Piece]:
    """The atoms of a piece cut along the given cuts, each with the cost of the boundary on its left."""
    if not cuts:
        return [piece]
    h, w = piece.mask.shape
    cols = np.arange(w)[None, :]
    part = np.zeros((h, w), np.int32)
    for x, slope in cuts:
        part += cols >= _boundary(h, x, slope)[:, None]
    atoms = []
    for k in range(len(cuts) + 1):
        sub = piece.mask & (part == k)
        if not sub.any():
            continue
        ys = np.nonzero(sub.any(axis=1))[0]
        xs = np.nonzero(sub.any(axis=0))[0]
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        cost = cut_cost(_line(piece.mask, *cuts[k - 1]), stroke) if atoms else piece.cut_cost
        atoms.append(Piece(piece.x + x0, piece.y + y0, x1 - x0, y1 - y0, sub[y0:y1, x0:x1], cost, True))
    if len(atoms) == 1:
        atoms[0] = piece
    return atoms


def oversegment(pieces: list[Piece], scale: Scale, config: CutConfig = FIRST_CUTS) -> list[Piece]:
    """All atoms of a field in reading order: pieces narrow enough stay whole, wide ones are cut."""
    atoms: list[Piece] = []
    for piece in pieces:
        atoms.extend(split_piece(piece, candidate_cuts(piece, scale, config), scale.stroke))
    atoms.sort(key=lambda p: (p.cx, p.y))
    return atoms
