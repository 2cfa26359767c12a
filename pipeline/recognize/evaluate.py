"""Error rates, error-reject curves and confusion matrices on MNIST test, USPS test and ORAND val digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.recognize.calibrate import error_reject_curve, rates_at_threshold, reject_for_error
from pipeline.recognize.classifier import DigitClassifier
from pipeline.recognize.datasets import load_source

EVALUATION_SETS = {"mnist": "test", "usps": "test", "orand": "val"}
ERROR_TARGETS = ("0.01", "0.005", "0.001")


def evaluate_set(classifier: DigitClassifier, images: np.ndarray, labels: np.ndarray) -> dict:
    """Metrics for one set of normalised digits."""
    predictions = classifier.classify_normalized(images)
    correct = predictions.labels == labels
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels, predictions.labels), 1)
    rejects, errors, _ = error_reject_curve(predictions.scores, correct)
    return {
        "n": len(labels),
        "error_rate": float(1 - correct.mean()),
        "reject_for_error": {t: reject_for_error(predictions.scores, correct, float(t)) for t in ERROR_TARGETS},
        "at_threshold": rates_at_threshold(predictions.scores, correct, classifier.threshold),
        "confusion": confusion.tolist(),
        "_curve": (rejects, errors),
    }


def evaluate(classifier: DigitClassifier, data_dir: Path, sets: tuple[str, ...] = tuple(EVALUATION_SETS)) -> dict:
    """Evaluate every named set; sets whose data is absent raise :class:`pipeline.data.DataError`."""
    results = {}
    for name in sets:
        digits = load_source(data_dir, name, EVALUATION_SETS[name], classifier.normalization)
        results[name] = evaluate_set(classifier, digits.images, digits.labels)
    return results


def public_results(results: dict) -> dict:
    """The JSON-able part (no curve arrays)."""
    return {name: {k: v for k, v in r.items() if not k.startswith("_")} for name, r in results.items()}


def write_json(results: dict, path: Path, classifier: DigitClassifier) -> None:
    payload = public_results(results)
    payload["weights"] = {
        "path": str(classifier.weights_path),
        "sha256": classifier.weights_sha256,
        "threshold": classifier.threshold,
        "target_error": classifier.target_error,
        "temperature": classifier.temperature,
        "rule": classifier.rule,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


def write_plot(results: dict, path: Path) -> None:
    """The error-reject curves of all sets, log error axis, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for name, r in results.items():
        rejects, errors = r["_curve"]
        keep = rejects <= 0.2
        ax.plot(rejects[keep] * 100, np.maximum(errors[keep], 1e-5) * 100, label=f"{name} (n={r['n']})")
        at = r["at_threshold"]
        ax.plot(at["reject_rate"] * 100, max(at["error_rate"], 1e-5) * 100, "o", color=ax.lines[-1].get_color())
    ax.set_yscale("log")
    ax.set_xlabel("rejected digits (%)")
    ax.set_ylabel("errors among all digits (%); 0 drawn at 0.001%")
    ax.set_title("LeNet-5 error-reject curves (dots: shipped threshold)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def format_report(results: dict) -> str:
    """A readable text report: one table of rates, then each set's confusion matrix."""
    lines = [
        f"{'set':<6} {'n':>6} {'error':>7} {'rej@1%':>7} {'rej@0.5%':>8} {'rej@0.1%':>8} {'err@thr':>8} {'rej@thr':>8}"
    ]
    for name, r in results.items():
        rf, at = r["reject_for_error"], r["at_threshold"]
        lines.append(
            f"{name:<6} {r['n']:>6} {r['error_rate']:>7.2%} {rf['0.01']:>7.2%} {rf['0.005']:>8.2%} "
            f"{rf['0.001']:>8.2%} {at['error_rate']:>8.3%} {at['reject_rate']:>8.2%}"
        )
    for name, r in results.items():
        lines.append(f"\nconfusion matrix, {name} (rows: truth, columns: prediction)")
        lines.append("     " + "".join(f"{d:>6}" for d in range(10)))
        for d, row in enumerate(r["confusion"]):
            lines.append(f"{d:>4} " + "".join(f"{v:>6}" for v in row))
    return "\n".join(lines)
