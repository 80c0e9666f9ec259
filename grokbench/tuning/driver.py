"""The tuning study: proposals for every (task, method), their trials as an ordinary plan,
then the selection and its files.

``build_study`` resolves everything up front (a bad name exits 2 before anything trains).
The trials run through the normal executor and store (``grokbench.api.execute``), so a
study resumes like ``grokbench run``. ``conclude`` reads the study's records, applies the
one rule of ``selection`` to every (task, method) and writes:

  DIR/tuned.json   the chosen configuration of each (task, method) and the budget
  DIR/tuning.md    every configuration tried, one table per (task, method)
  DIR/tuning.csv   the same, one row per configuration
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..limits import MAX_TRIALS, check_trials
from ..plan import Plan, parse_seeds
from ..record import identity_key
from ..schema import (
    Field,
    Schema,
    an_object,
    any_of,
    boolean,
    check,
    check_each,
    dict_of,
    integer,
    list_of,
    null,
    number,
    one_of,
    text,
)
from ..spec import (
    Overrides,
    TaskSpec,
    check_override_names,
    check_overrides_used,
    expand_methods,
    expand_tasks,
    resolve_method,
    resolve_task,
    trial_identity,
)
from ..store import Store, atomic_write_text
from .proposals import Proposal, propose
from .selection import RULE, Outcome, outcome, select

TUNE_SEED_BASE = 1000
DEFAULT_TUNE_SEEDS = "1000-1002"
TUNED_FILE = "tuned.json"
FORMAT = "grokbench-tuned/1"
SEARCH = "scrambled Sobol (scipy.stats.qmc), seeded by (task, method)"


@dataclass(frozen=True)
class Study:
    """Every proposal of a tuning command and the plan that trains them."""

    proposals: tuple[Proposal, ...]
    plan: Plan
    trials: int
    overrides: tuple[str, ...]

    def groups(self) -> dict[tuple[str, str], list[Proposal]]:
        """Proposals by (task label, method label), in proposal order."""
        out: dict[tuple[str, str], list[Proposal]] = {}
        for p in self.proposals:
            out.setdefault((p.task.label, p.method), []).append(p)
        return out


def build_study(tasks: str, methods: str, trials: int, tune_seeds: str, overrides: Overrides,
                override_text: tuple[str, ...] = (), after_solve: int = 0, device: str = "cpu",
                plugin_files: tuple[str, ...] = (), max_trials: int = MAX_TRIALS) -> Study:
    """Resolve every task, method and proposal: ``trials`` quasi-random configurations per
    (task, method), and the method as labelled. A study of more than ``max_trials``
    trials (the baselines counted) is refused before anything is proposed."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise UserError(f"--trials must be a whole number >= 1; got {trials!r}")
    if after_solve < 0:
        raise UserError("--after-solve must be >= 0")
    check_override_names(overrides)
    seeds = parse_tune_seeds(tune_seeds)
    task_labels = expand_tasks(tasks)
    per_label = len(task_labels) * (trials + 1) * len(seeds)
    check_trials(per_label, max_trials, f"--trials {trials} (x {len(task_labels)} task(s) x {len(seeds)} tuning seed(s))")
    labels = expand_methods(methods, per_label, max_trials)
    check_trials(per_label * (len(labels) + 1), max_trials,
                 f"--trials {trials} (x tasks x methods and their baselines x --tune-seeds)")
    task_specs = [resolve_task(label, overrides) for label in task_labels]
    proposals: dict[tuple[str, str, int], Proposal] = {}
    for task in task_specs:
        for label in with_baseline(labels, task, overrides):
            for p in propose(label, task, overrides, trials):
                proposals.setdefault((task.label, p.method, p.index), p)
    check_overrides_used(overrides, task_specs, [p.spec for p in proposals.values()])
    pairs = {(p.task.label, p.label): (p.task, p.spec) for p in proposals.values()}
    plan = Plan(tuple(pairs.values()), tuple(seeds), after_solve, device, plugin_files)
    return Study(tuple(proposals.values()), plan, trials, override_text)


def parse_tune_seeds(text: str) -> list[int]:
    """As ``--seeds``, except that a bare count N is N seeds from TUNE_SEED_BASE (``3`` ->
    1000, 1001, 1002), away from the report seeds 0..N-1."""
    text = str(text).strip()
    if text.isdigit():
        return [TUNE_SEED_BASE + s for s in parse_seeds(text, "--tune-seeds")]
    return parse_seeds(text, "--tune-seeds")


def with_baseline(labels: list[str], task: TaskSpec, overrides: Overrides) -> list[str]:
    """``labels`` with the task's baseline first where they do not name it: the baseline is
    tuned with the same budget, and ``run --tuned`` compares against it."""
    baseline = resolve_method(labels[0], task, overrides).baseline if labels else ""
    return labels if not baseline or baseline in labels else [baseline, *labels]


def _outcomes(study: Study, group: list[Proposal], by_key: dict[str, Any]) -> list[Outcome]:
    out = []
    for p in group:
        keys = [identity_key(trial_identity(p.task, p.spec, s, study.plan.after_solve)) for s in study.plan.seeds]
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise UserError(f"{len(missing)} tuning trial(s) of {p.task.label} / {p.label} have no record yet "
                            f"(interrupted, or held by another run); re-run the same command to finish them")
        out.append(outcome(p.index, p.label, [by_key[k] for k in keys]))
    return out


