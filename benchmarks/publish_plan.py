"""The compute plan of the leaderboard v3 publish (issue #29), before anything trains.

    python benchmarks/publish_plan.py [--tasks all] [--cost-from DIR] [--save-costs DIR]
        [--workers 2] [--saving-sparse 3.5] [--saving-transformer 2.9] [--detail]

The publish runs, for every task of ``--tasks all``, three resumable chunks, one command each:

1. tune: ``grokbench tune --tasks T --methods all --trials auto`` on the 5 tuning seeds
   (K = the task's ``tuning_trials``; one folder per task, since ``--trials auto`` over
   several tasks takes the largest K for all of them);
2. tuned run + controls: ``grokbench run --tasks T --methods all --tuned DIR --seeds auto``
   (each task's ``report_seeds``), with each tuned accelerator's two controls;
3. defaults run: ``grokbench run --tasks T --methods all --seeds auto``.

Trials are counted from the engine's own plan objects (``tuning.driver.build_study``,
``plan.build_plan``, their ``cells``), never re-derived, so the count is what the commands
would create (``tests/test_publish_plan.py`` checks it against ``plan.n_trials``). The
controls depend on the selections, so they are counted as the issue defines them: 2 per
tuned accelerator (a method with transforms) x the task's report seeds, an upper count
(one control is dropped where an accelerator runs on another base than the baseline's,
and equal labels are trained once).

Step costs: each (task, method) is measured as ``grokbench calibrate`` measures a
configuration (``calibrate.session.build_runners`` + ``measure``, the ``QUICK`` settings,
1 torch thread: one worker of ``--executor process:2``), on a live seed batch at the layout
the chunk's cells have (``Plan.cells`` with ``--batch-seeds 64``): the cell carrying most of
the method's trials. A trial's seconds = steps x (process CPU seconds of one batch step /
layout) + setup / layout, as ``calibrate.costs.StepCost.seconds_for`` charges a seed.

Steps per trial (the task's schedule and stability rule, ``grokbench.metrics.Stability``):

- bound: every trial crosses the target at its budget and trains through window and tail
  (``Stability.watch_steps``): no capping, no early stop;
- expected: the mean over committed records of the same (task, method) of: a solve at step
  s (at most the budget) -> s + window + tail (about 2.1 s); a divergence -> the steps it
  ran; anything else -> the budget. The records: tune chunks, the v2 tuning folders
  (``leaderboard/tuning/*``: random configurations, uncapped), divided by the capping saving
  (``--saving-*``); tuned runs, ``leaderboard/tuned`` (v2 selections); "base at its
  settings" controls, ``leaderboard/controls/*`` (the base optimizer at accelerators'
  tuned settings, pooled per task); "on the tuned base" controls, the accelerator's tuned
  run; defaults runs, ``leaderboard/untuned``. Where a source has no record of the pair, the
  defaults records stand in; where none has any, the task's every method at its defaults
  (lion and wnclip, newer than the records; marked ``~``); where the task has none (the new
  power_ops profiles), the budget (marked ``*``: their budgets are 2x the slowest solve
  measured, so a trial solving by half its budget trains about 2.1 x that half, and one that
  does not trains the budget).

Left out of both figures: evaluations (test accuracy every ``eval_every`` steps), data and
process start-up, batches shrinking as trials finish, and imperfect packing of 2 workers
(wall hours = CPU hours / workers). Print the machine with the table; copy both into
docs/leaderboard.md ("Compute plan for v3").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from grokbench import environment, registry
from grokbench.calibrate.configs import CalibrationConfig
from grokbench.calibrate.costs import StepCost, load_costs, write_calibration
from grokbench.calibrate.estimate import (
    Budget,
    budget_of,
    cell_config,
    measure_configs,
    trial_seconds,
)
from grokbench.calibrate.measure import QUICK, Settings
from grokbench.errors import UserError
from grokbench.plan import AUTO_SEEDS, Cell, build_plan
from grokbench.record import rows
from grokbench.spec import MethodSpec, TaskSpec, expand_tasks, resolve_method
from grokbench.store import Store
from grokbench.tuning.driver import auto_trials, build_study
from grokbench.tuning.racing import study_groups
from grokbench.variants import strip_settings

TUNE_SEEDS = "1000-1004"
BATCH_SEEDS = 64  # grokbench's --batch-seeds default
OUT = "leaderboard/v3"
TUNE, TUNED, DEFAULTS = "tune", "tuned run + controls", "defaults run"
BASE_AT_ITS_SETTINGS, ON_THE_TUNED_BASE = "base at its settings", "on the tuned base"
RECORDS = {  # where the expected steps of each kind of item come from (see the module docstring)
    TUNE: ("leaderboard/tuning/sparse", "leaderboard/tuning/transformer"),
    TUNED: ("leaderboard/tuned",),
    BASE_AT_ITS_SETTINGS: ("leaderboard/controls/base_settings", "leaderboard/controls/egd_base"),
    DEFAULTS: ("leaderboard/untuned",),
}


# -- the chunks: trials counted from the engine's plans -----------------------------------

@dataclass(frozen=True)
class Item:
    """One method's share of a chunk: ``trials`` trials that each pay ``method``'s step
    cost, measured on a batch of ``seeds`` x (``method``, *``variants``) (``layout`` trials).
    ``study``: the method the trials belong to (its plain label); ``role``: the chunk's
    phase, or the control kind."""

    task: TaskSpec
    method: MethodSpec
    study: str
    role: str
    trials: int
    seeds: tuple[int, ...]
    variants: tuple[MethodSpec, ...] = ()

    @property
    def layout(self) -> int:
        return len(self.seeds) * (1 + len(self.variants))

    @property
    def config(self) -> CalibrationConfig:
        """The measured configuration: the item's batch as one cell trains it."""
        return cell_config(Cell(self.task, self.method, self.seeds, variants=self.variants))

    @property
    def cost_key(self) -> str:
        """The calibration key of the measured configuration (``record.calibration_key``)."""
        return self.config.key


