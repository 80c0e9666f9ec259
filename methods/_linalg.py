"""Shared pieces of the EGD family (egd, sketched_egd): per-seed orthogonalization and
the choice of which parameters a transform treats.

Every function takes tensors with a leading seed axis S and acts on each seed's slice:
a matrix gradient is (S, m, n), a batch of S matrices; nothing mixes seeds, so a stack of
seeds gives the same result as seed by seed (up to floating-point reassociation).

Orthogonalization of G = U diag(s) V^T (thin SVD), with a spectral map f:

    f(s) = 1                  ->  U V^T = (G G^T)^(-1/2) G          (EGD, "all")
    f(s) = s / max(s, eps)    ->  U diag(1/max(s, eps)) U^T G       (EGD paper code, "first")

Rank-deficient gradients. Minibatch gradients here are very often rank-deficient (on
sparse parity the first layer's 200 x 20 gradient has a median condition number ~1e8:
only the samples inside the hinge margin contribute, and zero gradients happen). For the
directions with s = 0, "U V^T" of a thin SVD is an arbitrary unit direction chosen by
LAPACK; we take (G G^T)^(-1/2) as the pseudo-inverse instead, so those directions get
f = 0: singular values below ``RANK_RTOL * s_max`` count as zero (float32 gradients carry
no information below ~1e-7 relative). Both routes apply the same cut, so they agree on
every input; a zero gradient stays zero. (The sparse-parity log's SVD code would put the
arbitrary directions in; see egd.py's deviations.)

Routes (exact up to rounding):
- ``svd``: torch.linalg.svd, batched.
- ``gram``: for a tall G (m >= n), G^T G = V diag(s^2) V^T from eigh of the n x n Gram
  matrix, and U diag(f(s)) V^T = G V diag(f(s)/s) V^T. A wide G is handled transposed.
  The Gram matrix squares the condition number, so it is formed and decomposed in float64
  (eigenvalue noise ~1e-16 lambda_max, i.e. ~1e-8 s_max, below the rank cut); G V and the
  product with V^T are taken in G's precision, as accurate as an SVD in that precision.
- a single row or column (min dim 1) is G / ||G||: its only singular direction.
"""

from __future__ import annotations

import fnmatch

import torch
from torch import Tensor

# Below this norm a vector gradient is left as is (the sparse-parity log's threshold).
VECTOR_EPS = 1e-8


# -- which parameters ---------------------------------------------------------------------


def patterns(text: str) -> list[str]:
    """``"*mlp*, W1"`` -> ``["*mlp*", "W1"]``."""
    return [p.strip() for p in text.split(",") if p.strip()]


def match(names: list[str], pats: list[str]) -> list[str]:
    """Names matching any fnmatch pattern (case-sensitive), in dict order."""
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)]


def first_matrix(params: dict[str, Tensor]) -> list[str]:
    """The first parameter whose per-seed shape has >= 2 dims, in dict order (the first layer)."""
    for name, p in params.items():
        if p.dim() >= 3:
            return [name]
    return []


# -- shapes ---------------------------------------------------------------------------------


def as_matrices(t: Tensor) -> Tensor:
    """(S, a, b, c, ...) -> (S, a, b*c*...): a per-seed tensor of >= 2 dims as one matrix."""
    return t.reshape(t.shape[0], t.shape[1], -1)


def normalize_vectors(g: Tensor, eps: float = VECTOR_EPS) -> Tensor:
    """Per seed g / ||g||, and g unchanged where ||g|| < eps."""
    flat = g.reshape(g.shape[0], -1)
    norm = flat.norm(dim=1, keepdim=True)
    out = torch.where(norm >= eps, flat / norm.clamp_min(eps), flat)
    return out.reshape(g.shape)


def egd_elementary(g: Tensor) -> Tensor:
    """EGD's rule for a parameter that is no matrix: vectors normalized, scalars to sign."""
    if g.dim() == 1:  # a scalar per seed
        return torch.sign(g)
    return normalize_vectors(g)


# -- exact orthogonalization --------------------------------------------------------------


# Singular values below RANK_RTOL * s_max count as zero (see the module docstring).
RANK_RTOL = 1e-6


def _spectral(s: Tensor, eps: float | None, s_max: Tensor) -> Tensor:
    """f(s): 1 for U V^T (eps None), s / max(s, eps) for whitening; 0 below the rank cut."""
    f = torch.ones_like(s) if eps is None else s / s.clamp_min(eps)
    return torch.where(s > RANK_RTOL * s_max, f, torch.zeros_like(f))


def orth_svd(G: Tensor, eps: float | None = None) -> Tensor:
    """U diag(f(s)) V^T by batched thin SVD. G: (S, m, n)."""
    U, s, Vh = torch.linalg.svd(G, full_matrices=False)
    return (U * _spectral(s, eps, s[..., :1]).unsqueeze(-2)) @ Vh


def orth_gram(G: Tensor, eps: float | None = None) -> Tensor:
    """U diag(f(s)) V^T through eigh of the small Gram matrix, in float64; G: (S, m, n)."""
    tall = G.shape[-2] >= G.shape[-1]
    X = G if tall else G.mT
    X64 = X.double()
    lam, V = torch.linalg.eigh(X64.mT @ X64)  # ascending eigenvalues, (S, n), (S, n, n)
    s = lam.clamp_min(0.0).sqrt()
    scale = _spectral(s, eps, s[..., -1:]) / s.clamp_min(torch.finfo(s.dtype).tiny)  # f(s)/s
    # G V has orthogonal columns of norms s: computed in G's precision it carries the same
    # rounding as G itself (as accurate as a float32 SVD), at float32 matmul speed.
    V = V.to(G.dtype)
    out = ((X @ V) * scale.to(G.dtype).unsqueeze(-2)) @ V.mT
    return out if tall else out.mT


