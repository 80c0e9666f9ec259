"""Sketched EGD: cheap surrogates of EGD's U V^T (the future work of arXiv 2510.04930).

Same rule as ``egd`` scope=all (every matrix -> its orthogonal factor, every vector ->
g/||g|| or as is below 1e-8, every scalar -> sign(g)), with the matrix factor approximated:

sketch=rsvd (default): randomized SVD (Halko, Martinsson & Tropp 2011, arXiv 0909.4061).
    Per seed, a Gaussian test matrix Omega (n x l), l = rank + oversample (capped at
    min(m, n)); Y = G Omega; ``power_iters`` rounds of re-orthonormalized power iteration
    (Q = qr(Y), Z = qr(G^T Q), Y = G Z); Q = qr(Y); B = Q^T G = Ub diag(s) V^T; the update is
    the rank-r EGD direction U_r V_r^T with U = Q Ub. At r >= min(m, n) it is exact EGD; at
    lower rank the gradient's smaller directions get no step at all. The rank rule is
    egd's (``rank_rtol``, None = only numerical zeros dropped): a zero gradient gives a
    zero step and a rank-3 gradient a rank-3 step, whatever r.
    ``rank`` 0 (default) is the paper code's rank for the model: 36 on a transformer (a
    model with MLP parameters h{i}.w_in / *mlp*), 10 otherwise (its parity runs use 10-40).
    Defaults oversample 5, power_iters 2.
    Randomness: Omega comes from ctx.randn, i.e. one generator per seed in the trial's own
    ``method`` stream, never the data/init/order streams.

sketch=newton_schulz: the polar iteration of torch.optim.Muon, on the raw gradient (no
    momentum): X = G / max(||G||_F, 1e-7), transposed if tall, then ``steps`` times
    X <- a X + (b A + c A^2) X with A = X X^T. iteration=quintic (default):
    (a, b, c) = (3.4445, -4.7750, 2.0315), 5 steps; it gives U S' V^T with S' roughly in
    [0.5, 1.5], not exactly U V^T. iteration=cubic: (1.5, -0.5, 0), which converges to
    U V^T, slowly for small singular values (give it more steps). It has no hard rank cut:
    null directions stay exactly zero, tiny ones stay small (methods/_linalg.py).
    dtype=auto computes in bfloat16 on CUDA (as Muon does) and float32 on the CPU;
    float32 / bfloat16 force one. ``muon`` is this orthogonalization applied to a Nesterov
    momentum instead of the raw gradient: the pair separates momentum from orthogonalization.

Parameters are chosen as in ``egd`` scope=all (``include``; ``auto`` = a transformer's
MLP parameters, else all). A matrix with a single row or column is G / ||G|| exactly.
"""

from __future__ import annotations

from typing import Any

import torch

from grokbench import Preset, Transform, register
from grokbench.errors import UserError
from grokbench.params import at_least, nonnegative
from grokbench.search import Log

from ._linalg import (
    CUBIC,
    QUINTIC,
    as_matrices,
    egd_elementary,
    is_transformer,
    newton_schulz,
    normalize_vectors,
    randomized_orth,
)
from .egd import check_rank_rtol, selected

# The EGD paper code's sketch ranks: its transformer, and the low end of its parity runs.
TRANSFORMER_RANK = 36
MLP_RANK = 10


@register
class SketchedEGD(Transform):
    name = "sketched_egd"
    description = "EGD with a sketched U V^T: randomized SVD of rank r (auto: 36 transformer, 10 MLP), or Newton-Schulz"
    search_space = {"rank": Log(2, 64, integer=True)}
    defaults = {
        "sketch": "rsvd",
        "rank": 0,
        "oversample": 5,
        "power_iters": 2,
        "rank_rtol": None,
        "steps": 5,
        "iteration": "quintic",
        "dtype": "auto",
        "include": "auto",
    }
    constraints = {"rank": nonnegative, "oversample": nonnegative, "power_iters": nonnegative, "steps": at_least(1)}
    choices = {
        "sketch": ("rsvd", "newton_schulz"),
        "iteration": ("quintic", "cubic"),
        "dtype": ("auto", "float32", "bfloat16"),
    }
    presets = {"ns": Preset("Newton-Schulz, Muon's quintic, 5 steps (pure matrix products)", {"sketch": "newton_schulz"})}

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        check_rank_rtol(self.name, self.rank_rtol)
        if self.rank < 0:
            raise UserError(f"sketched_egd.rank must be >= 0 (0: auto); got {self.rank}")

    def init(self, params, ctx):
        rank = self.rank or (TRANSFORMER_RANK if is_transformer(params) else MLP_RANK)
        return {"names": selected(self, params), "rank": rank}

    def _ns_dtype(self, device: torch.device) -> torch.dtype:
        if self.dtype == "auto":
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        return getattr(torch, self.dtype)

    def update(self, grads, params, state, ctx):
        out = dict(grads)
        with torch.no_grad():
            for name in state["names"]:
                g = grads[name]
                if g.dim() < 3:
                    out[name] = egd_elementary(g)
                    continue
                out[name] = self._orthogonal_factor(as_matrices(g), state["rank"], ctx).reshape(g.shape)
        return out

    def _orthogonal_factor(self, G: torch.Tensor, rank: int, ctx) -> torch.Tensor:
        if min(G.shape[-2:]) == 1:
            return normalize_vectors(G)
        if self.sketch == "rsvd":
            return randomized_orth(G, rank, self.oversample, self.power_iters, ctx.randn, self.rank_rtol)
        coeffs = QUINTIC if self.iteration == "quintic" else CUBIC
        return newton_schulz(G, self.steps, coeffs, self._ns_dtype(G.device))
