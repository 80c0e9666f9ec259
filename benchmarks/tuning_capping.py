"""What exact capping saves a tuning study: the same study with and without capping.

    python benchmarks/tuning_capping.py --tasks sparse_parity --methods sgd,grokfast --trials 12 \\
        [--tune-seeds 1000-1004] [--set NAME.P=V ...] [--batch-seeds 64] [--out DIR] [--order capped-first]

Runs ``grokbench tune`` twice in this process, into DIR/capped and DIR/uncapped (fresh
folders; local executor), and prints per study and in total: trials, capped trials,
training steps (each trial's last evaluated step), in-loop training seconds
(``train_time_s``, the engine's measured figure) and the wall seconds of each command.
Checks that both select the same configuration with the same median and solve count for
every (task, method), and that every capped configuration's uncapped median lies above the
bound it was capped at; exits 1 otherwise. Copy the table into benchmarks/README.md with
the machine (``lscpu``) and the command.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
import time
from pathlib import Path

from grokbench import api


def tune(folder: Path, args: argparse.Namespace, capping: bool) -> tuple[dict, float]:
    if folder.exists():
        shutil.rmtree(folder)
    t0 = time.perf_counter()
    data = api.tune(args.tasks, args.methods, args.trials, args.tune_seeds, folder, overrides=args.set,
                    device="cpu", batch_seeds=args.batch_seeds, capping=capping)
    return data, time.perf_counter() - t0


def rows(folder: Path) -> dict[tuple[str, str, str], dict]:
    with open(folder / "tuning.csv", newline="") as f:
        return {(r["task"], r["method"], r["configuration"]): r for r in csv.DictReader(f)}


def check(capped: dict, uncapped: dict, folder: Path) -> list[str]:
    """What differs between the two studies' selections, and any capped configuration whose
    uncapped median is not above its capping bound."""
    problems = []
    fields = ("config", "index", "median_steps", "solved")
    for a, b in zip(capped["selected"], uncapped["selected"]):
        if [a[f] for f in fields] != [b[f] for f in fields]:
            problems.append(f"{a['task']} / {a['method']}: capped selects {[a[f] for f in fields]}, "
                            f"uncapped {[b[f] for f in fields]}")
    full = rows(folder / "uncapped")
    for key, row in rows(folder / "capped").items():
        if row["capped_above"] and not float(full[key]["median_steps"] or math.inf) > float(row["capped_above"]):
            problems.append(f"{key}: capped above {row['capped_above']}, uncapped median {full[key]['median_steps']}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="sparse_parity")
    parser.add_argument("--methods", default="sgd")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--tune-seeds", default="1000-1004")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--batch-seeds", type=int, default=64)
    parser.add_argument("--out", default="capping-benchmark")
    parser.add_argument("--order", choices=("capped-first", "uncapped-first"), default="capped-first")
    args = parser.parse_args()
    out = Path(args.out)
    runs = {}
    for capping in ((True, False) if args.order == "capped-first" else (False, True)):
        name = "capped" if capping else "uncapped"
        runs[name] = tune(out / name, args, capping)
        print(f"{name}: {runs[name][1]:.1f} s wall", file=sys.stderr)
    (capped, capped_s), (uncapped, uncapped_s) = runs["capped"], runs["uncapped"]
    print("| task / method | selected (median steps, solved) | trials capped | steps capped / uncapped | "
          "ratio | train s capped / uncapped |")
    print("|---|---|---|---|---|---|")
    for a, b in zip(capped["selected"], uncapped["selected"]):
        ea, eb = a["effort"], b["effort"]
        print(f"| {a['task']} / {a['method']} | `{a['config']}` ({a['median_steps']}, {a['solved']}/{a['seeds']}) | "
              f"{ea['capped']}/{ea['trials']} | {ea['steps']:,} / {eb['steps']:,} | {eb['steps'] / ea['steps']:.2f}x | "
              f"{ea['train_seconds']:.1f} / {eb['train_seconds']:.1f} |")
    ea, eb = capped["effort"], uncapped["effort"]
    print(f"| **all** | | {ea['capped']}/{ea['trials']} | {ea['steps']:,} / {eb['steps']:,} | "
          f"{eb['steps'] / ea['steps']:.2f}x | {ea['train_seconds']:.1f} / {eb['train_seconds']:.1f} |")
    print(f"\nwall seconds of the command: capped {capped_s:.1f}, uncapped {uncapped_s:.1f} "
          f"({uncapped_s / capped_s:.2f}x)")
    problems = check(capped, uncapped, out)
    print(json.dumps({"same_selection": not problems, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
