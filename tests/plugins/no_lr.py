"""Breaks the required-settings rule: an Optimizer whose defaults declare no ``lr``."""

import torch

from grokbench import Optimizer, register


@register
class NoLR(Optimizer):
    name = "no_lr_check"
    description = "test only: SGD with its step size under another name (the engine reads lr)"
    defaults = {"step_size": 0.1}

    def step(self, grads, params, state, ctx):
        with torch.no_grad():
            for k, p in params.items():
                p -= self.step_size * grads[k]
