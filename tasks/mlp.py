"""One-hidden-layer ReLU MLP with a scalar output, written over a leading seed axis.

    out = W2 relu(W1 x + b1) + b2

Per seed: W1 (h, n) ~ N(0, 2/n), b1 (h,) = 0, W2 (1, h) ~ N(0, 2/h), b2 () = 0 (the sparse-parity
reference). Batched: every parameter gains a leading seed axis S and x is (S, B, n).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

# (out (S, B), y (S, B)) -> (per-seed loss (S,), dL/d out (S, B))
LossWithGrad = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def init_mlp(n: int, hidden: int, gen: torch.Generator) -> dict[str, Tensor]:
    """One seed's parameters (no seed axis)."""
    return {
        "W1": torch.randn(hidden, n, generator=gen) * math.sqrt(2.0 / n),
        "b1": torch.zeros(hidden),
        "W2": torch.randn(1, hidden, generator=gen) * math.sqrt(2.0 / hidden),
        "b2": torch.zeros(()),
    }


def mlp_forward(params: dict[str, Tensor], x: Tensor) -> Tensor:
    """x (S, B, n) -> scalar outputs (S, B).

    The hidden layer is computed as W1 @ x^T, laid out (S, h, B), which was faster per
    step than x @ W1^T on a 2-core CPU at S = 256.
    """
    hidden = torch.baddbmm(params["b1"].unsqueeze(2), params["W1"], x.transpose(1, 2)).relu_()
    return torch.baddbmm(params["b2"].reshape(-1, 1, 1), params["W2"], hidden).squeeze(1)


def mlp_loss_and_grad(
    params: dict[str, Tensor], x: Tensor, y: Tensor, loss: LossWithGrad
) -> tuple[Tensor, dict[str, Tensor]]:
    """Per-seed losses (S,) and the gradient of their sum, by hand (no autograd).

    Backward of the forward above, with d = dL/d(out) of shape (S, 1, B):
      dW2 = d H^T,  db2 = sum(d),  dH = (W2^T d) * [H > 0],  dW1 = dH x,  db1 = sum_B dH.
    Equal to autograd's gradient (tests/test_fast_grad.py). W2^T d is an outer product,
    done as a broadcast multiply, and the ReLU mask is applied by the fused
    threshold_backward kernel (what autograd uses) rather than a bmm and a separate mask.
    """
    hidden = torch.baddbmm(params["b1"].unsqueeze(2), params["W1"], x.transpose(1, 2)).relu_()
    out = torch.baddbmm(params["b2"].reshape(-1, 1, 1), params["W2"], hidden).squeeze(1)
    losses, d_out = loss(out, y)
    d_out = d_out.unsqueeze(1)
    d_hidden = torch.ops.aten.threshold_backward(params["W2"].transpose(1, 2) * d_out, hidden, 0)
    grads = {
        "W1": torch.bmm(d_hidden, x),
        "b1": d_hidden.sum(dim=2),
        "W2": torch.bmm(hidden, d_out.mT).mT,
        "b2": d_out.sum(dim=(1, 2)),
    }
    return losses, grads
