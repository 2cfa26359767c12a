"""From pages to read fields: the one entry point the batch flow calls for a batch of pages.

Every page is made upright (skew, upside down), its kind settled (``auto``: cheque or envelope), and its field
located; then the crops of ALL pages go to the reader together (:meth:`FieldReader.read_many`), so the network
runs over the whole batch at once (twice when some fields' runner-up places are read). A page whose field cannot
be found still gets a result: a rejected field with reason ``not_found`` and the locator's reason as detail, so a
person knows to key it from the image. A page that fails outright (a bug, a degenerate image) gets an error and
never stops the batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.segment.field import FieldCrop, FieldReader, FieldResult
from pipeline.segment.kind import guess_kind
from pipeline.segment.locate_cheque import Located, locate_amount
from pipeline.segment.locate_envelope import locate_zip
from pipeline.segment.orientation import upright_view
from pipeline.segment.pageview import BoxXYXY, box_through, make_view
from pipeline.segment.templates import Template, locate_with_template

DOCUMENT_KINDS = ("cheque", "envelope", "auto")
FIELD_KINDS = ("amount", "zip", "number")
KINDS = DOCUMENT_KINDS + FIELD_KINDS
REVIEW_PAD = 8  # page pixels of margin around a field's box in its review crop (the kept region has the same)
PRIMARY_FIELD = {"cheque": ("amount", "amount"), "envelope": ("zip", "zip")}  # kind -> (field name, field kind)


@dataclass
class PageInput:
    """One page to read: grey (or colour) pixels, its resolution, and what it is."""

    image: np.ndarray
    dpi: float
    kind: str = "auto"  # cheque | envelope | auto | amount | zip | number (the last three: the page IS the field)
    dpi_from_metadata: bool = True
    template: str | None = None  # a named layout template to try first (cheques)


@dataclass
class PageResult:
    """The fields read on one page, or the error that stopped it; with what was done to the page."""

    kind: str  # the kind used (auto resolved)
    fields: list[FieldResult] = field(default_factory=list)
    error: str | None = None
    turned: bool = False  # the page was upside down and was turned
    skew: float = 0.0  # degrees of deskew applied
    zones: dict[str, BoxXYXY | None] = field(default_factory=dict)  # printed zone per field, page px [x0,y0,x1,y1]
    locate_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def _xywh(box: BoxXYXY | None) -> tuple[int, int, int, int] | None:
    if box is None:
        return None
    return box[0], box[1], box[2] - box[0], box[3] - box[1]


def not_found(name: str, kind: str, detail: str) -> FieldResult:
    """The result for a field that could not be located: rejected, reason not_found, no box."""
    return FieldResult(name, kind, "rejected", None, "", "", 0.0, "not_found", None, [], detail)


def locate_page(page: PageInput, templates: dict[str, Template] | None = None) -> tuple[PageResult, list[Located]]:
    """Upright the page, settle its kind and locate its field(s); nothing is read yet."""
    start = time.perf_counter()
    kind = page.kind
    if kind in FIELD_KINDS:
        h, w = page.image.shape[:2]
        whole = Located(kind, kind, (0, 0, w, h), (0, 0, w, h), page.image, 1.0, "page", None, (0, 0, w, h))
        return PageResult(kind, locate_seconds=time.perf_counter() - start), [whole]
    if kind not in DOCUMENT_KINDS:
        raise ValueError(f"unknown page kind {kind!r}; expected one of {KINDS}")
    view = make_view(page.image, page.dpi)
    if kind == "auto":
        kind = guess_kind(view, page.dpi_from_metadata)
    view, turned = upright_view(page.image, page.dpi, kind, view)
    located = None
    if kind == "cheque" and page.template and templates and page.template in templates:
        located = locate_with_template(view, templates[page.template], "amount")
    if located is None:
        located = locate_amount(view) if kind == "cheque" else locate_zip(view)
    result = PageResult(kind, turned=turned, skew=view.angle, zones={located.name: located.zone})
    result.locate_seconds = time.perf_counter() - start
    return result, [located]


@dataclass
class LocatedPage:
    """A page after location: its result so far and its fields' places (first = preferred), crops cut out, so the
    page image itself is no longer needed for reading."""

    result: PageResult
    fields: list[list[Located]] = field(default_factory=list)
    # page pixels [x0, y0, x1, y1] holding every place a field may be read at, padded: what a review crop of this
    # page can be cut from; None when the whole page is needed (a field not found, a page that failed)
    review_box: BoxXYXY | None = None


def locate(item: PageInput | tuple, templates: dict[str, Template] | None = None) -> LocatedPage:
    """Locate one page's fields (:func:`locate_page`); a page that fails gets an error result, never raises."""
    page = item if isinstance(item, PageInput) else PageInput(*item)
    try:
        result, located = locate_page(page, templates)
    except Exception as exc:  # one bad page must not stop the batch
        return LocatedPage(PageResult(page.kind, error=f"{type(exc).__name__}: {exc}"))
    out = LocatedPage(result)
    for loc in located:
        if loc.crop is None or loc.reason is not None:
            result.fields.append(not_found(loc.name, loc.kind, loc.reason or "no crop"))
            continue
        out.fields.append([loc, *loc.alternatives])
    boxes = [b for places in out.fields for p in places for b in (p.crop_box, p.bbox) if b is not None]
    if boxes and not result.fields:  # every field found: its review crop lies within its places
        h, w = page.image.shape[:2]
        pad = REVIEW_PAD
        out.review_box = (
            max(0, min(b[0] for b in boxes) - pad), max(0, min(b[1] for b in boxes) - pad),
            min(w, max(b[2] for b in boxes) + pad), min(h, max(b[3] for b in boxes) + pad),
        )  # fmt: skip
    return out


