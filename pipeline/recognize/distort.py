"""Batched random distortions of normalised digits: affine plus elastic (Simard, Steinkraus & Platt 2003).

Done on whole batches with one ``grid_sample`` so augmentation costs little next to the training step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class DistortionConfig:
    """Ranges of the random distortions; the defaults keep every digit readable as itself."""

    rotate_deg: float = 10.0
    scale: float = 0.12  # relative, symmetric
    aspect: float = 0.12  # relative change of width against height
    shear: float = 0.25
    translate_px: float = 1.5
    elastic_alpha: float = 1.6  # displacement scale, in pixels of the 32x32 input
    elastic_sigma: float = 4.0  # smoothing of the random field, in pixels
    elastic_share: float = 0.5  # fraction of the batch that also gets an elastic field
    stroke_share: float = 0.15  # fraction whose strokes are thickened or thinned (grey morphology)

    def to_dict(self) -> dict:
        return asdict(self)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def distort(batch: torch.Tensor, config: DistortionConfig, generator: torch.Generator) -> torch.Tensor:
    """Return a randomly distorted copy of ``batch`` (N x 1 x H x W, ink in [0, 1])."""
    n, _, h, w = batch.shape
    device = batch.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator).mul(high - low).add(low).to(device)

    angle = uniform(-config.rotate_deg, config.rotate_deg) * (math.pi / 180)
    scale = 1 + uniform(-config.scale, config.scale)
    aspect = 1 + uniform(-config.aspect, config.aspect)
    shear = uniform(-config.shear, config.shear)
    tx = uniform(-config.translate_px, config.translate_px) * (2 / w)
    ty = uniform(-config.translate_px, config.translate_px) * (2 / h)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Output -> input sampling matrix: inverse of (rotate . shear . scale), applied about the centre.
    sx, sy = 1 / (scale * aspect), aspect / scale
    a11 = sx * cos
    a12 = sx * (sin + shear * cos)
    a21 = -sy * sin
    a22 = sy * (cos - shear * sin)
    theta = torch.stack([torch.stack([a11, a12, tx], 1), torch.stack([a21, a22, ty], 1)], 1)
    grid = F.affine_grid(theta, (n, 1, h, w), align_corners=False)

    if config.elastic_alpha > 0 and config.elastic_share > 0:
        field = torch.rand(n, 2, h, w, generator=generator).mul(2).sub(1).to(device)
        kernel = _gaussian_kernel(config.elastic_sigma).to(device)
        k = kernel.numel()
        field = F.conv2d(field.reshape(-1, 1, h, w), kernel.view(1, 1, 1, k), padding=(0, k // 2))
        field = F.conv2d(field, kernel.view(1, 1, k, 1), padding=(k // 2, 0)).view(n, 2, h, w)
        field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
        chosen = (torch.rand(n, generator=generator) < config.elastic_share).to(device).float()
        field = field * chosen.view(n, 1, 1, 1) * config.elastic_alpha
        grid = grid + field.permute(0, 2, 3, 1) * torch.tensor([2 / w, 2 / h], device=device)

    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    if config.stroke_share > 0:
        pick = torch.rand(n, generator=generator).to(device)
        thicken = (pick < config.stroke_share / 2).view(n, 1, 1, 1)
        thin = ((pick >= config.stroke_share / 2) & (pick < config.stroke_share)).view(n, 1, 1, 1)
        dilated = F.max_pool2d(out, 3, stride=1, padding=1)
        eroded = -F.max_pool2d(-out, 3, stride=1, padding=1)
        out = torch.where(thicken, 0.5 * (out + dilated), out)
        out = torch.where(thin, 0.5 * (out + eroded), out)
    return out.clamp_(0, 1)
