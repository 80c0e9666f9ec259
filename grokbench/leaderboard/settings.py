"""The page's "Accelerator settings" table: which variant each accelerator label ran, as its
records resolved it (its preset and every setting), so that a bare label such as ``egd``
is named on the page (scope=all: the sparse-parity log's variant, not the paper code's
first-layer whitening, ``egd:first``), and what each preset that ran stands for (its
registered one-line description). Rows from the results frame and the registry."""

from __future__ import annotations

from typing import Any

from .. import registry
from ..errors import UserError
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


def preset_lines(frame) -> list[str]:
    """``- `neuralgrok:paper_text`: the paper's text: c 1, ...`` for each method preset the
    records ran, sorted; a preset the registry no longer knows says so."""
    used: set[tuple[str, str]] = set()
    for parts in frame["transforms"] if len(frame) and "transforms" in frame.columns else []:
        for part in parts if isinstance(parts, list) else []:
            if part.get("preset"):
                used.add((part["name"], part["preset"]))
    return [f"- `{name}:{preset}`: {_preset_description(name, preset)}" for name, preset in sorted(used)]


def _preset_description(name: str, preset: str) -> str:
    try:
        found = registry.get_method(name).presets.get(preset)
    except UserError:  # a method from a plugin file this process has not loaded
        found = None
    return found.description if found else "(not registered in this installation)"