RUNNER_UP_CONFIDENCE = 0.3  # a rejected ZIP reading this unsure has its runner-up places read too
UNSURE_ZIP = 0.2  # a ZIP reading below this confidence ...
SURE_RUNNER_UP = 0.8  # ... loses to a well-formed runner-up reading at least this sure


def needs_runner_ups(first: FieldResult) -> bool:
    """Whether a field's runner-up places could win over its first place's reading (:func:`_choose`).

    None can win over an accepted reading. Over a rejected one they win when one of them is accepted, or (a ZIP)
    when the first gives no value. A ZIP's runner-ups are other cuts of the same line: on 597 envelopes of the
    dev seeds (those of one page, every place read and recorded), every one that won did so over a first reading
    with no value or a confidence below 0.2. Reading them only then (about one envelope in five) cut a worker's
    CPU per envelope by 27-43%; all 800 dev envelopes re-read lost one accepted ZIP (a page of a multi-page file,
    its first reading at confidence 0.86). An amount's runner-up is another zone of the cheque, which does win
    over confident readings of the wrong zone (two of 400 cheques of dev seed 104), so it is read whenever the
    first is rejected.
    """
    if first.status == "accepted":
        return False
    return first.kind != "zip" or first.value is None or first.confidence < RUNNER_UP_CONFIDENCE


def _crop_of(place: Located) -> FieldCrop:
    return FieldCrop(place.crop, place.kind, place.name, _xywh(place.crop_box), place.source != "page")


def read_located(pages: Sequence[LocatedPage], reader: FieldReader) -> list[PageResult]:
    """Read the located fields of all pages; results in page order.

    When a locator is unsure it offers runner-up places (a ZIP+4 cut at its dash or before the state; a second
    zone on a cheque) and the reader's verdict picks one (:func:`_choose`). The reader runs at most twice, each
    time over a whole batch: once over every field's first place, then over the runner-up places of the fields
    whose first reading they could beat (:func:`needs_runner_ups`).
    """
    places = [(page, field_places) for page in pages for field_places in page.fields]
    firsts = reader.read_many([_crop_of(ps[0]) for _, ps in places]) if places else []
    unsure = [len(ps) > 1 and needs_runner_ups(first) for (_, ps), first in zip(places, firsts, strict=True)]
    runners = [_crop_of(p) for (_, ps), wanted in zip(places, unsure, strict=True) if wanted for p in ps[1:]]
    read = iter(reader.read_many(runners) if runners else [])
    for (page, field_places), first, wanted in zip(places, firsts, unsure, strict=True):
        options = [(first, field_places[0])]
        if wanted:
            options += [(next(read), place) for place in field_places[1:]]
        field_result, place = options[_choose([r for r, _p in options])]
        if place.bbox is not None and place.source != "page":
            # the field's ink in page pixels, not the crop's margin; for a ZIP, the characters read of it
            read_box = _characters_box(field_result, place) if field_result.kind == "zip" else None
            field_result.bbox = read_box or _xywh(place.bbox)
            page.result.zones[place.name] = place.zone
        page.result.fields.append(field_result)
    return [page.result for page in pages]


