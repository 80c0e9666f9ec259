"""The page's "Accelerator settings" table: which variant each accelerator label ran, as its
records resolved it (its preset and every setting), so that a bare label such as ``egd``
is named on the page (scope=all: the sparse-parity log's variant, not the paper code's
first-layer whitening, ``egd:first``). Pure: rows from the results frame."""

from __future__ import annotations

from typing import Any

from ..variants import format_value


def _part_text(part: dict[str, Any]) -> str:
    """``egd (scope=all, include=auto, ...)``, or ``egd:first (...)`` with a preset."""
    name = f"{part['name']}:{part['preset']}" if part.get("preset") else part["name"]
    settings = ", ".join(f"{k}={format_value(v)}" for k, v in (part.get("params") or {}).items())
    return f"{name} ({settings})" if settings else name


def accelerator_settings_rows(frame) -> list[dict[str, str]]:
    """One row per (method label, resolved accelerator settings), with the tasks it ran on;
    methods without accelerators (base optimizers alone) are left out."""
    groups: dict[tuple[str, str], list[str]] = {}
    for row in frame.to_dict(orient="records") if len(frame) else []:
        parts = row.get("transforms") or []
        if not isinstance(parts, list) or not parts:
            continue
        key = (row["method"], "; ".join(_part_text(p) for p in parts))
        tasks = groups.setdefault(key, [])
        if row["task_label"] not in tasks:
            tasks.append(row["task_label"])
    return [{"method": f"`{m}`", "accelerators as run": text, "tasks": ", ".join(tasks)}
            for (m, text), tasks in sorted(groups.items())]
