"""Read one handwritten field crop (amount, ZIP, number) into a typed, accept-or-reject result.

The entry point for a field locator or a flow: hand over grey crops with their kind, get :class:`FieldResult`
objects back. All candidate segments of all the fields in one call go through the network in ONE batch.
A field is accepted only when every digit clears the classifier's calibrated threshold, the best segmentation
clearly beats the runner-up reading, and the field's syntax holds; otherwise it is rejected with a reason and
the best guess is kept, so a person can key it in with the guess pre-filled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from pipeline.segment.amount import Token, parse_amount
from pipeline.segment.binarize import binarize, to_grey
from pipeline.segment.components import Piece, Scale, estimate_scale, find_pieces
from pipeline.segment.lines import remove_boxes, remove_lines
from pipeline.segment.noise import remove_noise, stroke_width
from pipeline.segment.oversegment import oversegment
from pipeline.segment.search import Path, SearchConfig, Segment, Step, best_paths, candidate_segments, render
from pipeline.segment.symbols import slant
from pipeline.segment.zipcode import parse_zip

if TYPE_CHECKING:
    from pipeline.recognize.classifier import DigitClassifier

FieldKind = Literal["amount", "zip", "number"]
KINDS = ("amount", "zip", "number")
Box = tuple[int, int, int, int]  # x, y, w, h


@dataclass
class CharacterResult:
    """One character of a field: a digit with its calibrated probability and runner-up digits, or a symbol."""

    char: str
    bbox: Box
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class FieldResult:
    """A read field. ``value`` is the normalised value (None if the syntax failed); ``digits`` the digit string."""

    name: str
    kind: str
    status: Literal["accepted", "rejected"]
    value: str | None
    digits: str
    text: str
    confidence: float
    reason: str | None  # None | "low_confidence" | "segmentation_ambiguous" | "bad_syntax" | "not_found"
    bbox: Box | None
    characters: list[CharacterResult] = field(default_factory=list)
    detail: str = ""  # a human-readable why, for reviewers
    seconds: float = 0.0  # time spent on this field (its share of the batched network call included)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FieldCrop:
    """What a field locator hands over: the crop (grey array), its kind, and where it sits in the document."""

    image: np.ndarray
    kind: FieldKind
    name: str = ""
    bbox: Box | None = None  # the crop's box in the document; character boxes are returned in that frame


@dataclass(frozen=True)
class ReaderConfig:
    """Field-level decision settings; the search costs live in :class:`SearchConfig`."""

    search: SearchConfig = field(default_factory=SearchConfig)
    temperature: float = 1.0  # path costs over this temperature are log-odds between the k best readings
    syntax_margin: float = 4.0  # a reading with good syntax this much costlier than the best still wins
    max_digit_width: float = 1.45  # an accepted digit is at most this many typical digit widths wide
    min_plausible: float = 0.3  # every digit segment must look this much like one whole digit (learned model)
    min_segmentation: float = 0.97  # posterior of the best digit string among the k best, needed to accept
    max_unread: float = 0.5  # a non-digit piece this tall (digit heights) or more makes the field ambiguous
    raised_shift: float = 0.25  # a digit whose bottom is this far (digit heights) above the baseline is raised


@dataclass
class _Prepared:
    crop: FieldCrop
    atoms: list[Piece]
    scale: Scale
    segments: list[Segment]
    started: float
    seconds: float = 0.0


def prepare(image: np.ndarray) -> tuple[list[Piece], Scale, np.ndarray]:
    """Clean the crop and cut it into atoms: binarise, smooth, remove rules, cells and specks, over-segment.

    The grey crop comes back too, for rendering the candidate segments."""
    grey = to_grey(image)
    # a 3x3 majority vote smooths ragged stroke edges and fills pinholes that the threshold leaves
    ink = cv2.medianBlur(binarize(grey).astype(np.uint8) * 255, 3) > 0
    ink = remove_boxes(remove_lines(ink).ink).ink
    ink = remove_noise(ink)
    pieces = find_pieces(ink)
    scale = estimate_scale(pieces, stroke_width(ink))
    return oversegment(pieces, scale), scale, grey


class FieldReader:
    """Reads field crops with one shared :class:`DigitClassifier` (weights loaded once, reused for every batch)."""

    def __init__(self, classifier: DigitClassifier | None = None, config: ReaderConfig | None = None) -> None:
        if classifier is None:
            from pipeline.recognize.classifier import DigitClassifier

            classifier = DigitClassifier()
        self.classifier = classifier
        self.config = config or ReaderConfig()

    def read(self, image: np.ndarray, kind: FieldKind, name: str = "", bbox: Box | None = None) -> FieldResult:
        """Read one field crop."""
        return self.read_many([FieldCrop(image, kind, name, bbox)])[0]

    def read_many(self, crops: Sequence[FieldCrop]) -> list[FieldResult]:
        """Read many field crops with a single network call over all their candidate segments."""
        prepared: list[_Prepared] = []
        images: list[np.ndarray] = []
        for crop in crops:
            if crop.kind not in KINDS:
                raise ValueError(f"unknown field kind {crop.kind!r}; expected one of {KINDS}")
            start = time.perf_counter()
            atoms, scale, grey = prepare(crop.image)
            segments = candidate_segments(atoms, scale, self.config.search)
            images.extend(render(s, grey) for s in segments)
            prepared.append(_Prepared(crop, atoms, scale, segments, start, time.perf_counter() - start))
        t0 = time.perf_counter()
        predictions = None
        if images:
            predictions = self.classifier.classify_normalized(self.classifier.normalize(images, polarity="dark"))
        share = (time.perf_counter() - t0) / max(1, len(prepared))
        results = []
        offset = 0
        for item in prepared:
            t1 = time.perf_counter()
            n = len(item.segments)
            probs = predictions.probabilities[offset : offset + n] if predictions is not None else np.zeros((0, 10))
            offset += n
            result = self._decide(item, probs)
            result.seconds = item.seconds + share + time.perf_counter() - t1
            results.append(result)
        return results

    def _decide(self, item: _Prepared, probs: np.ndarray) -> FieldResult:
        crop, scale = item.crop, item.scale
        name = crop.name or crop.kind
        empty = FieldResult(name, crop.kind, "rejected", None, "", "", 0.0, "not_found", crop.bbox, [], "no ink")
        if not item.atoms:
            return empty
        paths = best_paths(item.atoms, item.segments, probs, scale, self.config.search)
        if not paths:
            return empty
        if crop.kind == "amount":
            fix = self._slash_before_ending
            paths = [Path(p.cost, tuple(fix(list(p.steps), item.segments, item.scale))) for p in paths]
        best = self._syntax_first(paths, item, probs)
        if not best.digits:
            empty.detail = "no digit-like ink"
            return empty
        steps = list(best.steps)
        characters, tokens, char_ok = self._characters(steps, item, probs)
        # segmentation posterior: the best digit string against the runner-up strings among the k best paths
        seen: dict[str, float] = {}
        for p in paths:
            seen.setdefault(p.digits, p.cost)
        posterior = 1.0 / sum(math.exp(-(c - best.cost) / self.config.temperature) for c in seen.values())
        parsed = self._parse(crop.kind, tokens)
        # ink the size of a (small) digit that the best path calls a symbol or noise is a digit we may have missed
        unexplained = [
            item.segments[st.segment].bbox
            for st in steps
            if st.kind == "symbol" and self._digit_sized(item.segments[st.segment], st.char, scale)
        ]
        # touching digits read as one: a digit much wider than this writer's digits
        wide = [
            item.segments[st.segment].bbox
            for st in steps
            if st.kind == "digit" and item.segments[st.segment].w > self.config.max_digit_width * scale.width
        ]
        marks = [st for st in steps if st.kind == "symbol" and st.char]
        if len(marks) > 3:
            unexplained.append(item.segments[marks[0].segment].bbox)
        digit_conf = [c.confidence for c in characters if c.char.isdigit()]
        confidence = float(np.prod(digit_conf)) * posterior if digit_conf else 0.0
        reason, detail = None, ""
        if not parsed.ok:
            reason, detail = "bad_syntax", parsed.problem
        elif unexplained:
            reason, detail = "segmentation_ambiguous", f"digit-sized ink left unread at {unexplained[0]}"
        elif not all(char_ok):
            reason = "low_confidence"
            detail = f"{sum(not ok for ok in char_ok)} digit(s) below the threshold {self.classifier.threshold:.3f}"
        elif wide:
            reason, detail = "segmentation_ambiguous", f"a digit as wide as two at {wide[0]}"
        elif min((st.plausible for st in steps if st.kind == "digit"), default=1.0) < self.config.min_plausible:
            weakest = min(st.plausible for st in steps if st.kind == "digit")
            reason, detail = "segmentation_ambiguous", f"a segment looks little like one whole digit ({weakest:.2f})"
        elif posterior < self.config.min_segmentation:
            runner = next((d for d in seen if d != best.digits), "")
            reason, detail = "segmentation_ambiguous", f"runner-up reading {runner!r}, posterior {posterior:.3f}"
        return FieldResult(
            name=name,
            kind=crop.kind,
            status="accepted" if reason is None else "rejected",
            value=parsed.value,
            digits=parsed.digits,
            text=parsed.text,
            confidence=confidence,
            reason=reason,
            bbox=crop.bbox,
            characters=characters,
            detail=detail,
        )

    def _slash_before_ending(self, steps: list, segments: list[Segment], scale: Scale) -> list:
        """The '/-' ending read as a final '1': a '1' after the last digits that leans like '/' or is taller than
        the digits and is followed by a dash, or that is far too wide for a '1' (the dash written on to the slash)."""
        digit_idx = [i for i, s in enumerate(steps) if s.kind == "digit"]
        if len(digit_idx) < 2:
            return steps
        last = digit_idx[-1]
        s = steps[last]
        if s.char != "1":
            return steps
        after = [t for t in steps[last + 1 :] if t.char]
        seg = segments[s.segment]
        leaning = slant(seg.mask) > 8 or seg.h > 1.25 * scale.digit_height
        dashed = bool(after) and after[0].char in "-="
        flourish = not after and seg.w > 0.9 * scale.digit_height
        if (dashed and leaning) or flourish:
            steps = [*steps[:last], Step(s.segment, "symbol", "/", s.cost), *steps[last + 1 :]]
        return steps

    def _raised_cents(self, steps: list, item: _Prepared) -> set[int]:
        """Segments of the last two digits when both sit clearly above the baseline and are smaller: raised cents."""
        scale = item.scale
        digits = [s for s in steps if s.kind == "digit"]
        if len(digits) < 3:
            return set()
        last = [item.segments[s.segment] for s in digits[-2:]]
        before = [item.segments[s.segment] for s in digits[:-2]]
        high = scale.baseline - self.config.raised_shift * scale.digit_height
        main_h = float(np.median([b.h for b in before]))
        if all(seg.y + seg.h < high and seg.h < 0.85 * main_h for seg in last):
            return {s.segment for s in digits[-2:]}
        return set()

    @staticmethod
    def _parse(kind: str, tokens: list[Token]):
        if kind == "amount":
            return parse_amount(tokens)
        if kind == "zip":
            return parse_zip(tokens)
        parsed = parse_amount([t for t in tokens if t.char.isdigit()])
        return type(parsed)(parsed.digits, parsed.digits, parsed.text, bool(parsed.digits))

    def _syntax_first(self, paths: list[Path], item: _Prepared, probs: np.ndarray) -> Path:
        """The cheapest reading whose syntax holds, if one is within ``syntax_margin`` of the cheapest reading.

        A missed or extra digit usually breaks the grouping (``22.97.0``), so the field's syntax re-ranks the few
        best segmentations, as the grammar did in LeCun et al.'s graph transformer networks. Picking a runner-up
        lowers the segmentation posterior, so such a field is rejected as ambiguous anyway, with a better guess.
        """
        for path in paths:
            if path.cost > paths[0].cost + self.config.syntax_margin:
                break
            if not path.digits:
                continue
            _, tokens, _ = self._characters(list(path.steps), item, probs)
            if self._parse(item.crop.kind, tokens).ok:
                return path
        return paths[0]

    def _digit_sized(self, seg: Segment, char: str, scale: Scale) -> bool:
        """A non-digit piece big enough to be a digit: taller than ``max_unread``, or a compact blob (a small '0')."""
        if char and char in "/=":
            return False
        H = scale.digit_height
        if seg.h < 3.0 * scale.stroke:
            return False
        return seg.h >= self.config.max_unread * H or (seg.h >= 0.3 * H and seg.w >= 0.25 * H)

    @staticmethod
    def _inside_a_digit(seg: Segment, steps: list, item: _Prepared) -> bool:
        digits = [item.segments[s.segment] for s in steps if s.kind == "digit"]
        return any(_overlap(seg, d) >= 0.5 * seg.w for d in digits)

    def _characters(
        self, steps: list, item: _Prepared, probs: np.ndarray
    ) -> tuple[list[CharacterResult], list[Token], list[bool]]:
        dx, dy = (item.crop.bbox[0], item.crop.bbox[1]) if item.crop.bbox else (0, 0)
        threshold = self.classifier.threshold
        characters, tokens, ok = [], [], []
        cents = self._raised_cents(steps, item)
        for step in steps:
            if not step.char:
                continue  # noise
            seg = item.segments[step.segment]
            box = (int(seg.x + dx), int(seg.y + dy), int(seg.w), int(seg.h))
            if step.kind == "digit":
                p = probs[step.segment]
                order = np.argsort(-p)[:3]
                conf = float(p[order[0]])
                alternatives = [(str(int(d)), float(p[d])) for d in order[1:]]
                characters.append(CharacterResult(step.char, box, conf, alternatives))
                tokens.append(Token(step.char, step.segment in cents))
                ok.append(conf >= threshold)
            else:
                if self._inside_a_digit(seg, steps, item):
                    continue  # a speck or stroke fragment within a digit's columns is not a separator
                characters.append(CharacterResult(step.char, box, float(math.exp(-step.cost)), []))
                tokens.append(Token(step.char))
        return characters, tokens, ok


def _overlap(a: Segment, b: Segment) -> int:
    return max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))


def read_field(image: np.ndarray, kind: FieldKind, name: str = "", reader: FieldReader | None = None) -> FieldResult:
    """Convenience: read one crop with a (new, or given) reader. Flows should keep one reader and call read_many."""
    return (reader or FieldReader()).read(image, kind, name)
