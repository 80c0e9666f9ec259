"""Cost of EGD's U V^T on a batch of sparse-parity first-layer gradients (200 x 20).

    python benchmarks/egd_orthogonalization.py [--seeds 256] [--reps 20]

Times, for S random 200 x 20 matrices: the thin SVD route, the Gram route (float64 eigh
of the 20 x 20 Gram matrix, what ``egd`` uses by default), the Gram route's pieces, and
Newton-Schulz (5 quintic steps, ``sketched_egd:ns``); and prints the SGD step it competes
with (the task's hand-written loss and gradient on a batch of 32).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _parity_batch import parity_batch, time_ms  # noqa: E402

from grokbench import registry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    registry.load_builtins()
    from grokbench.methods._linalg import newton_schulz, orth_gram, orth_svd

    S, reps = args.seeds, args.reps
    G = torch.randn(S, 200, 20, generator=torch.Generator().manual_seed(0))
    X64 = G.double()
    A = X64.mT @ X64
    task, params, x, y = parity_batch(S)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, S = {S} matrices of 200 x 20")
    rows = [
        ("SVD route (U V^T)", lambda: orth_svd(G)),
        ("Gram route (egd default)", lambda: orth_gram(G)),
        ("  float64 Gram product", lambda: X64.mT @ X64),
        ("  eigh of 20 x 20, float64", lambda: torch.linalg.eigh(A)),
        ("Newton-Schulz, 5 quintic steps", lambda: newton_schulz(G)),
        ("SGD loss and gradient, batch 32", lambda: task.loss_and_grad(params, x, y)),
    ]
    with torch.no_grad():
        for name, fn in rows:
            ms = time_ms(fn, reps)
            print(f"{name:34s} {ms:8.2f} ms  ({ms / S * 1e3:6.1f} us per seed)")


if __name__ == "__main__":
    main()
