"""Training LeNet-5 on MNIST + USPS + real cheque digits: seeded, resumable, CPU or CUDA.

Read top to bottom: data, model, optimiser, the epoch loop with checkpoints, then calibration and export.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from pipeline.recognize.calibrate import calibrate
from pipeline.recognize.datasets import SOURCES, DigitSet, corrections_split, train_validation_split
from pipeline.recognize.distort import DistortionConfig, distort
from pipeline.recognize.lenet5 import LENET5_CONFIG, LeNet5
from pipeline.recognize.weights import save_weights
from pipeline.segment.normalize import NormalizationConfig

CHECKPOINT_NAME = "checkpoint.pt"
WARMUP_SHARE = 0.15  # of the epochs, spent raising the learning rate (one-cycle schedule)


@dataclass
class TrainConfig:
    """Every choice that shapes the weights; saved into the weights file as the recipe."""

    epochs: int = 40
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    ema_decay: float = 0.999  # the exported weights are an exponential moving average of the trained ones
    label_smoothing: float = 0.0  # share of each target spread over the other classes (0: plain cross-entropy)
    # self-distillation: this share of the loss pulls the model towards the moving average's softened outputs on
    # the same distorted batch (0: off); the average is a smoother model than any one step's
    self_distill: float = 0.0
    distill_temperature: float = 2.0
    val_fraction: float = 0.08
    repeats: dict[str, int] = field(default_factory=lambda: {"mnist": 1, "usps": 2, "orand": 10, "corrections": 20})
    # more cuts of each ORAND training digit, with jittered boxes (repeated like the digit). Not in the shipped
    # recipe: 4 copies at 0.15 with orand x2 read ORAND val 96.5-97.0% but MNIST 0.53-0.55% (model card)
    orand_copies: int = 0
    orand_jitter: float = 0.15  # how far each side of such a box may move, as a share of the box's size
    seed: int = 1998
    target_error: float = 0.001
    rejection_rule: str = "max_probability"
    limit: int | None = None  # use only this many training digits (smoke tests)
    init_from: str | None = None  # a weights file to start from (fine-tuning) instead of random weights
    finetune: str | None = None  # a folder of reviewer-corrected digits (export-corrections) mixed into training
    distortion: DistortionConfig = field(default_factory=DistortionConfig)
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    model: dict = field(default_factory=lambda: dict(LENET5_CONFIG))


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for ``cuda`` without one is an error, not a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but no CUDA device is available")
    return torch.device(name)


def epoch_order(train: DigitSet, repeats: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    """Indices for one epoch: each source repeated as configured (real cheque digits are few), shuffled."""
    parts = [np.repeat(np.nonzero(train.source == i)[0], repeats.get(name, 1)) for i, name in enumerate(SOURCES)]
    return rng.permutation(np.concatenate(parts))


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, images: np.ndarray, device: torch.device, batch: int = 2048):
    """Logits for normalised images, in batches."""
    model.eval()
    out = []
    for start in range(0, len(images), batch):
        x = torch.from_numpy(images[start : start + batch]).unsqueeze(1).to(device)
        out.append(model(x).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, 10)


def per_source_error(logits: torch.Tensor, data: DigitSet) -> dict[str, float]:
    wrong = logits.argmax(1).numpy() != data.labels
    return {name: float(wrong[data.source == i].mean()) for i, name in enumerate(SOURCES) if (data.source == i).any()}


def _initialise(model: LeNet5, init_from: str | None, log: Callable[[str], None]) -> dict | None:
    """Load a parent weights file's trained (unfolded) parameters; returns its training record for the card."""
    if not init_from:
        return None
    payload = torch.load(init_from, map_location="cpu", weights_only=True)
    model.load_state_dict(payload["state_dict"])
    log(f"starting from {init_from}")
    parent = payload.get("training", {})
    return {"path": str(init_from), "recipe": parent.get("recipe"), "train_seconds": parent.get("train_seconds")}


