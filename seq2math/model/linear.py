"""``nn.Linear`` with shape-stable matmuls under CPU bf16 autocast.

On CPU, PyTorch's bf16 matmuls are oneDNN kernels compiled for each new shape. Token-budget
batches change the number of rows (batch x length) at every step, and compiling a kernel costs
20-45 ms against the 8 ms of a 4,000-row projection with its backward: training ran only 1.09x
faster in bf16 than in fp32 on the batches of a Lyapunov run, against 1.47x when the shape repeats.
While gradients are on, the rows are padded with zeros to a multiple of ``ROW_GRID`` so that the
few shapes seen are compiled once; the padding rows are cut off before anything reads them, so
outputs and gradients are those of the plain projection (docs/performance.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROW_GRID = 256  # rows are padded to a multiple of this (at most 6% of a 4,096-token batch)


def shape_stable(x: Tensor) -> bool:
    """Pad the rows of ``x`` before a matmul: a CPU tensor, in training, under bf16 autocast."""
    return (x.device.type == "cpu" and torch.is_grad_enabled() and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)``, its rows padded to a multiple of ``ROW_GRID`` where it pays."""
    if x.dim() < 2 or not shape_stable(x):
        return F.linear(x, weight, bias)
    rows = x.numel() // x.size(-1)
    padded = -(-rows // ROW_GRID) * ROW_GRID
    if padded == rows:
        return F.linear(x, weight, bias)
    flat = F.pad(x.reshape(rows, x.size(-1)), (0, 0, 0, padded - rows))  # (padded, K)
    return F.linear(flat, weight, bias)[:rows].reshape(*x.shape[:-1], weight.size(0))


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) through ``linear``."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
