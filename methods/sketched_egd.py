"""Sketched EGD: cheap surrogates of EGD's U V^T (the future work of arXiv 2510.04930).

Same rule as ``egd`` scope=all (every matrix -> its orthogonal factor, every vector ->
g/||g|| or as is below 1e-8, every scalar -> sign(g)), with the matrix factor approximated:

sketch=rsvd (default): randomized SVD (Halko, Martinsson & Tropp 2011, arXiv 0909.4061).
    Per seed, a Gaussian test matrix Omega (n x l), l = rank + oversample (capped at
    min(m, n)); Y = G Omega; ``power_iters`` rounds of re-orthonormalized power iteration
    (Q = qr(Y), Z = qr(G^T Q), Y = G Z); Q = qr(Y); B = Q^T G = Ub diag(s) V^T; the update is
    the rank-r EGD direction U_r V_r^T with U = Q Ub. At r >= min(m, n) it is exact EGD; at
    lower rank the gradient's smaller directions get no step at all.
    Defaults rank 10, oversample 5, power_iters 2 (the paper's code uses ranks 10-40 on
    parity, 64/128 on MLP modular addition, 36 on the transformer).
    Randomness: Omega comes from ctx.randn, i.e. one generator per seed in the trial's own
    ``method`` stream, never the data/init/order streams.

sketch=newton_schulz: the polar iteration of the Muon optimizer. X = G / (||G||_F + 1e-7),
    transposed if tall, then ``steps`` times X <- a X + (b A + c A^2) X with A = X X^T.
    iteration=quintic (default): (a, b, c) = (3.4445, -4.7750, 2.0315), 5 steps; it gives
    U S' V^T with S' roughly in [0.5, 1.5], not exactly U V^T. iteration=cubic:
    (1.5, -0.5, 0), which converges to U V^T, slowly for small singular values (give it
    more steps). dtype=auto computes in bfloat16 on CUDA (as Muon does) and float32 on
    the CPU; float32 / bfloat16 force one.

Parameters are chosen as in ``egd`` scope=all (``include``; ``auto`` = a transformer's
MLP parameters, else all). A matrix with a single row or column is G / ||G|| exactly.
"""

from __future__ import annotations

import torch

from grokbench import Transform, register

from ._linalg import (
    CUBIC,
    QUINTIC,
    as_matrices,
    egd_elementary,
    newton_schulz,
    normalize_vectors,
    randomized_orth,
)
from .egd import selected


@register
class SketchedEGD(Transform):
    name = "sketched_egd"
    description = "EGD with a sketched U V^T: randomized SVD of rank r, or Newton-Schulz (Muon's quintic)"
    defaults = {
        "sketch": "rsvd",
        "rank": 10,
        "oversample": 5,
        "power_iters": 2,
        "steps": 5,
        "iteration": "quintic",
        "dtype": "auto",
        "include": "auto",
    }
    choices = {
        "sketch": ("rsvd", "newton_schulz"),
        "iteration": ("quintic", "cubic"),
        "dtype": ("auto", "float32", "bfloat16"),
    }
    presets = {"ns": ("Newton-Schulz, Muon's quintic, 5 steps (pure matrix products)", {"sketch": "newton_schulz"})}

    def init(self, params, ctx):
        return {"names": selected(self, params)}

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
                G = as_matrices(g)
                if min(G.shape[-2:]) == 1:
                    U = normalize_vectors(G)
                elif self.sketch == "rsvd":
                    U = randomized_orth(G, self.rank, self.oversample, self.power_iters, ctx.randn)
                else:
                    coeffs = QUINTIC if self.iteration == "quintic" else CUBIC
                    U = newton_schulz(G, self.steps, coeffs, self._ns_dtype(G.device))
                out[name] = U.reshape(g.shape)
        return out
