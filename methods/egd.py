"""EGD, Egalitarian Gradient Descent (arXiv 2510.04930), exact, by SVD or its Gram route.

Idea: gradient descent moves fastest along the gradient's large singular directions; give
every singular direction the same speed. For a weight gradient G = U S V^T (thin SVD):

    scope=all   (the sparse-parity experiment log's version, the default)
        every matrix        G -> U V^T = (G G^T)^(-1/2) G
        every vector        g -> g / ||g||        (left as is when ||g|| < 1e-8)
        every scalar        g -> sign(g)
    scope=first (the paper's code)
        the first layer's weight gradient only
                            G -> U diag(1 / max(s, eps)) U^T G
        every other parameter keeps its plain gradient.

The transformed gradient then goes to the base optimizer (the task's: SGD at the same lr
on sparse parity; Adam/AdamW on the transformer, as the paper feeds the whitened MLP
weight gradients into Adam).

Rank (``rank_rtol``): directions with singular value at most rank_rtol * s_max get no
step. None (default) drops only numerical zeros, max(m, n) * eps(dtype) relative to s_max,
i.e. every real direction keeps weight 1 as in the paper's code (``(U / s) @ U.T``, no
floor); a zero gradient gives a zero step. Preset ``pinv``: a fixed cut at 1e-6, the
pseudo-inverse this harness used before (methods/_linalg.py states the rule).

Which parameters (``include``): ``auto`` (default) picks, on a transformer, its MLP
weights, the matrices the paper whitens (tasks/transformer.py's h{i}.w_in / h{i}.w_out,
or names matching ``*mlp*``; with scope=all their biases h{i}.b_in / h{i}.b_out are
normalized too; attention, embeddings and unembedding keep their plain gradient); on a
model with no such names (the MLPs of the sparse tasks), every parameter for scope=all and
the first 2-D parameter in the model's parameter order (the first layer, W1) for
scope=first. Otherwise a comma-separated list of fnmatch patterns on parameter names,
e.g. ``include=W1,W2`` (with scope=first every matching matrix is whitened). A pattern
list that matches nothing is an error, not a silent no-op.

Solver (``solver``): ``svd``; ``gram``, the exact route for a tall-skinny G (h x n,
n << h) through eigh of the n x n Gram matrix in float64; ``auto`` (default) uses the Gram
route for matrices at least twice as long as wide and SVD for squarish ones. A matrix with
a single row or column is G / ||G||, no factorization. All routes apply the same rank rule.

Deviations from the paper's code, each ours:
- No switch back to plain SGD once *test* accuracy passes 0.95 (that peeks at the test set).
- The sparse-parity protocol (hinge loss, coupled decay) is the log's, not the paper code's MSE + L2.
- ``eps`` (whitening floor of scope=first) is 1e-8; tensors of > 2 per-seed dims are (first dim) x (rest).

Seed axis: all of it is batched over the leading seed axis (batched SVD / eigh / matmul);
nothing mixes seeds.
"""

from __future__ import annotations

from typing import Any

import torch

from grokbench import Preset, Transform, register
from grokbench.errors import UserError
from grokbench.search import Choice

from ._linalg import as_matrices, egd_elementary, orthogonalize, select


def selected(transform: Transform, params: dict[str, torch.Tensor]) -> list[str]:
    """The names an EGD-family transform treats; raises if an explicit pattern matches none."""
    matrices_only = getattr(transform, "scope", "all") == "first"
    names = select(params, transform.include, matrices_only)
    if not names and transform.include.strip().lower() != "auto":
        raise ValueError(
            f"{transform.name}.include={transform.include!r} matches no parameter"
            f"{' matrix' if matrices_only else ''}; names: {', '.join(params)}"
        )
    return names


def check_rank_rtol(owner: str, value: Any) -> None:
    """``rank_rtol`` must be None (numerical zeros) or a number in [0, 1)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise UserError(f"{owner}.rank_rtol must be none or a number in [0, 1); got {value!r}")


@register
class EGD(Transform):
    name = "egd"
    description = "Egalitarian GD (arXiv 2510.04930): matrix grads -> U V^T (scope=all) or first-layer whitening (scope=first)"
    search_space = {"rank_rtol": Choice((None, 1e-6, 1e-3))}
    defaults = {"scope": "all", "include": "auto", "solver": "auto", "eps": 1e-8, "rank_rtol": None}
    choices = {"scope": ("all", "first"), "solver": ("auto", "svd", "gram")}
    presets = {
        "first": Preset("the paper code's variant: whiten only the first layer's weight gradient", {"scope": "first"}),
        "pinv": Preset("directions below 1e-6 s_max get no step (a fixed pseudo-inverse cut)", {"rank_rtol": 1e-6}),
    }

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        check_rank_rtol(self.name, self.rank_rtol)

    def init(self, params, ctx):
        return {"names": selected(self, params)}

    def update(self, grads, params, state, ctx):
        out = dict(grads)
        eps = self.eps if self.scope == "first" else None
        with torch.no_grad():
            for name in state["names"]:
                g = grads[name]
                if g.dim() >= 3:
                    out[name] = orthogonalize(as_matrices(g), self.solver, eps, self.rank_rtol).reshape(g.shape)
                elif self.scope == "all":
                    out[name] = egd_elementary(g)
        return out
