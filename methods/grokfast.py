"""Grokfast, EMA filter (arXiv 2405.20233, "Grokfast: Accelerated Grokking by Amplifying
Slow Gradients"): amplify the slow component of the gradient.

Between backward and the optimizer step, on the raw gradients g of every parameter:

    mu_0 = g_0                                   (the EMA starts at the first gradient)
    mu_t = alpha * mu_{t-1} + (1 - alpha) * g_t
    g_t' = g_t + lamb * mu_t

so the first step's output is (1 + lamb) g_0. Defaults alpha 0.98, lamb 2.0 (the paper's).
The EMA is per tensor and per seed (elementwise, so a seed axis is just a batch axis).

Base optimizer and weight decay: the published runs pair the filter with weight decay
0.005 while the baseline had none. ``paper_decay=false`` (default) leaves the base
optimizer's weight decay as the task sets it, for equal-decay comparisons with the
baseline; ``paper_decay=true`` sets the base optimizer's weight_decay to 0.005, the
paper's pairing (``--set grokfast.paper_decay=true``).
"""

from __future__ import annotations

import torch

from grokbench import Transform, register


class PaperDecayPairing(Transform):
    """Grokfast's published runs add weight decay the baseline did not have: with
    ``paper_decay=true`` the base optimizer's weight_decay becomes ``paper_weight_decay``."""

    paper_weight_decay = 0.0

    @property
    def optimizer_overrides(self):
        return {"weight_decay": self.paper_weight_decay} if self.paper_decay else {}


@register
class Grokfast(PaperDecayPairing):
    name = "grokfast"
    description = "Grokfast-EMA (arXiv 2405.20233): g + lamb*EMA_alpha(g); paper_decay=true pairs wd 0.005"
    defaults = {"alpha": 0.98, "lamb": 2.0, "paper_decay": False}
    presets = {"paper": ("the paper's pairing: base weight decay 0.005", {"paper_decay": True})}
    paper_weight_decay = 0.005

    def init(self, params, ctx):
        return {"mu": None}

    def update(self, grads, params, state, ctx):
        names = list(grads)
        gs = [grads[n] for n in names]
        with torch.no_grad():
            if state["mu"] is None:
                state["mu"] = [g.detach().clone() for g in gs]
            else:
                torch._foreach_lerp_(state["mu"], gs, 1.0 - self.alpha)  # mu += (1-alpha)(g - mu)
            new = torch._foreach_add(gs, state["mu"], alpha=self.lamb)
        return dict(zip(names, new))
