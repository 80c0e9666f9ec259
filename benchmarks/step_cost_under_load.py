"""How much does load move the step-cost ratio of two methods, in-loop and calibrated?

    python benchmarks/step_cost_under_load.py [--methods sgd,egd] [--threads 1] [--seeds 4]

Three scenarios, each in a fresh results folder: *quiet* (no artificial load), *loaded*
(one busy process per core for the whole scenario) and *intermittent* (the busy processes
run while the first method trains and during the first half of the calibration, then
stop: the "another job was running during the first run" case). In each, the two methods
train ``--seeds`` seeds on sparse_parity (one seed-batched cell each, one after the other,
``--epochs`` epochs, no early stop) through the engine's own trial loop, then the folder
is calibrated (``grokbench.calibrate``, full settings, ``--calibrate-seconds`` of rounds).
Per method: in-loop seconds per batch step (sum of the trials' unshared period seconds /
steps timed, i.e. ``timing.periods_wall_s / timing.steps``), the calibrated batch step
cost, and the calibration's median process CPU seconds per step; the table gives the ratio
second / first of each and how far each ratio moved from the quiet one
(max(r, q) / min(r, q)). Copy the table into benchmarks/README.md with the
machine, the load and the command.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import threading
import time
from dataclasses import replace

import torch

from grokbench import registry
from grokbench.calibrate import FULL, calibrate_folder
from grokbench.environment import load_average
from grokbench.plan import build_plan
from grokbench.spec import parse_overrides
from grokbench.store import Store
from grokbench.trial import run_cell


def _spin() -> None:
    while True:
        pass


class BusyLoad:
    """One spinning process per core while on."""

    def __init__(self) -> None:
        self.procs: list[mp.Process] = []

    def start(self) -> None:
        ctx = mp.get_context("spawn")
        self.procs = [ctx.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)]
        for p in self.procs:
            p.start()

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join()
        self.procs = []


def train(out: str, methods: list[str], seeds: int, epochs: int, load: BusyLoad, scenario: str) -> dict:
    """Train each method's cell into ``out``; in-loop seconds per batch step per method."""
    overrides = parse_overrides([f"sparse_parity.max_epochs={epochs}"])
    plan = build_plan("sparse_parity", ",".join(methods), str(seeds), overrides)
    store, per_step = Store(out, create=True), {}
    for i, cell in enumerate(plan.cells(set(), seeds)):
        if scenario == "intermittent" and i == 0:
            load.start()
        records = list(run_cell(cell))
        if scenario == "intermittent" and i == 0:
            load.stop()
        for r in records:
            store.write(r)
        per_step[cell.method.label] = statistics.median(r.timing["periods_wall_s"] / r.timing["steps"]
                                                        for r in records)
    return per_step


def calibrated(out: str, seconds: float, threads: int, load: BusyLoad, scenario: str) -> dict:
    """Calibrate the folder; per method its StepCost."""
    timer = None
    if scenario == "intermittent":
        load.start()
        timer = threading.Timer(seconds / 2, load.stop)
        timer.start()
    done = calibrate_folder(out, replace(FULL, max_seconds=seconds), threads=threads, log=lambda _: None)
    if timer is not None:
        timer.join()
    return {c.method: c for c in done.costs}


def scenario_row(name: str, args, methods: list[str]) -> dict:
    load = BusyLoad()
    if name == "loaded":
        load.start()
        time.sleep(2)  # let the load average see it
    load1_before = load_average()
    with tempfile.TemporaryDirectory() as out:
        loop = train(out, methods, args.seeds, args.epochs, load, name)
        cal = calibrated(out, args.calibrate_seconds, args.threads, load, name)
    load.stop()
    a, b = methods
    return {"scenario": name, "load1": load1_before, "loop": loop, "cal": cal, "loop_ratio": loop[b] / loop[a],
            "cal_ratio": cal[b].step_cost_s / cal[a].step_cost_s,
            "cpu_ratio": cal[b].cpu_step_cost_s / cal[a].cpu_step_cost_s}


def moved(r: float, q: float) -> str:
    return f"{max(r, q) / min(r, q):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="sgd,egd")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--calibrate-seconds", type=float, default=12.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    registry.load_builtins()
    methods = args.methods.split(",")
    t0 = time.perf_counter()
    rows = [scenario_row(name, args, methods) for name in ("quiet", "loaded", "intermittent")]
    a, b = methods
    print(f"| scenario | load1 before | in-loop ms/step {a} / {b} | in-loop ratio (moved) | "
          f"calibrated ms/step {a} / {b} (IQR/median) | calibrated ratio (moved) | calibrated CPU-time ratio (moved) |")
    print("|---|---|---|---|---|---|---|")
    q = rows[0]
    for r in rows:
        ca, cb = r["cal"][a], r["cal"][b]
        print(f"| {r['scenario']} | {r['load1']} | {r['loop'][a] * 1e3:.3f} / {r['loop'][b] * 1e3:.3f} | "
              f"{r['loop_ratio']:.2f} ({moved(r['loop_ratio'], q['loop_ratio'])}) | "
              f"{ca.step_cost_s * 1e3:.3f} / {cb.step_cost_s * 1e3:.3f} "
              f"({ca.iqr_over_median:.0%}, {cb.iqr_over_median:.0%}) | "
              f"{r['cal_ratio']:.2f} ({moved(r['cal_ratio'], q['cal_ratio'])}) | "
              f"{r['cpu_ratio']:.2f} ({moved(r['cpu_ratio'], q['cpu_ratio'])}) |")
    print(f"\n{args.threads} torch thread(s), {args.seeds} seeds per batch, {args.epochs} epochs; "
          f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
