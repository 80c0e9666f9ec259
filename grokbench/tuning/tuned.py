"""Running tuned configurations: ``grokbench run --tuned DIR``.

Each (task, method) of the plan runs the configuration DIR/tuned.json selected for it,
under the method's own label: a tuned ``egd`` is ``egd`` in the records, statistics and
leaderboard, so rows line up across tasks (each task's configuration differs) and the
tuned base optimizer is the baseline the tuned accelerators are compared with. The
record's identity carries ``tuned``: the configuration, its index, K, the tuning seeds,
the search space and the tuning folder. The leaderboard states the budget through
``provenance_rows``.

Refused (exit 2): report seeds that overlap the tuning seeds; a (task, method) the folder
did not tune; settings (``--set``) under which the configuration resolves differently from
the tuning; a results folder already holding records of the same (task, method) label
with another configuration (tuned or not): one label means one configuration per folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..plan import Plan
from ..spec import MethodSpec, Overrides, TaskSpec, resolve_method
from ..store import Store
from .driver import read_tuned
from .space import RANGE_SEPARATOR


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples become lists), for comparing with tuned.json."""
    return json.loads(json.dumps(value, default=str))


def tuned_method(entry: dict[str, Any], data: dict[str, Any], folder: str, task: TaskSpec,
                 method: MethodSpec, overrides: Overrides) -> MethodSpec:
    """``method`` on ``task`` at the configuration ``entry`` selected, under its own label."""
    spec = resolve_method(entry["config"], task, overrides)
    resolved = {"task_params": task.params, "optimizer": asdict(spec.optimizer),
                "transforms": [asdict(t) for t in spec.transforms]}
    for name, value in resolved.items():
        if _plain(value) != _plain(entry.get(name)):
            given = " ".join(f"--set {o}" for o in data.get("overrides") or []
                             if RANGE_SEPARATOR not in o.partition("=")[2]) or "no --set"  # ranges: tune's own
            raise UserError(f"--tuned {folder}: {task.label} / {method.label} resolves to other "
                            f"{name.replace('_', ' ')} than when it was tuned; use the tuning's settings ({given})")
    tuned = {"config": spec.label, "index": entry["index"], "trials": data["trials"],
             "tune_seeds": list(data["tune_seeds"]), "space": entry.get("space", {})}
    if data.get("with_default"):
        tuned["with_default"] = True
    return replace(spec, label=method.label, parts=method.parts, tuned=tuned, tuned_from=folder)


def apply_tuned(plan: Plan, folder: str | Path, overrides: Overrides) -> Plan:
    """``plan`` with every method replaced by its tuned configuration from ``folder``."""
    folder = str(folder)
    data = read_tuned(folder)
    overlap = sorted(set(plan.all_seeds) & set(data["tune_seeds"]))
    if overlap:
        raise UserError(f"--seeds overlap the tuning seeds of {folder} ({', '.join(map(str, overlap[:5]))}); "
                        f"report on other seeds")
    table = {(e["task"], e["method"]): e for e in data["selected"]}
    pairs = []
    for task, method in plan.pairs:
        entry = table.get((task.label, method.label))
        if entry is None:
            tuned = ", ".join(f"{t} / {m}" for t, m in table) or "nothing"
            raise UserError(f"--tuned {folder} has no configuration for {task.label} / {method.label} "
                            f"(it tuned: {tuned})")
        pairs.append((task, tuned_method(entry, data, folder, task, method, overrides)))
    return replace(plan, pairs=tuple(pairs))


def check_folder(plan: Plan, store: Store) -> None:
    """Refuse a results folder holding a (task, method) label of the plan at another
    configuration (tuned against untuned, or tuned elsewhere)."""
    wanted = {(t.label, m.label): _plain(m.tuned) for t, m in plan.pairs}
    for record in store.records():
        have = (record.task_label, record.identity["method"])
        if have in wanted and _plain(record.identity.get("tuned")) != wanted[have]:
            what = "tuned" if wanted[have] else "untuned"
            raise UserError(f"{store.root} already holds {have[0]} / {have[1]} at another configuration than this "
                            f"{what} run's; write it to its own --out folder")


