"""Speed-ups made for the flow's throughput give what the plain code gave (docs/flow-benchmarks.md)."""

import cv2
import numpy as np

from pipeline.segment.pageview import clear_border


def _clear_border_reference(ink: np.ndarray, min_share: float = 0.3) -> np.ndarray:
    """The loop clear_border was, one component at a time."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    h, w = ink.shape
    drop = np.zeros(count, bool)
    for i in range(1, count):
        x, y, bw, bh, _area = stats[i]
        if (x == 0 or y == 0 or x + bw == w or y + bh == h) and (bw >= min_share * w or bh >= min_share * h):
            drop[i] = True
    return ink & ~drop[labels] if drop.any() else ink


def test_clear_border_drops_what_the_loop_dropped():
    rng = np.random.default_rng(5)
    for k in range(400):
        h, w = (int(v) for v in rng.integers(3, 120, 2))
        ink = rng.random((h, w)) < rng.random() * 0.5
        if k % 3 == 0:  # nothing on the edge: the labelling is skipped
            ink[0], ink[-1], ink[:, 0], ink[:, -1] = False, False, False, False
        if k % 5 == 0:  # a scanner's dark backing along one side
            ink[:, : int(rng.integers(1, 4))] = True
        share = float(rng.choice([0.3, 0.1, 0.9]))
        assert np.array_equal(clear_border(ink, share), _clear_border_reference(ink, share))


def _best_lean_reference(mask: np.ndarray, x: int, stroke: float) -> tuple[float, float]:
    """What candidate_cuts did for each cut: every lean's cost, one column at a time."""
    from pipeline.segment.oversegment import SLOPES, _line, cut_cost

    return min((cut_cost(_line(mask, x, slope), stroke), slope) for slope in SLOPES)


def test_cut_leans_in_one_pass_cost_what_one_cut_at_a_time_cost():
    from pipeline.segment.oversegment import _best_leans

    rng = np.random.default_rng(11)
    for _ in range(600):
        h, w = (int(v) for v in rng.integers(3, 80, 2))
        mask = rng.random((h, w)) < rng.uniform(0.05, 0.6)
        xs = sorted({int(x) for x in rng.integers(0, w, 5)})
        stroke = float(rng.uniform(0.5, 6.0))
        leans = _best_leans(mask, xs, stroke)
        assert leans == {x: _best_lean_reference(mask, x, stroke) for x in xs}  # the same floats, the same ties


def test_ridges_of_a_window_are_the_whole_page_ridges_cut_to_it():
    from pipeline.segment.locate_cheque import _ridges
    from pipeline.segment.pageview import make_view
    from tests.documents_helper import make

    rng = np.random.default_rng(2)
    for seed, kind in ((1, "envelope"), (4, "cheque")):
        doc = make(kind, seed, skew=1.0)
        view = make_view(doc.image, doc.dpi)
        h, w = view.shape
        for _ in range(12):
            x0, y0 = int(rng.integers(0, w - 2)), int(rng.integers(0, h - 2))
            x1, y1 = int(rng.integers(x0 + 1, w + 1)), int(rng.integers(y0 + 1, h + 1))
            for length, horizontal in ((view.inch(0.2), False), (view.inch(0.12), True)):
                whole = _ridges(view, length, horizontal, 0.25)[y0:y1, x0:x1]
                assert np.array_equal(_ridges(view, length, horizontal, 0.25, (x0, y0, x1, y1)), whole)


def test_a_page_at_a_whole_multiple_of_the_view_resolution_is_averaged_in_exact_blocks():
    from pipeline.segment.pageview import WORK_DPI, downscale

    rng = np.random.default_rng(3)
    for k, (h, w) in [(2, (851, 1701)), (2, (850, 1700)), (3, (1276, 2551)), (3, (1275, 2550))]:
        page = rng.integers(0, 256, (h, w), dtype=np.uint8)
        small, matrix = downscale(page, WORK_DPI * k)
        vh, vw = h // k, w // k
        assert small.shape == (vh, vw)
        blocks = page[: vh * k, : vw * k].reshape(vh, k, vw, k).astype(np.float64).mean(axis=(1, 3))
        assert np.abs(small.astype(np.float64) - blocks).max() <= 1.0
        assert np.allclose(matrix, [[1 / k, 0, 0], [0, 1 / k, 0]])  # the view's scale is exactly WORK_DPI / dpi
    page = rng.integers(0, 256, (700, 1500), dtype=np.uint8)
    small, matrix = downscale(page, 150.0)  # no whole factor: the plain area resize
    assert small.shape == (467, 1000) and np.isclose(matrix[0, 0], 1000 / 1500)


def test_the_paper_level_from_the_histogram_is_numpys_percentile():
    from pipeline.segment.pageview import make_view

    rng = np.random.default_rng(4)
    for _ in range(30):
        page = rng.integers(int(rng.integers(0, 200)), 256, tuple(int(v) for v in rng.integers(80, 400, 2)))
        view = make_view(page.astype(np.uint8), 200.0, deskew=False)
        assert view.paper_level() == int(np.percentile(view.page[::8, ::8], 90))


def _drop_edge_fragments_reference(ink: np.ndarray, threshold: float, share: float) -> np.ndarray:
    """drop_edge_fragments as it was: every image labelled."""
    mask = (ink > threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 2:
        return ink
    areas = stats[1:, cv2.CC_STAT_AREA]
    left = stats[1:, cv2.CC_STAT_LEFT]
    at_edge = (left == 0) | (left + stats[1:, cv2.CC_STAT_WIDTH] == ink.shape[1])
    dropped = at_edge & (areas < share * areas.max())
    if not dropped.any():
        return ink
    kept = np.concatenate(([True], ~dropped))[labels] & (labels > 0)
    near = cv2.dilate(kept.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(near, ink, 0.0).astype(np.float32)


def test_edge_fragments_are_dropped_as_before_when_nothing_is_labelled_that_reaches_no_edge():
    from pipeline.segment.normalize import drop_edge_fragments

    rng = np.random.default_rng(6)
    for k in range(300):
        h, w = (int(v) for v in rng.integers(4, 60, 2))
        ink = (rng.random((h, w)) * (rng.random((h, w)) < 0.3)).astype(np.float32)
        if k % 2:  # a margin, as a rendered segment has
            ink[:, :2] = 0
            ink[:, -2:] = 0
        assert np.array_equal(drop_edge_fragments(ink, 0.2, 0.35), _drop_edge_fragments_reference(ink, 0.2, 0.35))
