"""The tuning study: proposals for every (task, method), their trials as an ordinary plan,
then the selection and its files.

``build_study`` resolves everything up front (a bad name exits 2 before anything trains).
The trials run through the normal executor and store (``grokbench.api.execute``), so a
study resumes like ``grokbench run``. ``conclude`` reads the study's records, applies the
one rule of ``selection`` to every (task, method) and writes:

  DIR/tuned.json   the chosen configuration of each (task, method), the budget, and each
                   study's tuning curve (``curve``: drawn on the page of a tuned run)
  DIR/tuning.md    every configuration tried, one table per (task, method), and its tuning
                   curve (``curves``)
  DIR/tuning.csv   the same, one row per configuration
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
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
    split_task_label,
    trial_identity,
)
from ..store import Store, atomic_write_text
from .curves import curve_json, curve_lines, tuning_curve
from .proposals import Proposal, propose, split_ranges
from .selection import RULE, Outcome, outcome, select
from .space import at_edge

TUNE_SEED_BASE = 1000
TUNED_FILE = "tuned.json"
FORMAT = "grokbench-tuned/1"
SEARCH = ("scrambled Sobol (scipy.stats.qmc), one sequence per task: configuration i of every method is its "
          "point i, settings shared by name (lr, weight_decay, momentum) on shared coordinates")


@dataclass(frozen=True)
class TuningStudy:
    """Every proposal of a tuning command and the plan that trains them."""

    proposals: tuple[Proposal, ...]
    plan: Plan
    trials: int
    overrides: tuple[str, ...]
    ranges: dict[str, str] = field(default_factory=dict)  # settings searched over other than declared ranges

    @property
    def widening(self) -> int:
        """How far configuration indices go past the defaults' (``trials``): points that
        cover a range widened (``proposals``), 0 when none."""
        return max((p.index for p in self.proposals), default=0) - self.trials if self.proposals else 0

    def groups(self) -> dict[tuple[str, str], list[Proposal]]:
        """Proposals by (task label, method label), in proposal order."""
        out: dict[tuple[str, str], list[Proposal]] = {}
        for p in self.proposals:
            out.setdefault((p.task.label, p.method), []).append(p)
        return out


def build_study(tasks: str, methods: str, trials: int, tune_seeds: str, overrides: Overrides,
                override_text: tuple[str, ...] = (), after_solve: int = 0, device: str = "cpu",
                plugin_files: tuple[str, ...] = (), max_trials: int = MAX_TRIALS) -> TuningStudy:
    """Resolve every task, method and proposal: ``trials`` quasi-random configurations per
    (task, method), and the method as labelled. A study of more than ``max_trials``
    trials (the baselines counted) is refused before anything is proposed."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise UserError(f"--trials must be a whole number >= 1; got {trials!r}")
    if after_solve < 0:
        raise UserError("after_solve must be >= 0")
    overrides, ranges = split_ranges(overrides)
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
            for p in propose(label, task, overrides, trials, ranges):
                proposals.setdefault((task.label, p.method, p.index), p)
    check_overrides_used(overrides, task_specs, [p.spec for p in proposals.values()])
    check_ranges_used(ranges, proposals.values())
    check_trials(len(proposals) * len(seeds), max_trials, "the study's configurations x --tune-seeds")
    pairs = {(p.task.label, p.label): (p.task, p.spec) for p in proposals.values()}
    plan = Plan(tuple(pairs.values()), tuple(seeds), after_solve, device, plugin_files)
    return TuningStudy(tuple(proposals.values()), plan, trials, override_text, _described(ranges, proposals.values()))


def check_ranges_used(ranges: dict[str, Any], proposals: Any) -> None:
    """Every search range given must be searched by some method of the study."""
    searched = {name for p in proposals for name in p.space}
    unused = sorted(set(ranges) - searched)
    if unused:
        raise UserError(f"--set {unused[0]}=LO..HI: no method of this study searches {unused[0]}, so the range "
                        f"would change nothing (searched: {', '.join(sorted(searched)) or 'nothing'})")


def _described(ranges: dict[str, Any], proposals: Any) -> dict[str, str]:
    """The ranges a study searches other than declared, as described in its tables."""
    spaces = {name: text for p in proposals for name, text in p.space.items()}
    return {name: spaces[name] for name in sorted(ranges) if name in spaces}


def auto_trials(tasks: str) -> int:
    """K of ``--trials auto``: the largest ``tuning_trials`` of the tasks tuned together
    (each task plugin's, sized so that capping keeps the study within its compute: 32 on
    the sparse tasks, 16 on the transformer's; docs/tuning.md)."""
    from .. import registry

    return max(int(getattr(registry.get_task(split_task_label(label)[0]), "tuning_trials", 16))
               for label in expand_tasks(tasks))


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


