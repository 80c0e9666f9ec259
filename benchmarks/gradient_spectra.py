"""Singular-value spectra of EGD's first-layer gradients while it trains sparse parity.

    OMP_NUM_THREADS=1 python benchmarks/gradient_spectra.py [--slots 64] [--epochs 20]

Trains ``--slots`` seeds of the reference preset with ``egd`` (the engine's step, no early
stop) and, at the listed epochs, summarizes the 200 x 20 gradients EGD orthogonalizes: how
many directions the spectral rule keeps (s > 200 eps32 s_max), the smallest kept s / s_max
and the largest dropped one. What an approximate (polynomial) orthogonalization would have
to resolve: every kept direction pushed to 1, every dropped one left near 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from step_ratio import Stepper  # noqa: E402

from grokbench import registry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    registry.load_builtins()
    from grokbench.methods import egd

    seen: list[np.ndarray] = []
    real = egd.orthogonalize

    def spy(G, *rest):
        if G.shape[-2:] == (200, 20):
            seen.append(torch.linalg.svdvals(G.double()).numpy())
        return real(G, *rest)

    egd.orthogonalize = spy
    stepper = Stepper("egd", args.slots, 1)
    rtol = 200 * torch.finfo(torch.float32).eps
    print(f"{args.slots} seeds; percentiles over the epoch's steps and seeds (0, 1, 10, 50, 90, 100)")
    for epoch in range(args.epochs):
        seen.clear()
        stepper.run(32)
        s = np.concatenate(seen)
        rel = s / np.maximum(s[:, :1], np.finfo(float).tiny)
        kept = rel > rtol
        if epoch in (0, 2, 5, 10, 15, args.epochs - 1):
            pct = (0, 1, 10, 50, 90, 100)
            print(f"epoch {epoch:3d}: kept directions {np.percentile(kept.sum(1), pct).round(1).tolist()}, "
                  f"smallest kept s/s_max {np.percentile(np.where(kept, rel, 1).min(1), pct[:4]).tolist()}, "
                  f"largest dropped {np.where(kept, 0, rel).max():.2e}", flush=True)


if __name__ == "__main__":
    main()
