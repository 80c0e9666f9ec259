"""Plain SGD with *coupled* weight decay, as the sparse-parity reference protocol trains.

    p <- p - lr * (g + weight_decay * p)

where g is the (possibly transformed) loss gradient: accelerators transform the loss
gradient, decay is added after. Computed as p * (1 - lr*wd) - lr*g (same update). lr and
weight decay may be per slot (configurations batched like seeds).
"""

from __future__ import annotations

import torch

from grokbench import Optimizer, register
from grokbench.method import is_per_slot, slot_views
from grokbench.search import Log


@register
class SGD(Optimizer):
    name = "sgd"
    description = "SGD, coupled weight decay: p -= lr*(g + wd*p) (sparse-parity reference)"
    search_space = {"lr": Log(1e-3, 10.0), "weight_decay": Log(1e-4, 0.1, zero=0.25)}
    defaults = {"lr": 0.1, "weight_decay": 0.0, "warmup_steps": 0}
    slot_settings = ("lr", "weight_decay")

    def step(self, grads, params, state, ctx):
        lr, wd = ctx.lr, self.setting("weight_decay", ctx)
        ps = list(params.values())
        gs = [grads[k] for k in params]
        with torch.no_grad():
            if is_per_slot(lr, wd):
                torch._foreach_mul_(ps, slot_views(1.0 - lr * wd, ps))
                torch._foreach_addcmul_(ps, gs, slot_views(-lr, ps))
                return
            if wd:
                torch._foreach_mul_(ps, 1.0 - lr * wd)
            torch._foreach_add_(ps, gs, alpha=-lr)
