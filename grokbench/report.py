"""Per-trial reports: json carries every summary column (grokbench.record.SUMMARY_COLUMNS),
the table a readable subset (TABLE_COLUMNS); CSV and Parquet with every metric and setting
flattened are grokbench.export's. The per-task tables printed after a run and
the markdown leaderboard live in grokbench.leaderboard (statistics in grokbench.stats)."""

from __future__ import annotations

import json
import math
from typing import Any

from .record import SUMMARY_COLUMNS


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


TABLE_COLUMNS = [
    "task", "preset", "method", "seed", "status", "fit_step", "t90_step", "t95_step", "first_cross_step",
    "solve_step", "relapses", "solve_epoch", "plateau_epochs", "time_to_target_s",
]


def report_rows(frame) -> list[dict[str, Any]]:
    """One dict per trial: the summary columns plus preset and resolved parameters. A frame
    with curves gets its metrics recomputed from them (grokbench.metrics.with_curve_metrics),
    so records written before a metric existed have it too."""
    from .metrics import with_curve_metrics

    rows = []
    for rec in with_curve_metrics(frame).to_dict(orient="records"):
        row = {c: _clean(rec.get(c)) for c in SUMMARY_COLUMNS}
        row.update({
            "task_params": _clean(rec.get("task_params")),
            "optimizer": rec.get("optimizer"),
            "optimizer_params": _clean(rec.get("optimizer_params")),
            "transforms": _clean(rec.get("transforms")),
            "budget_steps": _clean(rec.get("budget_steps")),
            "budget_epochs": _clean(rec.get("budget_epochs")),
            "error": _clean(rec.get("error")),
        })
        rows.append(row)
    return rows


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite numbers (pandas' missing NaN, inf) -> None, numpy scalars ->
    Python numbers, through nested dicts and lists (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_report(frame, fmt: str) -> str:
    """The trials of ``frame`` as ``fmt``: 'json' (strict JSON) or 'table' (text)."""
    rows = report_rows(frame)
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str, allow_nan=False)
    from tabulate import tabulate

    table = [{c: _fmt(r[c], 3) if isinstance(r[c], float) else _fmt(r[c]) for c in TABLE_COLUMNS} for r in rows]
    return tabulate(table, headers="keys", tablefmt="simple")
