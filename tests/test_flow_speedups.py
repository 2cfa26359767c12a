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
