"""Fit the whole-digit model of :mod:`pipeline.segment.plausibility` on the ORAND-CAR-A train split.

Usage::

    .venv/bin/python benchmarks/fit_plausibility.py --data /work/shared/data

Every candidate segment of every train field is labelled by the per-digit boxes: a candidate is one whole digit
when at least 85% of its ink lies in one box and every sizeable atom mostly inside that box belongs to it. The
script prints the fitted coefficients (paste them into ``WEIGHTS``) and the fit's accuracy. Only the train split is
used; the val split stays for reporting. The features are computed with the plausibility term switched off, so
the model does not see itself.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import torch

from pipeline.data.orand import load_amount_labels
from pipeline.segment.components import Piece
from pipeline.segment.field import prepare
from pipeline.segment.plausibility import FEATURES, features
from pipeline.segment.search import SearchConfig, candidate_segments, digit_penalty, render

Box = tuple[int, int, int, int]


def ink_inside(atom: Piece, box: Box) -> int:
    x, y, w, h = box
    ys, xs = np.nonzero(atom.mask)
    xs, ys = xs + atom.x, ys + atom.y
    return int(((xs >= x) & (xs < x + w) & (ys >= y) & (ys < y + h)).sum())


def orand_boxes(root: Path) -> dict[str, list[Box]]:
    """The per-digit boxes of ORAND-CAR-A (``digit_boxes.csv``), by amount image name."""
    boxes: dict[str, list[Box]] = defaultdict(list)
    with open(root / "digit_boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            boxes[row["image"]].append(tuple(int(float(row[k])) for k in "xywh"))  # type: ignore[arg-type]
    return boxes


def whole_digit_labels(atoms: list[Piece], segments: list, boxes: list[Box], digit_height: float,
                       stroke: float) -> list[int]:  # fmt: skip
    """1 for each candidate that is one whole boxed digit: at least 85% of its ink in the box, and every sizeable
    atom mostly inside that box is one of its atoms; else 0."""
    sizeable = 0.15 * digit_height * stroke
    owners = [[i for i, a in enumerate(atoms) if a.area >= sizeable and ink_inside(a, box) >= 0.6 * a.area]
              for box in boxes]  # fmt: skip
    labels = []
    for segment in segments:
        group = atoms[segment.start : segment.stop]
        ink = sum(a.area for a in group)
        whole = any(
            own and all(segment.start <= i < segment.stop for i in own)
            and sum(ink_inside(a, box) for a in group) >= 0.85 * ink
            for box, own in zip(boxes, owners, strict=True)
        )
        labels.append(int(whole))
    return labels


def collect(data: Path, classifier) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and whole-digit labels of all candidate segments of the train fields."""
    root = data / "orand-car-a-dev"
    boxes = orand_boxes(root)
    config = dataclasses.replace(SearchConfig(), plausibility=0.0)
    fields, images = [], []
    for item in load_amount_labels(root):
        if item.split != "train":
            continue
        atoms, scale, grey = prepare(cv2.imread(str(item.path), cv2.IMREAD_GRAYSCALE))
        segments = candidate_segments(atoms, scale, config)
        fields.append((item.path.name, atoms, scale, segments))
        images.extend(render(s, grey) for s in segments)
    probabilities = classifier.classify_normalized(classifier.normalize(images, polarity="dark")).probabilities
    rows, labels = [], []
    offset = 0
    for name, atoms, scale, segments in fields:
        probs = probabilities[offset : offset + len(segments)]
        offset += len(segments)
        labels += whole_digit_labels(atoms, segments, boxes[name], scale.digit_height, scale.stroke)
        for segment, p in zip(segments, probs, strict=True):
            rows.append(features(segment, atoms, scale, p, digit_penalty(segment, atoms, scale, config)))
    return np.array(rows), np.array(labels)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method."""
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from pipeline.recognize.classifier import DigitClassifier

    x, y = collect(args.data, DigitClassifier(device="cpu"))
    w = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(x @ w)))
    print(f"{len(y)} candidate segments, {y.mean():.1%} whole digits; fit accuracy {((p > 0.5) == y).mean():.1%}")
    for name, value in zip(FEATURES, w, strict=True):
        print(f"  {name:<10} {value:+.4f}")
    print("WEIGHTS =", np.round(w, 4).tolist())


if __name__ == "__main__":
    main()
