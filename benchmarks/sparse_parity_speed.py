"""Speed on the sparse-parity reference preset: NumPy reference vs grokbench, one process.

    python benchmarks/sparse_parity_speed.py [--seeds-single 5] [--batches 64,256] [--methods sgd,egd,sketched_egd]

Measures, on the reference protocol (n=20, k=3, 1000 train / 500 test, SGD lr 0.1, batch 32,
evaluation every epoch, stop when solved):
- the straightforward single-seed NumPy implementation (benchmarks/numpy_reference.py),
  wall time per run;
- grokbench per method: single-seed (one cell per seed) and seed-batched (S seeds in one
  cell), *amortized wall time per seed-run* = the cell's whole wall time (set-up,
  training, evaluation) / S; and the median per-seed ``time_to_target_s`` (training time
  only, apportioned per docs/time.md's rule) with the median epochs to solve;
and prints the ratios. Results go to stdout as a table; copy them into benchmarks/README.md
with the machine and the command.
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

from grokbench.plan import build_plan  # noqa: E402
from grokbench.spec import parse_overrides  # noqa: E402
from grokbench.trial import run_cell  # noqa: E402


def time_cells(method: str, seeds: int, batch: int, overrides: list[str]) -> dict:
    """Run ``seeds`` seeds of one method in cells of ``batch``; wall time and per-seed metrics."""
    plan = build_plan("sparse_parity", method, str(seeds), parse_overrides(overrides))
    cells = plan.cells(set(), batch)
    t0 = time.perf_counter()
    records = [r for cell in cells for r in run_cell(cell)]
    wall = time.perf_counter() - t0
    solved = [r for r in records if r.status == "solved"]
    return {
        "per_run_s": wall / seeds,
        "solved": f"{len(solved)}/{len(records)}",
        "median_epochs": statistics.median(r.metrics["solve_epoch"] for r in solved) if solved else None,
        "median_time_to_target_s": statistics.median(r.metrics["time_to_target_s"] for r in solved)
        if solved else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds-single", type=int, default=5, help="seeds for the one-seed-at-a-time runs")
    parser.add_argument("--batches", default="64,256", help="seed-batch sizes to measure")
    parser.add_argument("--methods", default="sgd,egd,sketched_egd,sketched_egd_ns")
    parser.add_argument("--set", action="append", default=[], help="grokbench overrides, e.g. egd.solver=svd")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",") if b]
    aliases = {"sketched_egd_ns": ("sketched_egd", ["sketched_egd.sketch=newton_schulz"])}

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device cpu", flush=True)
    np_times, np_epochs = [], []
    for seed in range(args.seeds_single):
        t0 = time.perf_counter()
        result = numpy_reference.run(seed)
        np_times.append(time.perf_counter() - t0)
        np_epochs.append(result["solve_epoch"])
    numpy_s = statistics.median(np_times)
    print(f"numpy reference: {numpy_s * 1e3:.1f} ms per run (median of {args.seeds_single}), "
          f"median epochs {statistics.median(e for e in np_epochs if e)}", flush=True)

    rows = []
    for label in [m for m in args.methods.split(",") if m]:
        method, extra = aliases.get(label, (label, []))
        overrides = [*extra, *args.set]
        runs = [("single", args.seeds_single, 1)] + [(f"batched {b}", b, b) for b in batches]
        for mode, seeds, batch in runs:
            r = time_cells(method, seeds, batch, overrides)
            rows.append((label, mode, r))
            print(f"{label:16s} {mode:12s} {r['per_run_s'] * 1e3:9.2f} ms/seed-run  "
                  f"x{numpy_s / r['per_run_s']:6.1f} vs numpy  solved {r['solved']:>7s}  "
                  f"median epochs {r['median_epochs']}  median time_to_target "
                  f"{(r['median_time_to_target_s'] or 0) * 1e3:.2f} ms", flush=True)

    print("\nratios")
    by = {(label, mode): r for label, mode, r in rows}
    for label, mode, r in rows:
        base = by.get(("sgd", mode))
        versus_sgd = ""
        if base and label != "sgd" and base["median_time_to_target_s"] and r["median_time_to_target_s"]:
            versus_sgd = (f"  time-to-target vs sgd x{r['median_time_to_target_s'] / base['median_time_to_target_s']:.2f}"
                          f"  wall/seed-run vs sgd x{r['per_run_s'] / base['per_run_s']:.2f}")
        print(f"{label:16s} {mode:12s} speedup vs numpy x{numpy_s / r['per_run_s']:.1f}{versus_sgd}")


if __name__ == "__main__":
    main()
