"""Sparse sum: y = sum(x[S]) for a secret set S of k of n bits, regressed with MSE.

Follows the sparse-parity challenge's EGD experiment log: the same inputs,
secret, data sizes and model as ``sparse_parity`` (x uniform in {-1,+1}^n, n_train 1000,
500 fresh test samples, one hidden ReLU layer of 200, scalar output); the target is the sum
of the k secret bits (in {-3,-1,1,3} for k=3); loss mean((out - y)^2); accuracy
round(out) == y; plain SGD lr 0.1, batch 32, coupled weight decay 0.01, evaluated every
epoch, solved at test accuracy 1.0, budget 200 epochs.

The log reports that plain SGD at lr 0.1 *diverges* on this task (EGD does not). The
engine records that as status ``diverged`` (a non-finite training loss; exploding
parameters end there too, since the squared error overflows to inf), never as a crash:
the baseline of this task is expected to diverge on many seeds under the reference
settings, and that is the reference's finding, not a harness bug.
"""

from __future__ import annotations

import torch
from torch import Tensor

from grokbench import register

from .sparse_parity import SPARSE_BITS_DEFAULTS, SPARSE_BITS_OPTIMIZERS, SparseBitsTask


@register
class SparseSum(SparseBitsTask):
    name = "sparse_sum"
    description = "y = sum of k secret bits of x in {-1,1}^n; 1-hidden-layer MLP, MSE loss, acc = round(out)==y"
    defaults = dict(SPARSE_BITS_DEFAULTS)
    presets = {}
    leaderboard_presets = (None,)
    report_seeds = 64  # one seed batch; detects a method faster on >= 75% of seeds (80% power)
    tuning_trials = 32  # grokbench tune --trials auto (docs/tuning.md)
    base_optimizer = "sgd"
    optimizer_defaults = SPARSE_BITS_OPTIMIZERS

    def label(self, x: Tensor, secret: Tensor) -> Tensor:
        return x[:, secret].sum(dim=1)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        """Per-seed mean squared error, shape (S,); inf/nan once the model has diverged."""
        return (out - y).square().mean(dim=-1)

    def correct(self, out: Tensor, y: Tensor) -> Tensor:
        return torch.round(out) == y

    def loss_with_grad(self, out: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        err = out - y
        return err.square().mean(dim=-1), err * (2.0 / out.shape[-1])
