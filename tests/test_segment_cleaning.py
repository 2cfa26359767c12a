"""Binarisation, rule removal, speck removal, over-segmentation and odd inputs, on small hand-made images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.segment import components
from pipeline.segment.binarize import binarize, is_bitonal, to_grey
from pipeline.segment.components import components_with_stats, estimate_scale, find_pieces
from pipeline.segment.lines import remove_lines
from pipeline.segment.noise import remove_noise, stroke_width
from pipeline.segment.oversegment import candidate_cuts, oversegment


def strokes() -> np.ndarray:
    """A '7'-like and a '1'-like stroke pair, dark ink (40) on paper (220), 60 px tall."""
    img = np.full((80, 160), 220, np.uint8)
    cv2.line(img, (20, 12), (50, 12), 40, 4)
    cv2.line(img, (50, 12), (30, 70), 40, 4)
    cv2.line(img, (90, 10), (90, 70), 40, 4)
    return img


def test_binarize_ignores_security_pattern() -> None:
    img = strokes().astype(np.float32)
    yy, xx = np.mgrid[0:80, 0:160]
    pattern = 30 * (np.sin(xx / 2.5 + 3 * np.sin(yy / 7.0)) > 0.5)
    img = np.minimum(img, 220 - pattern).astype(np.uint8)
    ink = binarize(img)
    truth = binarize(strokes())
    assert (ink & ~cv2.dilate(truth.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)).sum() < 40
    assert (ink & truth).sum() > 0.8 * truth.sum()


def test_binarize_inputs() -> None:
    img = strokes()
    assert not is_bitonal(cv2.GaussianBlur(img, (5, 5), 0))
    bitonal = np.where(img < 128, 0, 255).astype(np.uint8)
    assert is_bitonal(bitonal)
    assert (binarize(bitonal) == (bitonal == 0)).all()
    colour = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    assert (binarize(colour) == binarize(img)).all()
    assert to_grey(img.astype(np.float32) / 255).dtype == np.uint8
    assert not binarize(np.full((30, 30), 200, np.uint8)).any()  # blank paper
    assert binarize(np.zeros((0, 5), np.uint8)).shape == (0, 5)


def test_underline_removed_and_crossing_stroke_kept() -> None:
    ink = np.zeros((80, 300), bool)
    ink[60:63, 5:295] = True  # underline
    ink[20:75, 100:104] = True  # a stroke crossing it
    ink[20:58, 200:204] = True  # a stroke resting above it
    out = remove_lines(ink)
    assert not out.ink[61, 20:90].any()  # the rule is gone
    assert out.ink[60:63, 100:104].all()  # the crossing stroke is whole
    assert out.ink[20:58, 200:204].all()
    assert out.lines[61, 20:90].all()


def test_box_sides_and_printed_cell_dropped() -> None:
    ink = np.zeros((170, 600), bool)
    ink[20:23, 10:590] = ink[140:143, 10:590] = True  # top and bottom sides of a box
    ink[20:143, 10:13] = ink[20:143, 587:590] = True  # left and right sides
    ink[20:143, 120:122] = True  # the partition after the currency cell
    ink[60:100, 50:80] = True  # the printed currency sign
    ink[60:110, 200:205] = ink[60:110, 260:290] = True  # handwriting
    ink[0:15, 300:360] = True  # the tail of the legal amount above the box
    out = remove_lines(ink)
    assert not out.ink[:, :125].any()
    assert not out.ink[:18].any()
    assert out.ink[60:110, 200:205].all()
    assert out.ink[60:110, 260:290].all()


def test_straight_one_in_a_tight_crop_is_not_a_rule() -> None:
    ink = np.zeros((50, 120), bool)
    ink[3:48, 20:24] = True  # a perfectly straight '1' nearly the crop's height
    ink[5:45, 40:70] = cv2.circle(np.zeros((50, 120), np.uint8), (55, 25), 15, 1, 4)[5:45, 40:70] > 0
    out = remove_lines(ink)
    assert out.ink[3:48, 20:24].all()


def test_noise_removal_keeps_full_stops() -> None:
    ink = np.zeros((60, 100), bool)
    ink[10:50, 10:14] = True  # a stroke 4 px wide
    ink[44:49, 30:35] = True  # a full stop
    ink[20, 60] = ink[30, 70] = True  # specks
    assert 3 <= stroke_width(ink) <= 5
    out = remove_noise(ink)
    assert out[44:49, 30:35].all()
    assert not out[20, 60] and not out[30, 70]


def test_touching_pair_gets_a_cut_between_the_digits() -> None:
    img = np.zeros((60, 120), np.uint8)
    cv2.circle(img, (30, 30), 20, 255, 4)
    cv2.circle(img, (72, 30), 20, 255, 4)  # two '0's touching
    pieces = find_pieces(img > 0)
    assert len(pieces) == 1
    scale = estimate_scale(pieces, 4.0)
    cuts = candidate_cuts(pieces[0], scale)
    assert any(abs(x + pieces[0].x - 51) <= 4 for x, _slope in cuts)
    atoms = oversegment(pieces, scale)
    assert len(atoms) >= 2
    assert all(a.fragment for a in atoms)
    assert sum(a.area for a in atoms) == pieces[0].area  # a partition of the ink


@pytest.mark.parametrize("shape", [(1, 1), (3, 200), (200, 3)])
def test_degenerate_crops_do_not_crash(shape: tuple[int, int]) -> None:
    from pipeline.segment.field import prepare

    img = np.full(shape, 255, np.uint8)
    img[0, 0] = 0
    atoms, scale, grey = prepare(img)
    assert grey.shape == shape
    assert scale.digit_height >= 1
    assert isinstance(atoms, list)


def test_bar_under_two_digits_is_cut_but_a_four_keeps_its_crossbar() -> None:
    from pipeline.segment.lines import cut_underlines

    ink = np.zeros((60, 90), np.uint8)
    cv2.ellipse(ink, (25, 25), (10, 14), 0, 0, 360, 1, 3)
    cv2.ellipse(ink, (55, 25), (10, 14), 0, 0, 360, 1, 3)
    cv2.line(ink, (12, 40), (70, 40), 1, 3)  # touches both zeros
    cut = cut_underlines(ink.astype(bool), digit_height=45, stroke=3)  # the zeros are cents-sized
    _count, _labels, stats, _ = cv2.connectedComponentsWithStats(cut.astype(np.uint8))
    assert sum(stats[1:, cv2.CC_STAT_AREA] >= 5) == 2 and not cut[40, 40]  # the two zeros, apart
    four = np.zeros((60, 60), np.uint8)
    cv2.line(four, (20, 8), (10, 35), 1, 3)
    cv2.line(four, (10, 35), (45, 35), 1, 3)
    cv2.line(four, (35, 8), (35, 55), 1, 3)
    assert (cut_underlines(four.astype(bool), digit_height=45, stroke=3) == four.astype(bool)).all()


def test_components_with_stats_matches_opencv_and_survives_speckle() -> None:
    rng = np.random.default_rng(5)
    for shape, level in (((40, 60), 0.5), ((300, 640), 0.62), ((1, 9), 0.5)):
        mask = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (5, 5), 0) > level
        count, labels, stats, centroids = components_with_stats(mask)
        want = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        assert count == want[0] and (labels == want[1]).all() and (stats == want[2]).all()
        assert np.allclose(centroids, want[3])
    speckle = np.zeros((600, 600), bool)
    speckle[::2, ::2] = True  # 90,000 separate dots: more than 16-bit labels hold
    count, labels, stats, _ = components_with_stats(speckle)
    assert count == 90_001 and labels.max() == 90_000 and stats[1:, cv2.CC_STAT_AREA].max() == 1
    comb = np.zeros((3, 140_001), bool)  # one piece, but 70,001 teeth each open a label before the spine joins them
    comb[:2, ::2] = True
    comb[2] = True
    assert components_with_stats(comb)[0] == 2


def test_components_with_stats_on_opencv_without_overflow_checks(monkeypatch) -> None:
    """OpenCV < 4.13 crashes instead of raising when 16-bit labels run out: only sizes where they cannot."""
    monkeypatch.setattr(components, "_CV_CHECKS_LABEL_OVERFLOW", False)
    assert components._sixteen_bits_always_fit((500, 500)) and not components._sixteen_bits_always_fit((511, 511))
    assert components_with_stats(np.ones((40, 60), bool))[1].dtype == np.uint16
    speckle = np.zeros((600, 600), bool)
    speckle[::2, ::2] = True
    count, labels, _stats, _ = components_with_stats(speckle)
    assert count == 90_001 and labels.dtype == np.int32
