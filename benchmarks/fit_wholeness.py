"""Train the whole-digit network of :mod:`pipeline.recognize.wholeness` on candidate segments with known answers.

Usage::

    .venv/bin/python benchmarks/fit_wholeness.py --data /work/shared/data --documents 600 600 --seed 301 \\
        --workdir /tmp/wholeness-train --out /tmp/wholeness.pt
    PIPELINE_WHOLENESS=/tmp/wholeness.pt .venv/bin/python benchmarks/eval_documents.py --docs DIR

Examples are every candidate segment the reader makes of:
- the ORAND-CAR-A train split's amounts, labelled by the per-digit boxes (left out with ``--no-orand``, so that
  the acceptance model's ORAND threshold, fitted on that split, is not fitted on the network's own training data);
- generated cheques and envelopes written with MNIST + USPS **train** digits (``--seed``, never an evaluation
  seed), their amount and ZIP fields cut at the truth box and labelled by the truth's character boxes.
A candidate is one whole digit when at least 85% of its ink lies in one digit's box and every sizeable atom mostly
inside that box belongs to it (as for the logistic model, ``benchmarks/fit_plausibility.py``). A tenth of the
fields is held out; the script prints the held-out log-loss and accuracy of the network and of the logistic model,
and saves the network trained on all fields' other nine tenths.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from fit_plausibility import orand_boxes, whole_digit_labels

from pipeline.data.orand import load_amount_labels
from pipeline.recognize.wholeness import WholenessNet, context_window, save_wholeness
from pipeline.segment.binarize import to_grey
from pipeline.segment.field import prepare
from pipeline.segment.locate_cheque import locate_amount
from pipeline.segment.locate_envelope import locate_zip
from pipeline.segment.orientation import upright_view
from pipeline.segment.pages import load_pages
from pipeline.segment.pageview import make_view
from pipeline.segment.plausibility import features, log_plausibility
from pipeline.segment.search import SearchConfig, candidate_segments, digit_penalty, render

Box = tuple[int, int, int, int]  # x, y, w, h


@dataclasses.dataclass
class Examples:
    images: list[np.ndarray] = dataclasses.field(default_factory=list)  # rendered segments (dark ink)
    context: list[np.ndarray] = dataclasses.field(default_factory=list)
    features: list[np.ndarray] = dataclasses.field(default_factory=list)
    labels: list[int] = dataclasses.field(default_factory=list)
    field: list[int] = dataclasses.field(default_factory=list)  # which field each came from (for the hold-out)
    fields: int = 0


def add_field(ex: Examples, image: np.ndarray, boxes: list[Box], classifier, config: SearchConfig) -> None:
    """Every candidate segment of one field image, labelled by its digits' boxes."""
    atoms, scale, grey = prepare(image)
    if not atoms:
        return
    segments = candidate_segments(atoms, scale, config)
    rendered = [render(s, grey) for s in segments]
    probs = classifier.classify_normalized(classifier.normalize(rendered, polarity="dark")).probabilities
    ex.labels += whole_digit_labels(atoms, segments, boxes, scale.digit_height, scale.stroke)
    for segment, p in zip(segments, probs, strict=True):
        ex.context.append(context_window(segment, atoms, scale))
        ex.features.append(features(segment, atoms, scale, p, digit_penalty(segment, atoms, scale, config)))
        ex.field.append(ex.fields)
    ex.images += rendered
    ex.fields += 1


def orand_fields(data: Path) -> list[tuple[np.ndarray, list[Box]]]:
    root = data / "orand-car-a-dev"
    boxes = orand_boxes(root)
    return [(cv2.imread(str(item.path), cv2.IMREAD_GRAYSCALE), boxes[item.path.name])
            for item in load_amount_labels(root) if item.split == "train"]  # fmt: skip


