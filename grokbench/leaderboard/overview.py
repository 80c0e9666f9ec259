"""The two figures across tasks, written as PNGs into the leaderboard folder:

* ``profiles.png``: performance profiles (Dolan and Moré) of every method, in steps and in
  wall time to target: the fraction of its tasks on which its median is within a factor
  tau of the fastest method's, tau from 1 to 4;
* ``speedup_heatmap.png``: method x task speedup in steps to target against each task's
  baseline (log scale), significant verdicts marked ▲ (faster) and ▼ (slower).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import stats as st
from .figures import OVERVIEW_FILES, method_colors
from .format import fmt_num
from .png import save_figure
from .rows import SIGNIFICANCE_MARKS, method_order

PROFILES_FILE, HEATMAP_FILE = OVERVIEW_FILES
CLIP = 3.0  # colour scale of the heat map: log2 speedup in [-3, 3], 1/8x to 8x
LINESTYLES = ("-", "--", "-.", ":")


@dataclass(frozen=True)
class OverviewFigures:
    """File names (relative to the leaderboard folder) of the figures across tasks, or
    the error that stopped them (a figure must never lose the tables)."""

    profiles: str | None = None
    heatmap: str | None = None
    error: str | None = None


def write_overview(analysis: Mapping[str, st.TaskStats], outdir: Path) -> OverviewFigures:
    """Both figures across the tasks of ``analysis`` into ``outdir`` (created if needed)."""
    import matplotlib

    matplotlib.use("Agg")
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        steps, _ = st.performance_profiles(analysis, "steps")
        seconds, _ = st.performance_profiles(analysis, "seconds")
        methods = method_order(analysis, steps)
        plot_profiles({"steps": steps, "wall time": seconds}, methods, outdir / PROFILES_FILE)
        plot_heatmap(analysis, methods, outdir / HEATMAP_FILE)
    except Exception as exc:  # a figure must never lose the tables
        return OverviewFigures(error=f"{type(exc).__name__}: {exc}")
    return OverviewFigures(PROFILES_FILE, HEATMAP_FILE)


def plot_profiles(profiles: Mapping[str, Mapping[str, st.Profile]], methods: list[str], path: Path) -> None:
    """One panel per cost (title -> profiles by method): rho(tau) for tau in [1, TAU_MAX];
    one legend with each method's scores in panel order."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(profiles), figsize=(13, 4.6), dpi=110, sharey=True, squeeze=False)
    taus = np.linspace(1.0, st.TAU_MAX, 601)
    colors = method_colors(len(methods))
    handles = {}
    for ax, (title, by_method) in zip(axes[0], profiles.items()):
        for i, (color, m) in enumerate(zip(colors, methods)):
            p = by_method.get(m)
            if p is not None:
                handles[m], = ax.step(taus, [p.rho(t) for t in taus], where="post", color=color, lw=1.6,
                                      ls=LINESTYLES[i % len(LINESTYLES)])
        ax.set_xlim(1.0, st.TAU_MAX)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("tau: median to target within this factor of the fastest method's")
        ax.set_title(f"{title} to target", fontsize=10)
    axes[0][0].set_ylabel("fraction of the method's tasks")

    def scores(m: str) -> str:
        return " / ".join(fmt_num(by[m].score) if m in by else "–" for by in profiles.values())

    fig.legend([handles[m] for m in methods if m in handles], [f"{m} ({scores(m)})" for m in methods if m in handles],
               title=f"method (score: {' / '.join(profiles)})", fontsize=7, title_fontsize=8, frameon=False,
               loc="center left", bbox_to_anchor=(0.83, 0.5))
    fig.tight_layout(rect=(0, 0, 0.83, 1))
    save_figure(fig, path)
    plt.close(fig)


def _cell_value(ts: st.TaskStats, method: str) -> tuple[float, str]:
    """(log2 speedup for the colour, nan = no colour; the cell's short text)."""
    if method not in ts.methods or not ts.methods[method].sample.n:
        return math.nan, "not run"
    if method == ts.baseline:
        return 0.0, "baseline"
    c = ts.vs_baseline.get(method)
    if c is None:
        return math.nan, "no test"
    e = c.speedup_steps
    mark = SIGNIFICANCE_MARKS.get(c.verdict, "").strip()
    if math.isnan(e.value):
        return math.nan, "both > budget"
    if math.isinf(e.value):
        return CLIP, f"{f'> {fmt_num(e.bound)}×' if e.bound else 'base > budget'} {mark}".rstrip()
    if e.value == 0.0:
        return -CLIP, f"{f'< {fmt_num(e.bound)}×' if e.bound else '> budget'} {mark}".rstrip()
    return math.log2(e.value), f"{fmt_num(e.value)}× {mark}".rstrip()


def plot_heatmap(analysis: Mapping[str, st.TaskStats], methods: list[str], path: Path) -> None:
    """Method x task speedups in steps against each task's baseline into ``path``."""
    import matplotlib.pyplot as plt

    tasks = list(analysis)
    values = np.full((len(methods), len(tasks)), np.nan)
    fig, ax = plt.subplots(figsize=(1.7 * len(tasks) + 3.5, 0.42 * len(methods) + 1.8), dpi=110)
    for i, m in enumerate(methods):
        for j, t in enumerate(tasks):
            values[i, j], text = _cell_value(analysis[t], m)
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if abs(values[i, j]) > 0.6 * CLIP else "black",
                    fontweight="bold" if text.endswith(("▲", "▼")) else "normal")
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#e6e6e6")
    image = ax.imshow(np.ma.masked_invalid(np.clip(values, -CLIP, CLIP)), cmap=cmap, vmin=-CLIP, vmax=CLIP,
                      aspect="auto")
    ax.set_xticks(range(len(tasks)))
    ax.set_xticklabels(tasks, fontsize=8, rotation=20, ha="right")
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods, fontsize=8)
    ticks = np.arange(-CLIP, CLIP + 1)
    bar = fig.colorbar(image, ax=ax, ticks=ticks, fraction=0.04)
    bar.ax.set_yticklabels([f"{2.0 ** t:g}×" for t in ticks], fontsize=7)
    bar.set_label("speedup in steps to target (baseline / method)", fontsize=8)
    ax.set_title("Speedup against each task's baseline; ▲/▼ significantly faster/slower (sign test, adjusted)",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
