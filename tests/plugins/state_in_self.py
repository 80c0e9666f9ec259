"""Breaks the checkpoint rule: keeps its running average on the instance, not in its state."""

from grokbench import Transform, register


@register
class StateInSelf(Transform):
    name = "state_in_self_check"
    description = "test only: an EMA of the gradients kept in self (a checkpoint cannot see it)"
    defaults = {"alpha": 0.9}

    def update(self, grads, params, state, ctx):
        if not hasattr(self, "ema"):
            self.ema = {k: g.detach().clone() for k, g in grads.items()}
        for k, g in grads.items():
            self.ema[k].mul_(self.alpha).add_(g, alpha=1 - self.alpha)
        return {k: g + self.ema[k] for k, g in grads.items()}
