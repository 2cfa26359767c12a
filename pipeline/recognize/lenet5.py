"""LeNet-5 with the 1998 topology, including the partial S2 -> C3 connection table."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# LeCun et al. 1998, Table I: which of the six S2 maps feed each of the sixteen C3 maps.
# Maps 0-5 take three contiguous inputs, 6-11 four contiguous, 12-14 four discontinuous, 15 all six.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip

LENET5_CONFIG = {
    "input_size": 32, "c1": 6, "c3": 16, "c5": 120, "f6": 84, "classes": 10, "dropout": 0.0, "batchnorm": True,
}  # fmt: skip


def c3_connection_mask() -> torch.Tensor:
    """A ``(16, 6)`` 0/1 mask of the connection table."""
    mask = torch.zeros(16, 6)
    for out_map, inputs in enumerate(C3_TABLE):
        mask[out_map, list(inputs)] = 1.0
    return mask


class PartialConv2d(nn.Conv2d):
    """A convolution whose output maps see only the input maps the table allows.

    Weights outside the table are held at zero: masked in every training forward, and zeroed in place by
    :meth:`LeNet5.freeze_for_inference`, after which the layer runs as a plain (fast) convolution.
    """

    def __init__(self, mask: torch.Tensor, kernel_size: int) -> None:
        super().__init__(mask.shape[1], mask.shape[0], kernel_size)
        self.register_buffer("connections", mask.clone())
        self.masked = True
        with torch.no_grad():
            self.weight.mul_(self._mask())

    def _mask(self) -> torch.Tensor:
        return self.connections[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self._mask() if self.masked else self.weight
        return F.conv2d(x, weight, self.bias)


class LeNet5(nn.Module):
    """32x32 -> C1 6@28 -> S2 6@14 -> C3 16@10 (partial) -> S4 16@5 -> C5 120 -> F6 84 -> 10 logits.

    Modern choices, all documented in the model card: ReLU instead of scaled tanh, max pooling instead of trainable
    average subsampling, batch-norm during training (folded into the weights for inference), optional dropout on
    F6, and a linear softmax output instead of Euclidean RBF units.
    """

    def __init__(self, config: dict | None = None) -> None:
        super().__init__()
        cfg = {**LENET5_CONFIG, **(config or {})}
        self.config = cfg
        self.c1 = nn.Conv2d(1, cfg["c1"], 5)
        self.c3 = PartialConv2d(c3_connection_mask(), 5)
        self.c5 = nn.Conv2d(cfg["c3"], cfg["c5"], 5)
        self.f6 = nn.Linear(cfg["c5"], cfg["f6"])
        self.dropout = nn.Dropout(cfg["dropout"])
        self.output = nn.Linear(cfg["f6"], cfg["classes"])
        norm = nn.BatchNorm2d if cfg["batchnorm"] else None
        self.bn1 = norm(cfg["c1"]) if norm else nn.Identity()
        self.bn3 = norm(cfg["c3"]) if norm else nn.Identity()
        self.bn5 = norm(cfg["c5"]) if norm else nn.Identity()
        self.bn6 = nn.BatchNorm1d(cfg["f6"]) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.c1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn3(self.c3(x))), 2)
        x = F.relu(self.bn5(self.c5(x))).flatten(1)
        x = self.dropout(F.relu(self.bn6(self.f6(x))))
        return self.output(x)

    def freeze_for_inference(self) -> LeNet5:
        """Prepare for fast inference: zero the C3 weights outside the table once (no per-call mask) and fold
        each batch-norm into the layer before it (exact in eval mode), leaving the plain 1998 layer stack."""
        self.eval()
        with torch.no_grad():
            self.c3.weight.mul_(self.c3._mask())
            for layer, bn_name in ((self.c1, "bn1"), (self.c3, "bn3"), (self.c5, "bn5"), (self.f6, "bn6")):
                bn = getattr(self, bn_name)
                if isinstance(bn, nn.Identity):
                    continue
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                shape = (-1,) + (1,) * (layer.weight.dim() - 1)
                layer.weight.mul_(scale.view(shape))
                layer.bias.copy_((layer.bias - bn.running_mean) * scale + bn.bias)
                setattr(self, bn_name, nn.Identity())
        self.c3.masked = False
        return self


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, counting only the C3 weights the connection table allows (as the paper does)."""
    total = 0
    for name, param in model.named_parameters():
        if name.startswith("bn"):
            continue  # training-time normalisation, folded away for inference
        if name == "c3.weight":
            total += int(model.c3.connections.sum().item()) * param.shape[2] * param.shape[3]
        else:
            total += param.numel()
    return total
