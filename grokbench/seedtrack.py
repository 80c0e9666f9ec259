"""One trial of a cell (a seed of one configuration): its curve, its share of the clock,
how it ended, and its record."""

from __future__ import annotations

import math
from typing import Any

from . import __version__
from .metrics import Stability, StabilityWatch, summarize
from .plan import Cell
from .record import CURVE_COLUMNS, Record, Status
from .spec import MethodSpec
from .task import Schedule, Task


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def batch_layout(cell: Cell) -> dict[str, int]:
    """The record's layout fields: seeds trained together, and configurations when several."""
    layout = {"batched_seeds": len(cell.seeds)}
    if cell.variants:
        layout["batched_configs"] = len(cell.configs)
    return layout


class SeedTrack:
    """Book-keeping of one trial while its cell trains: ``seed`` of the cell's configuration
    ``config``. ``status`` is None while training."""

    def __init__(self, seed: int, config: int = 0) -> None:
        self.seed, self.config = seed, config
        self.curve: dict[str, list] = {k: [] for k in CURVE_COLUMNS}
        self.train_time_s = 0.0
        self.status: Status | None = None
        self.error: str | None = None
        self.watch: StabilityWatch | None = None  # built from the curve on first use

    @property
    def diverged(self) -> bool:
        return bool(self.curve["train_loss"]) and self.curve["train_loss"][-1] is None

    @property
    def last_test_acc(self) -> float:
        return (self.curve["test_acc"] or [0.0])[-1] or 0.0

    def append(self, step: int, epoch: float, values: dict[str, float], step_ok: bool = True) -> None:
        """One evaluation point; a non-finite value is stored as None (None train loss:
        diverged), and ``step_ok=False`` (the training step's loss was non-finite) too."""
        self.curve["step"].append(step)
        self.curve["epoch"].append(epoch)
        for k, v in values.items():
            self.curve[k].append(_finite_or_none(v))
        if not step_ok:
            self.curve["train_loss"][-1] = None
        self.curve["train_time_s"].append(self.train_time_s)

    def _watched(self, target: float, stability: Stability, eval_every: int, max_steps: int) -> StabilityWatch:
        """The stability watch, fed every evaluation of the curve not fed yet (all of them
        after a resume from a checkpoint, which saves the curve and not the watch)."""
        if self.watch is None:
            self.watch = StabilityWatch(target, stability, eval_every, budget=max_steps)
        for i in range(self.watch.last + 1, len(self.curve["step"])):
            self.watch.feed(self.curve["step"][i], self.curve["test_acc"][i])
        return self.watch

    def decide(self, step: int, target: float, max_steps: int, after_solve: int,
               stability: Stability, eval_every: int) -> Status | None:
        """The finishing rule, applied after each evaluation. None: keep training.

        A non-finite train loss is ``diverged``. A trial is ``solved`` once a crossing of
        ``target`` has held through its window (``grokbench.metrics``: the solve is that
        crossing) and the tail after it has been watched too, and ``after_solve``
        evaluations have passed since the crossing. A crossing whose window is open at
        ``max_steps`` trains on past the budget until the window decides; a crossing after
        the budget does not count. At ``max_steps`` with no open window: ``unsolved``.
        """
        if self.diverged:
            return Status.DIVERGED
        w = self._watched(target, stability, eval_every, max_steps)
        if w.solve is not None:
            return Status.SOLVED if w.done and w.last - w.solve >= after_solve else None
        if step >= max_steps and not w.watching:
            return Status.UNSOLVED
        return None

    def record(self, cell: Cell, task: Task | None, schedule: Schedule | None, env: dict[str, Any],
               started: str, finished: str, eval_time_s: float, detail: str | None) -> Record:
        """This seed's record; metrics and budget only once the task and schedule exist."""
        identity = cell.identity(self.seed, self.config)
        metrics, budget = {}, {}
        if task is not None and schedule is not None:
            metrics = summarize(self.curve, fit_threshold=task.fit_threshold, target=task.target,
                                steps_per_epoch=schedule.steps_per_epoch, stability=task.stability,
                                eval_every=schedule.eval_every, budget_steps=schedule.max_steps)
            budget = {
                "budget_steps": schedule.max_steps,
                "budget_epochs": schedule.max_steps / schedule.steps_per_epoch,
                "steps_per_epoch": schedule.steps_per_epoch,
                "eval_every": schedule.eval_every,
                "batch_size": schedule.batch_size,
                "target": task.target,
            }
        return Record(
            key=cell.key(self.seed, self.config), identity=identity, status=self.status,
            environment={**env, **batch_layout(cell)},
            error=self.error, error_detail=detail if self.status == Status.ERROR else None,
            metrics=metrics, budget=budget, curve=self.curve, eval_time_s=eval_time_s,
            started_at=started, finished_at=finished, grokbench_version=__version__,
            provenance=_provenance(cell.configs[self.config]),
        )


def _provenance(method: MethodSpec) -> dict[str, Any]:
    """Where a configuration came from without entering the identity (the tuning folder)."""
    return {"tuned_from": method.tuned_from} if method.tuned_from else {}
