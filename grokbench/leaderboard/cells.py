"""Per-cell pages: one markdown page per (task, method) of a leaderboard, linked from every
number of the page's main tables.

``OUTDIR/cells/<task>/<method>.md`` holds the cell's row of the main table, its settings,
per seed its status, steps and epochs to target, first crossing, relapses, stable-window
fields and seconds, with a relative link to the seed's record file; and, unless figures
are off, ``<method>_curves.png`` beside it: test accuracy against steps, one line per seed.

File and folder names are plain and collision-free whatever the labels hold
(:func:`.links.cell_names`). The caller writes the files into the staging folder
(``write_cell_pages``) and lists them in the page's manifest (:mod:`.output`); the page
links cells through :func:`.links.link_cells`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import stats as st
from .format import fmt_num
from .links import cell_names
from .markdown import anchor, md_table
from .output import PAGE, printable
from .png import save_figure
from .rows import main_rows


@dataclass(frozen=True)
class CellPages:
    """What ``write_cell_pages`` wrote: per task and method the page's path (relative to
    the page's folder), and every file written, pages and figures."""

    links: dict[str, dict[str, str]]
    files: list[str] = field(default_factory=list)


def write_cell_pages(frame, analysis: Mapping[str, st.TaskStats], staged: Path, results_dir: Path,
                     outdir: Path, figures: bool = True) -> CellPages:
    """Every cell's page (and curve figure with ``figures``) into ``staged``/cells/;
    record links are relative to where the page will be, ``outdir``/cells/<task>/.
    ``frame``: the trials behind ``analysis`` with curves, metrics recomputed from them
    (``metrics.with_curve_metrics``)."""
    links = cell_names(analysis)
    dframe = st.disambiguate(frame) if len(frame) else frame
    files = []
    for label, ts in analysis.items():
        table = {row["method"]: row for row in main_rows(ts)}
        task_rows = dframe[dframe["task_label"] == label] if len(dframe) else dframe
        for method, page in links[label].items():
            rows = task_rows[task_rows["method"] == method].to_dict(orient="records")
            rows.sort(key=lambda r: int(r["seed"]))
            path = staged / page
            path.parent.mkdir(parents=True, exist_ok=True)
            figure = _figure(rows, label, method, path, ts) if figures else None
            records_from = os.path.relpath(results_dir.resolve(), (outdir / page).parent.resolve())
            text = cell_page(label, method, ts, rows, table.get(method), figure, records_from)
            path.write_text(printable(text), encoding="utf-8")
            files.append(page)
            if figure is not None and figure.endswith(".png"):
                files.append(f"{Path(page).parent.as_posix()}/{figure}")
    return CellPages(links, files)


def _figure(rows: list[dict], label: str, method: str, path: Path, ts: st.TaskStats) -> str:
    """The curve figure's file name beside the page (``*.png``), or a note why there is none."""
    name = f"{path.stem}_curves.png"
    target = _first_number(r.get("target") for r in rows)
    try:
        plot_seed_curves(rows, f"{label} / {method}", path.parent / name, target,
                         ts.methods[method].sample.steps_per_epoch if method in ts.methods else None)
    except Exception as exc:  # a figure must never lose the page
        return f"_figure failed: {type(exc).__name__}: {exc}_"
    return name


def _first_number(values) -> float | None:
    return next((float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)), None)


def plot_seed_curves(rows: list[dict], title: str, path: Path, target: float | None,
                     steps_per_epoch: float | None = None) -> None:
    """Test accuracy against steps (log scale, step 0 left out), one line per seed, into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import accuracy_axes, method_colors

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=90)
    colors = method_colors(len(rows))
    drawn = 0
    for color, row in zip(colors, rows):
        curve = row.get("curve") if isinstance(row.get("curve"), dict) else {}
        steps, acc = curve.get("step") or [], curve.get("test_acc") or []
        points = [(s, a) for s, a in zip(steps, acc) if s and s > 0 and a is not None]
        if points:
            ax.plot(*zip(*points), color=color, lw=1.0, alpha=0.8, label=f"seed {row['seed']} ({row['status']})")
            drawn += 1
    accuracy_axes(ax, target, steps_per_epoch, "test accuracy")
    ax.set_title(f"{title}: test accuracy per seed (dotted: target)", fontsize=9)
    if 0 < drawn <= 16:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


# ------------------------------------------------------------------------ the page

SEED_COLUMNS = ("seed", "status", "steps to target", "epochs to target", "first crossing (steps)", "relapses",
                "collapsed after window", "window (evals)", "train s", "s to target", "record")
SETTINGS_SKIP = ("curve",)


def cell_page(label: str, method: str, ts: st.TaskStats, rows: list[dict[str, Any]],
              main_row: dict[str, str] | None, figure: str | None, records_from: str) -> str:
    """One cell's page (pure). ``rows``: its trials (load_frame rows with curves, sorted by
    seed); ``main_row``: its row of the main table; ``figure``: the curve figure's file name
    (or a note why there is none; None: figures off); ``records_from``: the results folder
    relative to the page's folder."""
    back = f"../../{PAGE}#{anchor(label)}"
    out = [f"# {label} / {method}", "",
           f"One cell of the [leaderboard]({back}): every seed of `{method}` on `{label}`, its settings "
           "and its record files. Steps to target are censoring-aware in the main table: a seed that did "
           "not get there counts as slower than every solved one.", ""]
    if main_row is not None:
        out += ["## In the main table", "", md_table([main_row]), ""]
    if figure is not None:
        out += [f"![{label} / {method}: test accuracy per seed]({figure})" if figure.endswith(".png") else figure, ""]
    out += ["## Seeds", "", md_table([_seed_row(r, records_from) for r in rows], right=SEED_COLUMNS[2:-1]), ""]
    out += ["## Settings", "", md_table(settings_rows(rows[0] if rows else {})), ""]
    return "\n".join(out) + "\n"


def _seed_row(row: dict[str, Any], records_from: str) -> dict[str, str]:
    unstable = row.get("unstable")
    record = row.get("record_file") or ""
    link = f"[{Path(record).name}]({Path(records_from, record).as_posix()})" if record else "–"
    return dict(zip(SEED_COLUMNS, (
        str(row.get("seed")), str(row.get("status")), _num(row.get("solve_step")), _num(row.get("solve_epoch")),
        _num(row.get("first_cross_step")), _num(row.get("relapses")),
        "–" if unstable is None or _nan(unstable) else ("yes" if unstable else "no"),
        _num(row.get("stable_window_evals")), _num(row.get("train_time_s")),
        _num(_first_number([row.get("calibrated_time_to_target_s")]) or row.get("time_to_target_s")), link)))


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _num(value: Any) -> str:
    if value is None or _nan(value):
        return "–"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return fmt_num(value)


def settings_rows(row: dict[str, Any]) -> list[dict[str, str]]:
    """The cell's configuration (the same for every seed of a cell): task parameters,
    optimizer and its parameters, transforms and theirs, budget, tuning."""
    import pandas as pd

    from ..export import export_frame

    if not row:
        return []
    flat = export_frame(pd.DataFrame([{k: v for k, v in row.items() if k not in SETTINGS_SKIP}])).iloc[0].to_dict()
    wanted = [k for k in flat if k.startswith(("task.", "optimizer", "transforms", "tuned.")) or "." in k
              or k in ("budget_steps", "budget_epochs", "steps_per_epoch", "eval_every", "batch_size", "target",
                       "base", "baseline", "control", "tuned_from")]
    return [{"setting": k, "value": f"`{flat[k]}`"} for k in wanted if flat[k] is not None and not _nan(flat[k])]
