"""Field-level reading of real courtesy amounts: ORAND-CAR-A (Uruguay) and, if present, the IDRBT crops (India).

Usage::

    .venv/bin/python benchmarks/eval_orand_fields.py --data /work/shared/data --split val

Prints raw digit-string accuracy (best guess right, accepted or not), the accepted-right / accepted-wrong /
rejected rates at the shipped threshold, rejection reasons, and time per field. The data are not shipped with the
project; point ``--data`` at the directory holding ``orand-car-a-dev`` (and ``idrbt-cheques-dev``).
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

import cv2
import torch

from pipeline.data.orand import load_amount_labels
from pipeline.segment.field import FieldCrop, FieldReader


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: digits inserted, dropped or misread."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def evaluate(reader: FieldReader, crops: list[FieldCrop], truths: list[str], batch: int, verbose: bool) -> dict:
    """Read the crops in batches and compare digit strings with the truth."""
    results = []
    start = time.perf_counter()
    for i in range(0, len(crops), batch):
        results.extend(reader.read_many(crops[i : i + batch]))
    elapsed = time.perf_counter() - start
    n = len(results)
    right = [r.digits == t for r, t in zip(results, truths, strict=True)]
    chars = sum(max(0, len(t) - edit_distance(r.digits, t)) for r, t in zip(results, truths, strict=True))
    accepted = [r.status == "accepted" for r in results]
    reasons = Counter(r.reason for r in results if r.reason)
    if verbose:
        for r, t, ok in zip(results, truths, right, strict=True):
            flag = "ok " if ok else "BAD"
            print(
                f"  {flag} {r.name:<28} truth {t:<10} read {r.digits:<10} text {r.text:<14} {r.status} {r.reason or ''}"
            )
    return {
        "fields": n,
        "raw_accuracy": sum(right) / n,
        "char_accuracy": chars / max(1, sum(len(t) for t in truths)),
        "accepted_right": sum(a and r for a, r in zip(accepted, right, strict=True)) / n,
        "accepted_wrong": sum(a and not r for a, r in zip(accepted, right, strict=True)) / n,
        "rejected": sum(not a for a in accepted) / n,
        "reasons": dict(reasons),
        "ms_per_field": 1000 * elapsed / n,
    }


def report(title: str, stats: dict) -> None:
    print(f"{title}: {stats['fields']} fields")
    print(f"  raw digit-string accuracy  {100 * stats['raw_accuracy']:.1f}%")
    print(f"  digit accuracy (1 - edit distance / digits)  {100 * stats['char_accuracy']:.1f}%")
    print(f"  accepted and right         {100 * stats['accepted_right']:.1f}%")
    print(f"  accepted and wrong         {100 * stats['accepted_wrong']:.1f}%")
    print(f"  rejected                   {100 * stats['rejected']:.1f}%  {stats['reasons']}")
    print(f"  time per field             {stats['ms_per_field']:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"), help="directory with orand-car-a-dev")
    parser.add_argument("--split", choices=["train", "val", "all"], default="val")
    parser.add_argument("--batch", type=int, default=16, help="fields per network call")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", type=Path, default=None, help="a weights file (default: the shipped one)")
    parser.add_argument("--verbose", action="store_true", help="print every field")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from pipeline.recognize.classifier import DigitClassifier

    classifier = DigitClassifier(args.weights, device=args.device)
    reader = FieldReader(classifier)
    print(f"weights {classifier.weights_path} sha {classifier.weights_sha256[:12]} thr {classifier.threshold:.4f}")
    orand = args.data / "orand-car-a-dev"
    items = [a for a in load_amount_labels(orand) if args.split == "all" or a.split == args.split]
    crops = [FieldCrop(cv2.imread(str(a.path), cv2.IMREAD_GRAYSCALE), "amount", a.path.name) for a in items]
    report(f"ORAND-CAR-A {args.split}", evaluate(reader, crops, [a.digits for a in items], args.batch, args.verbose))
    idrbt = args.data / "idrbt-cheques-dev"
    if (idrbt / "courtesy_amounts.csv").is_file():
        with open(idrbt / "courtesy_amounts.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        crops = [
            FieldCrop(cv2.imread(str(idrbt / r["amount_crop"]), cv2.IMREAD_GRAYSCALE), "amount", r["cheque"])
            for r in rows
        ]
        report("IDRBT amount crops", evaluate(reader, crops, [r["digits"] for r in rows], args.batch, args.verbose))


if __name__ == "__main__":
    main()
