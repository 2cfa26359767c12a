import numpy as np
import pytest
import torch

from pipeline.recognize.calibrate import (
    Calibration,
    calibrate,
    error_reject_curve,
    fit_temperature,
    rates_at_threshold,
    reject_for_error,
    scores_from_probabilities,
    threshold_for_error,
)


def toy_problem(n=4000, seed=0):
    """True class probabilities from well-calibrated logits; the model reports them sharpened 3x."""
    gen = torch.Generator().manual_seed(seed)
    true_logits = torch.randn(n, 10, generator=gen) * 2.0
    labels = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=gen).squeeze(1)
    return true_logits * 3.0, labels


def test_temperature_undoes_overconfidence():
    logits, labels = toy_problem()
    assert fit_temperature(logits, labels) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(logits / 3.0, labels) == pytest.approx(1.0, rel=0.1)


def test_error_reject_curve_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, False, True, False])
    rejects, errors, thresholds = error_reject_curve(scores, correct)
    assert rejects.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert errors.tolist() == [0.5, 0.25, 0.25, 0.0, 0.0]
    assert thresholds.tolist() == [0.6, 0.7, 0.8, 0.9, np.inf]
    assert reject_for_error(scores, correct, 0.25) == 0.25
    assert reject_for_error(scores, correct, 0.1) == 0.75
    assert threshold_for_error(scores, correct, 0.25) == 0.7
    assert rates_at_threshold(scores, correct, 0.7) == {"error_rate": 0.25, "reject_rate": 0.25}


def test_ties_are_never_split():
    scores = np.array([0.9, 0.5, 0.5, 0.5])
    correct = np.array([True, True, False, True])
    rejects, _errors, _ = error_reject_curve(scores, correct)
    assert rejects.tolist() == [0.0, 0.75, 1.0]
    assert threshold_for_error(scores, correct, 0.1) == 0.9


def test_margin_and_max_probability_scores():
    p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    assert scores_from_probabilities(p, "max_probability").tolist() == pytest.approx([0.7, 0.4])
    assert scores_from_probabilities(p, "margin").tolist() == pytest.approx([0.5, 0.05])
    with pytest.raises(ValueError):
        scores_from_probabilities(p, "vote")


@pytest.mark.parametrize("rule", ["max_probability", "margin"])
def test_calibrate_meets_target_on_its_own_set(rule):
    logits, labels = toy_problem()
    cal = calibrate(logits, labels, target_error=0.02, rule=rule)
    probabilities = torch.softmax(logits.double() / cal.temperature, 1).numpy()
    scores = scores_from_probabilities(probabilities, rule)
    correct = probabilities.argmax(1) == labels.numpy()
    at = rates_at_threshold(scores, correct, cal.threshold)
    assert at["error_rate"] <= 0.02
    assert 0 < at["reject_rate"] < 1
    # a looser target never needs a higher threshold; the stored scores re-derive the same threshold
    assert cal.threshold_for(0.05) <= cal.threshold == cal.threshold_for(0.02)
    assert Calibration.from_dict(cal.to_dict()) == cal
