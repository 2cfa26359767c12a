"""Read one handwritten field crop (amount, ZIP, number) into a typed, accept-or-reject result.

The entry point for a field locator or a flow: hand over grey crops with their kind, get :class:`FieldResult`
objects back. All candidate segments of all the fields in one call go through the network in ONE batch.
A field is accepted only when its syntax holds, every digit clears the classifier's calibrated threshold, and the
field as a whole is likely enough to be right (:mod:`pipeline.segment.acceptance`, a learned model of the
segmentation's evidence); otherwise it is rejected with a reason and the best guess is kept, so a person can key
it in with the guess pre-filled.
"""

from __future__ import annotations

import math
import os
import pathlib
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from pipeline.segment import acceptance
from pipeline.segment.amount import Token, parse_amount
from pipeline.segment.binarize import binarize, to_grey
from pipeline.segment.components import Piece, Scale, estimate_scale, find_pieces
from pipeline.segment.lines import cut_underlines, remove_boxes, remove_lines
from pipeline.segment.noise import remove_noise, stroke_width
from pipeline.segment.oversegment import FIRST_CUTS, GENEROUS_CUTS, CutConfig, oversegment
from pipeline.segment.plausibility import features as plausibility_features
from pipeline.segment.search import (
    Path,
    SearchConfig,
    Segment,
    Step,
    best_paths,
    candidate_segments,
    digit_penalty,
    render,
)
from pipeline.segment.symbols import ENDING_LETTERS, slant
from pipeline.segment.zipcode import ZipBook, parse_zip

if TYPE_CHECKING:
    from pipeline.recognize.classifier import DigitClassifier
    from pipeline.recognize.wholeness import WholenessModel

FieldKind = Literal["amount", "zip", "number"]
KINDS = ("amount", "zip", "number")
Box = tuple[int, int, int, int]  # x, y, w, h
# ZIP readings that get a second look: one digit short of a ZIP or a ZIP+4. On four dev seeds (1,600 envelopes)
# these gave 24 of the 25 second looks that turned a reading right, for 40% of the second looks (others: none but
# one of two digits), so other counts are not looked at again (docs/flow-benchmarks.md).
ONE_DIGIT_SHORT = (4, 8)


@dataclass
class CharacterResult:
    """One character of a field: a digit with its calibrated probability and runner-up digits, or a symbol."""

    char: str
    bbox: Box
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class FieldResult:
    """A read field. ``value`` is the normalised value, the best guess even when rejected (None when none can be
    read; with reason bad_syntax a ZIP keeps the code its digits make among stray marks, and an amount the value
    its separators most likely meant); ``digits`` the digit string."""

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
    problems: list[tuple[str, str]] = field(default_factory=list)  # every failed check (reason, detail), in order
    features: list[float] = field(default_factory=list, repr=False)  # pipeline.segment.acceptance features
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
    located: bool = False  # cut from a whole page by a locator (which may have cut it wrong), not a field image


@dataclass(frozen=True)
class ReaderConfig:
    """Field-level decision settings; the search costs live in :class:`SearchConfig`."""

    search: SearchConfig = field(default_factory=SearchConfig)
    temperature: float = 1.0  # path costs over this temperature are log-odds between the k best readings
    syntax_margin: float = 4.0  # a reading with good syntax this much costlier than the best still wins
    # an amount reading that takes a mark before the last two digits as the decimal point, with the same digits,
    # wins over one without it when it costs at most this much more (see with_decimal_point)
    point_margin: float = 1.0
    min_field_confidence: float | None = None  # P(right) needed to accept; None: the fitted per-kind threshold
    zip_book: ZipBook | None = None  # valid ZIP codes: a code not in it is rejected, the likeliest valid one kept
    # hints shown to reviewers when a field is rejected (they no longer decide alone):
    max_digit_width: float = 1.45  # a digit wider than this many typical digit widths may be two digits
    min_plausible: float = 0.3  # a digit segment this unlike one whole digit (learned model) may be a fragment
    min_segmentation: float = 0.97  # posterior of the best reading among the k best below this: ambiguous
    max_unread: float = 0.5  # a non-digit piece this tall (digit heights) or more may be a digit left unread
    raised_shift: float = 0.25  # a digit whose bottom is this far (digit heights) above the baseline is raised


