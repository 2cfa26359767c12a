"""How much a candidate segment looks like one whole digit, from its shape and the network's answer.

LeNet-5 has no "not a digit" output: half a '0' or two touching digits are still given a digit, often confidently.
LeCun et al. (1998) trained their recogniser on such junk; here a small logistic model plays that part. It was
fitted on the candidate segments of the ORAND-CAR-A train split, labelled by the per-digit boxes (a candidate is a
true digit when it holds the ink of one boxed digit and little else), by ``benchmarks/fit_plausibility.py``.
Its log-probability is added to the path cost of reading a segment as a digit when the reader has no whole-digit
network (``PIPELINE_WHOLENESS=off``). By default the network of :mod:`pipeline.recognize.wholeness` scores the
segments, and takes these features as part of its input.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.segment.components import Piece, Scale

FEATURES = (
    "bias",
    "rh",
    "rw",
    "rh2",
    "rw2",
    "aspect",
    "top",
    "bottom",
    "atoms",
    "fragments",
    "cut_left",
    "cut_right",
    "density",
    "max_atom",
    "strokes",
    "log_p",
    "p2",
    "entropy",
    "penalty",
    "rwd",
    "rwd2",
)

# fitted coefficients, in FEATURES order (see the module docstring); zeros mean "no opinion".
# Fitted by benchmarks/fit_plausibility.py on ORAND train with the shipped weights sha256 ef931ac60759...
WEIGHTS = np.array(
    [
        -4.1377,
        -0.7658,
        -0.1229,
        -0.5437,
        0.2954,
        -0.0900,
        0.0580,
        1.3487,
        0.0354,
        -0.4298,
        -1.1938,
        -1.0657,
        3.9244,
        2.7327,
        0.6088,
        -3.5351,
        0.6967,
        -4.7192,
        -0.3573,
        4.6752,
        -1.4621,
    ]
)


def features(segment, atoms: list[Piece], scale: Scale, probabilities: np.ndarray, penalty: float) -> np.ndarray:
    """The feature vector of one candidate segment (sizes in digit heights, positions against the band)."""
    H = scale.digit_height
    rh, rw = segment.h / H, segment.w / H
    group = atoms[segment.start : segment.stop]
    p = np.sort(probabilities)[::-1]
    entropy = float(-(probabilities * np.log(np.clip(probabilities, 1e-9, 1))).sum())
    cut_right = atoms[segment.stop].cut_cost if segment.stop < len(atoms) else 0.0
    return np.array(
        [
            1.0,
            rh,
            rw,
            rh * rh,
            rw * rw,
            segment.w / max(segment.h, 1),
            (segment.y - scale.top) / H,
            (segment.y + segment.h - scale.baseline) / H,
            len(group) - 1,
            sum(a.fragment for a in group),
            group[0].cut_cost,
            cut_right,
            float(segment.mask.mean()),
            max(a.h for a in group) / H,
            min(segment.h / scale.stroke, 20.0) / 10,
            math.log(max(float(p[0]), 1e-9)),
            float(p[1]),
            entropy,
            min(penalty, 20.0),
            segment.w / scale.width,
            (segment.w / scale.width) ** 2,
        ]
    )


def log_plausibility(x: np.ndarray, weights: np.ndarray | None = None) -> float:
    """log P(one whole digit | features), from the logistic model."""
    z = float(np.dot(weights if weights is not None else WEIGHTS, x))
    return -math.log1p(math.exp(-z)) if z > -30 else z
