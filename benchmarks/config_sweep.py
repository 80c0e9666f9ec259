"""A learning-rate sweep batched like seeds vs one cell per configuration.

    python benchmarks/config_sweep.py [--configs 16] [--seeds 4] [--method sgd] [--task sparse_parity]
                                      [--lr-range 0.01,1] [--set NAME.P=V ...] [--rounds 1]

Plans ``METHOD[lr=...]`` over ``--configs`` learning rates spaced log-uniformly in
``--lr-range`` on ``--seeds`` seeds, then trains the same trials two ways, in one process:
*batched* (the plan's cells: every configuration x seed slot of the sweep in one model, as
``grokbench run`` and ``grokbench tune`` do) and *per configuration* (one seed-batched cell
per configuration, the layout before configurations were batched). Wall time covers
everything a cell does (set-up, training, evaluation). With ``--rounds`` above 1 the two
ways alternate. Checks that both give every trial the same status and solve step, and
prints the wall times and their ratio; copy them into benchmarks/README.md with the
machine and the command.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from grokbench.plan import Cell, build_plan
from grokbench.spec import parse_overrides
from grokbench.trial import run_cell


def lr_grid(n: int, lo: float, hi: float) -> list[float]:
    """``n`` learning rates spaced log-uniformly from ``lo`` to ``hi``, 3 significant digits."""
    if n == 1:
        return [lo]
    return [float(f"{math.exp(math.log(lo) + i * (math.log(hi) - math.log(lo)) / (n - 1)):.3g}") for i in range(n)]


def timed(cells: list[Cell]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    records = {r.key: r for cell in cells for r in run_cell(cell)}
    return time.perf_counter() - t0, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--method", default="sgd")
    parser.add_argument("--task", default="sparse_parity")
    parser.add_argument("--lr-range", default="0.01,1")
    parser.add_argument("--set", action="append", default=[], help="grokbench overrides, e.g. sparse_parity.max_epochs=50")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    lo, hi = (float(x) for x in args.lr_range.split(","))
    grid = ",".join(f"{lr:g}" for lr in lr_grid(args.configs, lo, hi))
    plan = build_plan(args.task, f"{args.method}[lr={grid}]", str(args.seeds), parse_overrides(args.set))
    batched_cells = plan.cells(set(), 64 * 64)
    alone_cells = [Cell(t, m, plan.seeds) for t, m in plan.pairs]
    print(f"{len(plan.pairs)} configurations x {len(plan.seeds)} seeds; batched: {len(batched_cells)} cell(s), "
          f"per configuration: {len(alone_cells)} cells")
    walls: dict[str, list[float]] = {"batched": [], "per configuration": []}
    outcomes = {}
    for _ in range(args.rounds):
        for name, cells in (("batched", batched_cells), ("per configuration", alone_cells)):
            wall, records = timed(cells)
            walls[name].append(wall)
            outcomes[name] = {k: (r.status, r.metrics.get("solve_step")) for k, r in records.items()}
    same = sum(outcomes["batched"][k] == v for k, v in outcomes["per configuration"].items())
    solved = sum(status == "solved" for status, _ in outcomes["batched"].values())
    print(f"solved {solved}/{len(outcomes['batched'])}; same status and solve step both ways: "
          f"{same}/{len(outcomes['batched'])}")
    med = {name: statistics.median(w) for name, w in walls.items()}
    for name, w in walls.items():
        print(f"{name:>18}: median {med[name]:.2f} s over {len(w)} round(s) ({', '.join(f'{x:.2f}' for x in w)})")
    print(f"per configuration / batched: {med['per configuration'] / med['batched']:.2f}x")


if __name__ == "__main__":
    main()
