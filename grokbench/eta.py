"""How long a run has left: an estimate from measured step costs and the remaining budgets.

How it is estimated. The unit of work is one training step of one *cell* (the seeds, and
configurations, that train together in one batch; ``grokbench.plan.Cell``):

- *Remaining work*: a running cell has ``max_steps - step`` steps left; a cell that has not
  started has its whole budget left (``max_steps`` of a cell of the same task seen so far);
  a cell whose trials all have records has none, so a cell whose seeds all solve early
  drops its unspent budget and the estimate shrinks.
- *Step cost*: seconds between two evaluations of one cell divided by the steps between
  them, averaged over every such interval of the same (task, method) (a configuration
  never seen: the task's average over its methods).
- *Concurrency*: the summed length of those intervals divided by the wall time since the
  first evaluation: about the number of cells training at once (``-j``), and below 1 where
  time goes to other work (building a batch, evaluation at the start of a cell).

ETA = sum over cells of steps left x step cost, divided by the concurrency.

It is an upper-bound-ish estimate: every unfinished trial is counted to its full budget,
while most trials that generalize stop well before it (or are capped, when tuning); trials
that watch a late stability window run a little past the budget, which it ignores. A cell
whose task has no measured cost yet is left out and the estimate is marked ``partial``
(a lower bound on that part). The clock is injected (``clock``), so the estimator is
tested with fake times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

CellId = tuple


def cell_id(cell: Any) -> CellId:
    """A cell's identity, equal for the copies an executor sends to its workers."""
    return (cell.task.label, tuple(c.label for c in cell.configs), tuple(cell.seeds))


def cost_kind(cell: Any) -> tuple[str, str]:
    """The (task, method) whose measured step cost a cell shares."""
    return (cell.task.label, cell.method.label)


@dataclass
class CellWork:
    """What the estimator knows of one cell. ``open_keys``: its trials without records."""

    task: str
    kind: tuple[str, str]
    open_keys: set[str]
    step: int = 0
    max_steps: int | None = None
    last_eval_s: float | None = None


@dataclass(frozen=True)
class Eta:
    """``seconds`` left (upper-bound-ish); ``partial``: some cells are not counted (their
    task has no measured cost yet), so the true figure is larger."""

    seconds: float
    partial: bool


def eta_seconds(steps_left: Iterable[tuple[float, float | None]], concurrency: float) -> Eta | None:
    """The pure estimate: ``steps_left`` holds (steps, seconds per step or None when not
    measured) per cell; ``concurrency`` is the measured number of cells training at once.
    0 s when no cell is left; None when nothing left is measured yet (or concurrency is not
    positive)."""
    steps_left = list(steps_left)
    if not steps_left:
        return Eta(0.0, False)
    total, partial, measured = 0.0, False, False
    for steps, cost in steps_left:
        if cost is None:
            partial = partial or steps != 0
            continue
        measured = True
        total += max(steps, 0.0) * cost
    if not measured or concurrency <= 0:
        return None
    return Eta(total / concurrency, partial)


@dataclass
class EtaTracker:
    """Follows a run's cells through evaluations and records, and estimates what is left
    (module docstring). ``clock``: seconds, monotonic (fake in tests)."""

    clock: Callable[[], float] = time.monotonic
    cells: dict[CellId, CellWork] = field(default_factory=dict)
    by_key: dict[str, CellId] = field(default_factory=dict)
    _costs: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # [seconds, steps]
    _budgets: dict[str, int] = field(default_factory=dict)  # task -> max_steps seen
    _busy_s: float = 0.0
    _first_s: float | None = None

    def add_cells(self, cells: Iterable[Any], later: bool = False) -> None:
        """Cells about to run; known ones are kept. ``later``: cells of a later wave, which
        get no records before ``forget_cells`` (so their trial keys are not computed)."""
        for cell in cells:
            cid = cell_id(cell)
            if cid in self.cells:
                continue
            keys = {"later"} if later else set(cell.keys())
            self.cells[cid] = CellWork(cell.task.label, cost_kind(cell), keys)
            if not later:
                self.by_key.update(dict.fromkeys(keys, cid))

    def forget_cells(self) -> None:
        """Drop the cells but keep the measured costs and budgets: a tuning study's next wave starts with
        what the earlier ones measured."""
        self.cells.clear()
        self.by_key.clear()

    def on_eval(self, cell: Any, step: int, max_steps: int) -> None:
        """A cell evaluated after ``step`` training steps of a ``max_steps`` budget."""
        now = self.clock()
        cid = cell_id(cell)
        if cid not in self.cells:
            self.add_cells([cell])
        work = self.cells[cid]
        if self._first_s is None:
            self._first_s = now
        if work.last_eval_s is not None and step > work.step:
            interval = now - work.last_eval_s
            totals = self._costs.setdefault(work.kind, [0.0, 0.0])
            totals[0] += interval
            totals[1] += step - work.step
            self._busy_s += interval
        work.step, work.max_steps, work.last_eval_s = step, max_steps, now
        self._budgets[work.task] = max_steps

    def on_record(self, key: str) -> None:
        """A trial's record arrived; a cell with none open has no work left."""
        cid = self.by_key.get(key)
        if cid is not None:
            self.cells[cid].open_keys.discard(key)

    def step_costs(self) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
        """Measured seconds per step: per (task, method), and per task (the average over its
        methods, for a method not measured yet)."""
        own = {kind: seconds / steps for kind, (seconds, steps) in self._costs.items() if steps > 0}
        per_task: dict[str, list[float]] = {}
        for (task, _), cost in own.items():
            per_task.setdefault(task, []).append(cost)
        return own, {task: sum(costs) / len(costs) for task, costs in per_task.items()}

    def concurrency(self) -> float:
        """Summed measured intervals over the wall time since the first evaluation."""
        if self._first_s is None:
            return 0.0
        elapsed = self.clock() - self._first_s
        return self._busy_s / elapsed if elapsed > 0 else 0.0

    def estimate(self) -> Eta | None:
        """The ETA now (module docstring), or None before anything is measured."""
        own, per_task = self.step_costs()
        left = []
        for work in self.cells.values():
            if not work.open_keys:
                continue
            budget = work.max_steps or self._budgets.get(work.task)
            cost = own.get(work.kind, per_task.get(work.task))
            left.append((budget - work.step, cost) if budget is not None else (1.0, None))
        return eta_seconds(left, self.concurrency())


def format_eta(eta: Eta | None) -> str:
    """'ETA 3m12s', 'ETA >3m12s' (partial), 'ETA ?' (nothing measured yet)."""
    if eta is None:
        return "ETA ?"
    s = round(eta.seconds)
    text = f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
    return f"ETA {'>' if eta.partial else ''}{text}"
