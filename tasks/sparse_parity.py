"""Sparse parity: y = prod(x[S]) for a secret set S of k of n bits.

Follows the sparse-parity challenge's EGD experiment log exactly:
x uniform in {-1,+1}^n, a secret of k distinct indices per seed; n_train = 1000 and 500
fresh test samples drawn after the training set (not de-duplicated); one hidden ReLU
layer of 200 (W1 ~ N(0, 2/n), W2 ~ N(0, 2/h), zero biases), scalar output; hinge loss
mean(max(0, 1 - y*out)); plain SGD, lr 0.1, batch 32 with the last partial batch kept,
reshuffled each epoch, coupled weight decay 0.01; evaluated after every epoch with
accuracy mean(sign(out) == y); solved at test accuracy 1.0 (all 500); budget 200 epochs.

Preset ``k5``: k = 5 with a 1000-epoch budget (the log's harder variant).
Draw order per seed: secret, then the training inputs, then the test inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from grokbench import Preset, Split, Task, register
from grokbench.errors import UserError
from grokbench.params import MAX_SIZE, at_least, between

from .mlp import init_mlp, mlp_forward, mlp_loss_and_grad


class SparseBitsTask(Task):
    """Shared data and model of the sparse-bits tasks; subclasses define the label and loss."""

    constraints = {"n": between(1, MAX_SIZE), "k": at_least(1), "hidden": between(1, MAX_SIZE),
                   "n_train": between(1, MAX_SIZE), "n_test": between(1, MAX_SIZE)}

    def validate(self) -> None:
        if self.k > self.n:
            raise UserError(f"{self.name}: k={self.k} secret bits cannot be drawn from n={self.n} bits (need k <= n)")

    def label(self, x: Tensor, secret: Tensor) -> Tensor:
        raise NotImplementedError

    def parameter_count(self) -> int:
        return self.hidden * self.n + 2 * self.hidden + 1  # W1, b1, W2, b2 (init_mlp)

    def data_bytes(self) -> int:
        return 4 * (self.n_train + self.n_test) * (self.n + 1)  # float32 inputs and labels

    def make_data(self, gen: torch.Generator) -> Split:
        secret = torch.randperm(self.n, generator=gen)[: self.k].sort().values
        x_train = torch.randint(0, 2, (self.n_train, self.n), generator=gen).float() * 2 - 1
        x_test = torch.randint(0, 2, (self.n_test, self.n), generator=gen).float() * 2 - 1
        return Split(x_train, self.label(x_train, secret), x_test, self.label(x_test, secret))

    def init_params(self, gen: torch.Generator) -> dict[str, Tensor]:
        return init_mlp(self.n, self.hidden, gen)

    def forward(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        return mlp_forward(params, x)

    def loss_with_grad(self, out: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Per-seed loss (S,) and its gradient with respect to ``out`` (S, B), by hand."""
        raise NotImplementedError

    def loss_and_grad(self, params: dict[str, Tensor], x: Tensor, y: Tensor):
        """The engine's fast path (equal to autograd's gradient: tests/test_fast_grad.py)."""
        return mlp_loss_and_grad(params, x, y, self.loss_with_grad)


SPARSE_BITS_DEFAULTS = {
    "n": 20,
    "k": 3,
    "hidden": 200,
    "n_train": 1000,
    "n_test": 500,
    "batch_size": 32,
    "eval_every": 1.0,
    "max_epochs": 200,
    "target": 1.0,
    "fit_threshold": 0.99,
}

SPARSE_BITS_OPTIMIZERS = {
    "sgd": {"lr": 0.1, "weight_decay": 0.01},
    # Not in the reference (it trains with SGD only): ours, chosen by a small sweep
    # (docs/methods.md), as are adam's and muon's.
    "adamw": {"lr": 1e-2, "weight_decay": 0.01},
    "adam": {"lr": 1e-3, "weight_decay": 0.0},
    "muon": {"lr": 0.02, "weight_decay": 0.01, "adamw_lr": 1e-2, "adamw_weight_decay": 0.01},
}


@register
class SparseParity(SparseBitsTask):
    name = "sparse_parity"
    description = "y = product of k secret bits of x in {-1,1}^n; 1-hidden-layer MLP, hinge loss"
    defaults = dict(SPARSE_BITS_DEFAULTS)
    presets = {
        "k5": Preset("k=5 of n=20 bits, budget 1000 epochs (the log's harder variant)", {"k": 5, "max_epochs": 1000}),
    }
    leaderboard_presets = (None, "k5")
    report_seeds = 64  # one seed batch; detects a method faster on >= 75% of seeds (80% power)
    tuning_trials = 32  # grokbench tune --trials auto (docs/tuning.md)
    base_optimizer = "sgd"
    optimizer_defaults = SPARSE_BITS_OPTIMIZERS

    def label(self, x: Tensor, secret: Tensor) -> Tensor:
        return x[:, secret].prod(dim=1)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return torch.relu(1.0 - y * out).mean(dim=-1)

    def correct(self, out: Tensor, y: Tensor) -> Tensor:
        return torch.sign(out) == y

    def loss_with_grad(self, out: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        margin = 1.0 - y * out
        active = margin > 0  # relu's gradient at 0 is 0, as autograd's
        return margin.clamp(min=0.0).mean(dim=-1), torch.where(active, -y, 0.0) / out.shape[-1]
