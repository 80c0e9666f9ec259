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

Which parameters (``include``): ``auto`` (default) picks, on a transformer, its MLP
weights, the matrices the paper whitens (tasks/transformer.py's h{i}.w_in / h{i}.w_out,
or names matching ``*mlp*``; with scope=all their biases h{i}.b_in / h{i}.b_out are
normalized too; attention, embeddings and unembedding keep their plain gradient); on a model with no such names (the MLPs of
the sparse tasks), every parameter for scope=all and the first 2-D parameter in the
model's parameter order (the first layer, W1) for scope=first. Otherwise a
comma-separated list of fnmatch patterns on parameter names, e.g. ``include=W1,W2``
(with scope=first every matching matrix is whitened). A pattern list that matches
nothing is an error, not a silent no-op.

Solver (``solver``): ``svd``; ``gram``, the exact route for a tall-skinny G (h x n,
n << h): G^T G = V diag(s^2) V^T by eigh of the n x n Gram matrix (in float64, since it
squares the condition number), then U diag(f(s)) V^T = G V diag(f(s)/s) V^T; ``auto``
(default) uses the Gram route for matrices at least twice as long as wide and SVD for
squarish ones. A matrix with a single row or column is G / ||G||, no factorization.
Both routes agree to ~1e-5 on every input (tests/test_methods.py); speed in
benchmarks/README.md.

Deviations from the paper's code:
- It switches back to plain SGD once *test* accuracy passes 0.95; that peeks at the test
  set, so it is not done here (the method runs for the whole trial).
- Rank-deficient gradients (most minibatch gradients on sparse parity: median condition
  number ~1e8): directions with singular value below 1e-6 * s_max get 0, the
  pseudo-inverse reading of (G G^T)^(-1/2) G, where a thin SVD's U V^T would put an
  arbitrary LAPACK-chosen unit direction (for a zero gradient: a random step of norm
  sqrt(n)). Deterministic, and the same for every solver (methods/_linalg.py).
- ``eps`` (whitening floor of scope=first) is 1e-8 here; it only matters for singular
  values below it. Tensors of more than two per-seed dims are treated as the matrix
  (first dim) x (the rest), as Muon does.

Seed axis: all of it is batched over the leading seed axis (batched SVD / eigh / matmul);
nothing mixes seeds.
"""

from __future__ import annotations

import torch

from grokbench import Transform, register

from ._linalg import as_matrices, egd_elementary, orthogonalize, select


def selected(transform, params) -> list[str]:
    """The names an EGD-family transform treats; raises if an explicit pattern matches none."""
    matrices_only = getattr(transform, "scope", "all") == "first"
    names = select(params, transform.include, matrices_only)
    if not names and transform.include.strip().lower() != "auto":
        raise ValueError(
            f"{transform.name}.include={transform.include!r} matches no parameter"
            f"{' matrix' if matrices_only else ''}; names: {', '.join(params)}"
        )
    return names


@register
class EGD(Transform):
    name = "egd"
    description = "Egalitarian GD (arXiv 2510.04930): matrix grads -> U V^T (scope=all) or first-layer whitening (scope=first)"
    defaults = {"scope": "all", "include": "auto", "solver": "auto", "eps": 1e-8}
    choices = {"scope": ("all", "first"), "solver": ("auto", "svd", "gram")}
    presets = {"first": ("the paper code's variant: whiten only the first layer's weight gradient", {"scope": "first"})}

    def init(self, params, ctx):
        return {"names": selected(self, params)}

    def update(self, grads, params, state, ctx):
        out = dict(grads)
        eps = self.eps if self.scope == "first" else None
        with torch.no_grad():
            for name in state["names"]:
                g = grads[name]
                if g.dim() >= 3:
                    out[name] = orthogonalize(as_matrices(g), self.solver, eps).reshape(g.shape)
                elif self.scope == "all":
                    out[name] = egd_elementary(g)
        return out
