"""Where the orthogonalizing methods' step goes: their pieces, per matrix, at a slot layout.

    OMP_NUM_THREADS=1 python benchmarks/egd_orthogonalization.py [--slots 10,64] [--rounds 7]

For S first-layer gradients of the sparse-parity reference preset (200 x 20, float32, the real
gradients of one minibatch at initialization), times each piece of EGD's Gram route, of
sketched EGD's randomized SVD (both its implementations), of Newton-Schulz (long and small
side), the LAPACK calls they are made of (and NumPy's for comparison), and the plain step it
competes with (the task's loss and gradient). Rounds interleave all pieces; each figure is
the median over rounds of this thread's CPU time (``time.thread_time``: preemption by
other jobs is not counted) per call, and per matrix (/ S).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line  # noqa: E402
from _parity_batch import parity_batch  # noqa: E402

from grokbench import registry  # noqa: E402


def pieces(S: int) -> dict[str, Callable[[], object]]:
    from grokbench.methods import _linalg as L

    task, params, x, y = parity_batch(S)
    with torch.no_grad():
        G = task.loss_and_grad(params, x, y)[1]["W1"].contiguous()
    A = L.gram64(G)
    lam, V = torch.linalg.eigh(A)
    A_np = A.numpy()
    V32, M64, M32 = V.float(), V.clone(), V.float()
    gen = torch.Generator().manual_seed(0)
    omega = torch.randn(S, 20, 15, generator=gen)
    Z = torch.randn(S, 20, 15, dtype=torch.float64, generator=gen)
    rtol = L.numerical_zero_rtol(G.shape, G.dtype)
    A10 = L.gram64(G[..., :10].contiguous())
    T15 = Z.mT @ A @ Z
    return {
        "SGD loss and gradient (batch 32)": lambda: task.loss_and_grad(params, x, y),
        "EGD Gram route (orth_gram)": lambda: L.orth_gram(G),
        "  Gram product, float64 (gram64: NumPy)": lambda: L.gram64(G),
        "  Gram product, float64 (torch bmm)": lambda: _torch_gram64(G),
        "  Gram product, float32": lambda: G.mT @ G,
        "  eigh 20x20 float64 (torch/LAPACK)": lambda: torch.linalg.eigh(A),
        "  eigh 20x20 float32": lambda: torch.linalg.eigh(A.float()),
        "  eigvalsh 20x20 float64": lambda: torch.linalg.eigvalsh(A),
        "  eigh 10x10 float64 (the first 10 columns)": lambda: torch.linalg.eigh(A10),
        "  shifted cholesky 15x15 float64": lambda: L.shifted_cholesky(T15, 20 * 2.2e-16),
        "  eigh 20x20 float64 (NumPy)": lambda: np.linalg.eigh(A_np),
        "  cholesky 20x20 float64": lambda: torch.linalg.cholesky_ex(A),
        "  inverse 20x20 float64": lambda: torch.linalg.inv_ex(A),
        "  qr 20x15 float64": lambda: torch.linalg.qr(Z),
        "  G @ V (200x20x20 float32)": lambda: G @ V32,
        "  G @ V (200x20x20 float64)": lambda: G.double() @ V,
        "  small product 20x20 float64": lambda: M64 @ M64,
        "  small product 20x20 float32": lambda: M32 @ M32,
        "  weights (4 ops on (S, 20))": lambda: L.gram_weights(lam, None, rtol),
        "  non-finite check (Gram trace)": lambda: L.nonfinite_seeds(A),
        "  non-finite check (isfinite of G)": lambda: torch.isfinite(G).flatten(1).all(dim=1),
        "EGD SVD route (orth_svd)": lambda: L.orth_svd(G),
        "rSVD rank 10, long side (as written)": lambda: L._randomized_orth(G, omega, 10, 2, rtol),
        "rSVD rank 10, small side (default)": lambda: L.rsvd_small_side(G, omega, 10, 2, rtol),
        "Newton-Schulz 5 quintic, small side": lambda: L.newton_schulz(G),
        "Newton-Schulz 5 quintic, long side": lambda: _ns_long_side(G, L.QUINTIC),
        "normalize a vector gradient (b1)": lambda: L.normalize_vectors(G[:, :, 0]),
    }


def _torch_gram64(G: torch.Tensor) -> torch.Tensor:
    """The float64 Gram product by torch's bmm (what ``gram64`` did before NumPy's syrk)."""
    X = G.double()
    return X.mT @ X


def _ns_long_side(G: torch.Tensor, coeffs: tuple[float, float, float]) -> torch.Tensor:
    """The iteration as torch.optim.Muon writes it (every step on the 20 x 200 side)."""
    a, b, c = coeffs
    X = G.mT / G.norm(dim=(1, 2), keepdim=True)
    for _ in range(5):
        A = X @ X.mT
        X = torch.baddbmm(X, torch.baddbmm(A, A, A, beta=b, alpha=c), X, beta=a)
    return X.mT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", default="10,64")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    registry.load_builtins()
    print(machine_line(), flush=True)
    for S in [int(s) for s in args.slots.split(",")]:
        fns = pieces(S)
        cpu: dict[str, list[float]] = {k: [] for k in fns}
        with torch.no_grad():
            for _ in range(args.rounds):
                for name, fn in fns.items():
                    fn()
                    c0 = time.thread_time()
                    for _ in range(args.reps):
                        fn()
                    cpu[name].append((time.thread_time() - c0) / args.reps)
        print(f"S = {S} matrices of 200 x 20 (CPU time per call, median of {args.rounds} rounds)")
        for name, v in cpu.items():
            us = statistics.median(v) * 1e6
            print(f"  {name:38s} {us:9.1f} us  {us / S:7.1f} us per matrix", flush=True)
    print(machine_line(load_only=True))


if __name__ == "__main__":
    main()