@dataclass(frozen=True)
class Chunk:
    """One resumable command of the publish: a task's tune, tuned run or defaults run."""

    task_label: str
    phase: str
    items: tuple[Item, ...]
    command: str

    @property
    def trials(self) -> int:
        return sum(i.trials for i in self.items)


def _slug(task_label: str) -> str:
    return task_label.replace(":", "_")


def _items_from_cells(cells: list[Cell], study_of: dict[str, str], role: str) -> list[Item]:
    """One item per study: its trials summed over ``cells``, measured on the cell that
    carries most of them."""
    trials: dict[str, int] = defaultdict(int)
    best: dict[str, tuple[int, Cell]] = {}
    for cell in cells:
        for method in cell.configs:
            name = study_of.get(method.label, method.stream_label)
            trials[name] += len(cell.seeds)
            if name not in best or len(cell.slots) > best[name][0]:
                best[name] = (len(cell.slots), cell)
    out = []
    for name, count in trials.items():
        cell = best[name][1]
        out.append(Item(cell.task, cell.method, name, role, count, cell.seeds, cell.variants))
    return out


def tune_chunk(task_label: str, tune_seeds: str = TUNE_SEEDS, batch_seeds: int = BATCH_SEEDS,
               methods: str = "all") -> Chunk:
    """The task's tuning study, as ``grokbench tune --trials auto`` builds it."""
    k = auto_trials(task_label)
    study = build_study(task_label, methods, k, tune_seeds, {})
    groups = study_groups(study)
    study_of = {label: name.split(" / ", 1)[1] for (_, label), name in groups.items()}
    items = _items_from_cells(study.plan.cells(set(), batch_seeds), study_of, TUNE)
    command = (f"grokbench tune --tasks {task_label} --methods {methods} --trials auto --tune-seeds {tune_seeds} "
               f"--out {OUT}/tuning/{_slug(task_label)} --executor process:2")
    return Chunk(task_label, TUNE, tuple(items), command)


