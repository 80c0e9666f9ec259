"""Evidence for the stability rule (docs/stability.md): how candidate windows, hold bands and
tails would have judged curves trained far past their first crossing.

Make the curves with the first crossing as the solve and a long watch after it, e.g.

    grokbench run evidence.toml --no-calibrate --out EVIDENCE

with evidence.toml the study request of docs/stability.md (all methods on sparse_parity
and sparse_sum, 16 seeds, every stability setting 0, ``after_solve = 100``: a study
file's setting since ``--after-solve`` left the CLI, docs/study.md),

then ``python benchmarks/stability_window.py EVIDENCE``. It prints, for each candidate
rule (band, least window N, window fraction f), how many trials it calls stably solved,
how many of those later fell more than the band below the target within the observed
curve, and the median delay from the first crossing to the stable solve (evaluations);
then the depth of every fall below the target; then, for the chosen window, how many later
falls a tail running to 1.25x ... 3x the solve step would catch.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
from pathlib import Path


def load(folder: Path) -> list[dict]:
    """(task, method, steps, test accuracies, target, eval_every) of each record's curve."""
    out = []
    for path in sorted((folder / "records").glob("*.json")):
        r = json.loads(path.read_text())
        curve, budget = r.get("curve") or {}, r.get("budget") or {}
        if not curve.get("step") or budget.get("target") is None:
            continue
        out.append({"key": (r["identity"]["task"], r["identity"]["method"]), "steps": curve["step"],
                    "acc": [-1.0 if a is None else a for a in curve["test_acc"]],
                    "target": budget["target"], "every": budget["eval_every"]})
    return out


def stable_solve(t: dict, band: float, n: int, frac: float) -> tuple[int | None, int, bool]:
    """(index of the first crossing whose window held, its window, whether it was observed)."""
    acc, steps, target = t["acc"], t["steps"], t["target"]
    for i, a in enumerate(acc):
        if a < target:
            continue
        window = max(n, math.ceil(frac * steps[i] / t["every"]))
        if i + window >= len(acc):
            return i, window, False
        if all(x >= target - band for x in acc[i:i + window + 1]):
            return i, window, True
    return None, 0, False


def first_fall_after(t: dict, start: int, band: float) -> int | None:
    return next((k for k in range(start, len(t["acc"])) if t["acc"][k] < t["target"] - band), None)


def rules_table(trials: list[dict]) -> None:
    print(f"{'band':>5} {'N':>3} {'f':>5} {'stable':>7} {'fell later':>10} {'unobserved':>10} {'delay':>6}")
    for band in (0.0, 0.02, 0.05):
        for n in (3, 5, 10):
            for frac in (0.0, 0.1, 0.25):
                stable = fell = unobserved = 0
                delays = []
                for t in trials:
                    i, window, observed = stable_solve(t, band, n, frac)
                    if i is None:
                        continue
                    if not observed:
                        unobserved += 1
                        continue
                    stable += 1
                    delays.append(i - next(k for k, a in enumerate(t["acc"]) if a >= t["target"]))
                    fell += first_fall_after(t, i + window + 1, band) is not None
                delay = sorted(delays)[len(delays) // 2] if delays else "-"
                print(f"{band:>5} {n:>3} {frac:>5} {stable:>7} {fell:>10} {unobserved:>10} {delay:>6}")


def fall_depths(trials: list[dict]) -> None:
    depths = collections.Counter()
    for t in trials:
        for a, b in zip(t["acc"], t["acc"][1:]):
            if a >= t["target"] > b:
                depths[min(1.0, round(t["target"] - b, 2))] += 1
    total = sum(depths.values())
    print(f"\n{total} falls below the target; depth (target - accuracy after the fall): count")
    print(", ".join(f"{d:.2f}: {c}" for d, c in sorted(depths.items())))


def tails(trials: list[dict], band: float, n: int, frac: float) -> None:
    solves = []
    for t in trials:
        i, window, observed = stable_solve(t, band, n, frac)
        if i is not None and observed:
            fall = first_fall_after(t, i + window + 1, band)
            solves.append((t["key"], t["steps"][i], None if fall is None else t["steps"][fall], t["steps"][-1]))
    fell = [s for s in solves if s[2] is not None]
    print(f"\nwindow N={n}, f={frac}, band {band}: {len(solves)} stable solves, {len(fell)} fell later:",
          dict(collections.Counter(s[0] for s in fell)))
    for mult in (1.25, 1.5, 2.0, 3.0):
        caught = sum(1 for _, s, f, _ in fell if f <= s * mult)
        whole = sum(1 for _, s, _, end in solves if end >= s * mult)
        print(f"tail to {mult:.2f}x the solve step catches {caught} of {len(fell)} "
              f"(curves long enough to watch it whole: {whole}/{len(solves)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a results folder trained past the first crossing")
    args = parser.parse_args()
    trials = load(args.folder)
    print(f"{len(trials)} trials in {args.folder}\n")
    rules_table(trials)
    fall_depths(trials)
    tails(trials, band=0.05, n=5, frac=0.1)


if __name__ == "__main__":
    main()
