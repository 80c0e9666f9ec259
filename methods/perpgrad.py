"""Orthogonal gradient, "perp-grad" (Prieto, Barsbey, Mediano & Birdal, "Grokking at the
Edge of Numerical Stability", arXiv 2501.04697).

Per parameter tensor w with gradient g (and per seed), drop the component along w, then
restore the gradient's norm:

    g_perp = g - (w . g) / (w . w + eps) * w
    g'     = g_perp * ||g|| / (||g_perp|| + eps)

then the base optimizer (the paper's perp-SGD / perp-Adam / perp-AdamW are this transform
in front of SGD / Adam / AdamW). The update then cannot grow the weights along themselves,
the "naive loss minimization" direction the paper blames for the delay. A parameter with a
single entry per seed (a scalar bias) has no direction orthogonal to itself: its g_perp is
exactly 0 (not the rounding residue of g - g rescaled to the norm of g), unless w = 0,
where g_perp = g.

Weight decay: none, as its code's runs (coupled decay would fight the projection: the radial
gradient that opposes the decay is removed). The base optimizer's ``weight_decay`` is 0
whatever the task's (``base_settings``), and tuning never searches it (its space is the
base's, less the decay); ``perpgrad[weight_decay=X]`` still sets one explicitly. Preset ``paper``
also zeroes Muon's AdamW-part decay.

Loss: its Figure 1 runs (run_main_experiments.sh of its code, read in the fork
EIFY/grokking-at-the-edge-of-numerical-stability) pair the orthogonal gradient
with softmax cross-entropy and run the StableMax loss separately, without it; the
StableMax cross-entropy (float64) is a task option, ``loss_type=stablemax`` of
modular_addition and power_ops (a method cannot change a task's loss here).

Deviation, ours: eps defaults to 1e-30, a guard against 0/0 only (the paper does not fix it).
"""

from __future__ import annotations

import torch

from grokbench import Preset, Transform, register
from grokbench.method import per_seed_dot, per_seed_norm

NO_DECAY = {"weight_decay": 0.0}


@register
class PerpGrad(Transform):
    name = "perpgrad"
    description = "Orthogonal gradient (arXiv 2501.04697): drop g's component along w, keep ||g||"
    search_space = {}
    defaults = {"eps": 1e-30}
    base_settings = NO_DECAY
    presets = {
        "paper": Preset(
            "the paper code's pairing: no weight decay, Muon's AdamW part included",
            {},
            optimizer={"sgd": NO_DECAY, "adam": NO_DECAY, "adamw": NO_DECAY,
                       "muon": {**NO_DECAY, "adamw_weight_decay": 0.0}},
        ),
    }

    def update(self, grads, params, state, ctx):
        out = {}
        with torch.no_grad():
            for name, g in grads.items():
                w = params[name].detach()
                if w[0].numel() == 1:
                    out[name] = torch.where(w == 0, g, torch.zeros_like(g))
                    continue
                g_perp = g - per_seed_dot(w, g) / (per_seed_dot(w, w) + self.eps) * w
                out[name] = g_perp * (per_seed_norm(g) / (per_seed_norm(g_perp) + self.eps))
        return out