@dataclass
class _Prepared:
    crop: FieldCrop
    pieces: list[Piece]  # the cleaned crop's ink, before over-segmentation (a second look cuts it again)
    scale: Scale
    grey: np.ndarray  # the cleaned grey crop, for rendering the segments
    atoms: list[Piece]
    seconds: float = 0.0
    segments: list[Segment] = field(default_factory=list)
    log_whole: np.ndarray | None = None  # per segment, from the whole-digit network
    penalties: np.ndarray | None = None  # per segment, search.digit_penalty (computed for the network's features)
    normalized: np.ndarray | None = None  # per segment, LeNet-5's input
    probs: np.ndarray | None = None  # per segment, LeNet-5's calibrated probabilities
    earlier: _Prepared | None = None  # the first look at the same crop, whose segments need not be read again

    def cut_again(self, cuts: CutConfig) -> _Prepared:
        """The same cleaned crop over-segmented with other cuts (cleaning is most of a crop's preparation)."""
        start = time.perf_counter()
        atoms = oversegment(self.pieces, self.scale, cuts)
        again = _Prepared(self.crop, self.pieces, self.scale, self.grey, atoms, time.perf_counter() - start)
        again.earlier = self
        return again

    def known_segments(self) -> dict[tuple, int]:
        """Segments the earlier look already read (same pixels, so the same image): key -> its index there."""
        if self.earlier is None or self.earlier.probs is None:
            return {}
        return {_segment_key(seg): i for i, seg in enumerate(self.earlier.segments)}


def _segment_key(seg: Segment) -> tuple:
    return (seg.x, seg.y, seg.w, seg.h, seg.mask.tobytes())


def prepare(image: np.ndarray) -> tuple[list[Piece], Scale, np.ndarray]:
    """Clean the crop and cut it into atoms: binarise, smooth, remove rules, cells and specks, over-segment.

    The grey crop comes back too, for rendering the candidate segments."""
    pieces, scale, grey = clean(image)
    return oversegment(pieces, scale, FIRST_CUTS), scale, grey


def clean(image: np.ndarray) -> tuple[list[Piece], Scale, np.ndarray]:
    """The crop's ink pieces after binarising, smoothing and removing rules, cells and specks; the writing's
    scale; and the grey crop."""
    grey = to_grey(image)
    # a 3x3 majority vote smooths ragged stroke edges and fills pinholes that the threshold leaves
    ink = smooth_without_bridges(binarize(grey))
    ink = remove_boxes(remove_lines(ink).ink).ink
    ink = remove_noise(ink)
    pieces = find_pieces(ink)
    scale = estimate_scale(pieces, stroke_width(ink))
    cut = cut_underlines(ink, scale.digit_height, scale.stroke)
    if cut is not ink:
        pieces = find_pieces(cut)
        scale = estimate_scale(pieces, stroke_width(cut))
    return pieces, scale, grey


def smooth_without_bridges(raw: np.ndarray) -> np.ndarray:
    """3x3 median of the ink, except pixels it adds between two separate pieces.

    The majority vote fills one-pixel gaps too, and a full stop written close to a digit's tail would become part
    of the digit ('9.00' read as '900'): keep pieces apart that the threshold kept apart."""
    smooth = cv2.medianBlur(raw.astype(np.uint8) * 255, 3) > 0
    count, labels = cv2.connectedComponents(raw.astype(np.uint8), connectivity=8)
    if count <= 2:
        return smooth
    kernel = np.ones((3, 3), np.uint8)
    ids = labels.astype(np.float32)
    highest = cv2.dilate(ids, kernel)
    lowest = cv2.erode(np.where(labels > 0, ids, np.float32(count)), kernel)
    bridge = smooth & ~raw & (highest > 0) & (lowest < count) & (highest != lowest)
    return smooth & ~bridge


