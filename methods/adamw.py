"""AdamW (Loshchilov & Hutter), decoupled weight decay, numerically as torch.optim.AdamW.

    p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
    p <- p - (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)

with an optional linear learning-rate warm-up over ``warmup_steps``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grokbench import Optimizer, register
from grokbench.tuning import Log


@register
class AdamW(Optimizer):
    name = "adamw"
    description = "AdamW, decoupled weight decay (as torch.optim.AdamW), optional linear warm-up"
    search_space = {"lr": Log(1e-4, 0.1), "weight_decay": Log(1e-3, 3.0, zero=0.25)}
    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "warmup_steps": 0}
    coupled_decay = False

    def init(self, params, ctx) -> dict[str, Any]:
        return {
            "t": 0,
            "m": [torch.zeros_like(p) for p in params.values()],
            "v": [torch.zeros_like(p) for p in params.values()],
        }

    def step(self, grads, params, state, ctx):
        lr = ctx.lr
        b1, b2 = self.betas
        ps = list(params.values())
        gs = [grads[k] for k in params]
        m, v = state["m"], state["v"]
        state["t"] += 1
        t = state["t"]
        with torch.no_grad():
            if self.weight_decay and self.coupled_decay:
                gs = torch._foreach_add(gs, ps, alpha=self.weight_decay)
            elif self.weight_decay:
                torch._foreach_mul_(ps, 1.0 - lr * self.weight_decay)
            torch._foreach_lerp_(m, gs, 1.0 - b1)
            torch._foreach_mul_(v, b2)
            torch._foreach_addcmul_(v, gs, gs, value=1.0 - b2)
            denom = torch._foreach_sqrt(v)
            torch._foreach_div_(denom, math.sqrt(1.0 - b2**t))
            torch._foreach_add_(denom, self.eps)
            torch._foreach_addcdiv_(ps, m, denom, value=-lr / (1.0 - b1**t))
