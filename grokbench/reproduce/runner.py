"""Claims -> plans run through the ordinary engine, one results folder per experiment.

Layout: ``DIR/<claim>/<experiment>/`` is an ordinary results folder (``grokbench
leaderboard`` reads it); ``DIR/<claim>/reproduce.json`` (the manifest) records what was
asked of each experiment (task, methods, seeds, ``--set`` strings, budget) and the
command, so that the page can be rebuilt from the folders alone (``--page-only``) and
states how they were produced.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__, api
from ..calibrate.estimate import budget_of
from ..errors import UserError
from ..schema import (
    Field,
    Schema,
    an_object,
    any_of,
    check,
    dict_of,
    integer,
    list_of,
    one_of,
    plain_name,
    require_plain_name,
    text,
)
from ..spec import parse_overrides, resolve_task
from ..store import atomic_write_text
from .claims import BUDGETS, Claim, Experiment

MANIFEST = "reproduce.json"


@dataclass(frozen=True)
class Caps:
    """Command-line limits laid over a claim's budget: ``max_steps`` caps every budget at
    that many training steps (a budget stated in epochs: at the whole epochs that fit in
    them, at least one); ``seeds`` replaces the seeds of every experiment (the claim's and
    an experiment's own alike)."""

    max_steps: int | None = None
    seeds: str | None = None


@dataclass(frozen=True)
class ExperimentRun:
    """One experiment as it is (or was) run: everything ``prepare`` needs."""

    claim: str
    experiment: str
    task: str
    methods: tuple[str, ...]
    seeds: str
    overrides: tuple[str, ...]
    budget: str

    def folder(self, root: Path) -> Path:
        """``root/claim/experiment``; both must be plain names (never a path out of ``root``)."""
        claim = require_plain_name(self.claim, "a claim's name")
        return root / claim / require_plain_name(self.experiment, f"claim {claim}: an experiment id")


def _budget_overrides(exp: Experiment, budget: dict[str, Any], caps: Caps) -> list[str]:
    """The budget's task parameters as ``--set`` strings, with the caps laid over them."""
    task = resolve_task(exp.task, parse_overrides([*exp.overrides, *_as_sets(exp.task, budget)]))
    values = dict(budget)
    if caps.max_steps is None:
        return _as_sets(exp.task, values)
    if "max_steps" in task.params:
        current = task.params["max_steps"] or math.inf
        values["max_steps"] = int(min(current, caps.max_steps))
    elif "max_epochs" in task.params:
        epochs = max(1, caps.max_steps // budget_of(task).schedule.steps_per_epoch)
        values["max_epochs"] = int(min(task.params["max_epochs"], epochs))
    return _as_sets(exp.task, values)


def _as_sets(task: str, values: dict[str, Any]) -> list[str]:
    return [f"{task}.{k}={v}" for k, v in values.items()]


def plan_runs(claim: Claim, budget: str, caps: Caps = Caps()) -> tuple[list[ExperimentRun], list[str]]:
    """The experiments of ``claim`` to run at ``budget`` ('cpu' or 'paper') and the ids of
    those the budget skips. An experiment's seeds: ``caps.seeds`` when given, else its own
    (``Experiment.seeds``), else the claim's."""
    runs, skipped = [], []
    for exp in claim.experiments:
        params = exp.budget(budget)
        if params is None:
            skipped.append(exp.id)
            continue
        sets = (*exp.overrides, *_budget_overrides(exp, params, caps))
        runs.append(ExperimentRun(claim.name, exp.id, exp.task, tuple(m.method for m in exp.methods),
                                  caps.seeds or exp.seeds or claim.seeds, sets, budget))
    return runs, skipped


def write_manifest(root: Path, claim: Claim, runs: list[ExperimentRun], skipped: list[str],
                   command: Sequence[str]) -> None:
    folder = root / require_plain_name(claim.name, "a claim's name")
    folder.mkdir(parents=True, exist_ok=True)
    data = {"claim": claim.name, "version": __version__, "command": list(command), "skipped": skipped,
            "experiments": {r.experiment: {"task": r.task, "methods": list(r.methods), "seeds": r.seeds,
                                           "set": list(r.overrides), "budget": r.budget} for r in runs}}
    atomic_write_text(folder / MANIFEST, json.dumps(data, indent=2) + "\n")


MANIFEST_FIELDS: Schema = {
    "claim": Field(plain_name), "version": Field(text, required=False), "command": Field(list_of(text)),
    "skipped": Field(list_of(plain_name), required=False), "experiments": Field(dict_of(an_object)),
}
MANIFEST_EXPERIMENT_FIELDS: Schema = {
    "task": Field(text), "methods": Field(list_of(text, min_items=1)), "seeds": Field(any_of(text, integer(lo=1))),
    "set": Field(list_of(text)), "budget": Field(one_of(*BUDGETS)),
}


def read_manifest(root: Path, claim_name: str) -> dict[str, Any] | None:
    """The manifest of a claim's results, checked (``MANIFEST_FIELDS``; experiment ids
    are plain names, since they name folders); None when the claim has not been run into
    ``root``."""
    path = root / require_plain_name(claim_name, "a claim's name") / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    check(data, MANIFEST_FIELDS, str(path))
    for exp_id, exp in data["experiments"].items():
        require_plain_name(exp_id, f"{path}: the experiment id {exp_id!r}")
        check(exp, MANIFEST_EXPERIMENT_FIELDS, str(path), f"experiments.{exp_id}")
    if data["claim"] != claim_name:
        raise UserError(f"{path}: claim is {data['claim']!r}, not {claim_name!r} (a manifest copied from elsewhere?)")
    return data


def manifest_runs(manifest: dict[str, Any]) -> list[ExperimentRun]:
    return [ExperimentRun(manifest["claim"], exp_id, e["task"], tuple(e["methods"]), str(e["seeds"]),
                          tuple(e["set"]), e["budget"]) for exp_id, e in manifest["experiments"].items()]


def prepare_run(run: ExperimentRun, root: Path, device: str):
    """``api.prepare`` for one experiment: exactly its methods (no added baseline)."""
    return api.prepare(run.task, ",".join(run.methods), run.seeds, run.folder(root),
                       overrides=run.overrides, device=device, baseline=False)


def execute_claim(claim: Claim, runs: list[ExperimentRun], root: Path, *, device: str,
                  execute: Callable[..., bool]) -> bool:
    """Run every experiment of ``claim`` in turn; ``execute(plan, store, label)`` trains one
    plan and returns False when interrupted (then the rest is not started)."""
    plans = [(run, *prepare_run(run, root, device)) for run in runs]  # every name checked before training
    for run, plan, store in plans:
        if not execute(plan, store, f"{claim.name}/{run.experiment}"):
            return False
    return True