def default_wholeness() -> WholenessModel | None:
    """The whole-digit network that scores candidate segments: the file named by ``PIPELINE_WHOLENESS`` (from
    ``benchmarks/fit_wholeness.py``), else the shipped one; ``PIPELINE_WHOLENESS=off``: none, the logistic model
    of :mod:`pipeline.segment.plausibility` instead. The acceptance models are fitted with the shipped network:
    another one (or none) needs them refitted (docs/reading-evaluation.md, "Whole-digit network")."""
    chosen = os.environ.get("PIPELINE_WHOLENESS", "")
    if chosen.lower() == "off":
        warnings.warn("PIPELINE_WHOLENESS=off: the acceptance models were fitted with the whole-digit network, so "
                      "accept/reject decisions may not hold their error targets", stacklevel=2)  # fmt: skip
        return None
    from pipeline.recognize.wholeness import SHIPPED, WholenessModel  # torch: not imported by the CLI and the flow

    model = WholenessModel(pathlib.Path(chosen) if chosen else SHIPPED)
    if not model.sha256.startswith(acceptance.FITTED_WITH_WHOLENESS):
        warnings.warn(f"whole-digit network {chosen} is not the one the acceptance models were fitted with: "
                      "accept/reject decisions may not hold their error targets (benchmarks/fit_acceptance.py)",
                      stacklevel=2)  # fmt: skip
    return model


