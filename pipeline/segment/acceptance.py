"""How likely a read field is right, from what the reader knows about its segmentation and its digits.

A field whose syntax holds and whose every digit clears the classifier's threshold can still be wrong: two touching
digits read as one, a '$' read as a '5', a digit left out as noise. Hand-set vetoes for each of these (a digit as
wide as two, digit-sized ink left unread, a runner-up reading) rejected most right readings along with the wrong
ones. Instead, as LeCun et al. (1998) rejected on the field's overall score, a small logistic model turns the
field's evidence into P(right), and a field is accepted when P(right) clears its kind's threshold, chosen for a
target error rate on the fitting data.

Fitted by ``benchmarks/fit_acceptance.py`` on generated documents (seeds apart from the evaluation seeds) and the
ORAND-CAR-A train split, read end to end with the shipped weights and whole-digit network; refit whenever the
weights, the search or the whole-digit network change. The features are dimensionless, so the model does not
depend on the scan resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FEATURES = (
    "bias",
    "log_posterior",  # segmentation posterior of the best valid reading among the k best (log)
    "min_log_conf",  # the least confident digit (log calibrated probability)
    "mean_log_conf",
    "min_log_plausible",  # the segment that looks least like one whole digit (log, learned model)
    "max_width",  # widest digit, in this field's typical digit widths
    "max_aspect",  # widest digit, width over height
    "unread",  # tallest non-digit ink the reading leaves out, in digit heights (0 when none)
    "first_out",  # how far the first digit sticks out of the band, in digit heights (a '$' read as a digit)
    "first_raised",  # how far the first digit's bottom sits above the baseline (a '*' read as a digit)
    "noise",  # pieces of some size the reading calls noise
    "edge_ink",  # ink touches the crop's left or right edge: the field may go on outside the crop
    "hints",  # how many of the reader's hand-set doubts apply (a digit as wide as two, ink left unread, ...)
)



@dataclass(frozen=True)
class Model:
    """Logistic weights in FEATURES order and the P(right) a field needs to be accepted."""

    weights: np.ndarray
    threshold: float


# One model per population, each fitted and thresholded on its own examples (see the module docstring): amounts
# located on cheque pages, ZIP codes located on envelopes, and amount field images (ORAND-CAR-A train). ZIP field
# images and number fields have no examples of their own and borrow the nearest model (FALLBACK).
# benchmarks/fit_acceptance.py prints a new block to paste here.
MODELS: dict[str, Model] = {
    "amount/located": Model(
        np.array(
            [
                2.3524, 1.4417, 2.9532, 0.9902, 0.4951, 0.0, 0.0, -1.4561,
                -1.8721, -0.4699, -0.5357, -0.9545, 0.0,
            ]
        ),
        0.91,
    ),
    "zip/located": Model(
        np.array(
            [
                4.0641, 1.6739, 2.851, 0.6696, 0.3557, 0.0, 0.0, 0.0,
                -0.9499, -0.7629, 0.0, -0.9956, -0.5369,
            ]
        ),
        0.981,
    ),
    "amount": Model(
        np.array(
            [
                3.1491, 1.0543, 0.4476, 0.1899, 0.5058, 0.0, 0.0, -3.3645,
                0.0, -0.096, -0.7547, -0.3956, -0.1625,
            ]
        ),
        0.955,
    ),
}
FALLBACK = {"zip": "zip/located", "number": "amount", "number/located": "amount/located"}
FITTED_ON = "ef931ac60759"  # sha256 (start) of the weights the models were fitted with
FITTED_WITH_WHOLENESS = "e5be491eb011"  # ... and of the whole-digit network (pipeline/recognize/wholeness.py)


UNFITTED = Model(np.zeros(len(FEATURES)), 0.5)  # P(right) = 0.5 for every field: only while collecting a first fit


def model_for(kind: str, located: bool) -> Model:
    """The model for a field kind, found on a page by a locator (``located``) or handed over as a field image."""
    key = f"{kind}/located" if located else kind
    key = key if key in MODELS else FALLBACK.get(key, key)
    return MODELS.get(key, UNFITTED)


def probability(x: np.ndarray, model: Model) -> float:
    """P(the field's reading is right | features), from the logistic model."""
    z = float(np.dot(model.weights, x))
    return 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0


def field_features(
    log_posterior: float,
    confidences: list[float],
    plausible: list[float],
    widths: list[float],
    aspects: list[float],
    unread: float,
    first_out: float = 0.0,
    first_raised: float = 0.0,
    noise: int = 0,
    edge_ink: bool = False,
    hints: int = 0,
) -> np.ndarray:
    """The feature vector of one read field (see FEATURES); lists hold one value per digit."""
    logs = [math.log(max(c, 1e-6)) for c in confidences] or [math.log(1e-6)]
    return np.array(
        [
            1.0,
            max(log_posterior, -10.0),
            min(logs),
            float(np.mean(logs)),
            math.log(max(min(plausible, default=1.0), 1e-6)),
            min(max(widths, default=0.0), 4.0),
            min(max(aspects, default=0.0), 4.0),
            min(unread, 3.0),
            float(np.clip(first_out, 0.0, 1.0)),
            float(np.clip(first_raised, 0.0, 1.0)),
            float(min(noise, 6)),
            float(edge_ink),
            float(min(hints, 4)),
        ]
    )
