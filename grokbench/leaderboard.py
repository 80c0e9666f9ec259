"""Results folder -> leaderboard: markdown tables with figures, and the same tables in a
terminal.

``grokbench leaderboard DIR [-o OUTDIR]`` writes ``OUTDIR/README.md`` (default
``DIR/leaderboard``) and, per task, two PNGs next to it, referenced by relative paths so
the folder renders on any git host:

* ``<task>_curves.png``: test accuracy against steps (log scale), median and
  interquartile band across seeds per method, train accuracy faint and dashed;
* ``<task>_steps.png``: steps to target per method, one point per seed, censored runs
  (unsolved / diverged) drawn open at the budget.

Every number comes from :mod:`grokbench.stats`; this module only formats and plots.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from . import stats as st

METRIC_LINES = (
    "**Steps to target**: first evaluation step with test accuracy >= the task's target; a run that never "
    "gets there (unsolved, or diverged) is censored at its budget and counts as slower than every solved run, "
    "so medians are censoring-aware (\"> budget\" unless more than half the seeds solved). "
    "**Plateau** = steps to target - first step with train accuracy >= 0.99; **seconds** are training time only "
    "(evaluation excluded).",
    "**Tests**: each method against the task's baseline (its base optimizer alone) over the same seeds: "
    "log-rank on steps to target, p Holm-adjusted across the task's methods, verdict at 0.05; Fisher's exact "
    "test on solve rates; 95% CIs by seeded bootstrap over seeds (paired for speedup = baseline median / "
    "method median). Diverged runs are censored at the budget, timed-out runs where they stopped; records with "
    "status error are excluded from all statistics and counted.",
)

MAIN_COLUMNS = [
    "#", "method", "solved", "median epochs to target [95% CI]", "median plateau (epochs)",
    "speedup vs baseline [95% CI]", "median s to target", "p (log-rank, Holm)",
    "p solve rate (Fisher, Holm)", "verdict",
]


# ---------------------------------------------------------------------------- formatting


def fmt_num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "∞"
    ax = abs(x)
    if ax >= 100 or (isinstance(x, int | np.integer)):
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 0.01:
        return f"{x:.2f}"
    return f"{x:.2g}"


def fmt_median(e: st.Estimate, budget: float | None, ci: bool = True) -> str:
    """'33 [18, 49]', '> 60', '33 [18, > 60]'."""
    over = f"> {fmt_num(budget)}" if budget is not None and math.isfinite(budget) else "> budget"
    if isinstance(e.value, float) and math.isnan(e.value):
        return "–"
    point = fmt_num(e.value) if e.finite else over
    if not ci:
        return point
    if e.ci is None or not e.finite:  # "> budget": an interval adds nothing
        return point
    lo, hi = e.ci
    return f"{point} [{fmt_num(lo) if math.isfinite(lo) else over}, {fmt_num(hi) if math.isfinite(hi) else over}]"


def fmt_seconds(e: st.Estimate, ci: bool = False) -> str:
    if e.finite:
        text = fmt_num(e.value)
        if ci and e.ci is not None:
            lo, hi = e.ci
            text += f" [{fmt_num(lo)}, {'> budget' if math.isinf(hi) else fmt_num(hi)}]"
        return text
    if isinstance(e.value, float) and math.isnan(e.value):
        return "–"
    return f"> {fmt_num(e.bound)}" if e.bound is not None else "unsolved"


def fmt_ratio(e: st.Estimate | None) -> str:
    """'1.5× [1.1, 2.0]', '> 3.2×' (baseline median censored), '< 0.4×', 'n/a'."""
    if e is None:
        return "–"
    v = e.value
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    if math.isinf(v):
        point = f"> {fmt_num(e.bound)}×" if e.bound is not None else "> budget"
    elif v == 0.0:
        point = f"< {fmt_num(e.bound)}×" if e.bound is not None else "unsolved"
    else:
        point = f"{fmt_num(v)}×"
    if e.ci is None:
        return point
    return f"{point} [{fmt_num(e.ci[0])}, {fmt_num(e.ci[1])}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "–"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def fmt_solved(s: st.Sample) -> str:
    """'3/5', '3/5, 1 diverged', '3/4 (+1 error excluded)'."""
    text = f"{s.k}/{s.n}"
    for status in ("diverged", "timeout"):
        if s.count(status):
            text += f", {s.count(status)} {status}"
    extra = ", ".join(f"{v} {k}" for k, v in sorted(s.excluded.items()))
    return f"{text} (+{extra} excluded)" if extra else text


def _budget_epochs(s: st.Sample) -> float | None:
    if not math.isfinite(s.budget_steps):
        return None
    return s.budget_steps / s.steps_per_epoch


# ---------------------------------------------------------------------------- tables


def main_rows(ts: st.TaskStats) -> list[dict[str, str]]:
    """The per-task table, ranked by censoring-aware median steps to target."""
    rows = []
    for rank, m in enumerate(ts.ranked(), 1):
        ms = ts.methods[m]
        s = ms.sample
        be = _budget_epochs(s)
        c = ts.vs_baseline.get(m)
        if m == ts.baseline:
            speed, p, pf, verdict = "1× (baseline)", "–", "–", st.BASELINE
        elif c is None:
            speed, p, pf, verdict = "–", "–", "–", "no baseline" if ts.baseline is None else st.NOT_ENOUGH
        else:
            speed, p, pf = fmt_ratio(c.speedup_steps), fmt_p(c.p_adjusted), fmt_p(c.p_fisher_adjusted)
            verdict = c.verdict
        solved = fmt_solved(s)
        rows.append({
            "#": str(rank),
            "method": m,
            "solved": solved,
            "median epochs to target [95% CI]": fmt_median(ms.median_epochs, be) if s.n else "–",
            "median plateau (epochs)": (fmt_num(ms.median_plateau.value / s.steps_per_epoch)
                                        if s.n and ms.median_plateau.finite else "–"),
            "speedup vs baseline [95% CI]": speed,
            "median s to target": fmt_seconds(ms.median_seconds) if s.n else "–",
            "p (log-rank, Holm)": p,
            "p solve rate (Fisher, Holm)": pf,
            "verdict": verdict,
        })
    return rows


def stack_rows(ts: st.TaskStats) -> list[dict[str, str]]:
    rows = []
    for c in ts.stacks:
        a, b = ts.methods[c.method], ts.methods[c.reference]
        sa, sb = a.sample.take(c.seeds), b.sample.take(c.seeds)
        be = _budget_epochs(sa)
        verdict = c.verdict
        if verdict in (st.FASTER, st.SLOWER):
            verdict = f"stack {verdict} than {c.reference}"
        rows.append({
            "stack": c.method,
            "vs part alone": c.reference,
            "paired seeds": str(c.n),
            "solved (stack / part)": f"{sa.k}/{sa.n} / {sb.k}/{sb.n}",
            "median epochs (stack / part)": (f"{fmt_median(scale_epochs(sa), be, ci=False)} / "
                                             f"{fmt_median(scale_epochs(sb), be, ci=False)}") if c.n else "–",
            "speedup of stack [95% CI]": fmt_ratio(c.speedup_steps),
            "p (log-rank, Holm)": fmt_p(c.p_adjusted),
            "verdict": verdict,
        })
    return rows


def scale_epochs(s: st.Sample) -> st.Estimate:
    return st.Estimate(st.censored_median(s.steps / s.steps_per_epoch) if s.n else math.nan, None)


def walltime_rows(ts: st.TaskStats) -> list[dict[str, str]]:
    """Epoch speedup next to wall-time speedup: do an accelerator's savings survive its
    per-step cost?"""
    rows = []
    base = ts.methods.get(ts.baseline) if ts.baseline else None
    base_cost = base.step_cost_s if base else None
    for m in ts.ranked():
        ms = ts.methods[m]
        s = ms.sample
        c = ts.vs_baseline.get(m)
        cost = ms.step_cost_s
        rel = f"{fmt_num(cost / base_cost)}×" if cost and base_cost else "–"
        survive = "–"
        if c is not None and base is not None and not base.median_steps.finite:
            # a baseline that mostly never solves spent no comparable time: no wall-time verdict
            survive = "n/a (baseline unsolved)"
        elif c is not None:
            es, ws = c.speedup_steps, c.speedup_time
            if not math.isnan(es.value) and es.value > 1:
                if ws.ci is not None and ws.ci[0] > 1:
                    survive = "yes"
                elif ws.ci is not None and ws.ci[1] < 1:
                    survive = "no"
                elif not math.isnan(ws.value):
                    survive = "yes (CI spans 1)" if ws.value > 1 else "no (CI spans 1)"
                else:
                    survive = "unclear"
        rows.append({
            "method": m,
            "median epochs to target": fmt_median(ms.median_epochs, _budget_epochs(s), ci=False) if s.n else "–",
            "epoch speedup [95% CI]": ("1× (baseline)" if m == ts.baseline else fmt_ratio(c.speedup_steps) if c else "–"),
            "median s to target [95% CI]": fmt_seconds(ms.median_seconds, ci=True) if s.n else "–",
            "wall-time speedup [95% CI]": ("1× (baseline)" if m == ts.baseline else fmt_ratio(c.speedup_time) if c else "–"),
            "ms per step": fmt_num(cost * 1000) if cost else "–",
            "step cost vs baseline": rel,
            "epoch savings survive?": survive,
        })
    return rows


def _md_table(rows: list[dict[str, str]], right: Sequence[str] = ()) -> str:
    if not rows:
        return "_(none)_\n"
    cols = list(rows[0])

    def cell(x: str) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if c in right else "---" for c in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(cell(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- figures


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_") or "task"


def _aggregate(curves: list[dict], column: str) -> tuple[np.ndarray, np.ndarray]:
    """Seeds' curves on the union of their steps (a stopped seed holds its last value)
    -> (steps, values[seed, step])."""
    curves = [c for c in curves if isinstance(c, dict) and c.get("step")]
    if not curves:
        return np.array([]), np.zeros((0, 0))
    grid = np.array(sorted({s for c in curves for s in c["step"]}), dtype=float)
    out = np.full((len(curves), len(grid)), np.nan)
    for i, c in enumerate(curves):
        steps = np.asarray(c["step"], dtype=float)
        vals = np.array([np.nan if v is None else v for v in c.get(column, [])], dtype=float)
        if len(vals) != len(steps):
            continue
        idx = np.searchsorted(steps, grid, side="right") - 1
        ok = idx >= 0
        out[i, ok] = vals[idx[ok]]
    return grid, out


def _colors(n: int):
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def plot_curves(ts: st.TaskStats, rows_by_method: dict[str, list[dict]], path: Path, target: float | None) -> bool:
    import warnings

    import matplotlib.pyplot as plt

    methods = ts.ranked()
    fig, ax = plt.subplots(figsize=(8.5, 4.8), dpi=110)
    drawn = False
    spe = None
    for color, m in zip(_colors(len(methods)), methods):
        curves = [r.get("curve") for r in rows_by_method.get(m, []) if str(r.get("status")) in st.FINAL_STATUSES]
        spe = spe or ts.methods[m].sample.steps_per_epoch
        for column, faint in (("train_acc", True), ("test_acc", False)):
            grid, vals = _aggregate(curves, column)
            if not len(grid):
                continue
            keep = grid > 0
            grid, vals = grid[keep], vals[:, keep]
            if not len(grid):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(vals, axis=0)
                q1, q3 = np.nanpercentile(vals, 25, axis=0), np.nanpercentile(vals, 75, axis=0)
            if faint:
                ax.plot(grid, med, color=color, lw=1.0, ls="--", alpha=0.35)
            else:
                ax.plot(grid, med, color=color, lw=1.8, label=f"{m} (n={vals.shape[0]})")
                ax.fill_between(grid, q1, q3, color=color, alpha=0.18, lw=0)
            drawn = True
    if target is not None:
        ax.axhline(target, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("training steps (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, which="major", alpha=0.3)
    if spe and spe > 0:
        sec = ax.secondary_xaxis("top", functions=(lambda s, k=spe: np.asarray(s) / k, lambda e, k=spe: np.asarray(e) * k))
        sec.set_xlabel("epochs")
    ax.set_title(f"{ts.label}: test accuracy (median, IQR band); train accuracy dashed", fontsize=10)
    if drawn:
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return drawn


def plot_steps(ts: st.TaskStats, rows_by_method: dict[str, list[dict]], path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    methods = ts.ranked()[::-1]  # fastest on top
    fig, ax = plt.subplots(figsize=(8.5, 0.5 * len(methods) + 1.6), dpi=110)
    rng = np.random.default_rng(0)
    budgets, values = [], []
    for y, (color, m) in enumerate(zip(_colors(len(methods))[::-1], methods)):
        s = ts.methods[m].sample
        status = {int(r["seed"]): str(r.get("status")) for r in rows_by_method.get(m, [])}
        jitter = rng.uniform(-0.18, 0.18, size=s.n)
        for i in range(s.n):
            if s.solved[i]:
                ax.scatter(max(s.steps[i], 1), y + jitter[i], color=color, s=28, zorder=3)
                values.append(max(s.steps[i], 1))
            else:
                div = status.get(int(s.seeds[i])) == "diverged"
                if div:  # "x" is an unfilled marker: its colour is the face colour
                    ax.scatter(s.steps_censor[i], y + jitter[i], color=color, marker="x", s=40,
                               zorder=3, linewidths=1.2)
                else:
                    ax.scatter(s.steps_censor[i], y + jitter[i], facecolors="none", edgecolors=color,
                               marker=">", s=40, zorder=3, linewidths=1.0)
                values.append(s.steps_censor[i])
        med = ts.methods[m].median_steps
        if s.n and med.finite:
            ax.plot([max(med.value, 1)] * 2, [y - 0.32, y + 0.32], color="black", lw=2, zorder=4)
        if math.isfinite(s.budget_steps):
            budgets.append(s.budget_steps)
    for b in set(budgets):
        ax.axvline(b, color="grey", lw=0.8, ls="--")
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods, fontsize=8)
    ax.set_ylim(-0.6, len(methods) - 0.4)
    finite = [v for v in values if v > 0 and math.isfinite(v)]
    if finite and max(finite) / max(min(finite), 1) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("steps to target (dashed: budget)")
    ax.grid(True, axis="x", alpha=0.3)
    handles = [
        Line2D([], [], ls="", marker="o", color="grey", label="solved (one seed)"),
        Line2D([], [], ls="", marker=">", markerfacecolor="none", color="grey", label="unsolved: censored at budget"),
        Line2D([], [], ls="", marker="x", color="grey", label="diverged: censored at budget"),
        Line2D([], [], ls="", marker="|", markersize=12, markeredgewidth=2, color="black", label="median"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(f"{ts.label}: steps to target per seed", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------- loading


def load(root: str | Path):
    """Records of a results folder -> (frame with curves and environment, runs)."""
    import pandas as pd

    from .store import Store, flatten

    store = Store(root)
    rows = []
    for r in store.records():
        row = flatten(r)
        env = r.get("environment") or {}
        row.update({
            "curve": r.get("curve"),
            "torch": env.get("torch"),
            "device": env.get("device"),
            "threads": env.get("threads"),
            "host": env.get("host"),
            "record_version": r.get("grokbench_version"),
            "started_at": r.get("started_at"),
            "finished_at": r.get("finished_at"),
        })
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.sort_values(["task_label", "method", "seed"], kind="stable").reset_index(drop=True)
    return frame, store.runs()


def git_commit(cwd: str | Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _uniq(values) -> list[str]:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if str(v) not in out:
            out.append(str(v))
    return out


def _seed_text(seeds: list[int]) -> str:
    if not seeds:
        return "–"
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}–{seeds[-1]} ({len(seeds)} seeds)"
    return ", ".join(map(str, seeds)) + f" ({len(seeds)} seeds)"


# ---------------------------------------------------------------------------- markdown


def _rel(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("../..") else str(path)


def render(frame, runs: list[dict], results_dir: Path, outdir: Path, figures: bool = True,
           analysis: dict[str, st.TaskStats] | None = None) -> str:
    """The leaderboard markdown (writes the figures into ``outdir`` when asked)."""
    analysis = st.analyze(frame) if analysis is None else analysis
    dframe = st.disambiguate(frame) if len(frame) else frame
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commands = _uniq(r.get("command") for r in runs)
    out = ["# grokbench leaderboard", ""]
    regen = f"grokbench leaderboard {_rel(results_dir)} -o {_rel(outdir)}"
    out.append(f"Generated {now} from the results in `{_rel(results_dir)}`. "
               f"Regenerate with `{regen}`; no number here is edited by hand.")
    out.append("")
    out.append("| provenance | |")
    out.append("|---|---|")
    if commands:
        for i, cmd in enumerate(commands):
            times = [r.get("time") for r in runs if r.get("command") == cmd]
            label = "command" if len(commands) == 1 else f"command {i + 1}"
            out.append(f"| {label} | `{cmd}` ({', '.join(_uniq(times)[-1:])}) |")
    else:
        out.append("| command | unknown (no runs.jsonl) |")
    rec_versions = _uniq(frame.get("record_version", [])) if len(frame) else []
    out.append(f"| grokbench | {__version__}" + (f" (records written by {', '.join(rec_versions)})" if rec_versions else "") + " |")
    out.append(f"| git commit | {git_commit() or 'unknown'} |")
    if len(frame):
        out.append(f"| torch | {', '.join(_uniq(frame['torch'])) or 'unknown'} |")
        devices = _uniq(frame["device_name"])
        kinds = _uniq(frame["device"])
        threads = _uniq(frame["threads"])
        hosts = _uniq(frame["host"])
        out.append(f"| device | {', '.join(devices) or 'unknown'} ({', '.join(kinds)}; {', '.join(threads)} threads; "
                   f"host {', '.join(hosts)}) |")
        seeds = sorted({int(s) for s in frame["seed"]})
        out.append(f"| seeds | {_seed_text(seeds)} |")
        started, finished = _uniq(frame["started_at"]), _uniq(frame["finished_at"])
        if started and finished:
            out.append(f"| trials | {len(frame)}, run {min(started)} to {max(finished)} |")
    out.append(f"| generated | {now} |")
    out += ["", *[f"{line}  " for line in METRIC_LINES], ""]
    if not analysis:
        out.append("_No records in this results folder._")
        return "\n".join(out) + "\n"
    out.append("Tasks: " + ", ".join(f"[{t}](#{_anchor(t)})" for t in analysis) + "")
    out.append("")
    for label, ts in analysis.items():
        rows = dframe[dframe["task_label"] == label]
        by_method: dict[str, list[dict]] = {}
        for r in rows.to_dict(orient="records"):
            by_method.setdefault(str(r["method"]), []).append(r)
        out.append(f"## {label}")
        out.append("")
        any_sample = next((m.sample for m in ts.methods.values() if m.sample.n), None)
        facts = [f"baseline: `{ts.baseline}`" if ts.baseline else f"**{ts.note}**"]
        targets = _uniq(rows.get("target", []))
        if targets:
            facts.append(f"target test accuracy {', '.join(targets)}")
        if any_sample is not None and math.isfinite(any_sample.budget_steps):
            facts.append(f"budget {_budget_epochs(any_sample):g} epochs "
                         f"({any_sample.budget_steps:g} steps, {any_sample.steps_per_epoch:g} steps/epoch)")
        facts.append(f"{len(ts.vs_baseline)} comparisons in the Holm family")
        out.append(" · ".join(facts))
        out.append("")
        out.append(_md_table(main_rows(ts)))
        if figures:
            outdir.mkdir(parents=True, exist_ok=True)
            name = slug(label)
            target = next((float(t) for t in targets), None) if targets else None
            try:
                plot_curves(ts, by_method, outdir / f"{name}_curves.png", target)
                plot_steps(ts, by_method, outdir / f"{name}_steps.png")
            except Exception as exc:  # a figure must never lose the tables
                out.append(f"_figures failed: {type(exc).__name__}: {exc}_\n")
            else:
                out.append(f"![{label}: accuracy against steps]({name}_curves.png)")
                out.append("")
                out.append(f"![{label}: steps to target per seed]({name}_steps.png)")
                out.append("")
        if ts.stacks:
            out.append(f"### {label}: stacked accelerators")
            out.append("")
            out.append("Each stack against each of its parts alone, paired by seed (Holm across these "
                       "comparisons). A speedup > 1 means the stack reaches the target sooner than the part.")
            out.append("")
            out.append(_md_table(stack_rows(ts)))
        out.append(f"### {label}: wall time")
        out.append("")
        out.append("Do epoch savings survive the per-step cost? Epoch speedup next to wall-time speedup "
                   "(training seconds to target, baseline / method); \"yes\"/\"no\" when the wall-time CI lies "
                   "above/below 1, \"(CI spans 1)\" for the side of the point estimate alone.")
        out.append("")
        out.append(_md_table(walltime_rows(ts)))
    return "\n".join(out) + "\n"


def _anchor(label: str) -> str:
    a = label.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def write_leaderboard(results_dir: str | Path, outdir: str | Path | None = None, figures: bool = True,
                      show: bool = False) -> Path:
    """Write OUTDIR/README.md (+ figures) for a results folder (OUTDIR defaults to
    DIR/leaderboard); ``show`` also prints the tables. Returns the README path."""
    import matplotlib

    matplotlib.use("Agg")
    results_dir = Path(results_dir)
    outdir = Path(outdir) if outdir is not None else results_dir / "leaderboard"
    frame, runs = load(results_dir)
    analysis = st.analyze(frame)
    if show:
        print_tables(analysis)
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*_curves.png"):
        old.unlink(missing_ok=True)
    for old in outdir.glob("*_steps.png"):
        old.unlink(missing_ok=True)
    text = render(frame, runs, results_dir, outdir, figures=figures, analysis=analysis)
    readme = outdir / "README.md"
    from .store import atomic_write_text

    atomic_write_text(readme, text)
    return readme


# ---------------------------------------------------------------------------- terminal


def print_tables(analysis: dict[str, st.TaskStats], console: Any = None) -> None:
    """The per-task leaderboard tables in a terminal (rich), with short headers."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # a log file or a pipe: no reason to squash to 80 columns
            console = Console(width=160)
    short = {
        "median epochs to target [95% CI]": "epochs to target\n[95% CI]",
        "median plateau (epochs)": "plateau\n(epochs)",
        "speedup vs baseline [95% CI]": "speedup\n[95% CI]",
        "median s to target": "s to\ntarget",
        "p (log-rank, Holm)": "p adj\nlog-rank",
        "p solve rate (Fisher, Holm)": "p adj\nFisher",
    }
    for label, ts in analysis.items():
        title = f"{label}  (baseline: {ts.baseline})" if ts.baseline else f"{label}  ({ts.note})"
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                      caption="medians censoring-aware; speedup = baseline / method; n.s. = no significant "
                              "difference at 0.05 (Holm)", caption_justify="left")
        for column in MAIN_COLUMNS:
            table.add_column(short.get(column, column), justify="left" if column in ("method", "verdict") else "right",
                             no_wrap=column in ("#", "method"))
        for row in main_rows(ts):
            style = {st.FASTER: "green", st.SLOWER: "red"}.get(row["verdict"])
            row["speedup vs baseline [95% CI]"] = row["speedup vs baseline [95% CI]"].replace(" (baseline)", "")
            if row["verdict"] == st.NO_DIFF:
                row["verdict"] = "n.s."
            table.add_row(*[row[c] for c in MAIN_COLUMNS], style=style)
        console.print(table)
