"""The Method contract: gradient transforms chained in front of a base optimizer.

Modelled on optax; both kinds share one calling convention, ``(grads, params, state, ctx)``:

- ``Transform`` (an accelerator): ``init(params, ctx) -> state`` and
  ``update(grads, params, state, ctx) -> grads``, between backward and the optimizer step.
- ``Optimizer`` (a base): ``init(params, ctx) -> state`` and
  ``step(grads, params, state, ctx)``, which updates ``params`` in place at ``ctx.lr``.
- Both may define ``after_step(params, state, ctx)``, run after the optimizer update
  (NeuralGrok's meta step lives there).

``grokbench.chain.Chain`` composes them: transforms in order, then the base optimizer.

State: ``None`` or nested dicts / lists / tuples, mutated in place. **Every tensor leaf of
a state carries the leading seed axis**: when seeds leave the batch, the engine re-indexes
exactly those leaves; any other leaf (counters, names, helper objects) is shared by all
seeds and left alone.

Seed axis: every parameter and gradient has a leading seed axis S. A method acts per seed
on the remaining dimensions (norms, SVDs and filters over the last dimensions), so it gives
the same result on a stack of seeds as seed by seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from .params import (
    MAX_LR,
    MAX_STEPS,
    MAX_WEIGHT_DECAY,
    Constraint,
    between,
    each,
    positive_at_most,
    unit_open,
)
from .plugin import Plugin
from .preset import Preset

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
    lr: the base optimizer's learning rate at this step (warm-up applied): a float, or a
        per-slot tensor of shape (S,) when configurations that differ in it share the batch.
    slot_settings: the base optimizer's settings that differ per slot in a batch of several
        configurations (``Optimizer.slot_settings``), each a float64 tensor with leading
        axis S; empty when the batch holds one configuration.
    """

    step: int
    loss_fn: LossFn
    batch: tuple[Tensor, Tensor]
    holdout: tuple[Tensor, Tensor] | None
    generators: list[torch.Generator]
    device: torch.device
    lr: float | Tensor = 0.0
    slot_settings: dict[str, Tensor] = field(default_factory=dict)

    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """Standard normals of shape (S, *shape), each seed's drawn from its own stream."""
        draws = [torch.randn(shape, generator=g, dtype=dtype) for g in self.generators]  # shape () too
        return torch.stack(draws).to(self.device)


class Method(Plugin):
    """Base of both method kinds. ``kind`` is "transform" or "optimizer".

    ``presets`` names variants, selectable as ``NAME:PRESET`` (e.g. ``egd:first``).
    """

    kind: ClassVar[str] = ""
    presets: ClassVar[dict[str, Preset]] = {}
    # For step-cost calibration (grokbench.calibrate): steps after which the step cost
    # repeats (a meta step every T steps) and steps before it settles (a filling window).
    cost_period: ClassVar[int] = 1
    cost_warmup: ClassVar[int] = 0
    # For the plan-time memory check (grokbench.limits): copies of the gradient the state
    # keeps (Adam's two moments: 2; a window of w gradients: w). A lower bound; 0 if unsure.
    state_copies: ClassVar[int] = 0

    def init(self, params: Params, ctx: StepContext) -> Any:
        """This method's state for ``params`` (see the module docstring for its shape)."""
        return None

    def after_step(self, params: Params, state: Any, ctx: StepContext) -> None:
        """Runs after the optimizer has updated ``params`` (timed, like the step itself)."""


class Transform(Method):
    """An accelerator: a gradient transformation between backward and the optimizer step."""

    kind: ClassVar[str] = "transform"
    # Base-optimizer settings this method always runs with, whatever the task's (perp-grad
    # and weight-norm clipping: weight_decay 0); never tuned (grokbench.tuning.space).
    base_settings: ClassVar[dict[str, Any]] = {}

    @property
    def holdout_fraction(self) -> float:
        """Fraction of the training set to carve out as this method's held-out slice."""
        return 0.0

    @property
    def optimizer_overrides(self) -> dict[str, Any]:
        """Base-optimizer settings this method's protocol pairs it with (e.g. weight decay):
        by default its ``base_settings``."""
        return dict(self.base_settings)

    def update(self, grads: Params, params: Params, state: Any, ctx: StepContext) -> Params:
        """The transformed gradients (a new dict; ``grads`` may be reused)."""
        raise NotImplementedError