def run_chunk(task_label: str, tuned: bool, batch_seeds: int = BATCH_SEEDS, methods: str = "all") -> Chunk:
    """The task's report run (``--seeds auto``, baselines added), tuned with its controls or
    at the defaults. A tuned run trains the same (task, method) pairs (``apply_tuned``
    replaces configurations, never adds any), plus ``control_items``."""
    plan = build_plan(task_label, methods, AUTO_SEEDS, {}, baseline=True)
    items = _items_from_cells(plan.cells(set(), batch_seeds), {}, TUNED if tuned else DEFAULTS)
    if tuned:
        items += control_items(plan.pairs, plan.seeds_of(task_label), batch_seeds)
        command = (f"grokbench run --tasks {task_label} --methods {methods} --tuned {OUT}/tuning/{_slug(task_label)} "
                   f"--seeds auto --out {OUT}/tuned --executor process:2 --no-calibrate")
    else:
        command = (f"grokbench run --tasks {task_label} --methods {methods} --seeds auto --out {OUT}/untuned "
                   f"--executor process:2 --no-calibrate")
    return Chunk(task_label, TUNED if tuned else DEFAULTS, tuple(items), command)


def control_items(pairs: Iterable[tuple[TaskSpec, MethodSpec]], seeds: tuple[int, ...],
                  batch_seeds: int = BATCH_SEEDS) -> list[Item]:
    """Two controls per accelerator (a method with transforms), each on ``seeds``: its base
    optimizer alone (its cost stands for "base at its settings") and the accelerator itself
    ("on the tuned base"), measured at the run's layout."""
    batch = tuple(seeds[:batch_seeds])
    out = []
    for task, method in pairs:
        if method.transforms:
            base = resolve_method(method.base, task, {})
            out.append(Item(task, base, method.stream_label, BASE_AT_ITS_SETTINGS, len(seeds), batch))
            out.append(Item(task, method, method.stream_label, ON_THE_TUNED_BASE, len(seeds), batch))
    return out


def publish_chunks(tasks: str = "all", methods: str = "all") -> list[Chunk]:
    """Every chunk, in the order to run them: all tunes, then the tuned runs (they read the
    tunes), then the defaults runs; tasks in ``--tasks all`` order within each phase."""
    labels = expand_tasks(tasks)
    return ([tune_chunk(t, methods=methods) for t in labels] + [run_chunk(t, True, methods=methods) for t in labels]
            + [run_chunk(t, False, methods=methods) for t in labels])


# -- steps per trial ---------------------------------------------------------------------

class RecordIndex:
    """Committed records, by source kind then (task label, plain method label)."""

    def __init__(self, root: Path = Path(".")) -> None:
        self.rows: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = {}
        for kind, folders in RECORDS.items():
            by_pair: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
            for folder in folders:
                if (root / folder / "records").is_dir():
                    for row in rows(Store(root / folder).records()):
                        if row.get("status") in ("capped", "error"):
                            continue
                        name = strip_settings(row["method"])
                        if kind == BASE_AT_ITS_SETTINGS and name == row["method"]:
                            continue  # a base at its defaults is no control
                        by_pair[(row["task_label"], name)].append(row)
            self.rows[kind] = by_pair

    def expected(self, item: Item, budget: Budget) -> tuple[float, str]:
        """(expected steps per trial, the source kind used; '~': the task's pooled defaults
        records, '*': no record of the task, the budget)."""
        kind = TUNED if item.role == ON_THE_TUNED_BASE else item.role
        name = item.method.base if item.role == BASE_AT_ITS_SETTINGS else item.study
        for source in (kind, DEFAULTS):  # a base at its settings: pooled over the task's accelerators
            found = self.rows.get(source, {}).get((item.task.label, name), [])
            if found:
                return statistics.fmean(budget.trial_steps(r) for r in found), source
        pooled = [r for (t, _), rs in self.rows[DEFAULTS].items() if t == item.task.label for r in rs]
        if pooled:  # a method with no record: the task's every method at its defaults
            return statistics.fmean(budget.trial_steps(r) for r in pooled), "~"
        return float(budget.schedule.max_steps), "*"


# -- step costs (grokbench.calibrate.estimate; Budget, budget_of and trial_seconds live there too) --

