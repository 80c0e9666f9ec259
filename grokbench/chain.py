"""A method as a value: its transforms, then its base optimizer (optax's ``chain``).

``Chain.init`` / ``Chain.update`` / ``Chain.after_step`` have the calling convention of
their parts, so the training loop treats any method (a base alone, an accelerator on a
base, a stack of accelerators) as one object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .method import Optimizer, Params, StepContext, Transform


@dataclass
class Chain:
    """``transforms`` applied in order to the gradients, then ``optimizer.step``."""

    transforms: list[Transform]
    optimizer: Optimizer

    @property
    def holdout_fraction(self) -> float:
        """The largest held-out slice any part asks for (0: none)."""
        return max((t.holdout_fraction for t in self.transforms), default=0.0)

    def init(self, params: Params, ctx: StepContext) -> list[Any]:
        """One state per part: the transforms' in order, then the optimizer's."""
        return [t.init(params, ctx) for t in self.transforms] + [self.optimizer.init(params, ctx)]

    def update(self, grads: Params, params: Params, state: list[Any], ctx: StepContext) -> None:
        """Set ``ctx.lr`` for ``ctx.step``, transform ``grads``, update ``params`` in place."""
        ctx.lr = self.optimizer.lr_at(ctx.step, ctx.slot_settings.get("lr"))
        for transform, part_state in zip(self.transforms, state):
            grads = transform.update(grads, params, part_state, ctx)
        self.optimizer.step(grads, params, state[-1], ctx)

    def after_step(self, params: Params, state: list[Any], ctx: StepContext) -> None:
        for part, part_state in zip([*self.transforms, self.optimizer], state):
            part.after_step(params, part_state, ctx)
