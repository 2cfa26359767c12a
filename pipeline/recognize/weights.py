"""The weights file: network parameters with everything needed to use them right.

One ``.pt`` file holds the state dict, the architecture config, the normalisation config, the calibration
(temperature, rejection rule, threshold, target error and the validation scores to re-derive thresholds) and the
training recipe. It loads with ``weights_only=True``: no pickled code runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from pipeline.hashing import file_sha256
from pipeline.recognize.calibrate import Calibration
from pipeline.recognize.lenet5 import LeNet5
from pipeline.recognize.weights_file import SHIPPED_WEIGHTS, WeightsError
from pipeline.segment.normalize import NormalizationConfig

__all__ = ["FORMAT", "SHIPPED_WEIGHTS", "LoadedWeights", "WeightsError", "load_weights", "save_weights",
           "set_target_error"]  # fmt: skip

FORMAT = "lenet5-weights/1"


@dataclass
class LoadedWeights:
    model: LeNet5
    normalization: NormalizationConfig
    calibration: Calibration
    training: dict
    path: Path
    sha256: str


def save_weights(
    path: Path, model: LeNet5, normalization: NormalizationConfig, calibration: Calibration, training: dict
) -> Path:
    """Write the weights file atomically (temp file + rename)."""
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": dict(model.config),
        "normalization": normalization.to_dict(),
        "calibration": calibration.to_dict(),
        "training": training,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_weights(path: Path | None = None) -> LoadedWeights:
    """Load a weights file (the shipped one by default) into an eval-mode, inference-frozen model."""
    path = Path(path) if path else SHIPPED_WEIGHTS
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise WeightsError(f"weights file {path} is corrupt or unreadable: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise WeightsError(f"weights file {path} is not a {FORMAT} file")
    try:
        model = LeNet5(payload["model_config"])
        model.load_state_dict(payload["state_dict"])
        normalization = NormalizationConfig.from_dict(payload["normalization"])
        calibration = Calibration.from_dict(payload["calibration"])
    except (KeyError, RuntimeError, TypeError) as exc:
        raise WeightsError(f"weights file {path} is incomplete: {exc}") from None
    model.freeze_for_inference()
    return LoadedWeights(model, normalization, calibration, payload.get("training", {}), path, file_sha256(path))


def set_target_error(path: Path, target_error: float) -> float:
    """Re-derive the stored threshold for another target error (from the stored validation scores); returns it.

    Only the calibration metadata changes; the file is rewritten atomically.
    """
    loaded = load_weights(path)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    calibration = loaded.calibration
    threshold = calibration.threshold_for(target_error)
    payload["calibration"] = {**calibration.to_dict(), "threshold": threshold, "target_error": target_error}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return threshold
