"""Cheque amount location on generated cheques: every amount place, skew, bitonal scans, upside down, an empty
amount zone and a page with no amount at all."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.segment.document import PageInput, locate_page
from pipeline.segment.locate_cheque import locate_amount
from pipeline.segment.pageview import estimate_skew, make_view
from tests.documents_helper import iou, make, paper_over


@pytest.mark.parametrize("cover", [0, 1, 2, 3, 4])  # payee box, underline, shaded, legal-line box, upper-right box
def test_each_amount_place_is_found(cover):
    doc = make("cheque", cover, cover=cover)
    loc = locate_amount(make_view(doc.image, doc.dpi))
    assert loc.reason is None, loc.reason
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.5, (doc.style["layout"], loc.bbox, doc.truth["bbox"])
    assert loc.crop is not None and loc.crop.ndim == 2


@pytest.mark.parametrize("skew", [2.5, -2.0])
def test_skewed_scan_is_deskewed_and_found(skew):
    doc = make("cheque", 3, cover=3, skew=skew, margin=0.1)
    view = make_view(doc.image, doc.dpi)
    assert view.angle == pytest.approx(-skew, abs=0.4)
    loc = locate_amount(view)
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.5


@pytest.mark.parametrize("cover", [0, 1, 3, 4])
def test_bitonal_scan(cover):
    doc = make("cheque", cover, cover=cover, mode="bitonal", skew=1.5)
    assert set(np.unique(doc.image)) <= {0, 255}
    loc = locate_amount(make_view(doc.image, doc.dpi))
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.5


def test_bitonal_shaded_band():
    # the band's tint vanishes in bitonal scans; the date written in its boxes above then won (6 of 60 such cheques
    # of this helper missed; 2 since rows of date boxes are blanked out of the writing: seeds 3 and 35)
    doc = make("cheque", 0, cover=2, mode="bitonal")
    loc = locate_amount(make_view(doc.image, doc.dpi))
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.5


@pytest.mark.parametrize("seed", [1, 2, 23, 24, 32, 41, 42])
def test_bitonal_shaded_band_right_after_the_payee_line(seed):
    # the tint is gone; what is left is the printed '$' at the end of the payee line and the writing after it
    # (of 60 such cheques made by this helper, 14 were missed before, then 6, now 2; seeds 1, 23 and 41 are short
    # amounts, whose block of writing is narrower than half an inch)
    doc = make("cheque", seed, cover=2, mode="bitonal")
    loc = locate_amount(make_view(doc.image, doc.dpi))
    assert loc.source == "ink"
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.5


def test_shaded_band_with_its_printed_sign_beats_the_signature_line():
    # seed 67: the '$' is printed on the tint, inside the band; the signature's line scored higher until the sign
    # inside the band counted as the band's sign (dev cheques of seed 101: 2 more amounts located of 400)
    doc = make("cheque", 67, cover=2)
    loc = locate_amount(make_view(doc.image, doc.dpi))
    assert loc.source == "shaded"
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.5


def test_date_line_over_the_amount_line_is_not_a_box():
    # seed 0, amount on a line: the date's line above lines up with the amount's, and the pair, taken for a box
    # with no sides, cut the amount's first digit off where the shorter line ended
    doc = make("cheque", 0, cover=1)
    loc = locate_amount(make_view(doc.image, doc.dpi))
    x0, y0, _x1, y1 = doc.truth["bbox"]
    assert loc.source == "underline"
    assert loc.bbox[0] - x0 <= 0.3 * (y1 - y0)


def test_upside_down_cheque_is_turned():
    doc = make("cheque", 0, cover=0)
    turned = doc.image[::-1, ::-1].copy()
    result, (loc,) = locate_page(PageInput(turned, doc.dpi, "cheque"))
    assert result.turned
    h, w = turned.shape
    x0, y0, x1, y1 = doc.truth["bbox"]
    assert iou(loc.bbox, (w - x1, h - y1, w - x0, h - y0)) >= 0.5
    # the crop is upright: same orientation as the amount cut from the upright page
    upright = locate_amount(make_view(doc.image, doc.dpi)).crop
    assert abs(loc.crop.shape[0] - upright.shape[0]) <= 4


def test_upright_cheques_are_not_turned():
    for seed in range(4):
        doc = make("cheque", seed, cover=seed)
        result, _ = locate_page(PageInput(doc.image, doc.dpi, "cheque"))
        assert not result.turned


def test_empty_amount_zone_is_not_read_as_the_amount():
    doc = make("cheque", 0, cover=0)
    empty = paper_over(doc.image, doc.truth["bbox"])
    loc = locate_amount(make_view(empty, doc.dpi))
    assert loc.reason is not None or iou(loc.bbox, doc.truth["bbox"]) < 0.3


def test_blank_page_has_no_amount():
    page = np.full((550, 1200), 240, np.uint8)
    loc = locate_amount(make_view(page, 200))
    assert loc.bbox is None and loc.crop is None and loc.reason


def test_skew_estimate_on_ruled_page():
    ink = np.zeros((300, 600), bool)
    for y in (60, 120, 180, 240):
        ink[y : y + 2, 50:550] = True
    assert estimate_skew(ink) == pytest.approx(0.0, abs=0.15)


def test_box_sides_found_past_a_rule_broken_by_writing():
    """Writing across the top rule near the box's left end shortens the rule; the box keeps its printed side."""
    from pipeline.segment.locate_cheque import Rule, _box_sides

    vmask = np.zeros((100, 300), bool)
    vmask[20:61, 50] = True  # left side
    vmask[20:61, 250] = True  # right side
    vmask[25:50, 90] = True  # a handwritten '1' inside: not a side
    x0, x1 = _box_sides(vmask, Rule(75, 250, 20), Rule(50, 250, 60), reach=40)
    assert (x0, x1) == (50, 250)


