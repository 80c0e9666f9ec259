"""A transform plugin: sign descent. Run it with
grokbench run --plugin docs/examples/signgd.py --tasks sparse_parity --methods signgd,signgd@adamw
"""

from grokbench import Transform, register


@register
class SignGD(Transform):
    """Replace every gradient entry by its sign, times a scale."""

    name = "signgd"
    description = "sign descent: g -> scale * sign(g)"
    defaults = {"scale": 0.01}  # typed: --set signgd.scale=0.1 is coerced to float

    def update(self, grads, params, state, ctx):
        # grads, params: dict name -> tensor with a leading seed axis (S, ...)
        return {name: self.scale * g.sign() for name, g in grads.items()}
