"""Racing a tuning study: the order its trials train in, and the capping policy of each cell.

With capping (``grokbench.capping``), a configuration stops once it can no longer beat or tie
the best median of its (task, method) study, so the study runs in an order that finds good
configurations early and passes what is decided on:

1. every study's defaults (the method as labelled) first, so each study has an incumbent
   early (the defaults are often good, and never worse than what tuning keeps);
2. then the other configurations' cells, in one plan: each cell's bounds are made when the
   executor takes it to run (a process pool: when a worker is free), from its study's
   trials recorded by then (``cap_policy``), and it tightens them as its own trials finish.
   No barrier: a worker never waits for another's cell to end.

Only decided trials enter a bound, so the order changes how much is saved, never what is
selected. Without capping the study is one plan, run in one go.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..capping import DECIDED, CapPolicy, median_bound
from ..plan import Cell, Plan
from ..record import Record
from .selection import steps_to_target

# Runs the trials of a plan not in ``done_keys``; the callable rewrites each cell as it is
# taken to run (``None``: as they are). Returns False when interrupted.
RunPlan = Callable[[Plan, Callable[[Cell], Cell] | None], bool]


def done_keys(store: Any, timeout: Any = None, capping: bool = True) -> set[str]:
    """The trials a study does not run again: the store's final ones (``Store.done_keys``),
    less the capped ones when it runs without capping (they are trained to the end then)."""
    done = store.done_keys(timeout)
    if capping:
        return done
    return done - {r.key for r in store.records() if str(r.status) == "capped"}


def study_groups(study: Any) -> dict[tuple[str, str], str]:
    """(task label, configuration label) -> the study (``task / method``) that ranks it;
    a configuration two studies share is left out (never capped)."""
    seen: dict[tuple[str, str], set[str]] = {}
    for (task, method), group in study.groups().items():
        for p in group:
            seen.setdefault((task, p.label), set()).add(f"{task} / {method}")
    return {key: next(iter(names)) for key, names in seen.items() if len(names) == 1}


def cap_policy(cell: Cell, study: Any, by_key: dict[str, Record], give_up: float | None = None) -> CapPolicy:
    """The capping policy of ``cell``: each configuration's study, the decided steps of its
    seeds outside the cell, each study's bound from its configurations outside the cell,
    and (with ``give_up``) the studies where a trial outside the cell solved."""
    seeds = study.plan.seeds
    groups = study_groups(study)
    inside = {m.label for m in cell.configs}
    cell_groups = tuple(groups.get((cell.task.label, m.label)) for m in cell.configs)
    known = tuple(tuple(_decided_steps(by_key, [cell.key(s, c) for s in seeds if s not in cell.seeds]))
                  for c in range(len(cell.configs)))
    bounds: dict[str, float] = {}
    reached: set[str] = set()
    for task, method in study.plan.pairs:
        group = groups.get((task.label, method.label))
        if task.label != cell.task.label or group not in cell_groups:
            continue
        probe = replace(cell, method=method, variants=())
        steps = _decided_steps(by_key, [probe.key(s) for s in seeds])
        reached |= {group} if any(math.isfinite(s) for s in steps) else set()
        if method.label not in inside:
            bounds[group] = min(bounds.get(group, math.inf), median_bound(steps, len(seeds)))
    return CapPolicy(len(seeds), cell_groups, known, {g: b for g, b in bounds.items() if math.isfinite(b)},
                     give_up, frozenset(g for g in reached if g is not None))


def _decided_steps(by_key: dict[str, Record], keys: list[str]) -> list[float]:
    records = [by_key[k] for k in keys if k in by_key and str(by_key[k].status) in DECIDED]
    return [steps_to_target(r) for r in records]


def defaults_plan(study: Any) -> Plan:
    """The study's plan restricted to each (task, method)'s own configuration (its defaults)."""
    own = {(task, method) for task, method in study.groups()}
    pairs = tuple((t, m) for t, m in study.plan.pairs if (t.label, m.label) in own)
    return replace(study.plan, pairs=pairs)


def race(study: Any, store: Any, run: RunPlan, *, capping: bool = True, give_up: float | None = None) -> bool:
    """Train the study's trials not yet recorded, capped (the defaults first, then the rest,
    each cell's policy made as it is taken to run) or not (one plan). ``give_up``: the
    fraction of the budget at which a study where nothing solved stops
    (``CapPolicy.give_up``; None: never). False when interrupted."""
    if not capping:
        return run(study.plan, None)

    def with_policy(cell: Cell) -> Cell:
        by_key = {r.key: r for r in store.records()}
        return replace(cell, capping=cap_policy(cell, study, by_key, give_up))

    return run(defaults_plan(study), with_policy) and run(study.plan, with_policy)