def _distill_loss(logits: torch.Tensor, teacher: torch.nn.Module, x: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL divergence from the teacher's softened outputs (Hinton et al. 2015), scaled by T^2 to keep its gradients
    the size of the cross-entropy's."""
    was_training = teacher.training
    teacher.eval()
    with torch.no_grad():
        target = F.softmax(teacher(x) / temperature, dim=1)
    teacher.train(was_training)
    log_p = F.log_softmax(logits / temperature, dim=1)
    return F.kl_div(log_p, target, reduction="batchmean") * temperature**2


def _save_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(
    config: TrainConfig,
    data_dir: Path | None,
    out_dir: Path,
    device: torch.device,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> Path:
    """Train, calibrate and write ``out_dir/lenet5.pt``; returns its path.

    A checkpoint is written atomically after every epoch; ``resume=True`` continues from it with the same
    random streams, so an interrupted run ends with the same weights as an uninterrupted one.
    """
    if not 0.0 <= config.self_distill <= 1.0 or config.distill_temperature <= 0:
        raise ValueError("self_distill must lie in [0, 1] and distill_temperature be positive")
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    started = time.perf_counter()

    if data_dir is not None:
        train_set, val_set = train_validation_split(
            data_dir, config.normalization, config.val_fraction, config.seed, config.orand_copies, config.orand_jitter
        )
    else:  # fine-tuning on the corrections alone
        train_set = val_set = DigitSet.empty(config.normalization.size)
    if config.limit:
        keep = np.random.default_rng(config.seed).permutation(len(train_set))[: config.limit]
        train_set = train_set.subset(np.sort(keep))
    if config.finetune:  # after the limit: a smoke run still sees every correction
        extra_train, extra_val = corrections_split(
            Path(config.finetune), config.normalization, config.val_fraction, config.seed
        )
        train_set, val_set = DigitSet.concat([train_set, extra_train]), DigitSet.concat([val_set, extra_val])
    if len(val_set) == 0:
        raise RuntimeError("no validation digits to calibrate on: give the data directory (--data)")
    counts = {name: int((train_set.source == i).sum()) for i, name in enumerate(SOURCES)}
    log(f"training digits {counts}, validation {len(val_set)}; data ready in {time.perf_counter() - started:.1f} s")

    model = LeNet5(config.model).to(device)
    parent = _initialise(model, config.init_from, log)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(epoch_order(train_set, config.repeats, np.random.default_rng(0))) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch, pct_start=WARMUP_SHARE
    )
    order_rng = np.random.default_rng(config.seed)
    distort_gen = torch.Generator().manual_seed(config.seed)
    history: list[dict] = []
    first_epoch, elapsed_before = 0, 0.0

    checkpoint_path = out_dir / CHECKPOINT_NAME
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        order_rng.bit_generator.state = state["order_rng"]
        distort_gen.set_state(state["distort_gen"])
        torch.set_rng_state(state["torch_rng"])
        history, first_epoch, elapsed_before = state["history"], state["epoch"], state["elapsed"]
        log(f"resumed from {checkpoint_path} after epoch {first_epoch}")

    # the digits live on the training device, so a GPU also does the distortions; the random draws stay on the
    # CPU generator, so CPU and CUDA runs see the same distortions
    images = torch.from_numpy(train_set.images).unsqueeze(1).to(device)
    labels = torch.from_numpy(train_set.labels).to(device)
    for epoch in range(first_epoch, config.epochs):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.from_numpy(epoch_order(train_set, config.repeats, order_rng))
        batches = range(0, len(order), config.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        # summed on the device, so a GPU is not waited for on every step
        total_loss = torch.zeros((), dtype=torch.float64, device=device)
        for start in bar:
            index = order[start : start + config.batch_size].to(device)
            x = distort(images[index], config.distortion, distort_gen)
            y = labels[index]
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
            # from the first whole epoch after the warm-up (the average is no teacher before); the logged loss then
            # includes this term, so losses of recipes with and without it are not comparable
            if config.self_distill > 0 and epoch >= config.epochs * WARMUP_SHARE:
                loss = (1 - config.self_distill) * loss + config.self_distill * _distill_loss(
                    logits, ema.module, x, config.distill_temperature
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            ema.update_parameters(model)
            total_loss += loss.detach() * len(index)
            if progress and start % (50 * config.batch_size) == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
        val_error = per_source_error(predict_logits(ema.module, val_set.images, device), val_set)
        record = {
            "epoch": epoch + 1,
            "loss": total_loss.item() / len(order),
            "val_error": val_error,
            "seconds": time.perf_counter() - epoch_start,
        }
        history.append(record)
        _save_atomic(
            {
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "order_rng": order_rng.bit_generator.state,
                "distort_gen": distort_gen.get_state(),
                "torch_rng": torch.get_rng_state(),  # dropout draws from the global generator
                "history": history,
                "epoch": epoch + 1,
                "elapsed": elapsed_before + time.perf_counter() - epoch_start,
            },
            checkpoint_path,
        )
        elapsed_before += time.perf_counter() - epoch_start
        log(json.dumps(record))

    final = ema.module
    val_logits = predict_logits(final, val_set.images, device)
    calibration = calibrate(val_logits, torch.from_numpy(val_set.labels), config.target_error, config.rejection_rule)
    log(f"temperature {calibration.temperature:.3f}, threshold {calibration.threshold:.5f}")
    recipe = asdict(config)
    training = {
        "recipe": recipe,
        "counts": counts,
        "validation_digits": len(val_set),
        "history": history,
        "train_seconds": elapsed_before,
        "parent": parent,
        "device": str(device),
        "torch": str(torch.__version__),
    }
    return save_weights(out_dir / "lenet5.pt", final.cpu(), config.normalization, calibration, training)
