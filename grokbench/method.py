"""The Method contract: gradient transforms chained in front of a base optimizer.

Modelled on optax. A method is one of two kinds:

- ``Transform`` (an accelerator): ``init(params, ctx) -> state`` and
  ``update(grads, params, state, ctx) -> grads``. It runs between backward and the
  optimizer step, may keep state (mutated in place), and may need more than gradients:
  ``ctx`` gives it the step index, a loss closure, the current batch, an optional held-out
  slice of the *training* data (``holdout_fraction``) and its own random stream. It never
  sees the test split. An optional ``after_step`` hook runs after the optimizer update
  (NeuralGrok's meta step lives there).
- ``Optimizer`` (a base): ``init(params) -> state`` and ``step(params, grads, state, step)``,
  updating the parameters in place.

Seed axis: every parameter, gradient and state tensor has a leading seed axis S. A
transform acts per seed on the remaining dimensions (norms, SVDs and filters over the
last dimensions), so it gives the same result on a stack of seeds as seed by seed.

Composition (parsed in grokbench.spec): ``egd`` runs EGD on the task's base optimizer,
``egd@adamw`` names the base, ``grokfast+egd`` applies grokfast then egd.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from .plugin import Plugin

Params = dict[str, Tensor]
LossFn = Callable[[Params, Tensor, Tensor], Tensor]


@dataclass
class StepContext:
    """What a transform may use besides gradients, for the step being taken.

    step: 0-based index of the optimizer step in progress.
    loss_fn(params, x, y) -> per-seed mean loss (S,), differentiable in params.
    batch: the (x, y) of this step, shapes (S, B, ...).
    holdout: (x, y) carved from the training data when the method asked for it, else None.
    generators: one CPU torch.Generator per seed, the method's own random stream.
    lr: the base optimizer's learning rate at this step.
    """

    step: int
    loss_fn: LossFn
    batch: tuple[Tensor, Tensor]
    holdout: tuple[Tensor, Tensor] | None
    generators: list[torch.Generator]
    device: torch.device
    lr: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)

    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """Standard normals of shape (S, *shape), each seed's drawn from its own stream."""
        draws = [torch.randn(*shape, generator=g, dtype=dtype) for g in self.generators]
        return torch.stack(draws).to(self.device)


class Method(Plugin):
    """Base of both method kinds. ``kind`` is "transform" or "optimizer".

    ``presets`` names variants of an accelerator, selectable as ``NAME:PRESET`` (e.g.
    ``egd:first``): preset name -> (one-line description, parameter values).
    """

    kind: ClassVar[str] = ""
    presets: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = {}


class Transform(Method):
    """An accelerator: a gradient transformation between backward and the optimizer step."""

    kind: ClassVar[str] = "transform"

    @property
    def holdout_fraction(self) -> float:
        """Fraction of the training set to carve out as this method's held-out slice."""
        return 0.0

    @property
    def optimizer_overrides(self) -> dict[str, Any]:
        """Base-optimizer settings this method's protocol pairs it with (e.g. weight decay)."""
        return {}

    def init(self, params: Params, ctx: StepContext) -> Any:
        return None

    def update(self, grads: Params, params: Params, state: Any, ctx: StepContext) -> Params:
        raise NotImplementedError

    def after_step(self, params: Params, state: Any, ctx: StepContext) -> None:
        """Runs after the optimizer has updated ``params`` (timed, like the step itself)."""


class Optimizer(Method):
    """A base optimizer. Common parameters: ``lr`` and ``warmup_steps`` (linear warm-up)."""

    kind: ClassVar[str] = "optimizer"

    def lr_at(self, step: int) -> float:
        """Learning rate for 0-based step ``step``: linear warm-up over warmup_steps."""
        warmup = self.params.get("warmup_steps", 0)
        if warmup and step < warmup:
            return self.lr * (step + 1) / warmup
        return self.lr

    def init(self, params: Params) -> Any:
        return None

    def step(self, params: Params, grads: Params, state: Any, step: int) -> None:
        raise NotImplementedError


def per_seed_norm(t: Tensor) -> Tensor:
    """Euclidean norm of each seed's slice, shaped to broadcast against t: (S, 1, ..., 1)."""
    flat = t.reshape(t.shape[0], -1)
    return flat.norm(dim=1).reshape((t.shape[0],) + (1,) * (t.dim() - 1))


def per_seed_dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of each seed's slices, shaped to broadcast: (S, 1, ..., 1)."""
    dots = (a.reshape(a.shape[0], -1) * b.reshape(b.shape[0], -1)).sum(dim=1)
    return dots.reshape((a.shape[0],) + (1,) * (a.dim() - 1))
