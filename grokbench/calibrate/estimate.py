"""Compute estimates before anything trains: how many steps a planned trial runs, and what
a step of a planned cell costs, measured briefly.

Steps (``Budget``): a task's schedule (budget ``max_steps``, evaluation period) on its real
training set and its stability rule (``grokbench.metrics.Stability``). The engine
(``grokbench.trial``) ends a trial that has not crossed the target at its budget; a trial
crossing at step s trains on through the window and the tail after it (about 2.1 s with the
default rule); a crossing still open at the budget trains past it, at most
``Budget.bound`` steps. Nothing here knows how soon a method solves: callers choose
between the budget (every trial censored, no early stop) and the bound, or bring records.

Costs (``measure_cells``): each distinct cell (task, method configurations, seeds trained
together) measured as ``grokbench calibrate`` measures a configuration
(``session.build_runners`` + ``session.measure``: a live seed batch stepped by the engine's
timed unit, warmed up, a few interleaved blocks; ``QUICK`` by default, one torch thread:
one worker of ``--executor process:2``). A cell's step cost is the batch's: its seeds and
configurations step together, so a cell of ``layout`` trials costs about steps x the
batched step cost, not ``layout`` times a single seed's (``StepCost.cpu_step_s``).
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..plan import Cell
from ..record import calibration_key
from ..spec import TaskSpec
from ..task import Schedule
from .configs import CalibrationConfig
from .costs import StepCost
from .measure import QUICK, Settings
from .session import build_runners, measure, torch_threads


@dataclass(frozen=True)
class Budget:
    """A task's schedule and stability rule: how long a trial trains."""

    schedule: Schedule
    stability: Any  # grokbench.metrics.Stability
    family: str = "sparse"  # whose capping saving a tuning gets (benchmarks/publish_plan.py)

    def solved_steps(self, solve_step: float) -> float:
        """Steps of a trial that solves (stably) at ``solve_step``: window and tail after it."""
        ee = self.schedule.eval_every
        return solve_step + (self.stability.window(int(solve_step), ee) + self.stability.tail(int(solve_step), ee)) * ee

    @property
    def bound(self) -> float:
        """Every trial to its budget, then window and tail of a crossing there: the most the
        engine trains one trial."""
        return self.schedule.max_steps + self.stability.watch_steps(self.schedule.max_steps, self.schedule.eval_every)

    def trial_steps(self, row: dict[str, Any]) -> float:
        """What one recorded outcome (a ``record.rows`` row) would train under today's budget
        and rule: a stable solve within the budget -> ``solved_steps``; a divergence -> the
        steps it ran; anything else -> the budget."""
        solve = row.get("solve_step")
        if row.get("status") == "solved" and _finite(solve) and solve <= self.schedule.max_steps:
            return self.solved_steps(solve)
        if row.get("status") == "diverged" and _finite(row.get("steps_timed")):
            return float(row["steps_timed"])
        return float(self.schedule.max_steps)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def budget_of(task: TaskSpec) -> Budget:
    """The task's schedule on its real training set (one seed's data, drawn here, nothing
    trained); its family: 'transformer' for modular addition and its subclasses, else
    'sparse'."""
    built = task.build()
    split = built.make_data(torch.Generator().manual_seed(0))
    transformer = any(c.__name__ == "ModularAddition" for c in type(built).__mro__)
    return Budget(built.schedule(len(split.x_train)), built.stability, "transformer" if transformer else "sparse")


def cell_config(cell: Cell) -> CalibrationConfig:
    """The calibration configuration of a planned cell: its first configuration's key
    (``record.calibration_key`` at the cell's device and layout, ``len(cell.slots)``), its
    seeds and variants as they would train together."""
    key = calibration_key(cell.identity(cell.seeds[0]), cell.device, len(cell.slots))
    return CalibrationConfig(key, cell.task.label, cell.method.label, cell.task, cell.method, cell.device,
                             len(cell.slots), cell.seeds, cell.variants, ((key, cell.method.label),))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def measure_configs(configs: Sequence[CalibrationConfig], settings: Settings = QUICK, threads: int = 1,
                    log: Callable[[str], None] = _stderr,
                    after_task: Callable[[dict[str, StepCost], list[dict[str, str]]], None] | None = None,
                    ) -> tuple[dict[str, StepCost], list[dict[str, str]]]:
    """Each distinct configuration (by key) measured as ``grokbench calibrate`` does, one
    interleaved session per task (bounded memory: one task's batches alive at a time), with
    ``threads`` torch threads. Returns (costs by key, the configurations that could not be
    built or stepped, each {"task", "method", "reason"}). ``after_task(costs, skipped)``:
    called after each task's session (to save as it goes)."""
    by_task: dict[str, dict[str, CalibrationConfig]] = defaultdict(dict)
    for config in configs:
        by_task[config.task_label].setdefault(config.key, config)
    costs: dict[str, StepCost] = {}
    skipped: list[dict[str, str]] = []
    for task_label, distinct in by_task.items():
        started = time.perf_counter()
        with torch_threads(threads):
            runners, step_s, unbuilt = build_runners(list(distinct.values()), settings)
            costs.update((c.key, c) for c in measure(runners, step_s, settings, threads))
        skipped += unbuilt
        log(f"measured {len(runners)} configuration(s) of {task_label} in {time.perf_counter() - started:.0f} s")
        if after_task is not None:
            after_task(costs, skipped)
    return costs, skipped


def measure_cells(cells: Sequence[Cell], settings: Settings = QUICK, threads: int = 1,
                  log: Callable[[str], None] = _stderr) -> tuple[dict[str, StepCost], list[dict[str, str]]]:
    """``measure_configs`` of the cells' configurations (``cell_config``; cells with equal
    keys are measured once): (costs by ``cell_config(cell).key``, skipped)."""
    return measure_configs([cell_config(c) for c in cells], settings, threads, log)


def trial_seconds(cost: StepCost, steps: float) -> float:
    """CPU seconds of one trial of ``steps`` steps: its share (1 / ``layout``) of a batch
    step (process CPU time where measured, else wall) and of the setup."""
    return steps * cpu_step_s(cost) / cost.layout + cost.setup_s / cost.layout


def cpu_step_s(cost: StepCost) -> float:
    """Seconds of one step of the whole batch: process CPU time where measured, else wall."""
    return cost.cpu_step_cost_s if cost.cpu_step_cost_s is not None else cost.step_cost_s


def cell_seconds(cost: StepCost, steps: float) -> float:
    """CPU seconds of a cell that trains its whole batch ``steps`` steps (no seed leaving
    early): steps x the batched step cost, plus the setup."""
    return steps * cpu_step_s(cost) + cost.setup_s
