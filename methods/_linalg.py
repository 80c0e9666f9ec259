"""Shared pieces of the EGD family (egd, sketched_egd) and Muon: per-seed orthogonalization
and the choice of which parameters a method treats.

Every function takes tensors with a leading seed axis S and acts on each seed's slice:
a matrix gradient is (S, m, n), a batch of S matrices; nothing mixes seeds, so a stack of
seeds gives the same result as seed by seed (up to floating-point reassociation).

Orthogonalization of G = U diag(s) V^T (thin SVD), with a spectral map f:

    f(s) = 1                  ->  U V^T = (G G^T)^(-1/2) G          (EGD, "all")
    f(s) = s / max(s, eps)    ->  U diag(1/max(s, eps)) U^T G       (EGD paper code, "first")

The spectral rule, the same for every exact and sketched solver: a direction whose singular
value is at most ``rtol * s_max`` gets f = 0 (the pseudo-inverse reading of
(G G^T)^(-1/2) G), every other direction gets f(s). ``rank_rtol=None`` (the default) is
the numerical-zero level of the gradient's dtype, ``max(m, n) * eps(dtype)`` (numpy's
``matrix_rank`` tolerance, and torch.linalg.pinv's default; 2.4e-5 for a float32 200 x 20
matrix): only directions indistinguishable from zero are dropped, so every real direction
keeps weight 1, as in the EGD paper's code. A zero gradient gives a zero step, and a
rank-k gradient a rank-k step, with every solver. (Without a cut a thin SVD's U V^T would
give the zero directions arbitrary unit directions chosen by LAPACK.)

Routes (exact up to rounding):
- ``svd``: torch.linalg.svd, batched.
- ``gram``: for a tall G (m >= n), G^T G = V diag(s^2) V^T from eigh of the n x n Gram
  matrix, and U diag(f(s)) V^T = G V diag(f(s)/s) V^T. A wide G is handled transposed.
  The Gram matrix squares the condition number, so it is formed and decomposed in float64
  (eigenvalue noise ~1e-16 lambda_max, i.e. ~1e-8 s_max, below the float32 rank cut; on
  the CPU the small Gram products go through NumPy's BLAS, ``bmm64``); G V and the product
  with V^T are taken in G's precision, as accurate as an SVD in that precision. It cannot
  resolve singular values below sqrt(max(m, n) * eps64) s_max
  (~2e-7 at 200 x 20), so it cuts there at least: for float32 gradients the rule is
  unchanged; for float64 ones ``auto`` takes the SVD.
- a single row or column (min dim 1) is G / ||G||: its only singular direction.
- ``randomized_orth`` (rSVD) applies the same cut to the singular values of its sketch.
- ``newton_schulz`` has no hard cut: it applies an odd polynomial p with p(0) = 0, so exact
  null directions (and a zero gradient) stay exactly zero, and a direction with s well
  below ||G||_F / 500 stays small (5 quintic steps raise it by at most 3.4445^5 ~ 480x).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from typing import Any

import numpy as np
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
    norm = torch.linalg.vector_norm(flat, dim=1, keepdim=True)
    return (flat / torch.where(norm >= eps, norm, 1.0)).reshape(g.shape)  # one full-size pass


def egd_elementary(g: Tensor) -> Tensor:
    """EGD's rule for a parameter that is no matrix: vectors normalized, scalars to sign."""
    if g.dim() == 1:  # a scalar per seed
        return torch.sign(g)
    return normalize_vectors(g)


# -- the spectral rule --------------------------------------------------------------------


