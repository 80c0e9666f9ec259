"""The two figures per task, written as PNGs into the leaderboard folder:

* ``<task>_curves.png``: test accuracy against steps (log scale), median and
  interquartile band across seeds per method, train accuracy faint and dashed;
* ``<task>_steps.png``: steps to target per method, one point per seed, censored runs
  (unsolved / diverged) drawn open at the budget.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import stats as st
from .png import save_figure

OVERVIEW_FILES = ("profiles.png", "speedup_heatmap.png")  # written by .overview


@dataclass(frozen=True)
class TaskFigures:
    """One task's figures: file names relative to the leaderboard folder, or the error
    that stopped them (a figure must never lose the tables)."""

    curves: str | None = None
    steps: str | None = None
    error: str | None = None


def slug(label: str) -> str:
    """A task label -> a file-name stem ('sparse_parity:k5' -> 'sparse_parity_k5')."""
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_") or "task"


def write_figures(frame, analysis: dict[str, st.TaskStats], outdir: Path) -> dict[str, TaskFigures]:
    """Both figures of every task in ``analysis`` into ``outdir`` (created if needed).

    ``frame`` holds the records behind ``analysis`` with their ``curve`` column; returns
    per task label what was written (or why not)."""
    import matplotlib

    matplotlib.use("Agg")
    outdir.mkdir(parents=True, exist_ok=True)
    dframe = st.disambiguate(frame) if len(frame) else frame
    out = {}
    for label, ts in analysis.items():
        rows = dframe[dframe["task_label"] == label]
        by_method: dict[str, list[dict]] = {}
        for r in rows.to_dict(orient="records"):
            by_method.setdefault(str(r["method"]), []).append(r)
        targets = [float(t) for t in rows.get("target", []) if t is not None and not _is_nan(t)]
        name = slug(label)
        try:
            plot_curves(ts, by_method, outdir / f"{name}_curves.png", targets[0] if targets else None)
            plot_steps(ts, by_method, outdir / f"{name}_steps.png")
        except Exception as exc:  # a figure must never lose the tables
            out[label] = TaskFigures(error=f"{type(exc).__name__}: {exc}")
        else:
            out[label] = TaskFigures(f"{name}_curves.png", f"{name}_steps.png")
    return out


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


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


def method_colors(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _draw_accuracy(ax, curves: list[dict], column: str, color, label: str, faint: bool) -> bool:
    """One method's median curve of ``column`` over seeds (test: with its IQR band);
    False when there is nothing to draw on a log axis."""
    grid, vals = _aggregate(curves, column)
    if not len(grid):
        return False
    keep = grid > 0
    grid, vals = grid[keep], vals[:, keep]
    if not len(grid):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(vals, axis=0)
        q1, q3 = np.nanpercentile(vals, 25, axis=0), np.nanpercentile(vals, 75, axis=0)
    if faint:
        ax.plot(grid, med, color=color, lw=1.0, ls="--", alpha=0.35)
    else:
        ax.plot(grid, med, color=color, lw=1.8, label=f"{label} (n={vals.shape[0]})")
        ax.fill_between(grid, q1, q3, color=color, alpha=0.18, lw=0)
    return True


def accuracy_axes(ax, target: float | None, steps_per_epoch: float | None, ylabel: str) -> None:
    """Accuracy against training steps on a log scale: the target dotted, epochs on top
    when ``steps_per_epoch`` is known (the curves' figures and the cell pages' share it)."""
    if target is not None:
        ax.axhline(target, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("training steps (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, which="major", alpha=0.3)
    if steps_per_epoch and steps_per_epoch > 0:
        k = float(steps_per_epoch)
        sec = ax.secondary_xaxis("top", functions=(lambda s: np.asarray(s) / k, lambda e: np.asarray(e) * k))
        sec.set_xlabel("epochs")


def _is_control(row: dict) -> bool:
    """A control's row names its role (a string); others hold None, or NaN from a frame."""
    role = row.get("control")
    return isinstance(role, str) and bool(role)


def plot_curves(ts: st.TaskStats, rows_by_method: dict[str, list[dict]], path: Path,
                target: float | None) -> bool:
    """Accuracy against steps per method into ``path``; False when no curve was drawn.
    Controls (rows with a ``control`` role) are left out of this figure, which stays
    readable with every method of a task; their curves are on their cell pages."""
    import matplotlib.pyplot as plt

    methods = [m for m in ts.ranked() if not any(_is_control(r) for r in rows_by_method.get(m, []))]
    fig, ax = plt.subplots(figsize=(8.5, 4.8), dpi=110)
    drawn = False
    spe = None
    for color, m in zip(method_colors(len(methods)), methods):
        curves = [r.get("curve") for r in rows_by_method.get(m, []) if str(r.get("status")) in st.FINAL_STATUSES]
        spe = spe or ts.methods[m].sample.steps_per_epoch
        for column, faint in (("train_acc", True), ("test_acc", False)):
            drawn = _draw_accuracy(ax, curves, column, color, m, faint) or drawn
    accuracy_axes(ax, target, spe, "accuracy")
    ax.set_title(f"{ts.label}: test accuracy (median, IQR band); train accuracy dashed; controls: their cell pages",
                 fontsize=9)
    if drawn:
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return drawn


def _draw_seeds(ax, s: st.Sample, statuses: dict[int, str], y: float, color,
                rng: np.random.Generator) -> list[float]:
    """One method's seeds as points in row ``y``: filled when solved, an open triangle at
    the budget when unsolved, a cross when diverged. Returns the x values drawn."""
    jitter = rng.uniform(-0.18, 0.18, size=s.n)
    values = []
    for i in range(s.n):
        if s.solved[i]:
            ax.scatter(max(s.steps[i], 1), y + jitter[i], color=color, s=28, zorder=3)
            values.append(max(s.steps[i], 1))
            continue
        if statuses.get(int(s.seeds[i])) == "diverged":  # "x" is unfilled: its colour is the face colour
            ax.scatter(s.steps_censor[i], y + jitter[i], color=color, marker="x", s=40,
                       zorder=3, linewidths=1.2)
        else:
            ax.scatter(s.steps_censor[i], y + jitter[i], facecolors="none", edgecolors=color,
                       marker=">", s=40, zorder=3, linewidths=1.0)
        values.append(s.steps_censor[i])
    return values


def _steps_legend(ax) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], ls="", marker="o", color="grey", label="solved (one seed)"),
        Line2D([], [], ls="", marker=">", markerfacecolor="none", color="grey", label="unsolved: censored at budget"),
        Line2D([], [], ls="", marker="x", color="grey", label="diverged: censored at budget"),
        Line2D([], [], ls="", marker="|", markersize=12, markeredgewidth=2, color="black", label="median"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def plot_steps(ts: st.TaskStats, rows_by_method: dict[str, list[dict]], path: Path) -> None:
    """Steps to target per seed and method (fastest on top) into ``path``."""
    import matplotlib.pyplot as plt

    methods = ts.ranked()[::-1]  # fastest on top
    fig, ax = plt.subplots(figsize=(8.5, 0.5 * len(methods) + 1.6), dpi=110)
    rng = np.random.default_rng(0)
    budgets, values = [], []
    for y, (color, m) in enumerate(zip(method_colors(len(methods))[::-1], methods)):
        s = ts.methods[m].sample
        statuses = {int(r["seed"]): str(r.get("status")) for r in rows_by_method.get(m, [])}
        values += _draw_seeds(ax, s, statuses, y, color, rng)
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
    _steps_legend(ax)
    ax.set_title(f"{ts.label}: steps to target per seed", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
