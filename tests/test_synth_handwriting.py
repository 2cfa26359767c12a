"""Handwriting composition: real test digits, one writer per field, truth boxes tight around each character."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.synth.amounts import AMOUNT_FORMATS, group_india, random_amount, random_date, random_zip
from pipeline.synth.digits import load_digit_source
from pipeline.synth.handwriting import ALPHA_INK, compose, ink_box, random_writer, scribble, symbol_glyph
from pipeline.values import normalise_amount


@pytest.fixture(scope="module")
def source():
    return load_digit_source()


def test_bundled_source_is_mnist_test_only(source):
    assert source.name == "bundled-mnist-test-subset"
    assert all(o.startswith("mnist-test/") for o in source.origins)
    assert all(int(o.split("/")[1]) % 10 == 0 for o in source.origins)  # the bundled every-tenth indices
    assert all(len(ix) > 50 for ix in source.by_label)


@pytest.mark.parametrize("text", ["1,234.56", "*$125.—", "7,67,000/-", "22.970.-", "125/xx", "12345-6789"])
def test_boxes_cover_each_character_and_all_ink(source, text):
    rng = np.random.default_rng(3)
    written = compose(text, random_writer(rng, 300), rng, source)
    assert [c["char"] for c in written.chars] == list(text)
    h, w = written.alpha.shape
    covered = np.zeros_like(written.alpha, bool)
    for c in written.chars:
        x0, y0, x1, y1 = c["bbox"]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert written.alpha[y0:y1, x0:x1].max() >= ALPHA_INK  # ink inside every box
        covered[y0:y1, x0:x1] = True
        assert (c.get("source") is not None) == c["char"].isdigit()
    assert not (written.alpha >= ALPHA_INK)[~covered].any()  # no ink outside the boxes


def test_raised_cents_are_small_and_high(source):
    rng = np.random.default_rng(5)
    writer = random_writer(rng, 300)
    written = compose("12345", writer, rng, source, raised=frozenset({3, 4}))
    boxes = [c["bbox"] for c in written.chars]
    main_h = np.mean([b[3] - b[1] for b in boxes[:3]])
    cents_h = np.mean([b[3] - b[1] for b in boxes[3:]])
    assert cents_h < 0.8 * main_h
    assert max(b[3] for b in boxes[3:]) < max(b[3] for b in boxes[:3])  # cents end above the baseline
    assert [c["raised"] for c in written.chars] == [False, False, False, True, True]


def test_one_writer_keeps_one_size(source):
    rng = np.random.default_rng(11)
    writer = random_writer(rng, 200)
    written = compose("0123456789", writer, rng, source)
    heights = [c["bbox"][3] - c["bbox"][1] for c in written.chars]
    assert max(heights) < 1.6 * min(heights)
    assert abs(np.median(heights) - writer.height) < 0.35 * writer.height


def test_symbols_and_scribbles_draw_ink():
    rng = np.random.default_rng(0)
    writer = random_writer(rng, 200)
    for char in ",.-—/=x*$":
        assert ink_box(symbol_glyph(char, writer.height, writer, rng).alpha) is not None
    trace = scribble(rng, 600, 20, 3, 0.2, 3)
    assert trace.max() > 0.9 and trace.shape[1] <= 620


def test_amount_formats_give_their_values():
    rng = np.random.default_rng(2)
    for fmt in AMOUNT_FORMATS:
        for _ in range(20):
            amount = random_amount(rng, fmt)
            readable = amount.text if not amount.raised else amount.text[:-2] + "." + amount.text[-2:]
            assert normalise_amount(readable) == amount.value
            assert amount.digits == "".join(ch for ch in amount.text if ch.isdigit())
    assert group_india(767000) == "7,67,000"
    assert group_india(8800000) == "88,00,000"
    assert random_amount(rng, "uruguay").text.endswith(".-")
    assert all(random_amount(rng, "india").text.rstrip("*").endswith(("/-", ".00")) for _ in range(10))
    assert random_date(rng, boxed=True).text.isdigit()
    z = random_zip(rng, plus4=True)
    assert len(z.value) == 10 and z.value[5] == "-" and len(z.digits) == 9


def test_touching_digits_really_touch(source):
    """A pair marked as touching shares one connected ink component; the boxes still hold one digit each."""
    import cv2

    rng = np.random.default_rng(8)
    pairs = 0
    for _ in range(20):
        writer = random_writer(rng, 300)
        writer = type(writer)(**{**writer.__dict__, "touching": 1.0, "broken": 0.0})
        written = compose("4823", writer, rng, source)
        _, labels = cv2.connectedComponents((written.alpha >= 0.5).astype(np.uint8))
        for i in written.notes["touching_after"]:
            a, b = written.chars[i]["bbox"], written.chars[i + 1]["bbox"]
            left = set(np.unique(labels[a[1] : a[3], a[0] : a[2]])) - {0}
            right = set(np.unique(labels[b[1] : b[3], b[0] : b[2]])) - {0}
            assert left & right
            pairs += 1
    assert pairs > 30