def _characters_box(reading: FieldResult, place: Located) -> tuple[int, int, int, int] | None:
    """The page box (x, y, w, h) around the characters a reading made of its crop. A ZIP's runner-up place that
    took in the state's letters reads them as noise, and its own box would then hold more than the field (dev seed
    104 with the whole-digit network: 11 located ZIPs more, none fewer). Not for amounts: there it lost 4 of
    400 cheques of dev seed 104. The crop is deskewed: its corners go back to the page through the crop's own
    map (character boxes are crop pixels shifted by the crop box's corner, right only on a page without skew)."""
    if not reading.characters or place.crop_to_page is None or place.crop_box is None:
        return None
    dx, dy = place.crop_box[0], place.crop_box[1]
    x0 = min(c.bbox[0] for c in reading.characters) - dx
    y0 = min(c.bbox[1] for c in reading.characters) - dy
    x1 = max(c.bbox[0] + c.bbox[2] for c in reading.characters) - dx
    y1 = max(c.bbox[1] + c.bbox[3] for c in reading.characters) - dy
    px0, py0, px1, py1 = box_through((x0, y0, x1, y1), place.crop_to_page)
    return px0, py0, px1 - px0, py1 - py0


def read_pages(
    pages: Sequence[PageInput | tuple], reader: FieldReader, templates: dict[str, Template] | None = None
) -> list[PageResult]:
    """Locate the fields on every page, then read all the crops together (:func:`read_located`).

    ``pages`` holds :class:`PageInput` or ``(image, dpi, kind)`` tuples. Results come back in page order; each
    has one field per located zone (cheque: ``amount``; envelope: ``zip``; a field page: its kind). The batch
    flow calls :func:`locate` and :func:`read_located` itself, to let each page image go once it is located.
    """
    return read_located([locate(item, templates) for item in pages], reader)


def _well_formed(reading: FieldResult) -> bool:
    return not any(reason == "bad_syntax" for reason, _detail in reading.problems)


def _one_more_in_front(runner: FieldResult, first: FieldResult) -> bool:
    """The runner-up reads the four digits of the first place with one more before them: a wider cut, whose extra
    digit is the state's letters read as one. On dev seeds 101, 104 and 105, 11 of 11 such runner-ups that won
    were wrong, and the first place was the ZIP's (it had lost a digit inside, mostly a '1' touching its
    neighbour). Not for ZIP+4s (eight digits and nine): there the first cut may have cut off the ZIP's own first
    digit, and both boxes cover the field (report seed 777001: one such runner-up was right)."""
    return len(first.digits) == 4 and len(runner.digits) == 5 and runner.digits.endswith(first.digits)


def _choose(readings: list[FieldResult]) -> int:
    """Which of a field's candidate places to believe: the locator's first choice, unless the reader rejects it
    and accepts a runner-up. For a ZIP, a runner-up whose reading merely gives a ZIP (5 or 5+4 digits, if need be
    among marks no ZIP holds) also wins over a first choice whose reading does not, as that syntax is strict.
    Among such runner-ups the one the reader is surest of wins, not the first listed: a wide cut that took the
    state's letters in reads as nine digits too, but with less confidence (dev seeds 101 and 104, 800 envelopes:
    two ZIPs more read right, two more located and one fewer). Amount syntax is too permissive to trade a
    correctly located but unreadable amount for a wrongly located one. (Preferring five digits over nine undashed
    ones was tried: a ZIP+4 whose dash the reader missed then lost to a cut inside it.) A ZIP read with little
    confidence loses to a well-formed runner-up the reader is fairly sure of: a cut that took the state's letters
    in reads nine digits, unsurely (dev seeds 101, 104, 105, 1,200 envelopes: located +2, raw +3, none lost; a
    runner-up only twice as sure as its first also won over three right readings)."""
    first = readings[0]
    if first.status == "accepted":
        return 0
    runners = list(enumerate(readings[1:], 1))
    accepted = [(r.confidence, -k, k) for k, r in runners if r.status == "accepted"]
    if accepted:
        return max(accepted)[2]
    if first.kind == "zip" and first.value is None:
        # a well-formed reading before one repaired from among stray marks, then the surer
        valid = [(_well_formed(r), r.confidence, -k, k) for k, r in runners
                 if r.value is not None and not _one_more_in_front(r, first)]  # fmt: skip
        if valid:
            return max(valid)[3]
    if first.kind == "zip" and first.confidence < UNSURE_ZIP:
        surer = [(r.confidence, -k, k) for k, r in runners
                 if r.value is not None and _well_formed(r) and r.confidence >= SURE_RUNNER_UP]  # fmt: skip
        if surer:
            return max(surer)[2]
    return 0
