# ruff: noqa: E501  (markdown table rows are long by nature)
"""Write the model card from what was measured: the weights file's own metadata, an evaluation JSON and a
benchmark JSON. Nothing in the card is typed by hand, so it cannot drift from the shipped file.

Run: python -m pipeline.recognize.model_card --eval eval.json --bench bench.json [--weights FILE] [--out CARD]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipeline.recognize.weights import SHIPPED_WEIGHTS, load_weights

DIFFERENCES_FROM_1998 = """\
| 1998 (LeCun et al.) | here | why |
|---|---|---|
| scaled tanh squashing | ReLU | trains faster and deeper into the optimum |
| trainable average subsampling (S2, S4) | 2x2 max pooling | the usual modern choice; same map sizes |
| — | batch-norm after C1, C3, C5, F6 during training, folded into the weights for inference | faster, steadier training; inference runs the plain layer stack |
| Euclidean RBF output units with fixed codes | linear layer + softmax, cross-entropy | calibrated probabilities for rejection |
| SGD, diagonal Levenberg-Marquardt | AdamW with a one-cycle learning-rate schedule | fewer epochs on 2 CPU cores |
| MNIST train only | MNIST + USPS + real ORAND cheque digits (train splits), one network | the documents' digits are not MNIST's |

Kept: 32x32 input, C1 6@28x28 (5x5), S2 6@14x14, C3 16@10x10 with the paper's partial connection table
(Table I: 60 of 96 map pairs), S4 16@5x5, C5 120 (5x5 over all 16 maps), F6 84, 10 outputs; 60,806 trainable
parameters counted as the paper does (without its S2/S4 coefficients)."""


def _pct(value: float, digits: int = 2) -> str:
    return f"{value * 100:.{digits}f}%"


def _jitter_text(recipe: dict) -> str:
    copies, jitter = recipe.get("orand_copies", 0), recipe.get("orand_jitter", 0.0)
    if not copies or not jitter:
        return ""
    return (
        f", and each training digit {copies} more times with every side of its box moved at random by up to "
        f"{jitter:.0%} of the box's size (validation keeps the annotated boxes): a digit cut by a segmenter is "
        "never boxed as tightly, and brings pieces of its neighbours and of the background; the ORAND row above "
        "counts every cut"
    )


def _loss_text(recipe: dict) -> str:
    """The training loss as the recipe sets it (older recipes have neither option)."""
    text = "cross-entropy"
    if recipe.get("label_smoothing", 0):
        text += f" with label smoothing {recipe['label_smoothing']}"
    if recipe.get("self_distill", 0):
        text += (f", {recipe['self_distill']} of it replaced by distillation from the weights' moving average at "
                 f"temperature {recipe.get('distill_temperature')}")  # fmt: skip
    return text


def render(weights_path: Path, evaluation: dict, bench: dict | None, notes: list[str] | None = None) -> str:
    loaded = load_weights(weights_path)
    training, cal = loaded.training, loaded.calibration
    recipe = training["recipe"]
    minutes = training["train_seconds"] / 60
    lines = [
        "# Model card: LeNet-5 digit recognizer (shipped weights)",
        "",
        f"- File: `pipeline/recognize/weights/{weights_path.name}`, sha256 `{loaded.sha256}`",
        f"- Size: {weights_path.stat().st_size:,} bytes; format `lenet5-weights/1` (loads with `weights_only=True`)",
        f"- Trained on {training['device']} with torch {training['torch']}: {recipe['epochs']} epochs in "
        f"{minutes:.1f} minutes of training (data preparation not included), seed {recipe['seed']}",
        "",
        "## Data (train splits only)",
        "",
        "| source | training digits |",
        "|---|---|",
    ]
    counts = training["counts"]
    lines += [f"| {name} | {counts[name]:,} |" for name in counts]
    lines += [
        "",
        f"Held out for validation and calibration: {training['validation_digits']:,} digits.",
        "",
        f"Validation: {recipe['val_fraction']:.0%} of each train split, held out with the seed (ORAND by whole "
        "amount image, so no cheque has digits on both sides). ORAND digits are cut out with the set's per-digit "
        "boxes" + _jitter_text(recipe) + ". Per epoch each source is repeated "
        + ", ".join(f"{k} x{v}" for k, v in recipe["repeats"].items())
        + ".",
        "",
        "Every digit passes through `pipeline.segment.normalize.normalize_digit` with "
        f"`{json.dumps(recipe['normalization'])}`; inference uses the same settings, read from this file.",
        "",
        "## Recipe",
        "",
        f"- AdamW, max learning rate {recipe['lr']}, weight decay {recipe['weight_decay']}, one-cycle schedule, "
        f"batch {recipe['batch_size']}, {_loss_text(recipe)}",
        f"- Distortions per batch (affine + elastic, Simard et al. 2003): `{json.dumps(recipe['distortion'])}`",
        f"- Architecture config: `{json.dumps(recipe['model'])}`",
        "- Reproduce: `pipeline train --data ../shared/data --out runs/lenet5 --threads 2`, then "
        f"`pipeline calibrate runs/lenet5/lenet5.pt --target-error {cal.target_error}`",
        "",
        "## Calibration and rejection",
        "",
        f"- Temperature scaling on the validation split: T = {cal.temperature:.4f}",
        f"- Rule: `{cal.rule}` (calibrated probability of the top class); accept when score >= "
        f"{cal.threshold:.6f}, the threshold at which the validation error (errors among all validation digits) "
        f"is at most the target {cal.target_error}",
        f"- The validation scores ({len(cal.val_scores):,} digits) are stored in the file, so "
        "`--target-error E` re-derives a threshold for any other target.",
        "",
        "## Measured (`pipeline evaluate --data ../shared/data --json eval.json --plot curve.png`)",
        "",
        "| set | digits | error, no rejection | rejection for 1% | for 0.5% | for 0.1% | error at threshold | "
        "rejection at threshold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = {"mnist": "MNIST test", "usps": "USPS test", "orand": "ORAND-CAR-A val (boxed digits)"}
    for key, label in names.items():
        if key not in evaluation:
            continue
        r = evaluation[key]
        rf, at = r["reject_for_error"], r["at_threshold"]
        lines.append(
            f"| {label} | {r['n']:,} | {_pct(r['error_rate'])} | {_pct(rf['0.01'])} | {_pct(rf['0.005'])} | "
            f"{_pct(rf['0.001'])} | {_pct(at['error_rate'], 3)} | {_pct(at['reject_rate'])} |"
        )
    if "mnist" in evaluation:
        lines += ["", f"MNIST test error: {_pct(evaluation['mnist']['error_rate'])} with no rejection."]
    lines += [
        "",
        "Error rates are errors among all digits of the set (an accepted wrong digit counts; a rejected one is "
        "neither right nor wrong). References: LeNet-5 1998 0.95% MNIST (0.8% with distortions); USPS 1989 "
        "5.0%, 1990 1% error at 9% rejection; human USPS error about 2.5%.",
    ]
    if bench:
        lines += [
            "",
            "## Speed (`python benchmarks/bench_inference.py --batch 1024 --threads 2`)",
            "",
            f"- Network only, batch {bench['batch']}, {bench['threads']} threads on {bench['device']}: "
            f"{bench['network_digits_per_s']:,} digits/s",
            f"- Normalisation + network: {bench['normalize_and_network_digits_per_s']:,} digits/s",
            f"- Peak RSS of the benchmark process: {bench['peak_rss_mb']:.0f} MB",
        ]
    if notes:
        lines += ["", "## Notes", "", *[f"- {note}" for note in notes]]
    lines += ["", "## Differences from the 1998 network", "", DIFFERENCES_FROM_1998, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write MODEL_CARD.md from measured results")
    parser.add_argument("--weights", type=Path, default=SHIPPED_WEIGHTS)
    parser.add_argument("--eval", dest="evaluation", type=Path, required=True)
    parser.add_argument("--bench", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=SHIPPED_WEIGHTS.parent / "MODEL_CARD.md")
    parser.add_argument("--note", action="append", default=[], help="a line for the Notes section (repeatable)")
    args = parser.parse_args()
    evaluation = json.loads(args.evaluation.read_text())
    bench = json.loads(args.bench.read_text()) if args.bench else None
    args.out.write_text(render(args.weights, evaluation, bench, args.note))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