def numerical_zero_rtol(shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> float:
    """max(m, n) * eps(dtype): below this fraction of s_max a singular value is a numerical zero."""
    return max(shape[-2:]) * torch.finfo(dtype).eps


def _keep(s: Tensor, s_max: Tensor, rtol: float) -> Tensor:
    """Bool mask of the directions the spectral rule keeps: s > rtol * s_max (never s = 0)."""
    return (s > rtol * s_max) & (s > 0)


def _spectral(s: Tensor, eps: float | None, s_max: Tensor, rtol: float) -> Tensor:
    """f(s): 1 for U V^T (eps None), s / max(s, eps) for whitening; 0 where the rule drops s."""
    f = torch.ones_like(s) if eps is None else s / s.clamp_min(eps)
    return torch.where(_keep(s, s_max, rtol), f, torch.zeros_like(f))


def _rtol(G: Tensor, rank_rtol: float | None) -> float:
    return numerical_zero_rtol(G.shape, G.dtype) if rank_rtol is None else rank_rtol


# -- exact orthogonalization --------------------------------------------------------------


def orth_svd(G: Tensor, eps: float | None = None, rank_rtol: float | None = None) -> Tensor:
    """U diag(f(s)) V^T by batched thin SVD. G: (S, m, n)."""
    U, s, Vh = torch.linalg.svd(G, full_matrices=False)
    return (U * _spectral(s, eps, s[..., :1], _rtol(G, rank_rtol)).unsqueeze(-2)) @ Vh


# Largest per-seed product m * k * n that ``bmm64`` hands to NumPy on the CPU: below it
# OpenBLAS runs a product on the calling thread (its threading threshold is 4 * 65536).
NUMPY_BMM_MAX_WORK = 4 * 65536


def bmm64(a: Tensor, b: Tensor) -> Tensor:
    """a @ b for float64 batches (S, m, k) @ (S, k, n).

    On the CPU, for products of at most NUMPY_BMM_MAX_WORK multiply-adds per seed, through
    NumPy's ``matmul`` (one BLAS call per seed; NumPy computes X^T X of one buffer as a
    symmetric rank-k update, syrk, half the products): torch's float64 bmm
    took 1.4-2.2x longer for the 200 x 20 matrices of sparse parity (benchmarks/README.md,
    issue #28). Both are float64 BLAS products of the same entries: equal to rounding."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    if (a.device.type == "cpu" and b.device.type == "cpu" and m * k * n <= NUMPY_BMM_MAX_WORK
            and not (a.requires_grad or b.requires_grad)):
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))
    return a @ b


def gram64(X: Tensor) -> Tensor:
    """X^T X in float64 for X (S, m, n): the n x n Gram matrix of each seed's matrix."""
    X64 = X.double()
    return bmm64(X64.mT, X64)


def nonfinite_seeds(A: Tensor) -> Tensor | None:
    """For Gram matrices A = X^T X (S, n, n) in float64 of float32 (or float16/bfloat16) X:
    a bool (S,) marking the seeds whose X held a NaN or inf, or None when none did (one
    check over the batch; the per-seed mask is built only then). Each diagonal entry is a
    sum of squares, so X is finite iff the trace is: a float32 X cannot overflow it."""
    diagonal = A.diagonal(dim1=-2, dim2=-1)
    if math.isfinite(float(diagonal.sum())):
        return None
    return ~torch.isfinite(diagonal.sum(dim=-1))


def gram_weights(lam: Tensor, eps: float | None, rtol: float, lam_max: Tensor | None = None) -> Tensor:
    """f(s)/s for the eigenvalues lam = s^2 (S, k), ascending, of a Gram matrix: the spectral
    rule of the module docstring (1/s for U V^T, 1/max(s, eps) for whitening, 0 where
    s <= rtol * s_max; s_max^2 = ``lam_max`` (S, 1), default lam's last). A zero matrix gets
    all zeros."""
    lam_max = lam[..., -1:] if lam_max is None else lam_max
    keep = lam > (rtol * rtol) * lam_max  # lam_max <= 0 keeps nothing; rtol > 0
    weight = lam.rsqrt()  # NaN/inf where lam <= 0: never kept
    if eps is not None:
        weight = weight.clamp_max(1.0 / eps)
    return torch.where(keep, weight, 0.0)


def orth_gram(G: Tensor, eps: float | None = None, rank_rtol: float | None = None) -> Tensor:
    """U diag(f(s)) V^T through eigh of the small Gram matrix, in float64; G: (S, m, n).

    Per call: one float64 Gram product (``gram64``), one batched eigh, two products in G's
    precision.
    A seed whose matrix holds a NaN or inf is decomposed as zeros and returned as NaN (so
    it diverges alone), as ``seedwise_finite`` does for the other routes.
    """
    tall = G.shape[-2] >= G.shape[-1]
    X = G if tall else G.mT
    A = gram64(X)
    bad = nonfinite_seeds(A)
    if bad is not None:
        A = A.masked_fill(bad.view(-1, 1, 1), 0.0)
        X = X.masked_fill(bad.view(-1, 1, 1), 0.0)
    lam, V = torch.linalg.eigh(A)  # ascending eigenvalues, (S, n), (S, n, n)
    resolution = math.sqrt(numerical_zero_rtol(G.shape, torch.float64))
    weight = gram_weights(lam, eps, max(_rtol(G, rank_rtol), resolution))
    # G V has orthogonal columns of norms s: computed in G's precision it carries the same
    # rounding as G itself (as accurate as a float32 SVD), at float32 matmul speed. (One
    # product with V diag(w) V^T instead of two was ~2x less accurate at cond 1e4; in
    # float64 it was slower than these two at 200 x 20.)
    out = (X @ V.to(G.dtype)) @ (V * weight.unsqueeze(-2)).mT.to(G.dtype)
    if bad is not None:
        out = out.masked_fill(bad.view(-1, 1, 1), math.nan)
    return out if tall else out.mT


def seedwise_finite(route: Callable[..., Tensor], G: Tensor, *args: Any) -> Tensor:
    """``route(G, *args)`` for a decomposition that raises on a non-finite input: each
    seed's matrix holding a NaN or inf is decomposed as zeros and returned as NaN, so that
    seed diverges alone instead of failing its whole batch. G: (S, m, n)."""
    bad = ~torch.isfinite(G).flatten(1).all(dim=1).view(-1, 1, 1)
    out = route(torch.where(bad, torch.zeros_like(G), G), *args)
    return torch.where(bad, torch.full_like(out, math.nan), out)


def orthogonalize(G: Tensor, solver: str = "auto", eps: float | None = None, rank_rtol: float | None = None) -> Tensor:
    """U diag(f(s)) V^T for each seed's matrix of G (S, m, n); see the module docstring.

    solver: ``svd``; ``gram``; ``auto`` = ``gram`` when the matrix is at least twice as
    long as it is wide (there the Gram matrix is small and the route cheaper than SVD on
    a CPU) and not float64, else ``svd``. rank_rtol: the spectral rule's cut (None:
    numerical zeros).
    """
    m, n = G.shape[-2], G.shape[-1]
    if min(m, n) == 1:  # one singular direction: G / ||G|| (as is when ~0)
        return normalize_vectors(G) if eps is None else _whiten_rank1(G, eps)
    if solver == "auto":
        skinny = max(m, n) >= 2 * min(m, n) and G.dtype != torch.float64
        solver = "gram" if skinny else "svd"
    if solver == "svd":
        return seedwise_finite(orth_svd, G, eps, rank_rtol)
    return orth_gram(G, eps, rank_rtol)


def _whiten_rank1(G: Tensor, eps: float) -> Tensor:
    norm = G.reshape(G.shape[0], -1).norm(dim=1).reshape(-1, 1, 1)
    return G / norm.clamp_min(eps)


# -- approximate orthogonalization --------------------------------------------------------

QUINTIC = (3.4445, -4.7750, 2.0315)  # Muon's coefficients
CUBIC = (1.5, -0.5, 0.0)  # the classic iteration; converges to U V^T
NS_EPS = 1e-7  # torch.optim.Muon's normalization floor


def newton_schulz(
    G: Tensor,
    steps: int = 5,
    coeffs: tuple[float, float, float] = QUINTIC,
    dtype: torch.dtype | None = None,
    eps: float = NS_EPS,
) -> Tensor:
    """Polar factor approximation by Newton-Schulz, per seed, as torch.optim.Muon. G: (S, m, n).

    In ``dtype`` (G's when None): X = G, transposed if tall so that A = X X^T is the small
    side, X <- X / max(||X||_F, eps); then ``steps`` times X <- a X + (b A + c A^2) X, each
    bracket one fused multiply-add (baddbmm, as torch's addmm). Returned in G's dtype (a
    bfloat16 result is exactly representable in float32).

    The same polynomial is applied on the small side when the matrix is at least twice as
    long as it is wide, in float32 or float64 (``ns_small_side``): the iterate stays
    X_k = P_k X_0 with P_k a polynomial in A_0, so only A_0 = X_0 X_0^T and P_5 X_0 touch
    the long side; equal up to rounding (tests/test_muon.py compares with torch's Muon).
    """
    X = G.to(dtype) if dtype is not None else G
    tall = X.shape[-2] > X.shape[-1]
    if tall:
        X = X.mT
    norm = torch.linalg.vector_norm(X, dim=(-2, -1), keepdim=True)
    X = X / norm.clamp_min(eps)
    if X.shape[-1] >= 2 * X.shape[-2] and X.dtype in (torch.float32, torch.float64):
        X = ns_small_side(X, steps, coeffs)
    else:
        a, b, c = coeffs
        for _ in range(steps):
            A = X @ X.mT
            B = torch.baddbmm(A, A, A, beta=b, alpha=c)
            X = torch.baddbmm(X, B, X, beta=a)
    return (X.mT if tall else X).to(G.dtype)


# Steps carried on the small side before the iterate is formed again on the long side. The
# small side carries A by its recurrence A <- Q A Q, where rounding can leave a null
# direction of A slightly negative, and a negative eigenvalue grows by q(0)^2 per step
# (12x for the quintic) instead of staying a square: short blocks keep that below the long
# side's own amplification of null directions (tests/test_fidelity.py).
NS_SMALL_SIDE_BLOCK = 5


def ns_small_side(X: Tensor, steps: int, coeffs: tuple[float, float, float]) -> Tensor:
    """Newton-Schulz's ``steps`` iterations X <- (a I + b A + c A^2) X, A = X X^T, for a wide
    X (S, k, N), k <= N / 2, carried out on k x k matrices: with Q = a I + b A + c A^2 (a
    polynomial in A, so it commutes with A) the next A is Q A Q and the iterate is P X with
    P <- Q P. Per block of NS_SMALL_SIDE_BLOCK steps, two products with the long side
    (A = X X^T, then P X) instead of two per step."""
    a, b, c = coeffs
    eye = torch.eye(X.shape[-2], dtype=X.dtype, device=X.device)
    for start in range(0, steps, NS_SMALL_SIDE_BLOCK):
        A = X @ X.mT
        block = min(NS_SMALL_SIDE_BLOCK, steps - start)
        P = None
        for i in range(block):
            Q = torch.baddbmm(A, A, A, beta=b, alpha=c).add_(eye, alpha=a)
            P = Q if P is None else Q @ P
            if i + 1 < block:
                A = Q @ A @ Q
        X = P @ X
    return X


# At or below this small side (min(m, n)) ``randomized_orth`` works on the Gram side.
RSVD_SMALL_SIDE = 64


def randomized_orth(
    G: Tensor,
    rank: int,
    oversample: int,
    power_iters: int,
    omega_fn: Callable[[int, int], Tensor],
    rank_rtol: float | None = None,
) -> Tensor:
    """Rank-r EGD update U_r V_r^T from a randomized SVD (Halko, Martinsson, Tropp 2011).

    Omega: Gaussian (n, width) per seed with width = rank + oversample (at most min(m, n)), drawn by
    ``omega_fn(n, width)`` -> (S, n, width). Y = G Omega; ``power_iters`` rounds of
    Q = qr(Y), Z = qr(G^T Q), Y = G Z; then Q = qr(Y), B = Q^T G = Ub diag(s) V^T and
    the update is (Q Ub)_r diag(f) V_r^T over the top ``rank`` directions, f the spectral
    rule of the module docstring (relative to G's shape and dtype). A seed whose matrix is
    not finite gets NaN.

    Two implementations of that one algorithm, equal in exact arithmetic (the update depends
    on the spans of Y and Z only, not on the bases QR picks): for a small side of at most
    RSVD_SMALL_SIDE in float32 (``rsvd_small_side``), the power rounds and B's SVD are taken
    through the float64 Gram matrix of the small side (small QRs and eigh, one or two
    products with the long side); otherwise as written above.
    """
    m, n = G.shape[-2], G.shape[-1]
    k = min(m, n)
    r = max(1, min(rank, k))
    width = max(r, min(rank + oversample, k))
    omega = omega_fn(n, width).to(G.dtype)
    rtol = _rtol(G, rank_rtol)
    if k <= RSVD_SMALL_SIDE and G.dtype == torch.float32:
        return rsvd_small_side(G, omega, r, power_iters, rtol)
    return seedwise_finite(_randomized_orth, G, omega, r, power_iters, rtol)


def _randomized_orth(G: Tensor, omega: Tensor, r: int, power_iters: int, rtol: float) -> Tensor:
    Y = G @ omega
    for _ in range(power_iters):
        Q = torch.linalg.qr(Y).Q
        Z = torch.linalg.qr(G.mT @ Q).Q
        Y = G @ Z
    Q = torch.linalg.qr(Y).Q  # (S, m, width)
    B = Q.mT @ G  # (S, width, n)
    Ub, s, Vh = torch.linalg.svd(B, full_matrices=False)
    f = _spectral(s[..., :r], None, s[..., :1], rtol)
    return ((Q @ Ub[..., :r]) * f.unsqueeze(-2)) @ Vh[..., :r, :]


def rsvd_small_side(G: Tensor, omega: Tensor, r: int, power_iters: int, rtol: float) -> Tensor:
    """``randomized_orth`` through the float64 Gram matrix of G's small side; G: (S, m, n),
    omega: (S, n, width). Per seed:

    - wide G (m < n), A = G G^T (m x m): Y = G Omega, then ``power_iters`` times
      Y <- A qr(Y) (the span of G qr(G^T qr(Y)))); Q = qr(Y); B B^T = Q^T A Q = Ub s^2 Ub^T;
      the update (Q Ub_r) diag(f / s_r) (Q Ub_r)^T G.
    - tall G, A = G^T G (n x n): Z = Omega, then ``power_iters`` times Z <- qr(A Z) (Y = G Z
      spans the same as the long-side rounds); with T = Z^T A Z = Y^T Y and W with
      W^T T W = I on T's range, B's singular values and
      vectors come from C = W^T (A Z)^T (A Z) W = u s^2 u^T (B B^T in the basis Y W); with
      x = W u_r, U_r = Y x and the update G (Z x) diag(f / s_r) (Z x)^T A. W = L^(-T) from
      the Cholesky factor of T shifted by its float64 resolution (``shifted_cholesky``):
      one Cholesky and two triangular solves instead of a second eigh; where T is
      singular (G of rank < width) the shift keeps W finite, and those directions have
      s^2 at the rounding level, below every rank cut. A kept direction's unit length
      moves by about delta / (2 lambda), lambda its eigenvalue of T: at most ~6e-5 at the
      float32 rank cut of a 200 x 20 matrix (delta <= width * 20 eps64 s_max^2, lambda >=
      (2.4e-5 s_max)^2), below float32 rounding there (eps32 x cond ~ 5e-3).
    """
    wide = G.shape[-2] < G.shape[-1]
    A = gram64(G.mT if wide else G)
    bad = nonfinite_seeds(A)
    if bad is not None:
        A = A.masked_fill(bad.view(-1, 1, 1), 0.0)
        G = G.masked_fill(bad.view(-1, 1, 1), 0.0)
    resolution = numerical_zero_rtol(A.shape, torch.float64)  # of eigenvalues, i.e. s^2
    if wide:
        Y = (G @ omega).double()
        for _ in range(power_iters):
            Y = A @ torch.linalg.qr(Y).Q
        Q = torch.linalg.qr(Y).Q
        s2, Ub = torch.linalg.eigh(Q.mT @ A @ Q)
        L = Q @ Ub[..., -r:]
        weight = gram_weights(s2[..., -r:], None, max(rtol, math.sqrt(resolution)), s2[..., -1:])
        out = ((L * weight.unsqueeze(-2)) @ L.mT).to(G.dtype) @ G
    else:
        Z = omega.double()
        for _ in range(power_iters):
            Z = torch.linalg.qr(A @ Z).Q
        AZ = A @ Z
        L = shifted_cholesky(Z.mT @ AZ, resolution)  # T + delta I = L L^T
        AZW = torch.linalg.solve_triangular(L, AZ.mT, upper=False).mT  # AZ L^(-T)
        s2, u = torch.linalg.eigh(AZW.mT @ AZW)
        x = torch.linalg.solve_triangular(L.mT, u[..., -r:], upper=True)  # L^(-T) u_r
        weight = gram_weights(s2[..., -r:], None, max(rtol, math.sqrt(resolution)), s2[..., -1:])
        out = G @ (((Z @ x) * weight.unsqueeze(-2)) @ (AZ @ x).mT).to(G.dtype)
    if bad is not None:
        out = out.masked_fill(bad.view(-1, 1, 1), math.nan)
    return out


def shifted_cholesky(T: Tensor, resolution: float) -> Tensor:
    """Lower Cholesky factor L of T + delta I, delta = resolution * trace(T) per seed, for
    symmetric positive semi-definite float64 T (S, k, k): the shift lifts eigenvalues that
    are zero up to rounding (|rounding| <= k eps64 ||T||, below delta for resolution >=
    k eps64) so the factorization exists; it moves an eigenvalue lambda of T by a relative
    delta / lambda. A zero T gets L = I (its directions are all dropped downstream)."""
    trace = T.diagonal(dim1=-2, dim2=-1).sum(-1)
    delta = torch.where(trace > 0, resolution * trace, 1.0)
    eye = torch.eye(T.shape[-1], dtype=T.dtype, device=T.device)
    return torch.linalg.cholesky_ex(T + delta.view(-1, 1, 1) * eye).L


# -- the EGD family's default parameter selection ----------------------------------------

# A transformer's MLP parameters, what the EGD paper treats on transformers: tasks/
# transformer.py names them h{i}.w_in, h{i}.b_in, h{i}.w_out, h{i}.b_out; "*mlp*" covers
# other naming. Matched against parameter names; a model with none of them (the sparse
# tasks' MLP: W1, b1, W2, b2) is treated as a plain MLP.
MLP_PATTERNS = ("*mlp*", "*.w_in", "*.b_in", "*.w_out", "*.b_out")


def is_transformer(params: dict[str, Tensor]) -> bool:
    """Whether the model has transformer MLP parameters (MLP_PATTERNS)."""
    return bool(match(list(params), list(MLP_PATTERNS)))


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
