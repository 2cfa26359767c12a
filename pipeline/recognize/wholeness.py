"""A small network that says how likely a candidate segment is exactly one whole digit.

LeNet-5 has no "not a digit" output: half a '0', a '3' merged with the '1' it overlaps, or a '$' is still given a
digit, often confidently. LeCun et al. (1998) trained their recogniser on such junk so that the segmentation graph
could tell cuts apart. Here the digit network stays as it is, and this one plays that part. It sees:
- the segment as LeNet-5 sees it (its own ink, normalised to 32x32: the shape),
- a context window around it at the field's writing scale (2 digit heights square; the segment's ink at 1.0, its
  neighbours' at 0.5: whether the segment is a fragment of something larger, or two digits),
- the geometric and network-answer features of :mod:`pipeline.segment.plausibility` (standardised).

Trained by ``benchmarks/fit_wholeness.py``; the weights file carries the feature standardisation and the recipe,
and loads with ``weights_only=True``. Shipped (``weights/wholeness.pt``, card ``weights/WHOLENESS_CARD.md``) and
used by the reader by default; the field acceptance models are fitted with it. Measured in
docs/reading-evaluation.md ("Whole-digit network").
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from pipeline.recognize.classifier import padded_chunks, traced_for_cpu
from pipeline.segment.components import Piece, Scale

FORMAT = "wholeness-weights/1"
SHIPPED = Path(__file__).parent / "weights" / "wholeness.pt"
WINDOW = 32  # pixels of the context window's side
CHUNK = 256  # segments per network call: bounds a reading process's memory whatever the batch holds


class WholenessNet(nn.Module):
    """Two 32x32 channels (segment, context) through two conv layers, joined with the features: one logit."""

    def __init__(self, n_features: int, mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(2, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # 16 @ 14x14
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),  # 32 @ 5x5
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 5 * 5, 64), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Linear(64 + n_features, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 1))
        self.register_buffer("mean", mean if mean is not None else torch.zeros(n_features))
        self.register_buffer("std", std if std is not None else torch.ones(n_features))

    def forward(self, images: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        z = (features - self.mean) / self.std
        return self.head(torch.cat([self.conv(images), z], dim=1)).squeeze(1)


@dataclass(frozen=True)
class FieldInk:
    """A field's atoms painted once at half strength, for all its segments' context windows."""

    image: np.ndarray  # float32, 0.5 where any atom has ink
    x: int  # where image[0, 0] lies in the atoms' frame
    y: int


def field_ink(atoms: list[Piece]) -> FieldInk:
    if not atoms:
        return FieldInk(np.zeros((1, 1), np.float32), 0, 0)
    x0, y0 = min(a.x for a in atoms), min(a.y for a in atoms)
    x1, y1 = max(a.x1 for a in atoms), max(a.y1 for a in atoms)
    image = np.zeros((y1 - y0, x1 - x0), np.float32)
    for a in atoms:
        view = image[a.y - y0 : a.y1 - y0, a.x - x0 : a.x1 - x0]
        view[a.mask] = 0.5
    return FieldInk(image, x0, y0)


def context_window(segment, atoms: list[Piece], scale: Scale, ink: FieldInk | None = None) -> np.ndarray:
    """The field's ink around the segment, 2 digit heights square at its centre, as a WINDOW x WINDOW float image:
    the segment's own ink at 1.0, its neighbours' at 0.5. ``ink``: :func:`field_ink` of ``atoms``, made once per
    field (a field has dozens of atoms and a hundred segments)."""
    ink = ink if ink is not None else field_ink(atoms)
    side = max(8, round(2 * scale.digit_height))
    wx0 = round(segment.x + segment.w / 2 - side / 2)
    wy0 = round(segment.y + segment.h / 2 - side / 2)
    canvas = np.zeros((side, side), np.float32)
    _paste(canvas, wx0, wy0, ink.image, ink.x, ink.y)
    _paste(canvas, wx0, wy0, segment.mask.astype(np.float32), segment.x, segment.y)
    return cv2.resize(canvas, (WINDOW, WINDOW), interpolation=cv2.INTER_AREA)


def _paste(canvas: np.ndarray, cx: int, cy: int, part: np.ndarray, px: int, py: int) -> None:
    """Take the maximum of ``canvas`` (placed at cx, cy) and ``part`` (placed at px, py) where they overlap."""
    h, w = canvas.shape
    x0, y0 = max(cx, px), max(cy, py)
    x1, y1 = min(cx + w, px + part.shape[1]), min(cy + h, py + part.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    view = canvas[y0 - cy : y1 - cy, x0 - cx : x1 - cx]
    np.maximum(view, part[y0 - py : y1 - py, x0 - px : x1 - px], out=view)


def save_wholeness(path: Path, net: WholenessNet, training: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n_features = int(net.mean.shape[0])
    torch.save({"format": FORMAT, "n_features": n_features, "state_dict": net.state_dict(), "training": training}, path)
    return path


class WholenessModel:
    """A trained network, loaded once; scores batches of candidate segments on the CPU (it is tiny)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"whole-digit weights {path} do not exist (benchmarks/fit_wholeness.py makes them)")
        raw = path.read_bytes()
        try:
            data = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated, not a torch file, or pickled code that weights_only refuses
            raise ValueError(f"{path} is not a readable whole-digit weights file: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path} is not a whole-digit weights file ({FORMAT})")
        try:
            self.net = WholenessNet(int(data["n_features"]))
            self.net.load_state_dict(data["state_dict"])
        except (KeyError, RuntimeError, TypeError) as exc:
            raise ValueError(f"{path} is an incomplete whole-digit weights file: {exc}") from exc
        self.net.eval()
        self.training = data.get("training", {})
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.n_features = int(data["n_features"])
        example = (torch.zeros(CHUNK, 2, WINDOW, WINDOW), torch.zeros(CHUNK, self.n_features))
        self.forward = traced_for_cpu(self.net, example)  # a frozen graph, as DigitClassifier's LeNet-5

    def log_whole(self, normalized: np.ndarray, context: np.ndarray, features: np.ndarray) -> np.ndarray:
        """log P(one whole digit) per segment: ``normalized`` (N, 32, 32) as LeNet-5's input, ``context`` (N, 32,
        32) from :func:`context_window`, ``features`` (N, F) from :func:`pipeline.segment.plausibility.features`."""
        n = len(features)
        out = np.zeros(n, np.float32)
        with torch.inference_mode():
            for start, stop, shape in padded_chunks(n, CHUNK):  # few input shapes, as DigitClassifier's
                x = torch.zeros((shape, 2, 32, 32))
                x[: stop - start, 0] = torch.from_numpy(np.asarray(normalized[start:stop], np.float32))
                x[: stop - start, 1] = torch.from_numpy(np.asarray(context[start:stop], np.float32))
                f = torch.zeros((shape, self.n_features))
                f[: stop - start] = torch.from_numpy(np.asarray(features[start:stop], np.float32))
                out[start:stop] = nn.functional.logsigmoid(self.forward(x, f))[: stop - start].numpy()
        return out