def measure_costs(items: list[Item], settings: Settings = QUICK, threads: int = 1, log: Any = print,
                  after_task: Any = None) -> tuple[dict[str, StepCost], list[dict[str, str]]]:
    """Each distinct configuration of ``items`` measured as ``grokbench calibrate`` does,
    one interleaved session per task (``grokbench.calibrate.estimate.measure_configs``);
    (costs by key, skipped). ``after_task(costs, skipped)``: called after each task's session."""
    return measure_configs([i.config for i in items], settings, threads,
                           lambda message: log(message, file=sys.stderr), after_task)


# -- the estimate ----------------------------------------------------------------------------

@dataclass
class Estimate:
    """A chunk's trials, steps and CPU hours: bound and expected."""

    chunk: Chunk
    steps_bound: float = 0.0
    steps_expected: float = 0.0
    hours_bound: float = 0.0
    hours_expected: float = 0.0
    from_bound: list[str] = field(default_factory=list)  # methods whose expected is the bound


def estimate(chunk: Chunk, costs: dict[str, StepCost], records: RecordIndex, savings: dict[str, float],
             budgets: dict[str, Budget]) -> Estimate:
    """Sum each item's trials x steps x seconds per step; tune chunks' expected divided by
    their family's capping saving."""
    out = Estimate(chunk)
    for item in chunk.items:
        budget = budgets[item.task.label]
        cost = costs.get(item.cost_key)
        if cost is None:
            raise UserError(f"no step cost for {item.task.label} / {item.method.label} at layout {item.layout}")
        expected, source = records.expected(item, budget)
        if item.role == TUNE:
            expected /= savings[budget.family]
        if source in ("*", "~"):
            out.from_bound.append(f"{item.study}{source}")
        out.steps_bound += item.trials * budget.bound
        out.steps_expected += item.trials * expected
        out.hours_bound += item.trials * trial_seconds(cost, budget.bound) / 3600
        out.hours_expected += item.trials * trial_seconds(cost, expected) / 3600
    return out


def table(estimates: list[Estimate], workers: int) -> list[str]:
    """The markdown table: one row per chunk, then the total (CPU hours and wall hours on ``workers``)."""
    lines = ["| # | task | chunk | trials | steps bound | steps expected | CPU h bound | CPU h expected |",
             "|---|---|---|---|---|---|---|---|"]
    for n, e in enumerate(estimates, 1):
        star = " *" if e.from_bound else ""
        lines.append(f"| {n} | {e.chunk.task_label} | {e.chunk.phase} | {e.chunk.trials:,} | {e.steps_bound:,.0f} | "
                     f"{e.steps_expected:,.0f}{star} | {e.hours_bound:.2f} | {e.hours_expected:.2f} |")
    total = [sum(getattr(e, f) for e in estimates) for f in ("steps_bound", "steps_expected", "hours_bound",
                                                              "hours_expected")]
    trials = sum(e.chunk.trials for e in estimates)
    lines.append(f"| | **total** | | {trials:,} | {total[0]:,.0f} | {total[1]:,.0f} | {total[2]:.1f} | {total[3]:.1f} |")
    lines.append(f"| | **wall h on {workers} workers** | | | | | {total[2] / workers:.1f} | {total[3] / workers:.1f} |")
    return lines


def by_task_lines(estimates: list[Estimate], workers: int, limit_h: float) -> list[str]:
    """Expected wall hours per task, and the total without each task (the shrinks the issue allows)."""
    per_task: dict[str, float] = defaultdict(float)
    for e in estimates:
        per_task[e.chunk.task_label] += e.hours_expected / workers
    total = sum(per_task.values())
    lines = [f"expected wall hours on {workers} workers: {total:.1f} (limit {limit_h:g}; "
             f"{'over by ' + format(total - limit_h, '.1f') if total > limit_h else 'within'})"]
    lines += [f"  {task}: {hours:.2f} h; total without it {total - hours:.1f} h" for task, hours in per_task.items()]
    return lines


