"""ZIP location on generated envelopes: plain, ZIP+4, pre-printed cells, skew, bitonal, upside down, no address."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.segment.document import PageInput, locate_page
from pipeline.segment.locate_envelope import _zip_groups, erase_frames, locate_zip
from pipeline.segment.pageview import make_view
from tests.documents_helper import iou, make, paper_over


@pytest.mark.parametrize("seed", range(5))  # cover 0..3: ZIP cells, extra line, ZIP+4, meter; 4: usual mix
def test_zip_is_found(seed):
    doc = make("envelope", seed, cover=seed)
    loc = locate_zip(make_view(doc.image, doc.dpi))
    assert loc.reason is None, loc.reason
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.5, (doc.truth["text"], loc.bbox, doc.truth["bbox"])
    assert loc.crop is not None


@pytest.mark.parametrize(("skew", "mode"), [(2.5, "gray"), (-2.0, "gray"), (2.5, "bitonal"), (0.0, "bitonal")])
def test_skew_and_bitonal(skew, mode):
    doc = make("envelope", 2, cover=2, skew=skew, mode=mode, margin=0.1)
    loc = locate_zip(make_view(doc.image, doc.dpi))
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.5


def test_erase_frames_keeps_digit_strokes():
    crop = np.full((80, 200), 240, np.uint8)
    crop[5:75, 10] = 0  # a cell side, 70 px
    crop[20:55, 100:103] = 0  # a '1', 35 px
    crop[3, 20:180] = 0  # a cell's top, thin
    crop[60:67, 120:170] = 0  # a '7's bar as long as a cell's top, but a pen stroke thick
    out = erase_frames(crop, 200)
    assert out[40, 10] > 200 and out[40, 101] < 50
    assert out[3, 100] > 200 and out[63, 145] < 50


@pytest.mark.parametrize("mode", ["gray", "bitonal"])
@pytest.mark.parametrize("seed", [1, 2, 4, 7])  # a ZIP+4 among them (seeds 1 and 7)
def test_zip_cells_are_found_at_scan_resolution(seed, mode):
    """Printed ZIP cells (one-pixel pale rules at 200 dpi, gone at the 100 dpi working view, or broken in bitonal
    scans) are found, and the ZIP is what is written in them: the cells space the digits out, so the line's
    widest gap may fall anywhere inside the ZIP."""
    doc = make("envelope", seed, cover=0, mode=mode)  # cover 0: ZIP cells
    loc = locate_zip(make_view(doc.image, doc.dpi))
    assert loc.source == "boxes"
    assert iou(loc.bbox, doc.truth["bbox"]) >= 0.6, (doc.truth["text"], loc.bbox, doc.truth["bbox"])


def test_plain_zips_have_no_cells():
    plain = 0
    for seed in range(5, 12):
        doc = make("envelope", seed, cover=1)  # cover 1: an extra address line; cells one time in five
        if doc.truth["style"]["layout"] == "line":
            plain += 1
            assert locate_zip(make_view(doc.image, doc.dpi)).source == "line", seed
    assert plain >= 4


def test_upside_down_envelope_is_turned():
    doc = make("envelope", 4, cover=4)
    turned = doc.image[::-1, ::-1].copy()
    result, (loc,) = locate_page(PageInput(turned, doc.dpi, "envelope"))
    assert result.turned
    h, w = turned.shape
    x0, y0, x1, y1 = doc.truth["bbox"]
    assert iou(loc.bbox, (w - x1, h - y1, w - x0, h - y0)) >= 0.5


def test_envelope_without_address_is_not_found():
    doc = make("envelope", 4, cover=4)
    x0, y0, x1, y1 = doc.truth["bbox"]
    h, w = doc.image.shape
    blank = paper_over(doc.image, (int(0.2 * w), int(0.35 * h), w - 5, h - 5))
    loc = locate_zip(make_view(blank, doc.dpi))
    assert loc.bbox is None or iou(loc.bbox, (x0, y0, x1, y1)) < 0.3
    assert loc.reason is not None


def test_a_zip_plus_4_dash_anchors_a_place_when_its_widest_gaps_are_inside_the_plus_4():
    """The last address line of envelope_0018 (dev seed 104), piece boxes at 100 dpi: the state, '2', '3', '6',
    '00' touching, the dash, '78' touching, '8', '5'. The widest gaps lie inside '7885', so the gap ranking alone
    never offers the cut before '2'; the dash does."""
    inch = lambda v: round(100 * v)  # noqa: E731
    line = [(400, 270, 440, 300), (450, 272, 483, 304), (512, 278, 533, 301), (540, 278, 568, 301),
            (574, 276, 597, 299), (603, 274, 663, 300), (670, 287, 679, 292), (686, 275, 727, 300),
            (734, 277, 764, 301), (771, 276, 806, 298)]  # fmt: skip
    starts = [group[0][0] for group in _zip_groups(line, inch)]
    # the first choice, the dash-anchored cut, one more runner-up: still three places to read per envelope
    assert starts == [734, 512, 686]


def test_a_dash_a_little_before_the_widest_gap_still_moves_the_cut_before_the_zip():
    """The last line of envelope_0334 (seed 105), piece boxes at 100 dpi: the state's letters, '35955', the dash
    (standing at mid-height), '942' and a '6' broken into three bits, which halve the median height near the
    line's end. The widest gap follows the dash, which lies more than 0.9 of that height before it."""
    inch = lambda v: round(100 * v)  # noqa: E731
    line = [(300, 319, 367, 353), (372, 324, 414, 353), (431, 330, 465, 353), (488, 331, 502, 353),
            (511, 334, 531, 353), (542, 332, 558, 353), (565, 331, 586, 353), (587, 328, 617, 353),
            (622, 335, 630, 339), (644, 332, 659, 353), (672, 333, 688, 353), (696, 334, 715, 353),
            (727, 344, 736, 352), (730, 343, 740, 352), (730, 348, 733, 352)]  # fmt: skip
    first = _zip_groups(line, inch)[0]
    assert first[0][0] < 622 and first[0][0] >= 488
