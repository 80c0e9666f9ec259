"""Per-trial reports (table/json/csv). The per-task tables printed after a run and the
markdown leaderboard live in grokbench.leaderboard (statistics in grokbench.stats)."""

from __future__ import annotations

import io
import json
import math
from typing import Any

from .store import SUMMARY_COLUMNS


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def report_rows(frame) -> list[dict[str, Any]]:
    """One dict per trial: the summary columns plus preset and resolved parameters."""
    rows = []
    for rec in frame.to_dict(orient="records"):
        row = {c: _clean(rec.get(c)) for c in SUMMARY_COLUMNS}
        row.update({
            "task_params": rec.get("task_params"),
            "optimizer": rec.get("optimizer"),
            "optimizer_params": rec.get("optimizer_params"),
            "transforms": rec.get("transforms"),
            "budget_steps": _clean(rec.get("budget_steps")),
            "budget_epochs": _clean(rec.get("budget_epochs")),
            "error": _clean(rec.get("error")),
        })
        rows.append(row)
    return rows


def _clean(value: Any) -> Any:
    """NaN (pandas' missing) -> None, numpy scalars -> Python numbers."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def render_report(frame, fmt: str) -> str:
    rows = report_rows(frame)
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str)
    if fmt == "csv":
        import csv

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else SUMMARY_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()})
        return buf.getvalue()
    from tabulate import tabulate

    table = [{c: _fmt(r[c], 3) if isinstance(r[c], float) else _fmt(r[c]) for c in SUMMARY_COLUMNS} for r in rows]
    return tabulate(table, headers="keys", tablefmt="simple")