class Optimizer(Method):
    """A base optimizer. Common parameters: ``lr`` (> 0; required: ``defaults`` must declare
    it) and ``warmup_steps`` (linear warm-up, >= 0); the bounds of the common ones are in
    ``constraints``.

    ``slot_settings`` names the scalar settings the optimizer can take per slot, so that
    configurations differing only in them train in one batch (``grokbench.plan.Cell``);
    its ``step`` then reads them with ``setting(name, ctx)`` and ``ctx.lr``, which may be
    per-slot tensors (``slot_views`` shapes them against the parameters).
    """

    kind: ClassVar[str] = "optimizer"
    required_settings: ClassVar[tuple[str, ...]] = ("lr",)  # read by lr_at at every step
    slot_settings: ClassVar[tuple[str, ...]] = ()
    constraints: ClassVar[dict[str, Constraint]] = {
        "lr": positive_at_most(MAX_LR), "weight_decay": between(0, MAX_WEIGHT_DECAY),
        "warmup_steps": between(0, MAX_STEPS), "eps": positive_at_most(1.0),
        "momentum": unit_open, "betas": each(unit_open, length=2),
    }

    def lr_at(self, step: int, lr: float | Tensor | None = None) -> float | Tensor:
        """Learning rate for 0-based step ``step``: ``lr * min(step / warmup_steps, 1)``, the
        papers' ``LambdaLR(lambda update: min(update / 10, 1))`` (step 0 at lr 0). ``lr``
        (default ``self.lr``) may be per-slot values."""
        lr = self.lr if lr is None else lr
        warmup = self.params.get("warmup_steps", 0)
        if warmup and step < warmup:
            return lr * step / warmup
        return lr

    def setting(self, name: str, ctx: StepContext) -> Any:
        """The setting ``name``: its per-slot values when the batch's configurations differ
        in it (``ctx.slot_settings``), else this optimizer's own value."""
        return ctx.slot_settings.get(name, self.params[name])

    def step(self, grads: Params, params: Params, state: Any, ctx: StepContext) -> None:
        """Update ``params`` in place with ``grads`` at learning rate ``ctx.lr``."""
        raise NotImplementedError


def slot_views(value: Any, like: list[Tensor]) -> Any:
    """Per-slot values (a tensor of shape (S,)) as one view per tensor of ``like``, shaped to
    broadcast against it (S, 1, ..., 1) in its dtype, for ``torch._foreach_*`` ops; any other
    value as it is."""
    if not isinstance(value, Tensor):
        return value
    value = value.to(like[0].dtype)
    return [value.reshape(value.shape[:1] + (1,) * (t.dim() - 1)) for t in like]


def is_per_slot(*values: Any) -> bool:
    """Whether any of ``values`` is per-slot (a tensor)."""
    return any(isinstance(v, Tensor) for v in values)


def per_seed_norm(t: Tensor) -> Tensor:
    """Euclidean norm of each seed's slice, shaped to broadcast against t: (S, 1, ..., 1)."""
    flat = t.reshape(t.shape[0], -1)
    return flat.norm(dim=1).reshape((t.shape[0],) + (1,) * (t.dim() - 1))


def per_seed_dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of each seed's slices, shaped to broadcast: (S, 1, ..., 1)."""
    dots = (a.reshape(a.shape[0], -1) * b.reshape(b.shape[0], -1)).sum(dim=1)
    return dots.reshape((a.shape[0],) + (1,) * (a.dim() - 1))