class FieldReader:
    """Reads field crops with one shared :class:`DigitClassifier` (weights loaded once, reused for every batch)."""

    def __init__(
        self,
        classifier: DigitClassifier | None = None,
        config: ReaderConfig | None = None,
        wholeness: WholenessModel | bool = True,
    ) -> None:
        """``wholeness``: True for :func:`default_wholeness`, False for the logistic model, or a loaded network."""
        if classifier is None:
            from pipeline.recognize.classifier import DigitClassifier

            classifier = DigitClassifier()
        self.classifier = classifier
        self.config = config or ReaderConfig()
        if isinstance(wholeness, bool):
            self.wholeness = default_wholeness() if wholeness else None
        else:
            self.wholeness = wholeness

    def read(self, image: np.ndarray, kind: FieldKind, name: str = "", bbox: Box | None = None) -> FieldResult:
        """Read one field crop."""
        return self.read_many([FieldCrop(image, kind, name, bbox)])[0]

    def read_many(self, crops: Sequence[FieldCrop]) -> list[FieldResult]:
        """Read many field crops with a single network call over all their candidate segments.

        A ZIP read one digit short (:data:`ONE_DIGIT_SHORT`) gets a second look, cut more finely
        (:data:`GENEROUS_CUTS`): a '1' touching its neighbour is the usual lost digit. Its reading replaces the
        first only where its syntax holds (one more network call, for those fields alone)."""
        for crop in crops:
            if crop.kind not in KINDS:
                raise ValueError(f"unknown field kind {crop.kind!r}; expected one of {KINDS}")
        first = [self._prepare(crop) for crop in crops]
        results = self._read(first)
        again = [i for i, r in enumerate(results) if r.kind == "zip" and len(r.digits) in ONE_DIGIT_SHORT]
        if again:
            second = self._read([first[i].cut_again(GENEROUS_CUTS) for i in again])
            for i, result in zip(again, second, strict=True):
                result.seconds += results[i].seconds
                if result.reason != "bad_syntax" and result.reason != "not_found":
                    results[i] = result
                else:
                    results[i].seconds = result.seconds
        return results

    @staticmethod
    def _prepare(crop: FieldCrop) -> _Prepared:
        start = time.perf_counter()
        pieces, scale, grey = clean(crop.image)  # as prepare(), keeping the pieces for a second look
        atoms = oversegment(pieces, scale, FIRST_CUTS)
        return _Prepared(crop, pieces, scale, grey, atoms, time.perf_counter() - start)

    def _read(self, prepared: list[_Prepared]) -> list[FieldResult]:
        """Classify every candidate segment of the prepared fields in one network call, then decide each field.

        A second look reuses the first look's input and probabilities for segments it already read (about a
        fifth of a second look's segments)."""
        images: list[np.ndarray] = []
        sources: list[tuple[_Prepared, int] | None] = []  # per segment: (earlier look, its index), or None: new
        for item in prepared:
            start = time.perf_counter()
            item.segments = candidate_segments(item.atoms, item.scale, self.config.search)
            known = item.known_segments()
            for seg in item.segments:
                index = known.get(_segment_key(seg)) if known else None
                sources.append(None if index is None else (item.earlier, index))
                if index is None:
                    images.append(render(seg, item.grey))
            item.seconds += time.perf_counter() - start
        t0 = time.perf_counter()
        normalized = probs = whole = None
        if sources:
            normalized, probs = self._classify(images, sources)
            if self.wholeness is not None:
                whole = self._log_whole(prepared, normalized, probs)
        share = (time.perf_counter() - t0) / max(1, len(prepared))
        results = []
        offset = 0
        for item in prepared:
            t1 = time.perf_counter()
            n = len(item.segments)
            item.normalized = normalized[offset : offset + n] if normalized is not None else None
            item.probs = probs[offset : offset + n] if probs is not None else np.zeros((0, 10), np.float32)
            item.log_whole = whole[offset : offset + n] if whole is not None else None
            offset += n
            result = self._decide(item, item.probs)
            result.seconds = item.seconds + share + time.perf_counter() - t1
            results.append(result)
        return results

    def _classify(self, images: list[np.ndarray], sources: list) -> tuple[np.ndarray, np.ndarray]:
        """LeNet-5's inputs and probabilities for every segment: ``images`` normalised and classified, in the
        places ``sources`` leaves new (None), and the earlier look's rows elsewhere."""
        fresh = fresh_probs = None
        if images:
            fresh = self.classifier.normalize(images, polarity="dark")
            fresh_probs = self.classifier.classify_normalized(fresh).probabilities
            if len(images) == len(sources):
                return fresh, fresh_probs
        rows, row_probs, k = [], [], 0
        for source in sources:
            if source is None:
                rows.append(fresh[k])
                row_probs.append(fresh_probs[k])
                k += 1
            else:
                rows.append(source[0].normalized[source[1]])
                row_probs.append(source[0].probs[source[1]])
        return np.stack(rows), np.stack(row_probs)

    def _log_whole(self, prepared: list[_Prepared], normalized: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """log P(one whole digit) of every candidate segment of every field, in one call of the network."""
        from pipeline.recognize.wholeness import context_window, field_ink

        search = self.config.search
        context, rows = [], []
        k = 0
        for item in prepared:
            ink = field_ink(item.atoms)
            item.penalties = np.array([digit_penalty(seg, item.atoms, item.scale, search) for seg in item.segments])
            for seg, penalty in zip(item.segments, item.penalties, strict=True):
                rows.append(plausibility_features(seg, item.atoms, item.scale, probs[k], float(penalty)))
                context.append(context_window(seg, item.atoms, item.scale, ink))
                k += 1
        return self.wholeness.log_whole(normalized, np.stack(context), np.stack(rows))

    def _decide(self, item: _Prepared, probs: np.ndarray) -> FieldResult:
        crop, scale = item.crop, item.scale
        name = crop.name or crop.kind
        empty = FieldResult(name, crop.kind, "rejected", None, "", "", 0.0, "not_found", crop.bbox, [], "no ink")
        if not item.atoms:
            return empty
        paths = best_paths(item.atoms, item.segments, probs, scale, self.config.search, signs=crop.kind == "amount",
                           log_whole=item.log_whole, leading_letters=crop.kind == "zip" and crop.located,
                           penalties=item.penalties)  # fmt: skip
        if not paths:
            return empty
        if crop.kind == "amount":
            fix = self._slash_before_ending
            paths = [Path(p.cost, tuple(fix(list(p.steps), item.segments, item.scale))) for p in paths]
        best, valid = self._syntax_first(paths, item, probs)
        if not best.digits:
            empty.detail = "no digit-like ink"
            return empty
        steps = list(best.steps)
        not_listed = ""
        if crop.kind == "zip" and self.config.zip_book is not None:
            steps, not_listed = self._nearest_valid_zip(steps, probs, self.config.zip_book)
        characters, tokens, char_ok = self._characters(steps, item, probs)
        # segmentation posterior: the best reading against the runner-up readings among the k best paths. Where the
        # best reading's syntax holds, only readings whose syntax holds compete (a 4-digit reading is no ZIP code),
        # as the grammar constrained the readings in LeCun et al.'s cheque reader; readings are told by value.
        seen: dict[str, float] = dict(valid) if valid else {}
        if not seen:
            for p in paths:
                seen.setdefault(p.digits, p.cost)
        posterior = 1.0 / sum(math.exp(-(c - best.cost) / self.config.temperature) for c in seen.values())
        parsed = self._parse(crop.kind, tokens)
        # ink the size of a (small) digit that the best path calls a symbol or noise is a digit we may have missed
        unread = [
            item.segments[st.segment]
            for st in steps
            if st.kind == "symbol" and self._digit_sized(item.segments[st.segment], st.char, scale)
        ]
        marks = [st for st in steps if st.kind == "symbol" and st.char]
        digit_segments = [(st, item.segments[st.segment]) for st in steps if st.kind == "digit"]
        digit_conf = [c.confidence for c in characters if c.char.isdigit()]
        # what looks doubtful in the segmentation: evidence for the acceptance model and reasons for the reviewer
        hints = []
        if unread:
            hints.append(f"digit-sized ink left unread at {unread[0].bbox}")
        if len(marks) > 3:
            hints.append(f"{len(marks)} marks, more than an amount has")
        wide = [seg for _, seg in digit_segments if seg.w > self.config.max_digit_width * scale.width]
        if wide:
            hints.append(f"a digit as wide as two at {wide[0].bbox}")
        weakest = min((st.plausible for st, _ in digit_segments), default=1.0)
        if weakest < self.config.min_plausible:
            hints.append(f"a segment looks little like one whole digit ({weakest:.2f})")
        if posterior < self.config.min_segmentation:
            runner = next(iter(list(seen)[1:]), "")
            hints.append(f"runner-up reading {runner!r}, posterior {posterior:.3f}")
        features = acceptance.field_features(
            log_posterior=math.log(max(posterior, 1e-9)),
            confidences=digit_conf,
            plausible=[st.plausible for st, _ in digit_segments],
            widths=[seg.w / scale.width for _, seg in digit_segments],
            aspects=[seg.w / max(seg.h, 1) for _, seg in digit_segments],
            unread=max((seg.h / scale.digit_height for seg in unread), default=0.0),
            hints=len(hints),
            **self._evidence(steps, item, [seg for _, seg in digit_segments]),
        )
        model = acceptance.model_for(crop.kind, crop.located)
        confidence = acceptance.probability(features, model)
        # hard rules first: the syntax must hold and every digit must clear the classifier's calibrated threshold
        problems: list[tuple[str, str]] = []
        if not parsed.ok:
            problems.append(("bad_syntax", parsed.problem))
        if not_listed:
            problems.append(("low_confidence", not_listed))
        if crop.kind == "zip" and parsed.ok and len(parsed.digits) == 9 and "-" not in parsed.text:
            # a ZIP+4 is written with its dash; nine digits without one are mostly a cut that took letters in
            problems.append(("segmentation_ambiguous", "nine digits with no ZIP+4 dash"))
        if not all(char_ok):
            below = sum(not ok for ok in char_ok)
            problems.append(("low_confidence", f"{below} digit(s) below the threshold {self.classifier.threshold:.3f}"))
        needed = self.config.min_field_confidence
        needed = model.threshold if needed is None else needed
        if confidence < needed:
            # the field as a whole is not likely enough to be right: say what looks doubtful, for the reviewer
            hints.append(f"field confidence {confidence:.3f} below {needed:.3f}")
            problems.extend(("segmentation_ambiguous", hint) for hint in hints)
        reason, detail = problems[0] if problems else (None, "")
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
            problems=problems,
            features=[float(v) for v in features],
        )

    @staticmethod
    def _nearest_valid_zip(steps: list, probs: np.ndarray, book: ZipBook) -> tuple[list, str]:
        """The read five-digit code, or where it is not a valid code the valid one whose digits the network finds
        most likely (with why the field cannot be accepted as read)."""
        digits = [i for i, st in enumerate(steps) if st.kind == "digit"]
        if len(digits) not in (5, 9):
            return steps, ""
        read = "".join(steps[i].char for i in digits[:5])
        if read in book:
            return steps, ""
        code, _ = book.most_probable(probs[[steps[i].segment for i in digits[:5]]])
        steps = list(steps)
        for i, ch in zip(digits[:5], code, strict=True):
            steps[i] = replace(steps[i], char=ch)
        return steps, f"read {read}, which is not a ZIP code; the most likely valid code is {code}"

    def _evidence(self, steps: list, item: _Prepared, digits: list[Segment]) -> dict:
        """Where the first digit sits against the band, the noise the path skips, and ink at the crop's edges."""
        scale = item.scale
        H = scale.digit_height
        first = digits[0] if digits else None
        noise = [
            item.segments[st.segment]
            for st in steps
            if st.kind == "symbol" and not st.char and item.segments[st.segment].h >= 2.0 * scale.stroke
        ]
        width = item.crop.image.shape[1]
        above = max(0.0, scale.top - first.y) if first else 0.0
        below = max(0.0, first.y + first.h - scale.baseline) if first else 0.0
        return {
            "first_out": (above + below) / H,
            "first_raised": (scale.baseline - (first.y + first.h)) / H if first else 0.0,
            "noise": len(noise),
            "edge_ink": any(a.x <= 0 or a.x1 >= width for a in item.atoms),
        }

    def _slash_before_ending(self, steps: list, segments: list[Segment], scale: Scale) -> list:
        """The '/-' ending read as a final '1': a '1' after the last digits that leans like '/' or is taller than
        the digits and is followed by a dash, that is far too wide for a '1' (the dash written on to the slash), or
        that is followed by the 'xx' of '/xx'."""
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
        lettered = bool(after) and after[0].char in ENDING_LETTERS  # '35/xx': only a slash comes before the x's
        if (dashed and leaning) or flourish or lettered:
            steps = [*steps[:last], Step(s.segment, "symbol", "/", s.cost), *steps[last + 1 :]]
        return steps

    def _raised_cents(self, steps: list, item: _Prepared) -> set[int]:
        """Segments of the last two digits when both sit clearly above the baseline, are smaller and end the
        amount: raised cents.

        (Measuring the height from the baseline of the digits before them instead found more raised cents on the
        generated cheques, but on ORAND-CAR-A train it also took the last two digits of integer amounts for cents:
        where 15700 was written it read 157.00 and accepted it.)"""
        scale = item.scale
        digits = [s for s in steps if s.kind == "digit"]
        if len(digits) < 3:
            return set()
        if any(s.char for s in steps[steps.index(digits[-1]) + 1 :]):
            return set()  # an ending ('/-', '/xx', '.-') closes an amount without cents: nothing after cents
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

    def _syntax_first(
        self, paths: list[Path], item: _Prepared, probs: np.ndarray
    ) -> tuple[Path, list[tuple[str, float]]]:
        """The cheapest reading whose syntax holds, if one is within ``syntax_margin`` of the cheapest reading, and
        every distinct valid value within that margin with its cost (the chosen reading's first, then cheapest
        first; empty when none holds). For an amount, a reading with a decimal point can replace the chosen one
        (:func:`with_decimal_point`).

        A missed or extra digit usually breaks the grouping (``22.97.0``), so the field's syntax re-ranks the few
        best segmentations, as the grammar did in LeCun et al.'s graph transformer networks.
        """
        valid: dict[str, float] = {}
        chosen: Path | None = None
        parsed_paths = {}  # id(path) -> its parse, for the paths within the margin that read digits
        considered: list[Path] = []
        for path in paths:
            if path.cost > paths[0].cost + self.config.syntax_margin:
                break
            if not path.digits:
                continue
            _, tokens, _ = self._characters(list(path.steps), item, probs)
            parsed = self._parse(item.crop.kind, tokens)
            parsed_paths[id(path)] = parsed
            considered.append(path)
            if parsed.ok:
                valid.setdefault(parsed.value or parsed.digits, path.cost)
                chosen = chosen or path
        if chosen is not None and item.crop.kind == "amount":
            chosen_value = next(iter(valid))
            for path in with_decimal_point(considered, chosen, self.config.point_margin):
                parsed = parsed_paths[id(path)]
                value = parsed.value or parsed.digits
                if parsed.ok and value != chosen_value:  # the same value ('36^88', '36.88'): nothing to gain
                    valid = {value: path.cost, **{v: c for v, c in valid.items() if v != value}}
                    chosen = path
                    break
        return (chosen or paths[0]), list(valid.items())

    def _digit_sized(self, seg: Segment, char: str, scale: Scale) -> bool:
        """A non-digit piece big enough to be a digit: taller than ``max_unread``, or a compact blob (a small '0')."""
        if char and char in "/=$*x":
            return False  # told by its shape, not a leftover
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
                conf = float(p[int(step.char)])  # the network's argmax, unless a valid-code list chose another
                order = [int(d) for d in np.argsort(-p) if int(d) != int(step.char)][:2]
                alternatives = [(str(d), float(p[d])) for d in order]
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


