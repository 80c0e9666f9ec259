"""Grokfast, EMA filter (arXiv 2405.20233, "Grokfast: Accelerated Grokking by Amplifying
Slow Gradients"): amplify the slow component of the gradient.

Between backward and the optimizer step, on the raw gradients g of every parameter:

    mu_0 = g_0                                   (the EMA starts at the first gradient)
    mu_t = alpha * mu_{t-1} + (1 - alpha) * g_t
    g_t' = g_t + lamb * mu_t

so the first step's output is (1 + lamb) g_0. Defaults alpha 0.98, lamb 2.0 (the paper's).
The EMA is per tensor and per seed (elementwise, so a seed axis is just a batch axis).

Base optimizer and weight decay: ``grokfast`` runs on the task's base optimizer with the
task's weight decay (an equal-decay comparison with the baseline). Preset ``paper`` is the
published pairing: Adam with *coupled* L2 weight decay 0.005 (torch.optim.Adam's
weight_decay), whatever the task's base; the published baseline had no decay.
"""

from __future__ import annotations

import torch

from grokbench import Preset, Transform, register
from grokbench.params import nonnegative, unit_open
from grokbench.search import Linear, Log


def paper_pairing(weight_decay: float) -> Preset:
    """Grokfast's published pairing: Adam with coupled L2 ``weight_decay``."""
    return Preset(
        f"the paper's pairing: Adam with coupled L2 weight decay {weight_decay} (the baseline had none)",
        {},
        optimizer={"adam": {"weight_decay": weight_decay}},
        base_optimizer="adam",
    )


@register
class Grokfast(Transform):
    name = "grokfast"
    description = "Grokfast-EMA (arXiv 2405.20233): g + lamb*EMA_alpha(g); :paper = Adam, L2 0.005"
    search_space = {"alpha": Linear(0.8, 0.99), "lamb": Log(0.1, 10.0)}
    defaults = {"alpha": 0.98, "lamb": 2.0}
    constraints = {"alpha": unit_open, "lamb": nonnegative}
    presets = {"paper": paper_pairing(0.005)}
    state_copies = 1  # the EMA of the gradient

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
