"""Batched digit classification with calibrated probabilities and an accept/reject decision."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.recognize.calibrate import scores_from_probabilities
from pipeline.recognize.train import resolve_device
from pipeline.recognize.weights import load_weights
from pipeline.segment.normalize import normalize_batch


def _compiled_for(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """On the CPU, a traced and frozen graph with oneDNN-friendly layouts (about twice the eager speed for a
    network this small); the eager model elsewhere, or if tracing fails on some build."""
    if device.type != "cpu":
        return model
    return traced_for_cpu(model, (torch.zeros(8, 1, 32, 32),))


def traced_for_cpu(model: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> torch.nn.Module:
    """``model`` traced on ``example`` inputs and frozen for CPU inference, or itself if tracing fails."""
    try:
        with torch.no_grad():
            return torch.jit.optimize_for_inference(torch.jit.trace(model, example))
    except Exception:  # an optimisation only: never a reason not to read
        return model


def padded_chunks(n: int, size: int) -> list[tuple[int, int, int]]:
    """``(start, stop, shape)`` of the network calls over ``n`` inputs: chunks of ``size`` inputs, the last one
    padded up to a multiple of a quarter of ``size`` only. Four input shapes at most keep a reading process's
    memory flat (shape-keyed kernel caches stop growing), while a short call (a field's second look) or a short
    last chunk no longer pays for a whole chunk (averaged over last chunks of every length alike, 32
    padded rows instead of 128)."""
    step = max(1, size // 4)
    return [(start, min(n, start + size), min(size, -(-(min(n, start + size) - start) // step) * step))
            for start in range(0, n, size)]


@dataclass
class Predictions:
    """Per-digit results of one batch, as arrays (row i belongs to input digit i)."""

    labels: np.ndarray  # (N,) int64, the best class
    probabilities: np.ndarray  # (N, 10) float32, calibrated
    top3: np.ndarray  # (N, 3) int64, best first
    top3_probabilities: np.ndarray  # (N, 3) float32
    scores: np.ndarray  # (N,) the rejection rule's confidence score
    accepted: np.ndarray  # (N,) bool, score >= threshold

    def __len__(self) -> int:
        return len(self.labels)


class DigitClassifier:
    """Loads the weights once; classifies batches of raw digit images or already-normalised inputs.

    Runs under ``torch.inference_mode`` on CUDA when available (``device="auto"``), else on the CPU. The network
    always sees ``batch_size`` digits (the last chunk padded with blanks to a multiple of a quarter of that):
    - 256 keeps a reading process's peak ~40 MB lower than 1,024 (the first layers' outputs of a chunk are the
      largest thing it allocates) and is faster on one CPU thread, as the workers run (31,000 against 17,000
      digits/s, benchmarks/bench_inference.py --threads 1);
    - four input shapes at most (:func:`padded_chunks`): the CPU kernels cache their set-up per shape, and a ragged
      last chunk of every size made a reading process grow by ~13 MB over 3,000 documents (flat when padded;
      docs/flow-benchmarks.md).
    """

    def __init__(
        self,
        weights: Path | None = None,
        device: str = "auto",
        target_error: float | None = None,
        batch_size: int = 256,
    ) -> None:
        loaded = load_weights(weights)
        self.device = resolve_device(device)
        self.model = _compiled_for(loaded.model.to(self.device), self.device)
        self.normalization = loaded.normalization
        self.calibration = loaded.calibration
        self.weights_path = loaded.path
        self.weights_sha256 = loaded.sha256
        self.batch_size = batch_size
        self.temperature = loaded.calibration.temperature
        self.rule = loaded.calibration.rule
        self.target_error = loaded.calibration.target_error if target_error is None else target_error
        self.threshold = (
            loaded.calibration.threshold if target_error is None else loaded.calibration.threshold_for(target_error)
        )

    def normalize(self, images: list[np.ndarray], polarity: str = "auto") -> np.ndarray:
        """The shared normalisation, with the settings the network was trained with."""
        return normalize_batch(images, self.normalization, polarity)  # type: ignore[arg-type]

    def classify(self, images: list[np.ndarray], polarity: str = "auto") -> Predictions:
        """Classify raw digit images (any size, ink light or dark)."""
        return self.classify_normalized(self.normalize(images, polarity))

    @torch.inference_mode()
    def logits(self, normalized: np.ndarray) -> torch.Tensor:
        """Raw network outputs for ``(N, 32, 32)`` normalised inputs, computed in batches."""
        chunks = []
        for start, stop, shape in padded_chunks(len(normalized), self.batch_size):
            chunk = normalized[start:stop]
            x = torch.zeros((shape, *chunk.shape[1:]), dtype=torch.float32)
            x[: len(chunk)] = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))
            chunks.append(self.model(x.unsqueeze(1).to(self.device))[: len(chunk)].float().cpu())
        return torch.cat(chunks) if chunks else torch.zeros(0, 10)

    def classify_normalized(self, normalized: np.ndarray) -> Predictions:
        """Classify inputs already normalised (``(N, 32, 32)`` float32, ink in [0, 1])."""
        probabilities = torch.softmax(self.logits(normalized) / self.temperature, dim=1).numpy()
        top3 = np.argsort(-probabilities, axis=1)[:, :3]
        scores = scores_from_probabilities(probabilities, self.rule) if len(probabilities) else np.zeros(0)
        return Predictions(
            labels=top3[:, 0].astype(np.int64),
            probabilities=probabilities.astype(np.float32),
            top3=top3.astype(np.int64),
            top3_probabilities=np.take_along_axis(probabilities, top3, axis=1).astype(np.float32),
            scores=scores,
            accepted=scores >= self.threshold,
        )
