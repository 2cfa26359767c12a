"""Fit the field-acceptance model of :mod:`pipeline.segment.acceptance` and choose its threshold.

Usage::

    .venv/bin/python benchmarks/fit_acceptance.py --seeds 101 102 --documents 400 400 --data /work/shared/data

Reads generated documents end to end (location included, as the flows read them; seeds apart from the evaluation
seed 777001) and, when ``--data`` holds it, the ORAND-CAR-A train split (real amounts, kind ``amount``). Every field
that passes the hard rules (syntax, every digit above the classifier's threshold) is one example, labelled right
when its value equals the truth. Each population (amounts located on generated cheques, ZIPs located on generated
envelopes, ORAND amount images) gets its own model; its threshold is the lowest that keeps the accepted-and-wrong
share of that population's fields at or below its target, judged on out-of-fold probabilities (5-fold), so the
choice is not made on the fit's own predictions. Prints a block to paste into the module. Refit whenever the
weights, the search or the whole-digit network change (the reader's, as ``PIPELINE_WHOLENESS`` chooses).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_documents import PRIMARY, run_folder
from fit_plausibility import fit_logistic

from pipeline.data.orand import load_amount_labels
from pipeline.score import field_outcome, load_jsonl
from pipeline.segment import acceptance
from pipeline.segment.acceptance import FEATURES
from pipeline.segment.field import FieldCrop, FieldReader

HARD = ("bad_syntax", "low_confidence")


def passes_hard_rules(field: dict) -> bool:
    return bool(field.get("features")) and not any(reason in HARD for reason, _ in field.get("problems", []))


def generated_examples(seed: int, cheques: int, envelopes: int, work: Path, reader: FieldReader) -> list[tuple]:
    """(group, features, right) for the primary field of every generated page that passes the hard rules."""
    from pipeline.synth.generate import generate_samples

    root = work / f"seed-{seed}"
    if not (root / "truth.jsonl").exists():  # a folder of an earlier run (--work) is read again as it is
        generate_samples(root, cheques, envelopes, seed=seed)
    records, _ = run_folder(root, 32, False, reader)
    by_key = {(r["document"], r["page"]): r for r in records}
    out = []
    for truth in load_jsonl(root / "truth.jsonl"):
        name = PRIMARY[truth["kind"]]
        truth_field = next(f for f in truth["fields"] if f["name"] == name)
        record = by_key.get((truth["document"], int(truth.get("page") or 0)), {})
        found = next((f for f in record.get("fields", []) if f.get("name") == name), None)
        if found is None or not passes_hard_rules(found):
            continue
        right = field_outcome(name, truth_field, record)["raw_right"]
        out.append((truth["kind"], np.array(found["features"]), bool(right)))
    return out


def orand_examples(data: Path, reader: FieldReader) -> list[tuple]:
    items = [i for i in load_amount_labels(data / "orand-car-a-dev") if i.split == "train"]
    crops = [FieldCrop(cv2.imread(str(i.path), cv2.IMREAD_GRAYSCALE), "amount", i.path.name) for i in items]
    out = []
    for start in range(0, len(crops), 64):
        for item, result in zip(items[start : start + 64], reader.read_many(crops[start : start + 64]), strict=True):
            field = {"features": result.features, "problems": result.problems}
            if passes_hard_rules(field):
                out.append(("orand", np.array(result.features), result.digits == item.digits))
    return out


# Evidence may only raise P(right) and doubts only lower it. Left free, the fit gave some doubts a positive weight
# (more hints, wider "digits": likelier right), an artefact of correlated features that let clearly doubtful
# fields through; a feature whose weight comes out on the wrong side is dropped (weight 0) and the rest refitted.
EVIDENCE = {"log_posterior", "min_log_conf", "mean_log_conf", "min_log_plausible"}
DOUBTS = {"max_width", "max_aspect", "unread", "first_out", "first_raised", "noise", "edge_ink", "hints"}
SIGNS = np.array([1 if f in EVIDENCE else -1 if f in DOUBTS else 0 for f in FEATURES])


def fit_signed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression whose evidence weights are >= 0 and doubt weights <= 0 (see SIGNS)."""
    free = np.ones(x.shape[1], bool)
    while True:
        w = np.zeros(x.shape[1])
        w[free] = fit_logistic(x[:, free], y)
        wrong = free & (SIGNS * w < 0)
        if not wrong.any():
            return w
        free &= ~wrong


