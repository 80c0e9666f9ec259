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
      dW1 = W2^T * (M (d x)),  db1 = W2 * (d M^T),  dW2 = d H^T,  db2 = sum(d),
    i.e. dH = (W2^T d^T) * M reassociated so that no (S, h, B) product is formed. dW2 is
    taken first, as a bmm of d (S, 1, B) with H^T; then H is overwritten by its mask in place
    (no second (S, h, B) buffer). dW1 is one bmm of M with d x (S, B, n) and db1 one bmm of d
    with M^T, both contiguous: an earlier single bmm of M with [d x | d] (S, B, n + 1) cost
    more than the two (MKL is slow at n + 1 = 21 columns) and left dW1 strided. The forward
    is the same sequence of operations as ``mlp_forward``, so outputs and losses are those of
    the autograd path bit for bit; the gradients differ from autograd's only in the order of
    their float32 sums (tests/test_fast_grad.py bounds the difference). The hidden layer is
    the only (S, h, B) tensor a step allocates.
    """
    hidden = torch.baddbmm(params["b1"].unsqueeze(2), params["W1"], x.transpose(1, 2)).relu_()
    out = torch.baddbmm(params["b2"].reshape(-1, 1, 1), params["W2"], hidden).squeeze(1)
    losses, d_out = loss(out, y)
    d_row = d_out.unsqueeze(1)  # (S, 1, B)
    grad_w2 = torch.bmm(d_row, hidden.transpose(1, 2))  # before H becomes M
    mask = hidden.sign_()
    grad_w1 = torch.bmm(mask, x * d_out.unsqueeze(2)).mul_(params["W2"].transpose(1, 2))
    grad_b1 = torch.bmm(d_row, mask.transpose(1, 2)).mul_(params["W2"]).squeeze(1)
    grads = {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": d_out.sum(dim=1)}
    return losses, grads
