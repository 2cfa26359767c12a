"""Recognition-driven segmentation: which groups of atoms are digits, chosen by the best path through a graph.

As in LeCun et al. (1998), every run of up to ``max_atoms`` consecutive atoms is a candidate segment; the network
reads all candidates of a field in one batch, and dynamic programming finds the cheapest way through the atoms,
where a digit costs ``-log p`` plus shape penalties and a piece may instead be declared a separator or noise
(:mod:`pipeline.segment.symbols`). Keeping the ``k`` best paths per node gives the runner-up readings, whose
margin says how sure the segmentation is.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from pipeline.segment.components import Piece, Scale, extent, union_mask
from pipeline.segment.plausibility import features, log_plausibility
from pipeline.segment.symbols import ENDING_LETTERS, LEADING_SIGNS, classify_sign, classify_symbol

SWAPPED_MARKS = {".": ",", ",": "."}
SIGNS = LEADING_SIGNS | ENDING_LETTERS


@dataclass(frozen=True)
class SearchConfig:
    """Costs of the path search, tuned on the ORAND-CAR-A train split (see benchmarks/eval_orand_fields.py)."""

    max_atoms: int = 4  # atoms one digit may be made of
    max_width: float = 1.5  # widest digit, in digit heights
    digit_bias: float = 0.3  # cost added per digit: prefers fewer, whole digits over splinters
    short_digit: float = 0.45  # digits shorter than this (in digit heights) are heavily penalised
    max_gap: float = 0.35  # widest blank gap inside one digit, in digit heights
    k_best: int = 6
    swapped_mark: float = 1.0  # extra cost of reading a '.' as ',' or back (a hasty comma is a dot)
    plausibility: float = 1.0  # weight of the whole-digit score (the network's, or the logistic model's)


@dataclass
class Segment:
    """A run of atoms ``[start, stop)`` that may be one character, with its box and ink mask."""

    start: int
    stop: int
    x: int
    y: int
    w: int
    h: int
    mask: np.ndarray = field(repr=False)

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return (int(self.x), int(self.y), int(self.w), int(self.h))


@dataclass(frozen=True)
class Step:
    """One character on a path: a digit read by the network, or a symbol/noise told by geometry."""

    segment: int  # index into the candidate segments
    kind: str  # "digit" | "symbol"
    char: str  # digit, symbol char, or "" for noise
    cost: float
    plausible: float = 1.0  # for digits: the learned probability that the segment is one whole digit


@dataclass(frozen=True)
class Path:
    cost: float
    steps: tuple[Step, ...]

    @property
    def digits(self) -> str:
        return "".join(s.char for s in self.steps if s.kind == "digit")


def _union(atoms: list[Piece], start: int, stop: int) -> Segment:
    group = atoms[start:stop]
    x0, y0, x1, y1 = extent(group)
    return Segment(start, stop, x0, y0, x1 - x0, y1 - y0, union_mask(group))


def _max_gap(atoms: list[Piece], start: int, stop: int) -> float:
    """Widest horizontal blank between the atoms of a run (0 when they overlap)."""
    spans = sorted((p.x, p.x1) for p in atoms[start:stop])
    reach = spans[0][1]
    gap = 0
    for a, b in spans[1:]:
        gap = max(gap, a - reach)
        reach = max(reach, b)
    return float(max(gap, 0))


def candidate_segments(atoms: list[Piece], scale: Scale, config: SearchConfig) -> list[Segment]:
    """Every run of consecutive atoms narrow and tight enough to be one digit (single atoms always)."""
    segments = []
    H = scale.digit_height
    for i in range(len(atoms)):
        for j in range(i + 1, min(len(atoms), i + config.max_atoms) + 1):
            if j - i > 1:
                if _max_gap(atoms, i, j) > config.max_gap * H:
                    break
                seg = _union(atoms, i, j)
                if seg.w > config.max_width * H:
                    break
            else:
                seg = _union(atoms, i, j)
            segments.append(seg)
    return segments


def render(segment: Segment, grey: np.ndarray | None = None, pad: int = 2) -> np.ndarray:
    """The segment as a dark-ink uint8 image for the shared normalisation.

    With the field's grey image, the segment's own pixels (grown by one) keep their scanned grey levels and
    everything else becomes paper: anti-aliased strokes look like the training digits, which were cut from grey
    scans (about 3 points more digits right on ORAND than a bare binary mask).
    """
    img = np.full((segment.h + 2 * pad, segment.w + 2 * pad), 255, np.uint8)
    inner = img[pad : pad + segment.h, pad : pad + segment.w]
    if grey is None:
        inner[segment.mask] = 0
        return img
    near = cv2.dilate(segment.mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    window = grey[segment.y : segment.y + segment.h, segment.x : segment.x + segment.w]
    inner[near] = window[near]
    return img


def digit_penalty(segment: Segment, atoms: list[Piece], scale: Scale, config: SearchConfig) -> float:
    """Shape cost of calling a segment a digit.

    Too few stroke widths tall (a dot, a dash), small and low in the band (a full stop or comma; small digits are
    only ever raised cents), too wide, or two whole digit-sized pieces side by side (two digits, not one broken
    digit: a broken digit is one substantial piece plus fragments, or pieces stacked over each other).
    """
    H = scale.digit_height
    rh = segment.h / H
    rw = segment.w / H
    strokes = segment.h / scale.stroke  # a digit is several stroke widths tall; a dot or dash is not
    cost = 0.0
    low = segment.y > scale.middle - 0.05 * H  # wholly in the lower half: a full stop or a comma
    if strokes < 3.0:
        cost += 6.0 + 3.0 * (3.0 - strokes)
    elif low and rh < 0.7:
        cost += 5.0
    elif rh < config.short_digit:
        raised = segment.y + segment.h < scale.middle + 0.1 * H
        cost += (0.5 if raised else 1.5) + 10.0 * (config.short_digit - rh)
    if rw > 1.0:
        cost += 6.0 * (rw - 1.0)
    if segment.w > 1.5 * scale.width:
        cost += 3.0 * (segment.w / scale.width - 1.5)  # much wider than this writer's digits: two of them
    group = atoms[segment.start : segment.stop]
    if len(group) > 1:
        cost += 0.1 * (len(group) - 1)
        if max(p.h for p in group) < 0.5 * H and segment.h < 0.7 * H:
            cost += 3.0  # only small bits: separators next to each other, not a digit
        for a in group:
            if a.fragment:
                continue
            # a whole piece beside (not under or over) the rest: a separator glued onto a digit, or another digit
            columns = np.zeros(segment.w, bool)
            for b in group:
                if b is not a:
                    columns[b.x - segment.x : b.x1 - segment.x] |= b.mask.any(axis=0)
            own = a.mask.any(axis=0)
            shared = int((own & columns[a.x - segment.x : a.x1 - segment.x]).sum())
            if shared < 0.3 * own.sum():
                low = a.y > scale.middle - 0.05 * H
                cost += 2.0 if (low or a.h < 0.5 * H) else 2.5 if a.h >= 0.6 * H else 1.0
        for a, b in itertools.combinations(group, 2):
            if b.cut_cost > 0 or a.cut_cost > 0:
                continue  # pieces of one cut component: the cut cost already speaks
            overlap = min(a.x1, b.x1) - max(a.x, b.x)
            if a.h >= 0.6 * H and b.h >= 0.6 * H and overlap < 0.3 * min(a.w, b.w):
                cost += 3.0
    return cost


def best_paths(
    atoms: list[Piece],
    segments: list[Segment],
    probabilities: np.ndarray,
    scale: Scale,
    config: SearchConfig,
    signs: bool = True,
    log_whole: np.ndarray | None = None,
    leading_letters: bool = False,
    penalties: np.ndarray | None = None,
) -> list[Path]:
    """The ``k`` cheapest readings of the whole field, cheapest first (one per distinct digit string).

    ``signs``: offer the amount's signs and letters (``$ * x``, a speck as a decimal point, a point read as a
    comma); a ZIP code or a number has none of them. ``log_whole``: log P(one whole digit) of each segment from
    the whole-digit network (:mod:`pipeline.recognize.wholeness`); without it, the logistic model's.
    ``leading_letters``: ink before the first digit and apart from what follows may be letters, left unread at
    ``LETTER_COST`` (a ZIP cut wide enough to take in the state's last letter). ``penalties``: each segment's
    :func:`digit_penalty`, when the caller has them already."""
    n = len(atoms)
    by_start: dict[int, list[int]] = {}
    for idx, seg in enumerate(segments):
        by_start.setdefault(seg.start, []).append(idx)
    digit_steps: dict[int, Step] = {}
    for idx, seg in enumerate(segments):
        probs = probabilities[idx]
        label = int(np.argmax(probs))
        penalty = float(penalties[idx]) if penalties is not None else digit_penalty(seg, atoms, scale, config)
        cost = -math.log(max(float(probs[label]), 1e-9)) + config.digit_bias + penalty
        if log_whole is not None:
            log_q = float(log_whole[idx])
        else:
            log_q = log_plausibility(features(seg, atoms, scale, probs, penalty))
        cost -= config.plausibility * log_q
        digit_steps[idx] = Step(idx, "digit", str(label), cost, math.exp(log_q))
    symbol_steps: dict[int, Step] = {}
    sign_steps: dict[int, Step] = {}
    sign_digit_steps: dict[int, Step] = {}  # the digit reading of a sign-like piece, where a sign may stand
    for idx, seg in enumerate(segments):
        if seg.stop - seg.start <= 2:
            guess = classify_symbol(atoms[seg.start : seg.stop], scale)
            symbol_steps[idx] = Step(idx, "symbol", guess.char, guess.cost)
            if not signs:
                continue
            sign = classify_sign(atoms[seg.start : seg.stop], scale)
            if sign is not None:
                sign_steps[idx] = Step(idx, "symbol", sign.char, sign.cost)
                if sign.digit_penalty:
                    # where the sign may stand, its shape makes the digit reading dearer
                    digit = digit_steps[idx]
                    sign_digit_steps[idx] = replace(digit, cost=digit.cost + sign.digit_penalty)
            elif guess.char in SWAPPED_MARKS:
                # the other separator, dearer: the field's syntax settles which one it was ('81.862.54')
                sign_steps[idx] = Step(idx, "symbol", SWAPPED_MARKS[guess.char], guess.cost + config.swapped_mark)
    letter_steps: dict[int, Step] = {}
    if leading_letters:
        # where the ink right of each atom boundary begins (atoms go by their centres, not their left edges)
        rest_starts = np.minimum.accumulate([a.x for a in reversed(atoms)])[::-1] if atoms else []
        for idx, seg in enumerate(segments):
            if seg.stop == n:
                continue  # a letter is followed by the ZIP
            if rest_starts[seg.stop] - (seg.x + seg.w) >= LETTER_GAP * scale.digit_height:
                letter_steps[idx] = Step(idx, "symbol", "", LETTER_COST)
    # whether any step could end the digits at all (a ZIP's or a number's never does): else no path need be asked
    may_end = any(st.char in ENDING_LETTERS for st in (*symbol_steps.values(), *sign_steps.values()))
    beams: list[list[Path]] = [[] for _ in range(n + 1)]
    beams[0] = [Path(0.0, ())]
    for i in range(n):
        beams[i] = _prune(beams[i], config.k_best)
        if not beams[i]:
            continue
        for idx in by_start.get(i, []):
            j = segments[idx].stop
            boundary = atoms[i].cut_cost + (atoms[j].cut_cost if j < n else 0.0)
            for step in (digit_steps[idx], symbol_steps.get(idx), sign_steps.get(idx), letter_steps.get(idx)):
                if step is None:
                    continue
                for path in beams[i]:
                    if step is letter_steps.get(idx) and _has_digit(path):
                        continue
                    if step.kind == "symbol" and step.char in SIGNS and not _sign_allowed(path, step.char):
                        continue
                    if may_end and step.kind == "digit" and _ended(path):
                        continue
                    taken = step
                    if step.kind == "digit" and idx in sign_digit_steps and _sign_allowed(path, sign_steps[idx].char):
                        taken = sign_digit_steps[idx]
                    beams[j].append(Path(path.cost + taken.cost + boundary / 2, (*path.steps, taken)))
    return _prune(beams[n], config.k_best)


LETTER_COST = 2.0  # a leading piece left unread as a letter (see best_paths' leading_letters)
LETTER_GAP = 0.3  # ... when this many digit heights of blank separate it from what follows


def _has_digit(path: Path) -> bool:
    return any(s.kind == "digit" for s in path.steps)


def _sign_allowed(path: Path, sign: str) -> bool:
    """Where a sign may stand: '$' and '*' before the digits, the 'x' of '/xx' after the slash (or a '1' that the
    field decision turns into the slash)."""
    if sign in LEADING_SIGNS:
        return _may_lead(path, sign)
    if sign in ENDING_LETTERS:
        return _last_mark(path) in "/1x"
    return True


def _may_lead(path: Path, sign: str) -> bool:
    """'*' only first, '$' first or after '*' ('*$12'), never after a digit or twice."""
    marks = [s.char for s in path.steps if s.char]
    return not marks if sign == "*" else marks in ([], ["*"])


def _last_mark(path: Path) -> str:
    """The last non-noise character of a path so far ('-' at the start, which allows no ending letter)."""
    return next((s.char for s in reversed(path.steps) if s.char), "-")


def _ended(path: Path) -> bool:
    """The path has written an ending letter ('xx' of '/xx'): no digit may follow."""
    return any(s.kind == "symbol" and s.char in ENDING_LETTERS for s in path.steps)


def _prune(paths: list[Path], k: int) -> list[Path]:
    """Keep the cheapest path per distinct reading (digits and symbols), at most ``k`` of them."""
    seen: set[tuple[str, ...]] = set()
    kept = []
    for path in sorted(paths, key=lambda p: p.cost):
        key = tuple(s.char if s.kind == "digit" else f"s{s.char}" for s in path.steps)
        if key in seen:
            continue
        seen.add(key)
        kept.append(path)
        if len(kept) == k:
            break
    return kept
