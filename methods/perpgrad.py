"""Orthogonal gradient, "perp-grad" (Prieto, Barsbey, Mediano & Birdal, "Grokking at the
Edge of Numerical Stability", arXiv 2501.04697).

Per parameter tensor w with gradient g (and per seed), drop the component along w, then
restore the gradient's norm:

    g_perp = g - (w . g) / (w . w + eps) * w
    g'     = g_perp * ||g|| / (||g_perp|| + eps)

then the base optimizer (the paper's perp-AdamW / perp-SGD are this transform in front of
AdamW / SGD). The update then cannot grow the weights along themselves, the "naive loss
minimization" direction the paper blames for the delay. eps defaults to 1e-30 (our choice:
a guard against 0/0 only; the reference does not fix it). A parameter with a single entry
per seed (a scalar bias) has no direction orthogonal to itself: its g_perp is exactly 0
(we set it so, instead of rescaling the rounding residue of g - g to the norm of g),
unless w = 0, where g_perp = g. The paper's StableMax loss would be a task-level option;
it is not implemented yet.
"""

from __future__ import annotations

import torch

from grokbench import Transform, register
from grokbench.method import per_seed_dot, per_seed_norm


@register
class PerpGrad(Transform):
    name = "perpgrad"
    description = "Orthogonal gradient (arXiv 2501.04697): drop g's component along w, keep ||g||"
    defaults = {"eps": 1e-30}

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
