"""Breaks the own-streams rule: its noise comes from torch's global generator."""

import torch

from grokbench import Transform, register


@register
class GlobalNoise(Transform):
    name = "global_noise_check"
    description = "test only: adds noise drawn from torch's global generator (should use ctx.randn)"
    defaults = {"sigma": 1e-3}

    def update(self, grads, params, state, ctx):
        return {k: g + self.sigma * torch.randn_like(g) for k, g in grads.items()}