def _group_records(study: TuningStudy, group: list[Proposal], by_key: dict[str, Any]) -> list[list[Any]]:
    """Each proposal's records on the tuning seeds (all of them, or a UserError)."""
    out = []
    for p in group:
        keys = [identity_key(trial_identity(p.task, p.spec, s, study.plan.after_solve)) for s in study.plan.seeds]
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise UserError(f"{len(missing)} tuning trial(s) of {p.task.label} / {p.label} have no record yet "
                            f"(interrupted, or held by another run); re-run the same command to finish them")
        out.append([by_key[k] for k in keys])
    return out


def effort(records: list[Any]) -> dict[str, Any]:
    """What training ``records`` took: trials, capped trials, training steps (each trial's
    last evaluated step) and in-loop training seconds."""
    steps = sum(int((r.curve.get("step") or [0])[-1]) for r in records)
    seconds = sum(float(r.metrics.get("train_time_s") or 0.0) for r in records)
    capped = [r for r in records if str(r.status) == "capped"]
    gave_up = [r for r in capped if r.metrics.get("capping_give_up") is not None]
    spared = sum(int(r.budget.get("budget_steps", 0)) - int(r.metrics.get("capped_step") or 0) for r in gave_up)
    return {"trials": len(records), "capped": len(capped), "steps": steps, "train_seconds": round(seconds, 3),
            "gave_up": len(gave_up), "gave_up_steps_spared": spared}


def edges(chosen: Proposal) -> list[str]:
    """The chosen values in the outer 5% of their range: ``["sgd.lr (high)"]``."""
    out = []
    for name, value in chosen.values.items():
        side = at_edge(chosen.dimensions[name], value) if name in chosen.dimensions else None
        if side:
            out.append(f"{name} ({side})")
    return out


def conclude(study: TuningStudy, store: Store, capping: bool = True, give_up: float | None = None) -> dict[str, Any]:
    """Select a configuration for every (task, method), write the study's files, return
    the content of tuned.json. ``capping``, ``give_up``: how the study ran (said in the
    files)."""
    by_key = {r.key: r for r in store.records()}
    selected, tables, spent = [], [], []
    for (task_label, method), group in study.groups().items():
        records = _group_records(study, group, by_key)
        outcomes = [outcome(p.index, p.label, rs) for p, rs in zip(group, records)]
        best = select(outcomes, default_index=next((p.index for p in group if p.label == method), None))
        chosen = next(p for p in group if p.index == best.index)
        default_index = next((p.index for p in group if p.label == method), None)
        selected.append({**_entry(study, chosen, best), "edge": edges(chosen),
                         "effort": effort([r for rs in records for r in rs]),
                         "curve": curve_json(tuning_curve(outcomes, default_index))})
        tables.append((task_label, method, group, outcomes, best.index))
        spent += [r for rs in records for r in rs]
    data = {
        "format": FORMAT, "trials": study.trials, "with_default": True, "tune_seeds": list(study.plan.seeds),
        "rule": RULE,
        "search": SEARCH, "after_solve": study.plan.after_solve, "overrides": list(study.overrides),
        "capping": capping, "give_up": give_up, "effort": effort(spent),
        "ranges": study.ranges, "widening": max(0, study.widening),
        "selected": selected,
    }
    atomic_write_text(store.root / TUNED_FILE, json.dumps(data, indent=1, default=str) + "\n")
    atomic_write_text(store.root / "tuning.md", tuning_markdown(data, tables))
    atomic_write_text(store.root / "tuning.csv", tuning_csv(tables))
    return data


def _entry(study: TuningStudy, chosen: Proposal, best: Outcome) -> dict[str, Any]:
    return {
        "task": chosen.task.label, "method": chosen.method, "config": chosen.label, "index": chosen.index,
        "median_steps": best.median_steps if math.isfinite(best.median_steps) else None,
        "solved": best.solved, "seeds": len(best.steps), "values": chosen.values,
        "space": chosen.space, "task_params": chosen.task.params,
        "optimizer": asdict(chosen.spec.optimizer), "transforms": [asdict(t) for t in chosen.spec.transforms],
    }


