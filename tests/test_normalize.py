import cv2
import numpy as np
import pytest

from pipeline.segment.normalize import NormalizationConfig, deslant, normalize_batch, normalize_digit, to_ink


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    m = cv2.moments(image)
    return m["m10"] / m["m00"], m["m01"] / m["m00"]


def ink_box(image: np.ndarray, threshold: float = 0.2) -> tuple[int, int]:
    ys, xs = np.nonzero(image > threshold)
    return ys.max() - ys.min() + 1, xs.max() - xs.min() + 1


def test_mnist_digit_becomes_32x32_centred_with_20px_box(mnist_subset):
    images, _ = mnist_subset
    for image in images[:50]:
        out = normalize_digit(image)
        assert out.shape == (32, 32) and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        cx, cy = centre_of_mass(out)
        assert abs(cx - 16) < 1.5 and abs(cy - 16) < 1.5
        assert 18 <= max(ink_box(out)) <= 22


def test_usps_like_16x16_minus_one_to_one_input(mnist_subset):
    images, _ = mnist_subset
    small = cv2.resize(images[0], (16, 16), interpolation=cv2.INTER_AREA)
    as_usps = small.astype(np.float32) / 127.5 - 1  # USPS values: -1 background, +1 ink
    out = normalize_digit(as_usps)
    assert 18 <= max(ink_box(out)) <= 22
    cx, cy = centre_of_mass(out)
    assert abs(cx - 16) < 1.5 and abs(cy - 16) < 1.5


def test_dark_ink_on_grey_paper_matches_light_ink_version(mnist_subset):
    images, _ = mnist_subset
    light = images[3]
    scan = (255 - light.astype(np.float32)) * 0.6 + 90  # dark ink, grey paper, low contrast
    rng = np.random.default_rng(0)
    scan = np.clip(scan + rng.normal(0, 4, scan.shape), 0, 255).astype(np.uint8)
    a, b = normalize_digit(light), normalize_digit(scan)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_aspect_ratio_is_kept_for_a_thin_one():
    one = np.zeros((60, 12), np.uint8)
    one[5:55, 4:8] = 255
    out = normalize_digit(one, polarity="light")
    h, w = ink_box(out)
    assert h == 20 and w <= 5


def test_blank_and_colour_inputs():
    assert not normalize_digit(np.full((20, 20), 255, np.uint8)).any()
    colour = np.full((30, 30, 3), 255, np.uint8)
    cv2.line(colour, (15, 3), (15, 27), (0, 0, 0), 3)
    assert normalize_digit(colour).max() > 0.5
    with pytest.raises(ValueError):
        to_ink(np.zeros((0, 5)))


def test_deslant_makes_slanted_stroke_upright():
    slanted = np.zeros((40, 40), np.float32)
    cv2.line(slanted, (12, 36), (28, 4), 1.0, 3)
    upright = deslant(slanted)
    _ys, xs = np.nonzero(upright > 0.5)
    assert np.ptp(xs) < 8  # the stroke is now (nearly) vertical
    out = normalize_digit(slanted, NormalizationConfig(deslant=True), polarity="light")
    assert ink_box(out)[1] < ink_box(normalize_digit(slanted, polarity="light"))[1]


def test_thin_strokes_are_thickened():
    thin = np.zeros((60, 60), np.uint8)
    cv2.circle(thin, (30, 30), 22, 255, 1)
    plain = normalize_digit(thin, NormalizationConfig(min_stroke=0), polarity="light")
    thick = normalize_digit(thin, polarity="light")
    assert thick.sum() > plain.sum() * 1.3


def test_batch_matches_single(mnist_subset):
    images, _ = mnist_subset
    batch = normalize_batch(images[:5])
    assert batch.shape == (5, 32, 32)
    assert np.array_equal(batch[2], normalize_digit(images[2]))


def test_median_and_percentile_from_levels_are_numpys_to_the_bit():
    """to_ink's median and 90th percentile taken from a histogram of grey levels are numpy's float32 values on the
    repeated values, from one value up and with ties (np.median and np.percentile cost ~80 us a digit)."""
    from pipeline.segment.normalize import level_median, level_percentile

    rng = np.random.default_rng(7)
    for trial in range(3000):
        levels = int(rng.integers(1, 40))
        values = rng.random(levels).astype(np.float32)
        if trial % 3 == 0:
            values = (rng.integers(0, 12, levels) / np.float32(11)).astype(np.float32)  # equal values too
        counts = rng.integers(0, 5 if trial % 2 else 60, levels)
        counts[rng.integers(0, levels)] += 1
        repeated = np.repeat(values, counts)
        assert level_median(values, counts) == float(np.median(repeated))
        for q in (90, 50, 10, 99, 100, 0):
            assert level_percentile(values, counts, q) == float(np.percentile(repeated, q)), (trial, q)


def test_to_ink_of_bytes_equals_to_ink_of_the_same_floats(mnist_subset):
    """The uint8 path (per grey level, looked up) and the float path (per pixel) agree to the bit."""
    rng = np.random.default_rng(3)
    images, _labels = mnist_subset
    cases = [rng.integers(0, 256, tuple(rng.integers(1, 40, 2))).astype(np.uint8) for _ in range(300)]
    cases += [np.where(rng.random((30, 20)) < 0.2, rng.integers(0, 90), rng.integers(140, 256)).astype(np.uint8)
              for _ in range(300)]  # fmt: skip
    cases += [255 - images[i] for i in range(200)] + [images[i] for i in range(200)]
    cases += [np.full((5, 7), 9, np.uint8), np.asarray(255 - images[0][3:20:2, 1:25])]  # flat, not contiguous
    for image in cases:
        for polarity in ("dark", "light", "auto"):
            a, b = to_ink(image, polarity), to_ink(image.astype(np.float32), polarity)
            assert a.dtype == b.dtype == np.float32 and a.tobytes() == b.tobytes()
