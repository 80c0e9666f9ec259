"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms", arXiv
2302.06675): the sign of an interpolated momentum, decoupled weight decay.

Per parameter tensor, with momentum m (m_0 = 0) and gradient g:

    c = beta1 * m + (1 - beta1) * g
    p <- p - lr * (sign(c) + weight_decay * p)          = p * (1 - lr*wd) - lr * sign(c)
    m <- beta2 * m + (1 - beta2) * g

Defaults are the paper's: betas (0.9, 0.99); weight decay 0, decoupled and scaled by lr as
in the paper's algorithm; lr 1e-4 (ours: a task sets its own); an optional linear warm-up.
sign(0) = 0. lr, weight decay and betas may be per slot (configurations batched
like seeds); everything is elementwise, so a seed axis is just a batch axis.

Search space (ours): lr log [1e-5, 1e-2], a decade below AdamW's, and weight decay
0 (p 0.25) or log [3e-3, 10], larger than AdamW's, as the paper advises (lr 3-10x smaller,
decay 3-10x larger than AdamW's).
"""

from __future__ import annotations

from typing import Any

import torch

from grokbench import Optimizer, register
from grokbench.method import slot_views
from grokbench.search import Log


@register
class Lion(Optimizer):
    name = "lion"
    description = "Lion (arXiv 2302.06675): p -= lr*(sign(b1*m + (1-b1)*g) + wd*p); m = b2*m + (1-b2)*g"
    search_space = {"lr": Log(1e-5, 1e-2), "weight_decay": Log(3e-3, 10.0, zero=0.25)}
    defaults = {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0, "warmup_steps": 0}
    slot_settings = ("lr", "weight_decay", "betas")

    def init(self, params, ctx) -> dict[str, Any]:
        return {"m": [torch.zeros_like(p) for p in params.values()]}

    def step(self, grads, params, state, ctx):
        lr, wd, betas = ctx.lr, self.setting("weight_decay", ctx), self.setting("betas", ctx)
        b1, b2 = (betas[:, 0], betas[:, 1]) if isinstance(betas, torch.Tensor) else betas
        ps = list(params.values())
        gs = [grads[k] for k in params]
        m = state["m"]
        with torch.no_grad():
            direction = torch._foreach_lerp(m, gs, slot_views(1.0 - b1, ps))  # b1*m + (1-b1)*g
            torch._foreach_sign_(direction)
            decay = 1.0 - lr * wd
            if isinstance(decay, torch.Tensor) or decay != 1.0:
                torch._foreach_mul_(ps, slot_views(decay, ps))
            if isinstance(lr, torch.Tensor):
                torch._foreach_addcmul_(ps, direction, slot_views(-lr, ps))
            else:
                torch._foreach_add_(ps, direction, alpha=-lr)
            torch._foreach_lerp_(m, gs, slot_views(1.0 - b2, ps))  # b2*m + (1-b2)*g
