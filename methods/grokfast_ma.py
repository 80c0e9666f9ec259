"""Grokfast, moving-average (windowed mean) filter (arXiv 2405.20233).

Between backward and the optimizer step, on the raw gradients g of every parameter: keep
the last w gradients, the current one included; once the window is full,

    g_t' = g_t + lamb * mean(g_{t-w+1}, ..., g_t)

and before that (the first w-1 steps) g_t' = g_t, unchanged (the reference code's
default warm-up). Defaults w 100, lamb 5.0 (the paper's). The window holds w copies of
every gradient (memory: w x the model, per seed); it is a ring buffer of shape
(S, w, ...) per parameter (the seed axis first, as the engine's batch compaction expects),
so the mean is one reduction per tensor.

Base optimizer and weight decay: as ``grokfast``; preset ``paper`` is the published MA
pairing, Adam with coupled L2 weight decay 0.01, whatever the task's base.
"""

from __future__ import annotations

import torch

from grokbench import Transform, register
from grokbench.params import MAX_WINDOW, between, nonnegative
from grokbench.search import Log

from .grokfast import paper_pairing


@register
class GrokfastMA(Transform):
    name = "grokfast_ma"
    description = "Grokfast-MA (arXiv 2405.20233): g + lamb*mean(last w grads), once the window is full"
    search_space = {"window": Log(10, 200, integer=True), "lamb": Log(0.1, 10.0)}
    defaults = {"window": 100, "lamb": 5.0}
    constraints = {"window": between(1, MAX_WINDOW), "lamb": nonnegative}
    presets = {"paper": paper_pairing(0.01)}

    @property
    def state_copies(self) -> int:
        """The window: w copies of every gradient."""
        return self.window

    @property
    def cost_warmup(self) -> int:
        """The step cost settles once the window is full."""
        return self.window

    def init(self, params, ctx):
        if self.window < 1:
            raise ValueError(f"grokfast_ma.window must be >= 1, got {self.window}")
        return {"buf": None, "count": 0}

    def update(self, grads, params, state, ctx):
        w = self.window
        with torch.no_grad():
            if state["buf"] is None:
                state["buf"] = {n: g.new_zeros((g.shape[0], w, *g.shape[1:])) for n, g in grads.items()}
            slot = state["count"] % w
            for n, g in grads.items():
                state["buf"][n][:, slot].copy_(g)
            state["count"] += 1
            if state["count"] < w:
                return dict(grads)
            return {n: g + self.lamb * state["buf"][n].mean(dim=1) for n, g in grads.items()}