def _point_before_cents(path: Path) -> bool:
    """The path reads a '.' or ',' right before its last two digits (an ending such as '/-' after them aside)."""
    marks = [step for step in path.steps if step.char]
    while marks and marks[-1].kind != "digit":
        marks.pop()
    return len(marks) >= 3 and marks[-2].kind == "digit" and marks[-3].kind == "symbol" and marks[-3].char in ".,"


def with_decimal_point(paths: Sequence[Path], chosen: Path, margin: float) -> list[Path]:
    """Readings of an amount with the same digits as ``chosen`` that take a mark before the last two digits as the
    decimal point, at most ``margin`` dearer, cheapest first; none when ``chosen`` reads any '.' or ',' (a
    separator it did read, as in '1,250', is not overruled).

    A point often touches the digit before it or is no bigger than a speck, and the cheapest path then glues it
    onto that digit or calls it noise: '6613.30' read as '661330', '8.00' as '800'. A reading that takes it as
    the point with the same digits and nearly the same cost is then the likelier one: on 800 generated cheques
    (dev seeds 101 and 104) the value became right on 20 amounts and wrong on none. The cheaper reading still
    counts against it in the segmentation posterior; on those cheques and seed 777001 no field's acceptance
    changed (measured, not guaranteed: the digits' own evidence comes from the new reading).
    """
    if any(step.kind == "symbol" and step.char in (".", ",") for step in chosen.steps):
        return []
    return [
        p for p in paths
        if p is not chosen and p.cost <= chosen.cost + margin and p.digits == chosen.digits and _point_before_cents(p)
    ]  # fmt: skip
