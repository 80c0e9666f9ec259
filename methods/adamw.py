"""AdamW (Loshchilov & Hutter), decoupled weight decay, numerically as torch.optim.AdamW.

    p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
    p <- p - (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)

with an optional linear learning-rate warm-up over ``warmup_steps``. lr, weight decay and
betas may be per slot (configurations batched like seeds).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grokbench import Optimizer, register
from grokbench.method import is_per_slot, slot_views
from grokbench.search import Log


@register
class AdamW(Optimizer):
    name = "adamw"
    description = "AdamW, decoupled weight decay (as torch.optim.AdamW), optional linear warm-up"
    search_space = {"lr": Log(1e-4, 0.1), "weight_decay": Log(1e-3, 3.0, zero=0.25)}
    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "warmup_steps": 0}
    coupled_decay = False
    slot_settings = ("lr", "weight_decay", "betas")
    state_copies = 2  # first and second moments

    def init(self, params, ctx) -> dict[str, Any]:
        return {
            "t": 0,
            "m": [torch.zeros_like(p) for p in params.values()],
            "v": [torch.zeros_like(p) for p in params.values()],
        }

    def step(self, grads, params, state, ctx):
        lr, wd, betas = ctx.lr, self.setting("weight_decay", ctx), self.setting("betas", ctx)
        ps = list(params.values())
        gs = [grads[k] for k in params]
        state["t"] += 1
        with torch.no_grad():
            if is_per_slot(lr, wd, betas):
                self._step_per_slot(ps, gs, state, lr, wd, betas)
            else:
                self._step(ps, gs, state, lr, wd, betas)

    def _step(self, ps, gs, state, lr: float, wd: float, betas: tuple[float, float]) -> None:
        b1, b2 = betas
        m, v, t = state["m"], state["v"], state["t"]
        if wd and self.coupled_decay:
            gs = torch._foreach_add(gs, ps, alpha=wd)
        elif wd:
            torch._foreach_mul_(ps, 1.0 - lr * wd)
        torch._foreach_lerp_(m, gs, 1.0 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, gs, gs, value=1.0 - b2)
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, math.sqrt(1.0 - b2**t))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(ps, m, denom, value=-lr / (1.0 - b1**t))

    def _step_per_slot(self, ps, gs, state, lr, wd, betas) -> None:
        """``_step`` with any of lr, weight decay and betas per slot (float64, shape (S,))."""
        b1, b2 = (betas[:, 0], betas[:, 1]) if isinstance(betas, torch.Tensor) else betas
        m, v, t = state["m"], state["v"], state["t"]
        if self.coupled_decay and isinstance(wd, torch.Tensor):
            gs = torch._foreach_addcmul(gs, ps, slot_views(wd, ps))
        elif self.coupled_decay:
            gs = torch._foreach_add(gs, ps, alpha=wd)
        else:
            torch._foreach_mul_(ps, slot_views(1.0 - lr * wd, ps))
        torch._foreach_lerp_(m, gs, slot_views(1.0 - b1, ps))
        torch._foreach_mul_(v, slot_views(b2, ps))
        torch._foreach_addcmul_(v, torch._foreach_mul(gs, slot_views(1.0 - b2, ps)), gs)
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, slot_views((1.0 - b2**t) ** 0.5, ps))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(ps, torch._foreach_mul(m, slot_views(-lr / (1.0 - b1**t), ps)), denom)