def generated_fields(folder: Path) -> list[tuple[np.ndarray, list[Box]]]:
    """Amount and ZIP fields of generated documents: cut at the truth box with the locator's margin, and every place
    the locator offers for them (first and runner-ups: a cut that took a state's letters in teaches that letters
    are not digits). The truth boxes are mapped into the deskewed crops; places on pages the locator turned upside
    down are left out."""
    out = []
    pages: dict[int, np.ndarray] = {}
    loaded = None
    for line in (folder / "truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        if loaded != truth["document"]:  # a multi-page file is read once, not once per page
            loaded = truth["document"]
            pages = {k: p.image for k, p in enumerate(load_pages(folder / loaded))}
        page = pages[truth["page"]]
        if page.ndim == 3:
            page = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
        margin = round(0.06 * truth["dpi"])
        name = "amount" if truth["kind"] == "cheque" else "zip"
        f = next((f for f in truth["fields"] if f["name"] == name and f.get("bbox")), None)
        if f is None:
            continue
        digits = [c["bbox"] for c in f["characters"] if c["char"].isdigit()]

        def boxes_from(x: int, y: int, digits: list = digits) -> list[Box]:
            return [(b[0] - x, b[1] - y, b[2] - b[0], b[3] - b[1]) for b in digits]

        x0, y0, x1, y1 = f["bbox"]
        cx, cy = max(0, x0 - margin), max(0, y0 - margin)
        out.append((page[cy : y1 + margin, cx : x1 + margin], boxes_from(cx, cy)))
        view, turned = upright_view(page, truth["dpi"], truth["kind"], make_view(page, truth["dpi"]))
        if turned:
            continue
        first = locate_amount(view) if truth["kind"] == "cheque" else locate_zip(view)
        for place in [first, *first.alternatives]:
            if place.crop is not None and place.crop_box is not None:
                out.append((to_grey(place.crop), boxes_in_crop(digits, view, place.crop_box, place.crop.shape)))
    return out


def boxes_in_crop(boxes: list, view, crop_box, shape) -> list[Box]:
    """Page-pixel boxes in the frame of a deskewed crop: page -> view by the view's matrix, then the view box the
    crop was cut from (centred where the crop's page box is centred; its size is the crop's) -> crop pixels."""
    m = view.matrix
    s = view.scale
    cx, cy = (crop_box[0] + crop_box[2]) / 2, (crop_box[1] + crop_box[3]) / 2
    vx = m[0, 0] * cx + m[0, 1] * cy + m[0, 2] - shape[1] * s / 2
    vy = m[1, 0] * cx + m[1, 1] * cy + m[1, 2] - shape[0] * s / 2
    out = []
    for x0, y0, x1, y1 in boxes:
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], float) @ m.T
        xs, ys = (corners[:, 0] - vx) / s, (corners[:, 1] - vy) / s
        out.append((round(xs.min()), round(ys.min()), round(xs.max() - xs.min()), round(ys.max() - ys.min())))
    return out