def machine_lines(costs: dict[str, StepCost], load_before: float | None) -> list[str]:
    """Where and when: CPU, torch, the 1-minute load average before and after measuring."""
    load = environment.load_average()
    return [f"machine: {environment.cpu_name()}, torch {torch.__version__}, load1 {load_before} before / {load} after, "
            f"{datetime.now(timezone.utc).isoformat(timespec='minutes')}",
            f"step costs: {len(costs)} configuration(s), {sorted({c.mode for c in costs.values()})} settings, "
            f"{sorted({c.threads for c in costs.values()})} thread(s)"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="all")
    p.add_argument("--methods", default="all")
    p.add_argument("--cost-from", default=None, metavar="DIR", help="reuse DIR/calibration.json (missing ones measured)")
    p.add_argument("--save-costs", default=None, metavar="DIR", help="write the costs to DIR/calibration.json")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--limit-hours", type=float, default=12.0)
    p.add_argument("--saving-sparse", type=float, default=3.5, help="capping's step saving on the sparse tasks")
    p.add_argument("--saving-transformer", type=float, default=2.9, help="capping's step saving on the transformer tasks")
    p.add_argument("--detail", action="store_true", help="also print each item (task, chunk, method)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    registry.load_builtins()
    started, load_before = time.perf_counter(), environment.load_average()
    chunks = publish_chunks(args.tasks, args.methods)
    items = [i for c in chunks for i in c.items]
    costs = load_costs(args.cost_from) if args.cost_from else {}
    missing = [i for i in items if i.cost_key not in costs]
    if missing:
        known = dict(costs)

        def save(measured: dict[str, StepCost], skipped: list[dict[str, str]]) -> None:
            if args.save_costs:  # after each task: a later run resumes with --cost-from
                Path(args.save_costs).mkdir(parents=True, exist_ok=True)
                write_calibration(args.save_costs, list({**known, **measured}.values()), skipped,
                                  {"mode": QUICK.mode, "threads": 1, "cpu": environment.cpu_name(),
                                   "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                   "load1_before": load_before, "load1_after": environment.load_average()})

        measured, skipped = measure_costs(missing, after_task=save)
        costs.update(measured)
        if skipped:
            print(f"could not measure: {skipped}", file=sys.stderr)
    budgets = {label: budget_of(task) for label, task in {i.task.label: i.task for i in items}.items()}
    records = RecordIndex()
    savings = {"sparse": args.saving_sparse, "transformer": args.saving_transformer}
    estimates = [estimate(c, costs, records, savings, budgets) for c in chunks]
    print("\n".join(machine_lines(costs, load_before)))
    print(f"capping saving assumed: sparse {args.saving_sparse:g}x, transformer {args.saving_transformer:g}x fewer "
          f"steps in tune chunks (expected only)\n")
    print("\n".join(table(estimates, args.workers)))
    starred = [f"{e.chunk.task_label} {e.chunk.phase}: {', '.join(sorted(set(e.from_bound)))}"
               for e in estimates if e.from_bound]
    if starred:
        print("\n* no committed record of the method (~: the task's every method at its defaults stands in; "
              "*: no record of the task, the budget does):\n  " + "\n  ".join(starred))
    print("\n" + "\n".join(by_task_lines(estimates, args.workers, args.limit_hours)))
    if args.detail:
        print_detail(estimates, costs, records, budgets)
    print("\ncommands, in order (each resumable: the same command again continues it):")
    print("\n".join(f"{n}. {e.chunk.command}" for n, e in enumerate(estimates, 1)))
    print(f"\n(planned in {time.perf_counter() - started:.0f} s)")
    return 0


def print_detail(estimates: list[Estimate], costs: dict[str, StepCost], records: RecordIndex,
                 budgets: dict[str, Budget]) -> None:
    print("\n| task | chunk | method | role | trials | layout | ms per seed-step (CPU) | steps/trial expected (source) |")
    print("|---|---|---|---|---|---|---|---|")
    for e in estimates:
        for i in e.chunk.items:
            cost = costs[i.cost_key]
            steps, source = records.expected(i, budgets[i.task.label])
            print(f"| {i.task.label} | {e.chunk.phase} | {i.study} | {i.role} | {i.trials} | {i.layout} | "
                  f"{1000 * trial_seconds(cost, 1) - 1000 * cost.setup_s / cost.layout:.3f} | {steps:,.0f} ({source}) |")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
