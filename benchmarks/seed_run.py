"""Marginal cost of one sparse-parity seed-run, seed-batched, against the plain NumPy loop.

    OMP_NUM_THREADS=1 python benchmarks/seed_run.py [--small 64] [--large 256] [--rounds 3]

The reference preset of sparse parity (n=20, k=3, 1000 train / 500 test, SGD lr 0.1, batch 32,
evaluation every epoch, stop at 100% test accuracy), trained to the end:
- grokbench, seed-batched: one cell of ``--small`` seeds and one of ``--large`` seeds
  (``grokbench.trial.run_cell``: set-up, training, evaluation, records); the *marginal
  seed-run* is (wall(large) - wall(small)) / (large - small), what one more seed costs in a
  batch, without the fixed costs (imports, first-call allocations, the batch's tail);
- the straightforward single-seed NumPy loop of the same protocol
  (benchmarks/numpy_reference.py), ``--numpy-seeds`` seeds, wall time per run.
Each round runs all three, in rotating order; the figures are medians over rounds, the
speedup is the median over rounds of (NumPy ms per run / marginal ms per seed-run). The
1-minute load average before and after is printed: on a shared machine read the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy_reference  # noqa: E402
from _machine import machine_line  # noqa: E402

from grokbench.plan import build_plan  # noqa: E402
from grokbench.spec import parse_overrides  # noqa: E402
from grokbench.trial import run_cell  # noqa: E402


def batched_wall(seeds: int, method: str = "sgd") -> tuple[float, int]:
    """Seconds for one seed-batched cell of ``seeds`` seeds (run to the end), and how many solved."""
    cell = build_plan("sparse_parity", method, str(seeds), parse_overrides([])).cells(set(), seeds)[0]
    t0 = time.perf_counter()
    records = list(run_cell(cell))
    return time.perf_counter() - t0, sum(r.status == "solved" for r in records)


def numpy_wall(seeds: int) -> float:
    """Seconds per run of the NumPy loop, median over ``seeds`` seeds."""
    times = []
    for seed in range(seeds):
        t0 = time.perf_counter()
        numpy_reference.run(seed)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--large", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--numpy-seeds", type=int, default=5)
    parser.add_argument("--method", default="sgd")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_line(), flush=True)
    batched_wall(8, args.method)  # warm-up: imports, first allocations
    jobs = {"small": lambda: batched_wall(args.small, args.method),
            "large": lambda: batched_wall(args.large, args.method),
            "numpy": lambda: (numpy_wall(args.numpy_seeds), None)}
    seen: dict[str, list[float]] = {k: [] for k in jobs}
    speedups, marginals = [], []
    for r in range(args.rounds):
        names = list(jobs)[r % 3:] + list(jobs)[:r % 3]
        for name in names:
            seen[name].append(jobs[name]()[0])
        marginal = (seen["large"][-1] - seen["small"][-1]) / (args.large - args.small)
        marginals.append(marginal)
        speedups.append(seen["numpy"][-1] / marginal)
        print(f"round {r}: {args.method} {args.small} seeds {seen['small'][-1]:.2f} s, {args.large} seeds "
              f"{seen['large'][-1]:.2f} s -> marginal {marginal * 1e3:.1f} ms/seed-run; numpy "
              f"{seen['numpy'][-1] * 1e3:.1f} ms/run; x{speedups[-1]:.2f}  ({machine_line(load_only=True)})",
              flush=True)
    print(f"median: marginal {statistics.median(marginals) * 1e3:.1f} ms/seed-run, numpy "
          f"{statistics.median(seen['numpy']) * 1e3:.1f} ms/run, speedup x{statistics.median(speedups):.2f}")
    print(machine_line(load_only=True))


if __name__ == "__main__":
    main()