def conclude(study: Study, store: Store) -> dict[str, Any]:
    """Select a configuration for every (task, method), write the study's files, return
    the content of tuned.json."""
    by_key = {r.key: r for r in store.records()}
    selected, tables = [], []
    for (task_label, method), group in study.groups().items():
        outcomes = _outcomes(study, group, by_key)
        best = select(outcomes, default_index=next((p.index for p in group if p.label == method), None))
        chosen = next(p for p in group if p.index == best.index)
        selected.append(_entry(study, chosen, best))
        tables.append((task_label, method, group, outcomes, best.index))
    data = {
        "format": FORMAT, "trials": study.trials, "with_default": True, "tune_seeds": list(study.plan.seeds),
        "rule": RULE,
        "search": SEARCH, "after_solve": study.plan.after_solve, "overrides": list(study.overrides),
        "selected": selected,
    }
    atomic_write_text(store.root / TUNED_FILE, json.dumps(data, indent=1, default=str) + "\n")
    atomic_write_text(store.root / "tuning.md", tuning_markdown(data, tables))
    atomic_write_text(store.root / "tuning.csv", tuning_csv(tables))
    return data


def _entry(study: Study, chosen: Proposal, best: Outcome) -> dict[str, Any]:
    return {
        "task": chosen.task.label, "method": chosen.method, "config": chosen.label, "index": chosen.index,
        "median_steps": best.median_steps if math.isfinite(best.median_steps) else None,
        "solved": best.solved, "seeds": len(best.steps), "values": chosen.values,
        "space": chosen.space, "task_params": chosen.task.params,
        "optimizer": asdict(chosen.spec.optimizer), "transforms": [asdict(t) for t in chosen.spec.transforms],
    }


def _steps(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else "> budget"


def tuning_markdown(data: dict[str, Any], tables: list) -> str:
    """Every configuration tried, one table per (task, method), the chosen one marked."""
    seeds = data["tune_seeds"]
    lines = [
        "# Tuning", "",
        f"- budget: {data['trials']} quasi-random configuration(s) per (task, method) and the method's own "
        f"(its defaults, the last index), each on tuning seeds "
        f"{', '.join(map(str, seeds))}",
        f"- search: {data['search']}", f"- selection: {data['rule']}", "",
    ]
    for (task, method, group, outcomes, chosen), entry in zip(tables, data["selected"]):
        lines += [f"## {task} / {method}", "", "space: " + ("; ".join(f"{k} {v}" for k, v in entry["space"].items())
                                                           or "nothing to tune (one configuration)"), "",
                  "| # | configuration | solved | median steps | statuses | chosen |", "|---|---|---|---|---|---|"]
        for p, o in zip(group, outcomes):
            lines.append(f"| {p.index} | `{p.label}` | {o.solved}/{len(o.steps)} | {_steps(o.median_steps)} | "
                         f"{', '.join(o.statuses)} | {'**yes**' if p.index == chosen else ''} |")
        lines.append("")
    return "\n".join(lines)


def tuning_csv(tables: list) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "method", "index", "configuration", "solved", "seeds", "median_steps", "chosen"])
    for task, method, group, outcomes, chosen in tables:
        for p, o in zip(group, outcomes):
            median = o.median_steps if math.isfinite(o.median_steps) else ""
            writer.writerow([task, method, p.index, p.label, o.solved, len(o.steps), median, int(p.index == chosen)])
    return buffer.getvalue()


TUNED_FIELDS: Schema = {
    "format": Field(one_of(FORMAT)),
    "trials": Field(integer(lo=1)),
    "with_default": Field(boolean, required=False),
    "tune_seeds": Field(list_of(integer(lo=0), min_items=1)),
    "rule": Field(text, required=False),
    "search": Field(text, required=False),
    "after_solve": Field(integer(lo=0), required=False),
    "overrides": Field(list_of(text), required=False),
    "selected": Field(list_of(an_object)),
}
SELECTED_FIELDS: Schema = {
    "task": Field(text), "method": Field(text), "config": Field(text), "index": Field(integer(lo=0)),
    "median_steps": Field(any_of(number(lo=0), null), required=False),
    "solved": Field(integer(lo=0), required=False), "seeds": Field(integer(lo=0), required=False),
    "values": Field(an_object, required=False), "space": Field(dict_of(text), required=False),
    "task_params": Field(an_object), "optimizer": Field(an_object), "transforms": Field(list_of(an_object)),
}


def read_tuned(folder: str | Path) -> dict[str, Any]:
    """DIR/tuned.json, checked against ``TUNED_FIELDS`` and ``SELECTED_FIELDS`` (and each
    index within the budget, each (task, method) once); a missing, foreign or malformed
    file is a UserError naming the file and the field."""
    path = Path(folder) / TUNED_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--tuned {folder}: no {TUNED_FILE} there; run `grokbench tune ... --out {folder}` first") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"--tuned {folder}: cannot read {path}: {exc}") from None
    where = f"--tuned {folder}: {path}"
    check(data, TUNED_FIELDS, where)
    seen = set()
    for i, entry in enumerate(check_each(data["selected"], SELECTED_FIELDS, where, "selected")):
        if entry["index"] > data["trials"]:
            raise UserError(f"{where}: selected[{i}].index must be <= trials ({data['trials']}); got {entry['index']}")
        pair = (entry["task"], entry["method"])
        if pair in seen:
            raise UserError(f"{where}: selected[{i}] is a second entry for {pair[0]} / {pair[1]}")
        seen.add(pair)
    return data
