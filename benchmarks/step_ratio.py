"""Step cost of the orthogonalizing methods relative to an SGD step, interleaved in one process.

    OMP_NUM_THREADS=1 python benchmarks/step_ratio.py [--slots 64] [--methods sgd,egd,...] [--rounds 15]

Each method gets a live seed batch of the sparse-parity reference preset, built and stepped
exactly as the engine trains it (``SeedBatch.build``, ``grokbench.trial.train_step``:
minibatch, loss and gradient, the method's transforms, the optimizer). ``--slots`` is the
batch layout: that many slots on the seed axis (the default, 64, is ``grokbench run``'s
``--batch-seeds`` and the largest seed batch the leaderboard trains). With ``--configs C``
the slots are C configurations of the base optimizer's learning rate x slots / C seeds (the
layout of a batched sweep, lr and weight decay per slot). Rounds: every method runs one block
of whole epochs (``--epochs`` x 32 steps) per round, the starting method rotating; the
reported cost is the median over rounds of the per-step time, and the ratio is the median
over rounds of (method's block / SGD's block in the same round), [min-max over rounds], each
by wall clock and by the thread's CPU time (``time.thread_time``: time the thread ran, so
preemption by other jobs is not counted; cache sharing still is). The 1-minute load average
before and after is printed: on a shared machine read the ratios, not the milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line  # noqa: E402

from grokbench import registry  # noqa: E402
from grokbench.plan import build_plan  # noqa: E402
from grokbench.seedbatch import SeedBatch  # noqa: E402
from grokbench.spec import parse_overrides  # noqa: E402
from grokbench.trial import build_chain, train_step  # noqa: E402

DEFAULT_METHODS = "sgd,egd,sketched_egd,sketched_egd:ns,muon"


class Stepper:
    """One method's live batch, stepped by the engine's timed unit."""

    def __init__(self, method: str, slots: int, configs: int) -> None:
        seeds = slots // configs
        label = method
        if configs > 1:
            lrs = ",".join(f"{0.1 * 2 ** (i / 4 - 1):.4g}" for i in range(configs))
            label = f"{method}[lr={lrs}]" if method in ("sgd", "muon") else f"{method}@sgd[lr={lrs}]"
        cell = build_plan("sparse_parity", label, str(seeds), parse_overrides([])).cells(set(), slots)[0]
        self.task = cell.task.build()
        self.chain, settings = build_chain(cell)
        self.batch = SeedBatch.build(self.task, cell.task.name, cell.method.label, cell.seeds, self.chain,
                                     torch.device("cpu"), len(cell.configs), settings)
        self.schedule = self.task.schedule(self.batch.n_train)
        self.step = 0
        assert len(self.batch.slots) == slots, (len(self.batch.slots), slots)

    def run(self, steps: int) -> tuple[float, float]:
        """(wall seconds, this thread's CPU seconds) for ``steps`` training steps of the batch."""
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(steps):
            train_step(self.task, self.chain, self.batch, self.step, self.schedule)
            self.step += 1
        return time.perf_counter() - t0, time.thread_time() - c0


def measure(methods: list[str], slots: int, configs: int, rounds: int,
            block: int) -> dict[str, list[tuple[float, float]]]:
    """Per method, per round: (wall, CPU) seconds per step."""
    steppers = {m: Stepper(m, slots, configs) for m in methods}
    for s in steppers.values():  # warm-up: allocations, first epoch gather
        s.run(block)
    per_step: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    for r in range(rounds):
        order = methods[r % len(methods):] + methods[:r % len(methods)]
        for m in order:
            wall, cpu = steppers[m].run(block)
            per_step[m].append((wall / block, cpu / block))
    return per_step


def report(per_step: dict[str, list[tuple[float, float]]], base: str) -> None:
    """One line per method: median ms per step and the median of per-round ratios to ``base``,
    by wall clock and by this thread's CPU time (what preemption by other jobs does not add)."""
    for m, times in per_step.items():
        cols = []
        for i, clock in enumerate(("wall", "cpu")):
            ms = [t[i] * 1e3 for t in times]
            ratios = [t[i] / b[i] for t, b in zip(times, per_step[base])]
            cols.append(f"{clock} {statistics.median(ms):7.3f} ms (IQR {_iqr(ms):.3f}) "
                        f"x{statistics.median(ratios):5.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
        print(f"  {m:16s} " + "   ".join(cols), flush=True)


def _iqr(v: list[float]) -> float:
    q = statistics.quantiles(v, n=4)
    return q[2] - q[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--slots", default="64", help="comma-separated slot counts (layouts) to measure")
    parser.add_argument("--configs", type=int, default=1, help="configurations among the slots (lr sweep)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=1, help="epochs (32 steps) per block")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    registry.load_builtins()
    methods = [m for m in args.methods.split(",") if m]
    print(machine_line(), flush=True)
    for slots in [int(s) for s in args.slots.split(",")]:
        print(f"sparse_parity reference preset, {slots} slots ({args.configs} configuration(s)), "
              f"{args.rounds} rounds of {args.epochs * 32} steps per method", flush=True)
        per_step = measure(methods, slots, args.configs, args.rounds, args.epochs * 32)
        report(per_step, methods[0])
    print(machine_line(load_only=True))


if __name__ == "__main__":
    main()