def test_part_of_a_box_walled_off_by_a_digit_is_not_a_zone():
    """A digit touching both rules splits the box's inside; only a printed divider makes a cell of its own."""
    from pipeline.segment.locate_cheque import Candidate, _cut_by_writing

    def inch(x: float) -> int:
        return round(100 * x)

    whole, part = Candidate((634, 112, 814, 143), "box"), Candidate((655, 110, 802, 144), "box")
    vmask = np.zeros((300, 900), bool)
    assert _cut_by_writing(part, [whole, part], vmask, inch)
    assert not _cut_by_writing(whole, [whole, part], vmask, inch)
    vmask[110:145, 653] = True  # a printed divider left of the cell (the rupee sign's bar)
    vmask[110:145, 804] = True
    assert not _cut_by_writing(part, [whole, part], vmask, inch)


def test_two_stacked_boxes_are_not_one():
    from pipeline.segment.locate_cheque import Rule, _rule_between

    top, middle, bottom = Rule(440, 543, 66), Rule(409, 571, 98), Rule(409, 571, 132)
    assert _rule_between([top, middle, bottom], top, bottom, 5)
    assert not _rule_between([top, middle, bottom], middle, bottom, 5)


def test_writing_on_an_underline_is_the_band_that_sits_on_it() -> None:
    """A row of date boxes just above an amount's underline holds more ink (eight digits) than a short amount:
    the heaviest band is the date's, but the writing on the line is the lowest band with a fair share of ink."""
    from pipeline.segment.locate_cheque import LOWEST_BAND, _ink_box

    ink = np.zeros((120, 300), bool)
    for k in range(8):  # the date: eight digits in a row, well above the line
        ink[20:40, 30 + 25 * k : 42 + 25 * k] = True
    for k in range(3):  # the amount: three digits sitting on the line at y = 100
        ink[75:97, 60 + 30 * k : 75 + 30 * k] = True
    zone, reach = (20, 15, 280, 100), (0, 10, 0, 12)
    assert _ink_box(ink, zone, reach) == (30, 20, 217, 40)
    assert _ink_box(ink, zone, reach, lowest=LOWEST_BAND) == (60, 75, 135, 97)


def test_rows_of_date_boxes_are_found_even_with_dividers_lost_under_writing() -> None:
    """Dividers reaching from rule to rule on an even pitch make a date row, even with one lost under writing;
    handwritten '1's in an amount box (touching neither rule) do not."""
    from pipeline.segment.locate_cheque import Rule, _date_rows

    def inch(x: float) -> int:
        return max(1, round(x * 100))

    vmask = np.zeros((200, 600), bool)
    for k in range(9):  # DDMMYYYY: nine dividers 19 px apart between rules at y 70 and 95; the fourth is lost
        if k != 3:
            vmask[70:96, 400 + 19 * k] = True
    vmask[75:90, 430] = True  # a stroke of the writing: touches neither rule
    dates = [Rule(405, 540, 70), Rule(400, 552, 95)]
    assert _date_rows(dates, vmask, inch) == [(400, 70, 552, 95)]
    ones = np.zeros((200, 600), bool)
    for k in range(6):  # '111111' written in an amount box between rules at y 120 and 150
        ones[124:147, 400 + 20 * k] = True
    assert _date_rows([Rule(390, 560, 120), Rule(390, 560, 150)], ones, inch) == []