def tensors(ex: Examples, normalized: np.ndarray, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    images = normalized[index]
    context = np.stack([ex.context[i] for i in index])
    x = torch.from_numpy(np.stack([images, context], axis=1).astype(np.float32))
    f = torch.from_numpy(np.stack([ex.features[i] for i in index]).astype(np.float32))
    y = torch.from_numpy(np.array([ex.labels[i] for i in index], np.float32))
    return x, f, y


def train(x, f, y, seed: int, epochs: int) -> WholenessNet:
    torch.manual_seed(seed)
    mean, std = f.mean(0), f.std(0).clamp_min(1e-3)
    mean[0], std[0] = 0.0, 1.0  # the bias feature is constant
    net = WholenessNet(f.shape[1], mean, std)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(y) + 255) // 256))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    g = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(y), generator=g)
        total = 0.0
        for k in range(0, len(y), 256):
            b = order[k : k + 256]
            loss = loss_fn(net(x[b], f[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        print(f"  epoch {epoch + 1}/{epochs}: loss {total / len(y):.4f}")
    return net.eval()


def report(name: str, logp: np.ndarray, y: np.ndarray) -> None:
    p = np.clip(np.exp(logp), 1e-6, 1 - 1e-6)
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    print(f"  {name:<10} held-out log-loss {loss:.4f}, accuracy {((p > 0.5) == y).mean():.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--documents", nargs=2, type=int, default=(600, 600), metavar=("CHEQUES", "ENVELOPES"))
    parser.add_argument("--seed", type=int, default=301)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wholeness-train"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("/tmp/wholeness.pt"))
    only_generated = "train on the generated documents only (so that ORAND train can fit acceptance fairly)"
    parser.add_argument("--no-orand", action="store_true", help=only_generated)
    args = parser.parse_args()
    torch.set_num_threads(2)
    from pipeline.recognize.classifier import DigitClassifier
    from pipeline.synth.generate import generate_samples

    start = time.perf_counter()
    if not (args.workdir / "truth.jsonl").exists():
        generate_samples(args.workdir, *args.documents, seed=args.seed, data_dir=args.data, split="train")
    classifier = DigitClassifier(device="cpu")
    config = dataclasses.replace(SearchConfig(), plausibility=0.0)
    ex = Examples()
    cache = args.workdir / "wholeness-examples.npz"
    if cache.exists():
        data = np.load(cache)
        normalized = data["normalized"]
        ex.context, ex.features, ex.labels = list(data["context"]), list(data["features"]), list(data["labels"])
        ex.field, ex.fields = list(data["field"]), int(data["field"].max()) + 1
        if "orand_fields" not in data:
            raise SystemExit(f"{cache} is from an older version of this script: delete it")
        orand_count = int(data["orand_fields"])
    else:
        sources = {"orand": orand_fields(args.data), "generated": generated_fields(args.workdir)}
        for name, fields in sources.items():
            first = ex.fields
            for image, boxes in fields:
                add_field(ex, image, boxes, classifier, config)
            n = sum(1 for k in ex.field if k >= first)
            print(f"{name}: {ex.fields - first} fields, {n} candidate segments")
            if name == "orand":
                orand_count = ex.fields
        normalized = classifier.normalize(ex.images, polarity="dark")
        np.savez_compressed(cache, normalized=normalized, context=np.stack(ex.context), features=np.stack(ex.features),
                            labels=np.array(ex.labels), field=np.array(ex.field), orand_fields=orand_count)  # fmt: skip
    y_all = np.array(ex.labels)
    print(f"{len(y_all)} segments, {y_all.mean():.1%} whole digits ({time.perf_counter() - start:.0f} s)")
    field = np.array(ex.field)
    held = np.random.default_rng(args.seed).random(ex.fields) < 0.1
    if args.no_orand:
        held[:orand_count] = False  # ORAND fields take no part: neither trained on nor held out
    test_idx = np.nonzero(held[field])[0]
    train_idx = np.nonzero(~held[field] & ((field >= orand_count) if args.no_orand else True))[0]
    x, f, y = tensors(ex, normalized, train_idx)
    net = train(x, f, y, args.seed, args.epochs)
    xt, ft, yt = tensors(ex, normalized, test_idx)
    with torch.inference_mode():
        logp = torch.nn.functional.logsigmoid(net(xt, ft)).numpy()
    report("network", logp, yt.numpy())
    report("logistic", np.array([log_plausibility(ex.features[i]) for i in test_idx]), yt.numpy())
    save_wholeness(args.out, net, {
        "seed": args.seed, "documents": list(args.documents), "epochs": args.epochs, "segments": len(y),
        "fields": int(ex.fields), "sources": ("" if args.no_orand else "ORAND-CAR-A train + ")
        + "generated documents of MNIST/USPS train digits",
        "held_out_fields": int(held.sum()), "seconds": round(time.perf_counter() - start),
    })  # fmt: skip
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