def _tuned_entries(identities: Iterable[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any], str]]:
    """(task label, method label, tuned, tuning folder) of the rows that carry a ``tuned``
    dict; the folder is the row's ``tuned_from`` ('a folder not recorded' if none)."""
    return [(i["task"] + (f":{i['preset']}" if isinstance(i.get("preset"), str) else ""), i["method"], i["tuned"],
             i["tuned_from"] if isinstance(i.get("tuned_from"), str) else "a folder not recorded")
            for i in identities if isinstance(i.get("tuned"), dict)]


def study_curves(identities: Iterable[dict[str, Any]]) -> dict[str, dict[str, list]]:
    """Task label -> method label -> the tuning curve (``curves.CurvePoint``s) of the study
    each tuned method's configuration came from, read from its folder's tuned.json; a
    folder that is gone, or a study concluded before curves were kept, gives none."""
    from .curves import curve_from_json

    out: dict[str, dict[str, list]] = {}
    files: dict[str, dict[str, Any] | None] = {}
    for task, method, _, folder in _tuned_entries(identities):
        if folder not in files:
            try:
                files[folder] = read_tuned(folder)
            except UserError:
                files[folder] = None
        data = files[folder]
        entry = next((e for e in (data or {}).get("selected", []) if (e["task"], e["method"]) == (task, method)), None)
        if entry is None or not entry.get("curve") or method in out.get(task, {}):
            continue
        try:
            out.setdefault(task, {})[method] = curve_from_json(entry["curve"])
        except ValueError:
            continue
    return out


def provenance_rows(identities: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """The leaderboard header's rows for tuned records: the budget (K, tuning seeds,
    search, selection rule, folder and the tasks it tuned), the search spaces and a
    pointer to the selected configurations (``selected_rows``); [] when no record was
    tuned. Values are markdown. ``identities``: frame rows (``task``, ``preset``,
    ``method``, ``tuned`` and ``tuned_from``, the folder each record was tuned from)."""
    from .driver import SEARCH
    from .selection import RULE

    tuned = _tuned_entries(identities)
    if not tuned:
        return []
    budgets: dict[tuple, list[str]] = {}
    spaces: dict[str, str] = {}
    for task, _, t, folder in tuned:
        key = (t["trials"], bool(t.get("with_default")), _seed_text(t["tune_seeds"]), folder)
        budgets.setdefault(key, [])
        if task not in budgets[key]:
            budgets[key].append(task)
        spaces.update(t.get("space") or {})
    and_defaults = " and each method's defaults"
    budget = "; ".join(f"K = {k} quasi-random configurations per (task, method){and_defaults if d else ''} "
                       f"on tuning seeds {s}, from `{f}` ({', '.join(tasks)})"
                       for (k, d, s, f), tasks in sorted(budgets.items()))
    pairs = {(task, method): t for task, method, t, _ in tuned}
    at_defaults = sum(_which(t) == "its defaults" for t in pairs.values())
    return [
        ("tuning", f"{budget}; search: {SEARCH}; selection: {RULE}"),
        ("search spaces", "; ".join(f"{k} {v}" for k, v in sorted(spaces.items())) or "none"),
        ("tuned settings", f"{len(pairs)} (task, method) pairs, {at_defaults} of them at the method's defaults: "
                           "[Tuned configurations](#tuned-configurations)"),
    ]


def selected_rows(identities: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """The selected configurations as table rows (task, method, configuration, and which
    of the tried ones it is), sorted by task and method; [] when no record was tuned."""
    pairs = {(task, method): t for task, method, t, _ in _tuned_entries(identities)}
    return [{"task": task, "method": f"`{method}`", "configuration": f"`{t['config']}`", "selected": _which(t)}
            for (task, method), t in sorted(pairs.items())]


def _which(tuned: dict[str, Any]) -> str:
    """'configuration 3 of 8', or 'the defaults' for the method's own configuration."""
    if tuned.get("with_default") and tuned["index"] == tuned["trials"]:
        return "its defaults"
    if tuned["index"] > tuned["trials"]:
        return f"configuration {tuned['index']} (of a widened range)"
    return f"configuration {tuned['index']} of {tuned['trials']}"


def _seed_text(seeds: list[int]) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds[-1] - seeds[0] == len(seeds) - 1 and len(set(seeds)) == len(seeds):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))
