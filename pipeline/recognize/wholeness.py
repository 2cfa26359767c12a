"""A small network that says how likely a candidate segment is exactly one whole digit.

LeNet-5 has no "not a digit" output: half a '0', a '3' merged with the '1' it overlaps, or a '$' is still given a
digit, often confidently. LeCun et al. (1998) trained their recogniser on such junk so that the segmentation graph
could tell cuts apart. Here the digit network stays as it is, and this one plays that part. It sees:
- the segment as LeNet-5 sees it (its own ink, normalised to 32x32: the shape),
- a context window around it at the field's writing scale (2 digit heights square; the segment's ink at 1.0, its
  neighbours' at 0.5: whether the segment is a fragment of something larger, or two digits),
- the geometric and network-answer features of :mod:`pipeline.segment.plausibility` (standardised).

Trained by ``benchmarks/fit_wholeness.py``; the weights file carries the feature standardisation and the recipe,
and loads with ``weights_only=True``. Not shipped and not used by default: the reader takes it when given one
(``FieldReader(wholeness=...)`` or ``PIPELINE_WHOLENESS``). Measured in docs/reading-evaluation.md ("Whole-digit
network"): it reads more fields right, but the acceptance model refitted on its scores did not keep its error
target on seeds outside the fit.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from pipeline.segment.components import Piece, Scale

FORMAT = "wholeness-weights/1"
WINDOW = 32  # pixels of the context window's side


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


def context_window(segment, atoms: list[Piece], scale: Scale) -> np.ndarray:
    """The field's ink around the segment, 2 digit heights square at its centre, as a WINDOW x WINDOW float image."""
    side = max(8, round(2 * scale.digit_height))
    wx0 = round(segment.x + segment.w / 2 - side / 2)
    wy0 = round(segment.y + segment.h / 2 - side / 2)
    canvas = np.zeros((side, side), np.float32)
    for i, a in enumerate(atoms):
        x0, y0 = max(a.x, wx0), max(a.y, wy0)
        x1, y1 = min(a.x1, wx0 + side), min(a.y1, wy0 + side)
        if x0 >= x1 or y0 >= y1:
            continue
        value = 1.0 if segment.start <= i < segment.stop else 0.5
        part = a.mask[y0 - a.y : y1 - a.y, x0 - a.x : x1 - a.x] * np.float32(value)
        view = canvas[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0]
        np.maximum(view, part, out=view)
    return cv2.resize(canvas, (WINDOW, WINDOW), interpolation=cv2.INTER_AREA)


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
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
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

    def log_whole(self, normalized: np.ndarray, context: np.ndarray, features: np.ndarray) -> np.ndarray:
        """log P(one whole digit) per segment: ``normalized`` (N, 32, 32) as LeNet-5's input, ``context`` (N, 32,
        32) from :func:`context_window`, ``features`` (N, F) from :func:`pipeline.segment.plausibility.features`."""
        if len(features) == 0:
            return np.zeros(0, np.float32)
        x = torch.from_numpy(np.stack([normalized, context], axis=1).astype(np.float32, copy=False))
        f = torch.from_numpy(np.asarray(features, np.float32))
        with torch.inference_mode():
            return nn.functional.logsigmoid(self.net(x, f)).numpy()
