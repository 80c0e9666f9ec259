"""The Task contract: data, model, loss, accuracy, schedule, target and base optimizer.

Shapes. Every tensor the engine handles carries a leading *seed axis* S: the engine stacks
the per-seed data and parameters a task builds, so one model trains S seeds at once
(S = 1 is the plain single-seed case, not a separate code path). A task therefore writes
two kinds of code:

- per seed, on the CPU, from a torch.Generator: ``make_data`` and ``init_params``;
- batched over seeds: ``forward(params, x)`` with params ``(S, ...)`` and x ``(S, B, ...)``,
  ``loss(out, y) -> (S,)`` (mean over the batch), ``correct(out, y) -> (S, B)`` bool.

Parameters of different seeds never interact, so the gradient of ``loss.sum()`` with
respect to seed s's parameters is seed s's own gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from .metrics import (
    DEFAULT_HOLD_BAND,
    DEFAULT_SUSTAIN_EVALS,
    DEFAULT_SUSTAIN_FRAC,
    DEFAULT_TAIL_FRAC,
    Stability,
)
from .params import MAX_SIZE, MAX_STEPS, Constraint, between, fraction, positive_at_most, unit_open
from .plugin import Plugin
from .preset import Preset


@dataclass
class Split:
    """One seed's data: inputs and labels for training and test (CPU tensors, no seed axis)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


@dataclass(frozen=True)
class Schedule:
    """How a trial is stepped. All counts are optimizer steps.

    batch_size: examples per step (equal to n_train for full batch).
    steps_per_epoch: ceil(n_train / batch_size); the last, partial batch is kept.
    eval_every: steps between evaluations.
    max_steps: the budget; an unsolved trial is censored here.
    """

    batch_size: int
    steps_per_epoch: int
    eval_every: int
    max_steps: int


class Task(Plugin):
    """Base class of tasks. See the module docstring for the shape contract.

    Class attributes a task sets besides name/description/defaults:
      presets: named protocols, selectable as ``NAME:PRESET``.
      leaderboard_presets: which variants ``--tasks all`` includes (None = the defaults).
      base_optimizer: the optimizer of the task's reference protocol.
      optimizer_defaults: per base optimizer, the task's hyperparameters for it.

    Parameters every task has (in ``defaults``): ``batch_size`` (examples per step; 0 =
    full batch), ``eval_every`` (in epochs, > 0), ``max_epochs`` (the budget, >= 1),
    ``target`` (test accuracy that counts as solved, in (0, 1]), ``fit_threshold`` (train
    accuracy that counts as fitted, in (0, 1]), and the stability rule of a solve
    (``grokbench.metrics.Stability``): ``sustain_evals`` (the window's least length in
    evaluations, default 5; 0 with the other two at 0 = the first crossing), ``sustain_frac``
    (the window as a fraction of the steps so far, default 0.1) and ``hold_band`` (how far
    below the target accuracy may dip inside the window, in [0, 1), default 0.05) and
    ``tail_frac`` (the tail watched after the window for a late collapse, as a fraction of
    the crossing's step, default 1). Their bounds are in ``constraints``.
    """

    constraints: ClassVar[dict[str, Constraint]] = {
        "batch_size": between(0, MAX_SIZE), "eval_every": positive_at_most(MAX_STEPS), "max_epochs": between(1, MAX_STEPS),
        "target": fraction, "fit_threshold": fraction, "sustain_evals": between(0, MAX_STEPS),
        "sustain_frac": between(0, 10), "hold_band": unit_open, "tail_frac": between(0, 10),
    }
    # read by ``schedule`` and the trial's rules: ``defaults`` must declare them (plan-time check)
    required_settings: ClassVar[tuple[str, ...]] = ("batch_size", "eval_every", "max_epochs", "target",
                                                    "fit_threshold")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every task gets the stability settings (the defaults unless it sets its own)."""
        super().__init_subclass__(**kwargs)
        stability = {"sustain_evals": DEFAULT_SUSTAIN_EVALS, "sustain_frac": DEFAULT_SUSTAIN_FRAC,
                     "hold_band": DEFAULT_HOLD_BAND, "tail_frac": DEFAULT_TAIL_FRAC}
        cls.defaults = {**cls.defaults, **{k: v for k, v in stability.items() if k not in cls.defaults}}

    @property
    def stability(self) -> Stability:
        """The rule that decides a stable solve (``grokbench.metrics``)."""
        return Stability(int(self.sustain_evals), float(self.sustain_frac), float(self.hold_band),
                         float(self.tail_frac))

    # report seeds of ``--seeds auto``: enough for the page to detect a stated effect at its
    # cost (the paired sign test in a family of 16; docs/statistics.md)
    report_seeds: ClassVar[int] = 10
    # K of ``grokbench tune --trials auto``: configurations per (task, method) (docs/tuning.md)
    tuning_trials: ClassVar[int] = 16
    presets: ClassVar[dict[str, Preset]] = {}
    leaderboard_presets: ClassVar[tuple[str | None, ...]] = (None,)
    base_optimizer: ClassVar[str] = "sgd"
    optimizer_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    # seeds per forward and backward of a training step on a CPU (0: every live seed at once);
    # for models whose per-seed activations outgrow the cache when all seeds run together
    # (the transformer: 1). Every seed's loss depends on its own parameters only, so the
    # gradient is the same; CUDA always runs every seed at once (grokbench.trial.autograd_step)
    cpu_gradient_seeds: ClassVar[int] = 0

    # -- size, for the plan-time memory check (grokbench.limits) -----------------------------
    def parameter_count(self) -> int | None:
        """Parameters of one seed's model, computed without building it; None: not declared
        (the plan-time memory check then skips this task)."""
        return None

    def data_bytes(self) -> int:
        """Bytes of one seed's train and test data, computed without drawing it (0: not declared)."""
        return 0

    # -- per seed, on the CPU -------------------------------------------------------------
    def make_data(self, gen: torch.Generator) -> Split:
        """Build one seed's train and test data from ``gen`` (the seed's data stream)."""
        raise NotImplementedError

    def init_params(self, gen: torch.Generator) -> dict[str, Tensor]:
        """One seed's initial parameters (no seed axis) from ``gen`` (the init stream)."""
        raise NotImplementedError

    # -- batched over seeds -----------------------------------------------------------------
    def forward(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        """Model outputs for inputs x of shape (S, B, ...)."""
        raise NotImplementedError

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        """Per-seed mean loss, shape (S,)."""
        raise NotImplementedError

    def correct(self, out: Tensor, y: Tensor) -> Tensor:
        """Per-example correctness, bool of shape (S, B)."""
        raise NotImplementedError

    def loss_and_grad(self, params: dict[str, Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Optional fast path: per-seed losses (S,) and the gradient of their sum, by hand.

        A task that overrides this saves autograd's overhead on every training step; it must
        equal ``torch.autograd.grad(self.loss(self.forward(params, x), y).sum(), params)``
        (test it). The engine calls it under ``torch.no_grad()``.
        """
        raise NotImplementedError

    @property
    def has_fast_grad(self) -> bool:
        return type(self).loss_and_grad is not Task.loss_and_grad

    # -- schedule -----------------------------------------------------------------------
    def schedule(self, n_train: int) -> Schedule:
        """Steps per epoch, evaluation period and budget for a training set of n_train."""
        batch = n_train if self.batch_size in (0, None) else min(self.batch_size, n_train)
        steps_per_epoch = math.ceil(n_train / batch)
        eval_every = max(1, round(self.eval_every * steps_per_epoch))
        return Schedule(batch, steps_per_epoch, eval_every, self.max_epochs * steps_per_epoch)
