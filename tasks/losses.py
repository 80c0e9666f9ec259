"""Classification losses of the modular-arithmetic tasks, per seed: logits (S, B, C),
integer labels (S, B) -> the mean loss over the batch, (S,)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Softmax cross-entropy, mean over the batch, per seed."""
    s, b, c = logits.shape
    return F.cross_entropy(logits.reshape(s * b, c), y.reshape(s * b), reduction="none").reshape(s, b).mean(dim=1)


def cross_entropy_float64(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy with the log-softmax in float64 (as the progress-measures code: float32
    log-probabilities of confident predictions are multiples of 1.2e-7), returned in the
    logits' dtype; mean over the batch, per seed."""
    log_p = F.log_softmax(logits.double(), dim=-1)
    return -log_p.gather(-1, y.unsqueeze(-1)).squeeze(-1).mean(dim=1).to(logits.dtype)


def stablemax(x: Tensor) -> Tensor:
    """s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0 (positive, increasing, linear growth)."""
    return torch.where(x >= 0, x + 1, 1 / (1 - x.clamp(max=0)))


def stablemax_cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """-log p_y with p_i = s(x_i) / sum_j s(x_j) (StableMax, arXiv 2501.04697), computed in
    float64 and returned in the logits' dtype; mean over the batch, per seed."""
    s = stablemax(logits.double())
    log_p = s.log() - s.sum(dim=-1, keepdim=True).log()
    return -log_p.gather(-1, y.unsqueeze(-1)).squeeze(-1).to(logits.dtype).mean(dim=1)


LOSSES = {"cross_entropy": cross_entropy, "cross_entropy_float64": cross_entropy_float64,
          "stablemax": stablemax_cross_entropy}
