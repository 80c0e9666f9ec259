"""A base-optimizer plugin: SGD with heavy-ball momentum. Run it with
grokbench run --plugin docs/examples/heavyball.py --tasks sparse_parity --methods heavyball,egd@heavyball
"""

import torch

from grokbench import Optimizer, register


@register
class HeavyBall(Optimizer):
    """v <- momentum * v + g; p <- p - lr * v."""

    name = "heavyball"
    description = "SGD with heavy-ball momentum"
    defaults = {"lr": 0.1, "momentum": 0.9}

    def init(self, params, ctx):
        # a state's tensors carry the seed axis too: finished seeds leave the batch
        return {name: torch.zeros_like(p) for name, p in params.items()}

    def step(self, grads, params, state, ctx):
        with torch.no_grad():  # update params in place at ctx.lr (warm-up applied)
            for name, p in params.items():
                state[name].mul_(self.momentum).add_(grads[name])
                p.sub_(ctx.lr * state[name])