def orthogonalize(G: Tensor, solver: str = "auto", eps: float | None = None) -> Tensor:
    """U diag(f(s)) V^T for each seed's matrix of G (S, m, n); see the module docstring.

    solver: ``svd``; ``gram``; ``auto`` = ``gram`` when the matrix is at least twice as
    long as it is wide (there the Gram matrix is small and the route cheaper than SVD on
    a CPU), else ``svd``.
    """
    m, n = G.shape[-2], G.shape[-1]
    if min(m, n) == 1:  # one singular direction: G / ||G|| (as is when ~0)
        return normalize_vectors(G) if eps is None else _whiten_rank1(G, eps)
    if solver == "auto":
        solver = "gram" if max(m, n) >= 2 * min(m, n) else "svd"
    return orth_svd(G, eps) if solver == "svd" else orth_gram(G, eps)


def _whiten_rank1(G: Tensor, eps: float) -> Tensor:
    norm = G.reshape(G.shape[0], -1).norm(dim=1).reshape(-1, 1, 1)
    return G / norm.clamp_min(eps)


# -- approximate orthogonalization --------------------------------------------------------

QUINTIC = (3.4445, -4.7750, 2.0315)  # Muon's coefficients (REFERENCES.md)
CUBIC = (1.5, -0.5, 0.0)  # the classic iteration; converges to U V^T


def newton_schulz(G: Tensor, steps: int = 5, coeffs: tuple[float, float, float] = QUINTIC, dtype: torch.dtype | None = None) -> Tensor:
    """Polar factor approximation by Newton-Schulz, per seed. G: (S, m, n).

    X <- G / (||G||_F + 1e-7), transposed if tall so that A = X X^T is the small side;
    then ``steps`` times X <- a X + (b A + c A^2) X. Computed in ``dtype`` (bfloat16 on a
    GPU), returned in G's dtype.
    """
    X = G.to(dtype) if dtype is not None else G
    tall = X.shape[-2] > X.shape[-1]
    if tall:
        X = X.mT
    norm = X.reshape(X.shape[0], -1).norm(dim=1).reshape(-1, 1, 1)
    X = X / (norm + 1e-7)
    a, b, c = coeffs
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    if tall:
        X = X.mT
    return X.to(G.dtype)


def randomized_orth(G: Tensor, rank: int, oversample: int, power_iters: int, omega_fn) -> Tensor:
    """Rank-r EGD update U_r V_r^T from a randomized SVD (Halko, Martinsson, Tropp 2011).

    Omega: Gaussian (n, width) per seed with width = rank + oversample (at most min(m, n)), drawn by
    ``omega_fn(n, width)`` -> (S, n, width). Y = G Omega; ``power_iters`` rounds of
    Q = qr(Y), Z = qr(G^T Q), Y = G Z; then Q = qr(Y), B = Q^T G = Ub diag(s) V^T and
    the update is (Q Ub)_r V_r^T, the top ``rank`` directions.
    """
    m, n = G.shape[-2], G.shape[-1]
    k = min(m, n)
    r = max(1, min(rank, k))
    width = max(r, min(rank + oversample, k))
    omega = omega_fn(n, width).to(G.dtype)
    Y = G @ omega
    for _ in range(power_iters):
        Q = torch.linalg.qr(Y).Q
        Z = torch.linalg.qr(G.mT @ Q).Q
        Y = G @ Z
    Q = torch.linalg.qr(Y).Q  # (S, m, width)
    B = Q.mT @ G  # (S, width, n)
    Ub, s, Vh = torch.linalg.svd(B, full_matrices=False)
    return (Q @ Ub[..., :r]) @ Vh[..., :r, :]


# -- the EGD family's default parameter selection ----------------------------------------

# A transformer's MLP parameters, what the EGD paper treats on transformers: tasks/
# transformer.py names them h{i}.w_in, h{i}.b_in, h{i}.w_out, h{i}.b_out; "*mlp*" covers
# other naming. Matched against parameter names; a model with none of them (the sparse
# tasks' MLP: W1, b1, W2, b2) is treated as a plain MLP.
MLP_PATTERNS = ("*mlp*", "*.w_in", "*.b_in", "*.w_out", "*.b_out")


def select(params: dict[str, Tensor], include: str, matrices_only: bool) -> list[str]:
    """Names of the parameters an EGD-family transform treats, in dict order.

    include: comma-separated fnmatch patterns, or ``auto``: the transformer MLP
    parameters (MLP_PATTERNS) when the model has any, else every parameter
    (``matrices_only`` False) or the first matrix, i.e. the first layer (True).
    With ``matrices_only`` the result keeps only parameters of >= 2 per-seed dims.
    """
    names = list(params)
    if include.strip().lower() == "auto":
        chosen = match(names, list(MLP_PATTERNS))
        if not chosen:
            chosen = first_matrix(params) if matrices_only else names
    else:
        chosen = match(names, patterns(include))
    if matrices_only:
        chosen = [n for n in chosen if params[n].dim() >= 3]
    return chosen
