"""Per-tensor gradient normalization: every tensor g -> g / ||g|| (per seed).

A control for EGD. EGD orthogonalizes each matrix gradient (U V^T: every singular value
set to 1), normalizes vectors and takes the sign of scalars; this method applies the same
rule to vectors and scalars but only rescales a matrix to unit Frobenius norm, keeping
its spectrum. A gain EGD shows over ``normgrad`` is owed to orthogonalization; a gain
both show over the base optimizer is owed to normalization alone.

    g' = g / ||g||_F        per tensor, per seed (a scalar: sign(g))
    g' = 0                  where g = 0 (no division by zero)

Seed axis: the norm is taken over each seed's slice; nothing mixes seeds.
"""

from __future__ import annotations

import torch

from grokbench import Transform, register
from grokbench.method import per_seed_norm


@register
class NormGrad(Transform):
    name = "normgrad"
    description = "Per-tensor normalization g/||g|| per seed (EGD's control: normalization without orthogonalization)"
    defaults = {}
    search_space = {}

    def update(self, grads, params, state, ctx):
        out = {}
        with torch.no_grad():
            for name, g in grads.items():
                norm = per_seed_norm(g)
                out[name] = torch.where(norm > 0, g / norm.clamp_min(torch.finfo(g.dtype).tiny), torch.zeros_like(g))
        return out
