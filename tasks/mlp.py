"""One-hidden-layer ReLU MLP with a scalar output, written over a leading seed axis.

    out = W2 relu(W1 x + b1) + b2

Per seed: W1 (h, n) ~ N(0, 2/n), b1 (h,) = 0, W2 (1, h) ~ N(0, 2/h), b2 () = 0 (the sparse-parity
reference). Batched: every parameter gains a leading seed axis S and x is (S, B, n).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def init_mlp(n: int, hidden: int, gen: torch.Generator) -> dict[str, Tensor]:
    """One seed's parameters (no seed axis)."""
    return {
        "W1": torch.randn(hidden, n, generator=gen) * math.sqrt(2.0 / n),
        "b1": torch.zeros(hidden),
        "W2": torch.randn(1, hidden, generator=gen) * math.sqrt(2.0 / hidden),
        "b2": torch.zeros(()),
    }


def mlp_forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
    """x (S, B, n) -> scalar outputs (S, B)."""
    hidden = torch.baddbmm(params["b1"].unsqueeze(1), x, params["W1"].transpose(1, 2)).relu_()
    return torch.baddbmm(params["b2"].reshape(-1, 1, 1), hidden, params["W2"].transpose(1, 2)).squeeze(-1)
