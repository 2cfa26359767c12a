"""Temperature scaling and the rejection rule: be right when we say we are sure.

Error rates here are, as in the error-reject literature, errors among *all* digits: a digit that is accepted and
wrong counts against the whole set, a rejected digit is neither right nor wrong.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

REJECTION_RULES = ("max_probability", "margin")


@dataclass(frozen=True)
class Calibration:
    """What the weights file stores so any later run can re-derive its threshold for another target error."""

    temperature: float
    rule: str
    threshold: float
    target_error: float
    # Calibrated scores and correctness on the validation split, kept for re-deriving thresholds.
    val_scores: list[float]
    val_correct: list[bool]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})

    def threshold_for(self, target_error: float) -> float:
        """The score threshold that meets ``target_error`` on the validation split."""
        return threshold_for_error(np.asarray(self.val_scores), np.asarray(self.val_correct), target_error)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 200) -> float:
    """The temperature T minimising the negative log-likelihood of ``softmax(logits / T)``."""
    logits = logits.detach().double()
    labels = labels.detach().long()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.exp().item())


def scores_from_probabilities(probabilities: np.ndarray, rule: str) -> np.ndarray:
    """A confidence score per row: the top probability, or the margin between the top two."""
    if rule not in REJECTION_RULES:
        raise ValueError(f"unknown rejection rule {rule!r}; choose from {REJECTION_RULES}")
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    return top2[:, 1] if rule == "max_probability" else top2[:, 1] - top2[:, 0]


def error_reject_curve(scores: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every possible cut, ``(reject_rate, error_rate, threshold)``, from no rejection to total rejection.

    Accepting the ``k`` most confident digits rejects ``(n - k) / n`` and errs on ``wrong_among_top_k / n``. Cuts
    fall only between distinct scores, since a threshold cannot split tied scores.
    """
    n = len(scores)
    if n == 0:
        raise ValueError("empty score array")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    wrong = np.cumsum(~correct[order].astype(bool))
    # keep k where the next score differs (the last of a tie group), plus k = 0
    last_of_group = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    ks = np.r_[0, np.nonzero(last_of_group)[0] + 1]
    errors = np.r_[0, wrong[ks[1:] - 1]] / n
    rejects = (n - ks) / n
    thresholds = np.r_[np.inf, sorted_scores[ks[1:] - 1]]
    order_out = np.argsort(rejects, kind="stable")
    return rejects[order_out], errors[order_out], thresholds[order_out]


def reject_for_error(scores: np.ndarray, correct: np.ndarray, target_error: float) -> float:
    """The least rejection rate whose error rate is at most ``target_error``."""
    rejects, errors, _ = error_reject_curve(scores, correct)
    return float(rejects[np.argmax(errors <= target_error + 1e-12)])


def threshold_for_error(scores: np.ndarray, correct: np.ndarray, target_error: float) -> float:
    """The lowest score threshold (accept ``score >= threshold``) whose error rate is at most ``target_error``."""
    _rejects, errors, thresholds = error_reject_curve(scores, correct)
    return float(thresholds[np.argmax(errors <= target_error + 1e-12)])


def rates_at_threshold(scores: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, float]:
    """Error and reject rates when accepting ``score >= threshold``."""
    accepted = scores >= threshold
    n = len(scores)
    return {
        "error_rate": float((accepted & ~correct.astype(bool)).sum() / n),
        "reject_rate": float((~accepted).sum() / n),
    }


def calibrate(
    logits: torch.Tensor, labels: torch.Tensor, target_error: float, rule: str = "max_probability"
) -> Calibration:
    """Fit the temperature on validation logits, then choose the threshold for ``target_error``."""
    temperature = fit_temperature(logits, labels)
    probabilities = torch.softmax(logits.double() / temperature, dim=1).numpy()
    scores = scores_from_probabilities(probabilities, rule)
    correct = probabilities.argmax(1) == labels.numpy()
    threshold = threshold_for_error(scores, correct, target_error)
    return Calibration(
        temperature=temperature,
        rule=rule,
        threshold=threshold,
        target_error=target_error,
        val_scores=[float(s) for s in scores],
        val_correct=[bool(c) for c in correct],
    )
