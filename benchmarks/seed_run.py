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
The stop rule is the NumPy loop's (``--stability first-crossing``, the default): a seed stops at
its first evaluation at 100% test accuracy (``sustain_evals``, ``sustain_frac`` and ``tail_frac``
set to 0); ``--stability task`` keeps the task's stability window and tail instead, which trains
each seed about twice the epochs the NumPy loop does (not the same protocol; each cell prints its
median solve epoch and epochs trained).
Each round runs all three, in rotating order; the figures are medians over rounds, the
speedup is the median over rounds of (NumPy ms per run / marginal ms per seed-run). The
1-minute load average before and after is printed: on a shared machine read the ratio, and
the process-CPU figures (time the process ran, waiting for a core excluded) beside the wall ones.
Each cell also prints its minor page faults and system CPU seconds (pages the allocator gave
back to the OS and faulted in again; see ``grokbench.environment.keep_freed_memory``) and the
largest peak resident set its records report.
"""

from __future__ import annotations

import argparse
import resource
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

# The NumPy loop's stop rule: the first evaluation at the target (no window, no tail).
FIRST_CROSSING = ["sparse_parity.sustain_evals=0", "sparse_parity.sustain_frac=0", "sparse_parity.tail_frac=0"]


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    """(wall, process CPU) seconds since ``t0``."""
    wall, cpu = _clocks()
    return wall - t0[0], cpu - t0[1]


def batched_wall(seeds: int, method: str = "sgd", overrides: list[str] | None = None) -> tuple[float, float]:
    """(wall, process CPU) seconds for one seed-batched cell of ``seeds`` seeds, run to the end."""
    plan = build_plan("sparse_parity", method, str(seeds), parse_overrides(overrides or []))
    cell = plan.cells(set(), seeds)[0]
    t0, usage = _clocks(), resource.getrusage(resource.RUSAGE_SELF)
    records = list(run_cell(cell))
    took, after = _since(t0), resource.getrusage(resource.RUSAGE_SELF)
    epochs = statistics.median(r.curve["epoch"][-1] for r in records)
    solve = statistics.median(r.metrics["solve_step"] / r.curve["step"][1] for r in records
                              if r.metrics.get("solve_step") is not None)
    print(f"  {seeds} seeds: {sum(r.status == 'solved' for r in records)} solved, median solve epoch "
          f"{solve:.0f}, median epochs trained {epochs:.0f}; {after.ru_minflt - usage.ru_minflt} minor page faults, "
          f"system CPU {after.ru_stime - usage.ru_stime:.2f} s, peak RSS "
          f"{max(r.timing['peak_rss_mb'] or 0 for r in records):.0f} MB", flush=True)
    return took


def numpy_wall(seeds: int) -> tuple[float, float]:
    """(wall, process CPU) seconds per run of the NumPy loop, medians over ``seeds`` seeds."""
    walls, cpus = [], []
    for seed in range(seeds):
        t0 = _clocks()
        numpy_reference.run(seed)
        wall, cpu = _since(t0)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--large", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--numpy-seeds", type=int, default=5)
    parser.add_argument("--method", default="sgd")
    parser.add_argument("--stability", choices=("first-crossing", "task"), default="first-crossing",
                        help="stop rule: the NumPy loop's first crossing (default), or the task's window and tail")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = FIRST_CROSSING if args.stability == "first-crossing" else []
    print(f"{machine_line()}; stop rule: {args.stability}", flush=True)
    batched_wall(8, args.method, overrides)  # warm-up: imports, first allocations
    jobs = {"small": lambda: batched_wall(args.small, args.method, overrides),
            "large": lambda: batched_wall(args.large, args.method, overrides),
            "numpy": lambda: numpy_wall(args.numpy_seeds)}
    seen: dict[str, list[tuple[float, float]]] = {k: [] for k in jobs}
    rows = []  # per round: (marginal wall, marginal CPU, speedup wall, speedup CPU)
    for r in range(args.rounds):
        for name in list(jobs)[r % 3:] + list(jobs)[:r % 3]:
            seen[name].append(jobs[name]())
        (small, large, numpy) = (seen[k][-1] for k in ("small", "large", "numpy"))
        marginal = [(large[i] - small[i]) / (args.large - args.small) for i in (0, 1)]
        rows.append((*marginal, numpy[0] / marginal[0], numpy[1] / marginal[1]))
        print(f"round {r}: {args.method} {args.small} seeds {small[0]:.2f} s, {args.large} seeds {large[0]:.2f} s "
              f"-> marginal {marginal[0] * 1e3:.1f} ms/seed-run (CPU {marginal[1] * 1e3:.1f}); numpy "
              f"{numpy[0] * 1e3:.1f} ms/run (CPU {numpy[1] * 1e3:.1f}); x{rows[-1][2]:.2f} (CPU x{rows[-1][3]:.2f})"
              f"  ({machine_line(load_only=True)})", flush=True)
    med = [statistics.median(col) for col in zip(*rows)]
    numpy_med = [statistics.median(v[i] for v in seen["numpy"]) for i in (0, 1)]
    print(f"median: marginal {med[0] * 1e3:.1f} ms/seed-run (CPU {med[1] * 1e3:.1f}), numpy "
          f"{numpy_med[0] * 1e3:.1f} ms/run (CPU {numpy_med[1] * 1e3:.1f}), speedup x{med[2]:.2f} (CPU x{med[3]:.2f})")
    print(machine_line(load_only=True))


if __name__ == "__main__":
    main()