def out_of_fold(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(len(y))
    p = np.zeros(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        w = fit_signed(x[train], y[train])
        p[test] = 1 / (1 + np.exp(-(x[test] @ w)))
    return p


# which examples fit which model: amounts located on cheques, ZIPs located on envelopes, amount field images
MODEL_GROUPS = {"amount/located": "cheque", "zip/located": "envelope", "amount": "orand"}


def choose_threshold(p: np.ndarray, y: np.ndarray, total: int, target: float) -> float:
    """Lowest threshold whose accepted-and-wrong share of all the group's fields is within the target. In steps of
    0.001: the models saturate a little below 1 (a reading with no doubt at all), and a coarser step can jump from
    a threshold that lets a fifth of the fields through to one above every field."""
    for t in np.round(np.arange(0.30, 0.999, 0.001), 3):
        if int(((p >= t) & ~y).sum()) <= target * total:
            return float(t)
    return 0.999


def collect(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Read the generated documents and ORAND train; returns groups, features, labels and fields per group."""
    acceptance.MODELS.clear()  # collect without the current models: the features may have changed since their fit
    reader = FieldReader()
    examples: list[tuple] = []
    totals: dict[str, int] = {"cheque": 0, "envelope": 0}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for seed in args.seeds:
            examples += generated_examples(seed, *args.documents, work, reader)
            totals["cheque"] += args.documents[0]
            totals["envelope"] += args.documents[1]
    if args.data:
        examples += orand_examples(args.data, reader)
        totals["orand"] = sum(1 for i in load_amount_labels(args.data / "orand-car-a-dev") if i.split == "train")
    groups = np.array([g for g, _, _ in examples])
    x = np.stack([f for _, f, _ in examples])
    y = np.array([r for _, _, r in examples])
    return groups, x, y, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102])
    parser.add_argument("--documents", type=int, nargs=2, default=[400, 400], metavar=("CHEQUES", "ENVELOPES"))
    parser.add_argument("--data", type=Path, help="directory with orand-car-a-dev (optional)")
    parser.add_argument("--target-error", type=float, default=0.003,
                        help="accepted-and-wrong share of generated cheques and envelopes to allow")  # fmt: skip
    parser.add_argument("--orand-target-error", type=float, default=0.006,
                        help="accepted-and-wrong share of ORAND train amounts to allow")  # fmt: skip
    parser.add_argument("--work", type=Path, help="where to generate documents (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save", type=Path, help="keep the collected examples here (.npz)")
    parser.add_argument("--load", type=Path, help="fit on examples saved by --save instead of reading documents")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.load:
        saved = np.load(args.load, allow_pickle=False)
        groups, x, y = saved["groups"], saved["x"], saved["y"]
        if tuple(saved["feature_names"].tolist()) != FEATURES:
            raise SystemExit(f"{args.load} holds other features than {FEATURES}: collect again")
        totals = dict(zip(saved["total_names"].tolist(), saved["total_counts"].tolist(), strict=True))
    else:
        groups, x, y, totals = collect(args)
        if args.save:
            np.savez(args.save, groups=groups, x=x, y=y, total_names=np.array(list(totals)),
                     total_counts=np.array(list(totals.values())), feature_names=np.array(FEATURES))  # fmt: skip
    targets = {"cheque": args.target_error, "envelope": args.target_error, "orand": args.orand_target_error}
    print(f"{len(y)} fields past the hard rules ({y.mean():.1%} right) in {time.perf_counter() - start:.0f} s")
    block = []
    for key, group in MODEL_GROUPS.items():
        if group not in totals:
            continue
        sel = groups == group
        p = out_of_fold(x[sel], y[sel])
        threshold = choose_threshold(p, y[sel], totals[group], targets[group])
        w = fit_signed(x[sel], y[sel])
        acc = p >= threshold
        total = totals[group]
        print(f"  {key:15s} ({group}) fields {total:5d}  past hard rules {sel.sum():5d}  right {y[sel].sum():5d}  "
              f"accepted right {(acc & y[sel]).sum() / total:.2%}  accepted wrong {(acc & ~y[sel]).sum() / total:.2%}"
              f"  threshold {threshold} (out of fold)")  # fmt: skip
        for name, value in zip(FEATURES, w, strict=True):
            print(f"      {name:<18} {value:+.4f}")
        rows = [", ".join(str(v) for v in np.round(w[i : i + 8], 4).tolist()) for i in range(0, len(w), 8)]
        numbers = "\n".join(f"                {row}," for row in rows)
        block.append(f'    "{key}": Model(\n        np.array(\n            [\n{numbers}\n            ]\n        ),\n'
                     f"        {threshold},\n    ),")  # fmt: skip
    print("MODELS: dict[str, Model] = {")
    print("\n".join(block))
    print("}")
    reader = FieldReader()
    print(f'FITTED_ON = "{reader.classifier.weights_sha256[:12]}"')
    if reader.wholeness is not None:
        print(f'FITTED_WITH_WHOLENESS = "{reader.wholeness.sha256[:12]}"')


if __name__ == "__main__":
    main()
