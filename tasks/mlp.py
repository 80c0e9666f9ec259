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

    Backward of the forward above, with d = dL/d(out) (S, B), H = relu(W1 x^T + b1) (S, h, B)
    and the ReLU mask M = [H > 0] (as 0/1, from H.sign()):
      dW1 = W2^T * (M (d x)),  db1 = W2^T * (M d),  dW2 = H d,  db2 = sum(d),
    i.e. dH = (W2^T d^T) * M reassociated so that no (S, h, B) product is formed: one bmm of
    M with [d x | d] (S, B, n + 1) gives dW1 and db1 together (returned as views of it).
    Equal to autograd's gradient (tests/test_fast_grad.py). This was ~20% cheaper than
    forming dH at S >= 64 on a 2-core CPU (benchmarks/README.md).
    """
    hidden = torch.baddbmm(params["b1"].unsqueeze(2), params["W1"], x.transpose(1, 2)).relu_()
    out = torch.baddbmm(params["b2"].reshape(-1, 1, 1), params["W2"], hidden).squeeze(1)
    losses, d_out = loss(out, y)
    d = d_out.unsqueeze(2)  # (S, B, 1)
    both = torch.bmm(hidden.sign(), torch.cat([x * d, d], dim=2)).mul_(params["W2"].transpose(1, 2))
    grads = {
        "W1": both[..., :-1],
        "b1": both[..., -1],
        "W2": torch.linalg.vecdot(hidden, d_out.unsqueeze(1), dim=2).unsqueeze(1),
        "b2": d_out.sum(dim=1),
    }
    return losses, grads
