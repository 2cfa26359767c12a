"""read_pages: location for every page, read_many over the whole batch, not_found results, field kinds, bad pages."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.segment.document import (
    LocatedPage,
    PageInput,
    PageResult,
    _choose,
    needs_runner_ups,
    read_located,
    read_pages,
)
from pipeline.segment.field import FieldReader, FieldResult
from pipeline.segment.kind import guess_kind
from pipeline.segment.locate_cheque import Located
from pipeline.segment.pageview import make_view
from pipeline.segment.templates import TemplateError, locate_with_template, parse_template
from tests.documents_helper import iou, make


class _Predictions:
    def __init__(self, probabilities: np.ndarray) -> None:
        self.probabilities = probabilities


class StubClassifier:
    """Stands in for LeNet (no weights needed): every segment is a confident '7'; counts the network calls. Its
    inputs are no real digit images, so readers built on it score segments with the logistic model."""

    threshold = 0.5

    def __init__(self) -> None:
        self.calls = 0

    def normalize(self, images, polarity="auto"):
        return np.zeros((len(images), 1, 28, 28), np.float32)

    def classify_normalized(self, normalized):
        self.calls += 1
        probs = np.full((len(normalized), 10), 0.001, np.float32)
        probs[:, 7] = 0.991
        return _Predictions(probs)


@pytest.fixture(scope="module")
def docs():
    return [make("cheque", 0, cover=0), make("envelope", 4, cover=4), make("cheque", 3, cover=3)]


def test_one_network_call_for_the_batch(docs):
    stub = StubClassifier()
    reader = FieldReader(classifier=stub, wholeness=False)
    pages = [PageInput(d.image, d.dpi, kind) for d, kind in zip(docs, ["cheque", "envelope", "cheque"], strict=True)]
    results = read_pages(pages, reader)
    assert stub.calls == 1
    assert [r.kind for r in results] == ["cheque", "envelope", "cheque"]
    for doc, result in zip(docs, results, strict=True):
        assert result.ok and len(result.fields) == 1
        field = result.fields[0]
        assert field.name == ("amount" if result.kind == "cheque" else "zip")
        x, y, w, h = field.bbox
        assert iou((x, y, x + w, y + h), doc.truth["bbox"]) >= 0.5


def test_auto_kind_tells_cheques_from_envelopes(docs):
    assert [guess_kind(make_view(d.image, d.dpi)) for d in docs] == ["cheque", "envelope", "cheque"]
    reader = FieldReader(classifier=StubClassifier(), wholeness=False)
    results = read_pages([(d.image, d.dpi, "auto") for d in docs], reader)
    assert [r.kind for r in results] == ["cheque", "envelope", "cheque"]


def test_not_found_is_a_rejected_field_without_box():
    blank = np.full((550, 1200), 235, np.uint8)
    (result,) = read_pages([PageInput(blank, 200, "cheque")], FieldReader(classifier=StubClassifier(), wholeness=False))
    assert result.ok
    (field,) = result.fields
    assert field.status == "rejected" and field.reason == "not_found" and field.bbox is None and field.detail


def test_field_kinds_skip_location():
    crop = np.full((60, 200), 240, np.uint8)
    crop[10:50, 20:26] = 0
    stub = StubClassifier()
    reader = FieldReader(classifier=stub, wholeness=False)
    results = read_pages([PageInput(crop, 200, k) for k in ("amount", "zip", "number")], reader)
    # one call for all three fields; a ZIP of one digit is not one digit short of a ZIP: no second look
    assert stub.calls == 1
    assert [r.fields[0].kind for r in results] == ["amount", "zip", "number"]
    assert all(r.zones == {} and not r.turned for r in results)


def test_a_bad_page_does_not_stop_the_batch(docs):
    pages = [PageInput(docs[0].image, 200, "cheque"), PageInput(np.zeros((0, 0), np.uint8), 200, "cheque"),
             PageInput(docs[1].image, 200, "postcard")]  # fmt: skip
    results = read_pages(pages, FieldReader(classifier=StubClassifier(), wholeness=False))
    assert isinstance(results[1], PageResult)
    assert results[0].ok and not results[1].ok and not results[2].ok
    assert "postcard" in results[2].error


def test_template_places_the_amount_and_refuses_a_wrong_page(docs):
    doc = docs[0]
    h, w = doc.image.shape
    x0, y0, x1, y1 = doc.truth["bbox"]
    pad = 15
    template = parse_template({
        "name": "test-stock",
        "aspect": w / h,
        "fields": {"amount": [(x0 - pad) / w, (y0 - pad) / h, (x1 + pad) / w, (y1 + pad) / h]},
        "anchors": [{"kind": "rule", "box": [x0 / w, (y1 - 4) / h, x1 / w, (y1 + 30) / h]}],  # the box's bottom
    })  # fmt: skip
    loc = locate_with_template(make_view(doc.image, doc.dpi), template)
    assert loc is not None and iou(loc.bbox, doc.truth["bbox"]) >= 0.5
    envelope = docs[1]
    assert locate_with_template(make_view(envelope.image, envelope.dpi), template) is None
    with pytest.raises(TemplateError):
        parse_template({"name": "x", "aspect": 2, "fields": {"amount": [0.5, 0.5, 0.4, 0.6]}})



def _reading(status: str, value: str | None, confidence: float, kind: str = "zip") -> FieldResult:
    return FieldResult("zip", kind, status, value, value or "", value or "", confidence, None, None)


def test_choose_keeps_the_first_place_unless_a_runner_up_is_read_better():
    first_bad = _reading("rejected", None, 0.9)
    assert _choose([_reading("accepted", "12345", 0.99), _reading("accepted", "54321", 1.0)]) == 0
    assert _choose([_reading("rejected", "12345", 0.5), _reading("rejected", "54321", 0.9)]) == 0
    # an accepted runner-up wins; of two, the surer one
    assert _choose([first_bad, _reading("accepted", "11111", 0.97), _reading("accepted", "22222", 0.99)]) == 2
    # a ZIP whose first reading has no ZIP syntax: the runner-up with syntax the reader is surest of, not the
    # first listed (a wide cut that read the state's letters as digits is listed before the right one)
    wide = _reading("rejected", "14114-9880", 0.58)
    right = _reading("rejected", "91880", 0.76)
    assert _choose([first_bad, wide, right]) == 2
    assert _choose([first_bad, _reading("rejected", None, 0.99), wide]) == 2
    assert _choose([first_bad, _reading("rejected", "11111", 0.7), _reading("rejected", "22222", 0.7)]) == 1  # a tie
    # an accepted runner-up beats a surer rejected one; a well-formed reading one repaired from among stray marks
    assert _choose([first_bad, _reading("rejected", "11111", 0.99), _reading("accepted", "22222", 0.9)]) == 2
    repaired = _reading("rejected", "94843-0865", 0.95)
    repaired.problems = [("bad_syntax", "marks a ZIP code does not have: '9.4843-0865'")]
    assert _choose([first_bad, repaired, right]) == 2
    # a wider cut that reads the first place's digits with one more in front took the state's letters in
    four = _reading("rejected", None, 0.94)
    four.digits = "9880"
    assert _choose([four, _reading("rejected", "49880", 0.76)]) == 0
    assert _choose([four, _reading("rejected", "49880", 0.76), _reading("rejected", "91880", 0.5)]) == 2
    assert _choose([four, _reading("rejected", "19888", 0.76)]) == 1
    eight = _reading("rejected", None, 0.9)
    eight.digits = "35425172"  # a ZIP+4 whose first cut lost its first digit: the wider cut may be right
    assert _choose([eight, _reading("rejected", "53542-5172", 0.5)]) == 1
    # a ZIP read with little confidence (a cut that took the state's letters in) loses to a well-formed runner-up
    # the reader is fairly sure of; not to one it is only somewhat surer of, nor when the first is not that unsure
    unsure = _reading("rejected", "47117-4595", 0.08)
    assert _choose([unsure, _reading("rejected", "74595", 0.93)]) == 1
    assert _choose([unsure, _reading("rejected", "74595", 0.6)]) == 0
    assert _choose([unsure, repaired]) == 0
    assert _choose([_reading("rejected", "80295-4704", 0.27), _reading("rejected", "54704", 0.88)]) == 0
    # amount syntax is too loose to move away from the first place on syntax alone
    amount = [_reading("rejected", None, 0.9, "amount"), _reading("rejected", "12.00", 0.99, "amount")]
    assert _choose(amount) == 0


def test_runner_ups_are_read_only_when_they_could_win():
    assert not needs_runner_ups(_reading("accepted", "12345", 0.99))
    assert needs_runner_ups(_reading("rejected", None, 0.9))  # no ZIP syntax: a runner-up with it wins
    assert needs_runner_ups(_reading("rejected", "12345", 0.2))
    assert not needs_runner_ups(_reading("rejected", "12345", 0.8))  # a ZIP read this surely stands
    assert needs_runner_ups(_reading("rejected", "12.00", 0.8, "amount"))  # another zone of a cheque may win


class ScriptedReader:
    """Reads each crop as the reading named by its pixel value; records the batches it was given."""

    def __init__(self, readings: dict[int, FieldResult]) -> None:
        self.readings = readings
        self.batches: list[list[int]] = []

    def read_many(self, crops):
        keys = [int(c.image[0, 0]) for c in crops]
        self.batches.append(keys)
        return [self.readings[k] for k in keys]


def _place(key: int) -> Located:
    return Located("zip", "zip", (0, 0, 10, 10), None, np.full((4, 4), key, np.uint8), 1.0, "line")


def test_read_located_reads_runner_ups_in_one_second_batch_for_the_unsure_fields_only():
    readings = {
        1: _reading("accepted", "11111", 0.99),  # page A: sure, its runner-up is never read
        2: _reading("accepted", "22222", 0.99),
        3: _reading("rejected", None, 0.9),  # page B: no ZIP syntax, runner-ups read, the accepted one wins
        4: _reading("rejected", "44444", 0.5),
        5: _reading("accepted", "55555", 0.97),
        6: _reading("rejected", "66666", 0.8),  # page C: a fairly sure ZIP and no runner-up places at all
        7: _reading("rejected", "77777", 0.8),  # page D: fairly sure, its runner-up is not read
        8: _reading("accepted", "88888", 0.99),
    }
    pages = [
        LocatedPage(PageResult("envelope"), [[_place(1), _place(2)]]),
        LocatedPage(PageResult("envelope"), [[_place(3), _place(4), _place(5)]]),
        LocatedPage(PageResult("envelope"), [[_place(6)]]),
        LocatedPage(PageResult("envelope"), [[_place(7), _place(8)]]),
    ]
    reader = ScriptedReader(readings)
    results = read_located(pages, reader)
    assert reader.batches == [[1, 3, 6, 7], [4, 5]]
    assert [r.fields[0].value for r in results] == ["11111", "55555", "66666", "77777"]
    assert read_located([LocatedPage(PageResult("envelope"))], reader)[0].fields == []
    assert len(reader.batches) == 2  # a batch with no field places calls no reader


def test_read_located_reads_an_amounts_runner_up_zone_whenever_its_first_is_rejected():
    readings = {
        1: _reading("rejected", "4172", 0.9, "amount"),  # the wrong zone, read fairly surely
        2: _reading("accepted", "1020", 0.97, "amount"),  # the other zone, read and accepted
        3: _reading("rejected", "12345", 0.9),  # a ZIP on the same page: its runner-up is not read
        4: _reading("accepted", "54321", 0.99),
    }
    amount = [Located("amount", "amount", (0, 0, 9, 9), None, np.full((4, 4), k, np.uint8), 1.0, "box") for k in (1, 2)]
    page = LocatedPage(PageResult("cheque"), [amount, [_place(3), _place(4)]])
    reader = ScriptedReader(readings)
    (result,) = read_located([page], reader)
    assert reader.batches == [[1, 3], [2]]
    assert [f.value for f in result.fields] == ["1020", "12345"]


def test_zip_box_on_skewed_envelopes_comes_back_to_the_page() -> None:
    """A ZIP's box is the box of the characters read; the crop is deskewed, so their corners go back to the page
    through the crop's own map (shifting them by the crop box's corner alone put the box 20-33% off at 2.5-3 deg)."""
    from pipeline.recognize.classifier import DigitClassifier

    reader = FieldReader(DigitClassifier(device="cpu"))
    for seed in (2, 3, 4):
        for skew in (-3.0, 2.5):
            doc = make("envelope", seed, skew=skew)
            (result,) = read_pages([PageInput(doc.image, doc.dpi, "envelope")], reader)
            x, y, w, h = result.fields[0].bbox
            assert result.fields[0].value == doc.truth["value"]
            assert iou((x, y, x + w, y + h), doc.truth["bbox"]) >= 0.9, (seed, skew)
