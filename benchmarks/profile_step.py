"""Where a seed-batched training step spends its time (torch.profiler, CPU).

    python benchmarks/profile_step.py [--method sgd] [--seeds 256] [--epochs 6] [--compile]

Trains ``--seeds`` seeds of the sparse-parity reference preset for ``--epochs`` epochs
(too few for any seed to solve, so every step runs) once to warm up, then again under the
profiler, and prints the operators by self CPU time. ``--compile`` also times the task's
hand-written loss-and-gradient step eager vs ``torch.compile``d, with the compile time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _parity_batch import parity_batch, time_ms  # noqa: E402

from grokbench.plan import build_plan  # noqa: E402
from grokbench.spec import parse_overrides  # noqa: E402
from grokbench.trial import run_cell  # noqa: E402


def profile_training(method: str, seeds: int, epochs: int) -> None:
    overrides = parse_overrides([f"sparse_parity.max_epochs={epochs}"])  # few epochs: no seed solves
    cell = build_plan("sparse_parity", method, str(seeds), overrides).cells(set(), seeds)[0]
    list(run_cell(cell))
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        list(run_cell(cell))
    wall = time.perf_counter() - t0
    steps = epochs * 32
    print(f"{method}, S={seeds}, {steps} steps + {epochs + 1} evaluations: {wall:.2f} s wall under the "
          "profiler (which adds its own overhead; read the shares below)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def time_compile(seeds: int, reps: int = 50) -> None:
    task, params, x, y = parity_batch(seeds)
    with torch.no_grad():
        eager = time_ms(lambda: task.loss_and_grad(params, x, y), reps)
        t0 = time.perf_counter()
        compiled = torch.compile(task.loss_and_grad, dynamic=False)
        compiled(params, x, y)
        compile_s = time.perf_counter() - t0
        fast = time_ms(lambda: compiled(params, x, y), reps)
    print(f"loss_and_grad, S={seeds}: eager {eager:.2f} ms, compiled {fast:.2f} ms "
          f"({eager / fast:.2f}x), compile time {compile_s:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="sgd")
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    profile_training(args.method, args.seeds, args.epochs)
    if args.compile:
        time_compile(args.seeds)


if __name__ == "__main__":
    main()
