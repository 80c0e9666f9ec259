"""Adam with *coupled* L2 weight decay (g <- g + wd*p before the moments), as torch.optim.Adam.

The base optimizer of the Grokfast and NeuralGrok protocols ("Adam (coupled L2)").
"""

from __future__ import annotations

from grokbench import register
from grokbench.search import Log

from .adamw import AdamW


@register
class Adam(AdamW):
    name = "adam"
    description = "Adam, coupled L2 weight decay (as torch.optim.Adam), optional linear warm-up"
    search_space = {"lr": Log(1e-4, 0.1), "weight_decay": Log(1e-5, 0.1, zero=0.25)}
    defaults = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "warmup_steps": 0}
    coupled_decay = True