def _steps(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else "> budget"


def _median_text(o: Outcome) -> str:
    if o.capped:
        return f"> {o.capped_above:g} (capped)" if o.capped_above is not None else "not solved (gave up)"
    return _steps(o.median_steps)


def _give_up_lines(data: dict[str, Any]) -> list[str]:
    """What the give-up rule did, when it was on."""
    if data.get("give_up") is None:
        return []
    fired = [f"{e['task']} / {e['method']} ({e['effort']['gave_up']} trials)" for e in data["selected"]
             if e["effort"]["gave_up"]]
    where = ("fired in " + "; ".join(fired) + f", sparing at most {data['effort']['gave_up_steps_spared']:,} "
             "training steps") if fired else "never fired"
    return [f"- give-up (`give_up={data['give_up']:g}`, not exact): a study where no trial had solved by "
            f"{data['give_up']:g} of the budget stopped its trials there; {where}"]


def _capping_line(data: dict[str, Any]) -> str:
    e = data["effort"]
    if not data.get("capping"):
        return (f"- capping: off (`capping=False`): every trial trained to its end; {e['trials']} trials, "
                f"{e['steps']:,} training steps, {e['train_seconds']:.0f} s of training")
    return (f"- capping: on: a configuration stopped once more than half its seeds were unsolved at the best "
            f"median so far (status `capped`; the selection is the uncapped study's); {e['trials']} trials, "
            f"{e['capped']} capped, {e['steps']:,} training steps, {e['train_seconds']:.0f} s of training")


def tuning_markdown(data: dict[str, Any], tables: list) -> str:
    """Every configuration tried, one table per (task, method), the chosen one marked."""
    seeds = data["tune_seeds"]
    lines = [
        "# Tuning", "",
        f"- budget: {data['trials']} quasi-random configuration(s) per (task, method) and the method's own "
        f"(its defaults, the last index), each on tuning seeds "
        f"{', '.join(map(str, seeds))}",
        *_range_lines(data),
        f"- search: {data['search']}", f"- selection: {data['rule']}", _capping_line(data),
        *_give_up_lines(data), *_edge_lines(data), "",
    ]
    for (task, method, group, outcomes, chosen), entry in zip(tables, data["selected"]):
        lines += [f"## {task} / {method}", "", "space: " + ("; ".join(f"{k} {v}" for k, v in entry["space"].items())
                                                           or "nothing to tune (one configuration)"), "",
                  "| # | configuration | solved | median steps | statuses | chosen |", "|---|---|---|---|---|---|"]
        for p, o in zip(group, outcomes):
            lines.append(f"| {p.index} | `{p.label}` | {o.solved}/{len(o.steps)} | {_median_text(o)} | "
                         f"{', '.join(o.statuses)} | {'**yes**' if p.index == chosen else ''} |")
        lines.append("")
        default_index = next((p.index for p in group if p.label == method), None)
        lines += curve_lines(tuning_curve(outcomes, default_index), sum(p.index != default_index for p in group))
    return "\n".join(lines)


def _range_lines(data: dict[str, Any]) -> list[str]:
    """One line naming the ranges searched other than declared (none: no line)."""
    ranges = data.get("ranges") or {}
    if not ranges:
        return []
    return ["- ranges set (`--set METHOD.PARAM=LO..HI`): " + "; ".join(f"{k} {v}" for k, v in ranges.items())
            + f"; the declared ranges' points inside them kept, configurations {data['trials'] + 1} and on cover "
            "what they add, at the same density"]


def _edge_lines(data: dict[str, Any]) -> list[str]:
    """One line naming the selected values at the edge of their range (none: no line)."""
    flagged = [f"{e['task']} / {e['method']}: {', '.join(e['edge'])}" for e in data["selected"] if e.get("edge")]
    if not flagged:
        return []
    return ["- **at the edge of the range** (a selected value in the outer 5% of its range, log scale where the "
            "range is; the best may lie beyond it): " + "; ".join(flagged)
            + ". The same command with `--set METHOD.PARAM=LO..HI` widens a range and keeps every record"]


def tuning_csv(tables: list) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task", "method", "index", "configuration", "solved", "seeds", "median_steps", "chosen",
                     "capped_above"])
    for task, method, group, outcomes, chosen in tables:
        for p, o in zip(group, outcomes):
            median = o.median_steps if math.isfinite(o.median_steps) and not o.capped else ""
            above = o.capped_above if o.capped and o.capped_above is not None else ""
            writer.writerow([task, method, p.index, p.label, o.solved, len(o.steps), median, int(p.index == chosen),
                             above])
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
    "capping": Field(boolean, required=False),
    "give_up": Field(any_of(number(lo=0), null), required=False),
    "effort": Field(an_object, required=False),
    "ranges": Field(dict_of(text), required=False),
    "widening": Field(integer(lo=0), required=False),
    "selected": Field(list_of(an_object)),
}
SELECTED_FIELDS: Schema = {
    "task": Field(text), "method": Field(text), "config": Field(text), "index": Field(integer(lo=0)),
    "median_steps": Field(any_of(number(lo=0), null), required=False),
    "solved": Field(integer(lo=0), required=False), "seeds": Field(integer(lo=0), required=False),
    "values": Field(an_object, required=False), "space": Field(dict_of(text), required=False),
    "edge": Field(list_of(text), required=False), "effort": Field(an_object, required=False),
    "curve": Field(list_of(an_object), required=False),
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
        last = data["trials"] + data.get("widening", 0)
        if entry["index"] > last:
            raise UserError(f"{where}: selected[{i}].index must be <= trials + widening ({last}); got {entry['index']}")
        pair = (entry["task"], entry["method"])
        if pair in seen:
            raise UserError(f"{where}: selected[{i}] is a second entry for {pair[0]} / {pair[1]}")
        seen.add(pair)
    return data
