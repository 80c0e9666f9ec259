"""Breaks the seed-batch rule: normalizes the gradient over the whole tensor, seed axis included."""

from grokbench import Transform, register


@register
class MixesSeeds(Transform):
    name = "mixes_seeds_check"
    description = "test only: g / ||g|| with the norm over every seed at once (should be per seed)"

    def update(self, grads, params, state, ctx):
        return {k: g / (g.norm() + 1e-12) for k, g in grads.items()}
