"""The tuning-curve figure of each task of a tuned page: ``<task>_tuning_curve.png``.

For every tuned method of the task, the median steps to target of the configuration the
tuning rule would choose from its defaults and the first k of its K draws (k = 0, 1, 2, 4,
..., K; ``grokbench.tuning.curves``), over random orders of the draws, with the band
between their 10th and 90th percentiles. The numbers are the study's own (its tuned.json),
the same as the table in its tuning.md. A value beyond the budget is drawn at the top edge,
open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .figures import method_colors, slug
from .png import save_figure

SUFFIX = "_tuning_curve.png"


@dataclass(frozen=True)
class TuningCurveFigure:
    """One task's tuning-curve figure (a file name relative to the leaderboard folder), or
    the error that stopped it."""

    path: str | None = None
    error: str | None = None


def write_tuning_curves(frame, outdir: Path) -> dict[str, TuningCurveFigure]:
    """One figure per task whose tuned records' studies kept curves (``study_curves``);
    {} for a page without tuned records."""
    from ..tuning import study_curves

    if frame is None or not len(frame) or "tuned" not in frame.columns:
        return {}
    curves = study_curves(frame.to_dict(orient="records"))
    if not curves:
        return {}
    import matplotlib

    matplotlib.use("Agg")
    outdir.mkdir(parents=True, exist_ok=True)
    out = {}
    for label, by_method in curves.items():
        name = f"{slug(label)}{SUFFIX}"
        try:
            plot_tuning_curves(label, by_method, outdir / name)
        except Exception as exc:  # a figure must never lose the tables
            out[label] = TuningCurveFigure(error=f"{type(exc).__name__}: {exc}")
        else:
            out[label] = TuningCurveFigure(name)
    return out


def _position(k: int) -> float:
    """x of k draws: log2 spacing, k = 0 (the defaults alone) one step left of k = 1."""
    return math.log2(k) + 1 if k > 0 else 0.0


def plot_tuning_curves(label: str, by_method: dict[str, list[Any]], path: Path) -> None:
    """The curves of one task's studies (method -> ``CurvePoint``s) into ``path``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.4), dpi=110)
    finite = [v for pts in by_method.values() for p in pts for v in (p.median, p.p10, p.p90) if math.isfinite(v)]
    top = max(finite) * 1.3 if finite else 1.0
    ks = sorted({p.k for pts in by_method.values() for p in pts})
    for color, (method, points) in zip(method_colors(len(by_method)), sorted(by_method.items())):
        x = [_position(p.k) for p in points]
        clip = [min(v, top) for v in (p.median for p in points)]
        ax.plot(x, clip, color=color, lw=1.8, marker="o", ms=4, label=method)
        ax.fill_between(x, [min(p.p10, top) for p in points], [min(p.p90, top) for p in points], color=color,
                        alpha=0.18, lw=0)
        beyond = [(xi, top) for xi, p in zip(x, points) if not math.isfinite(p.median)]
        if beyond:
            ax.scatter(*zip(*beyond), facecolors="none", edgecolors=color, s=50, zorder=3)
    ax.set_xticks([_position(k) for k in ks])
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("k: configurations drawn besides the defaults (random orders of the K draws)")
    ax.set_ylabel("median steps to target of the choice")
    if finite and max(finite) / max(min(finite), 1) > 10:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{label}: tuning curve (median over orders, 10th-90th percentile band; "
                 "open at the top: beyond the budget)", fontsize=9)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
