"""The field-acceptance model: fitted for the shipped weights, shaped like its features, and it decides."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.recognize.weights import load_weights
from pipeline.segment import acceptance


def test_model_was_fitted_for_the_shipped_weights() -> None:
    # refit with benchmarks/fit_acceptance.py (and paste its block) whenever the shipped weights change
    assert load_weights().sha256.startswith(acceptance.FITTED_ON)
    assert len(acceptance.FITTED_ON) == 12
    # ... and whenever the shipped whole-digit network changes
    from pipeline.recognize.wholeness import SHIPPED, WholenessModel

    assert WholenessModel(SHIPPED).sha256.startswith(acceptance.FITTED_WITH_WHOLENESS)
    assert len(acceptance.FITTED_WITH_WHOLENESS) == 12


def test_weights_and_features_have_the_same_length() -> None:
    x = acceptance.field_features(0.0, [0.99, 0.98], [0.9, 0.8], [1.0, 0.9], [0.7, 0.8], 0.0)
    assert x.shape == (len(acceptance.FEATURES),)
    assert np.isfinite(x).all()
    for model in acceptance.MODELS.values():
        assert model.weights.shape == x.shape


@pytest.mark.parametrize("located", [False, True])
def test_every_field_kind_has_a_fitted_model(located: bool) -> None:
    from pipeline.segment.field import KINDS

    for kind in KINDS:
        model = acceptance.model_for(kind, located)
        assert model is not acceptance.UNFITTED
        assert 0.5 <= model.threshold < 1.0


def kw(**overrides):
    base = {
        "log_posterior": 0.0,
        "confidences": [0.999] * 5,
        "plausible": [0.95] * 5,
        "widths": [1.0] * 5,
        "aspects": [0.7] * 5,
        "unread": 0.0,
    }
    return {**base, **overrides}


ZIP = acceptance.model_for("zip", located=True)


def test_a_clean_confident_zip_is_likely_right() -> None:
    p = acceptance.probability(acceptance.field_features(**kw()), ZIP)
    assert p >= ZIP.threshold


@pytest.mark.parametrize(
    "doubt",
    [
        {"log_posterior": math.log(0.5)},  # a runner-up reading as likely as the best
        {"unread": 1.0, "hints": 1},  # a digit-sized piece left out of the reading
        {"confidences": [0.999, 0.999, 0.87, 0.999, 0.999], "log_posterior": math.log(0.8)},
    ],
)
def test_doubts_lower_the_probability(doubt) -> None:
    clean = acceptance.probability(acceptance.field_features(**kw()), ZIP)
    doubtful = acceptance.probability(acceptance.field_features(**kw(**doubt)), ZIP)
    assert doubtful < clean
    assert doubtful < ZIP.threshold
