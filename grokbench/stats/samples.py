"""One method's trials on one task at one threshold, one entry per seed: :class:`Sample`.

Contracts: input rows are those of :func:`grokbench.store.load_frame` (a DataFrame or a
list of dicts); nothing here reaches back into training or the plugin registry. Units:
steps (optimizer steps) and seconds (training seconds).

* **Pairing.** Seeds are paired by construction: seed s gives every method the same data,
  initialization and data order. One record per seed carries a measurement (status
  solved / unsolved / diverged, or a timeout with a curve; a later duplicate wins); the
  others are only counted (``Sample.excluded``).
* **Censoring.** A trial that did not reach a threshold is right-censored at its budget
  (``budget_steps``), for ``unsolved`` and ``diverged`` alike, so diverging looks worse,
  never better. A ``timeout`` with a curve is censored at the last step it reached.
* **Seconds.** Calibrated (every row has a calibrated per-seed step cost,
  :mod:`grokbench.calibrate`): steps x that cost + the per-seed setup. Otherwise the
  measured in-loop seconds, censored at the seconds the trial trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .constants import EVENT_STATUSES, FINAL_STATUSES, TARGET, THRESHOLD_COLUMNS
from .survival import censored_median


@dataclass
class Sample:
    """One method's final trials on one task at one threshold, one entry per seed (sorted).

    ``steps``/``seconds``/``plateau`` are ``inf`` where the trial did not reach the
    threshold; ``steps_censor``/``seconds_censor`` are where it was censored (budget steps;
    the training seconds it ran), used for the log-rank test and for bounds. ``relapsed``:
    crossed the target and fell back below its hold level (before a stable solve, or for
    good). ``unstable``: solved, then fell below the hold level in the watched tail after
    the window (``grokbench.metrics``).
    """

    seeds: np.ndarray
    solved: np.ndarray
    steps: np.ndarray
    steps_censor: np.ndarray
    seconds: np.ndarray
    seconds_censor: np.ndarray
    plateau: np.ndarray
    steps_per_epoch: float
    budget_steps: float
    excluded: dict[str, int] = field(default_factory=dict)
    status: np.ndarray | None = None  # per seed: solved / unsolved / diverged / timeout
    relapsed: np.ndarray | None = None
    seconds_calibrated: bool = False  # seconds = steps x calibrated step cost (grokbench.calibrate)
    measured_seconds: np.ndarray | None = None  # the in-loop seconds to the threshold (inf: not reached)
    unstable: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(len(self.seeds))

    @property
    def k(self) -> int:
        return int(self.solved.sum())

    def take(self, seeds) -> Sample:
        index = {int(s): i for i, s in enumerate(self.seeds)}
        idx = np.array([index[int(s)] for s in seeds], dtype=int)
        return Sample(
            self.seeds[idx], self.solved[idx], self.steps[idx], self.steps_censor[idx],
            self.seconds[idx], self.seconds_censor[idx], self.plateau[idx],
            self.steps_per_epoch, self.budget_steps, dict(self.excluded),
            None if self.status is None else self.status[idx],
            None if self.relapsed is None else self.relapsed[idx], self.seconds_calibrated,
            None if self.measured_seconds is None else self.measured_seconds[idx],
            None if self.unstable is None else self.unstable[idx],
        )

    @property
    def n_diverged(self) -> int:
        return self.count("diverged")

    @property
    def n_relapsed(self) -> int:
        return 0 if self.relapsed is None else int(self.relapsed.sum())

    @property
    def n_unstable(self) -> int:
        return 0 if self.unstable is None else int(self.unstable.sum())

    def count(self, status: str) -> int:
        return 0 if self.status is None else int((self.status == status).sum())

    def in_epochs(self, steps: float) -> float:
        """``steps`` in epochs (one epoch = ``steps_per_epoch`` steps): the one conversion
        the analysis and the page make; records carry their own ``*_epoch`` fields, which
        the analysis does not read."""
        return steps / self.steps_per_epoch

    @property
    def budget_epochs(self) -> float | None:
        """The budget in epochs; None when it has no finite budget."""
        return self.in_epochs(self.budget_steps) if math.isfinite(self.budget_steps) else None

    def median_epochs(self) -> float:
        """Censoring-aware median epochs to the threshold (inf: undetermined; nan: no seeds)."""
        return censored_median(self.steps / self.steps_per_epoch) if self.n else math.nan

    def horizon(self, seconds: bool = False) -> np.ndarray:
        """Per seed, how far the trial is known not to have reached the threshold: ``inf``
        for a final unsolved trial (never, in this protocol), the censoring point of a
        timeout; the value itself for a trial that reached it."""
        value, censor = (self.seconds, self.seconds_censor) if seconds else (self.steps, self.steps_censor)
        timed_out = np.zeros(self.n, bool) if self.status is None else self.status == "timeout"
        return np.where(self.solved, value, np.where(timed_out & ~self.solved, censor, np.inf))


def _num(value: Any, default: float = math.nan) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


def _records(rows) -> list[dict]:
    return rows.to_dict(orient="records") if hasattr(rows, "to_dict") else list(rows)


def _final_by_seed(records: list[dict]) -> tuple[dict[int, dict], dict[str, int]]:
    """The records that carry a measurement, one per seed (a later duplicate wins), and
    the count of the others by status."""
    excluded: dict[str, int] = {}
    by_seed: dict[int, dict] = {}
    for r in records:
        status = str(r.get("status"))
        if status not in FINAL_STATUSES and not (status == "timeout" and _last_step(r) is not None):
            excluded[status] = excluded.get(status, 0) + 1
            continue
        by_seed[int(r["seed"])] = r
    return by_seed, excluded


def _reached(row: dict, threshold: str) -> bool:
    step = _num(row.get(THRESHOLD_COLUMNS[threshold][0]))
    if threshold == TARGET:
        return str(row["status"]) in EVENT_STATUSES and math.isfinite(step)
    return math.isfinite(step)


def make_sample(rows, threshold: str = TARGET) -> Sample:
    """Rows of one (task, method) -> its Sample at ``threshold`` (one of THRESHOLDS).
    ``rows``: DataFrame or list of dicts."""
    by_seed, excluded = _final_by_seed(_records(rows))
    seeds = sorted(by_seed)
    rs = [by_seed[s] for s in seeds]
    budgets = [_num(r.get("budget_steps")) for r in rs]
    finite_budgets = [b for b in budgets if math.isfinite(b)]
    budget = max(finite_budgets) if finite_budgets else math.inf
    spe = [x for x in (_num(r.get("steps_per_epoch")) for r in rs) if math.isfinite(x) and x > 0]
    step_col, time_col = THRESHOLD_COLUMNS[threshold]
    solved = np.array([_reached(r, threshold) for r in rs], bool)
    steps = np.array([_num(r.get(step_col)) if ok else math.inf for r, ok in zip(rs, solved)], float)
    steps_censor = np.array([
        s if ok else _last_step(r) if str(r["status"]) == "timeout" else (b if math.isfinite(b) else budget)
        for r, ok, s, b in zip(rs, solved, steps, budgets)
    ], float)
    seconds, seconds_censor, calibrated = _seconds(rs, solved, steps, steps_censor, time_col)
    measured = np.array([_num(r.get(time_col), math.inf) if ok else math.inf for r, ok in zip(rs, solved)], float)
    plateau = np.array([_num(r.get("plateau_steps"), 0.0) if ok else math.inf for r, ok in zip(rs, solved)], float)
    relapsed = np.array([_num(r.get("relapses"), 0.0) > 0 for r in rs], bool)
    unstable = np.array([r.get("unstable") is True for r in rs], bool)
    return Sample(
        np.array(seeds, dtype=int), solved, steps, steps_censor, seconds, seconds_censor, plateau,
        spe[0] if spe else 1.0, budget, excluded,
        np.array([str(r["status"]) for r in rs], dtype=object), relapsed, calibrated, measured, unstable,
    )


def _seconds(rs: list[dict], solved: np.ndarray, steps: np.ndarray, steps_censor: np.ndarray,
             time_col: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Seconds to the threshold and censoring seconds, per seed, and whether calibrated.

    Calibrated (every row has a calibrated per-seed step cost, grokbench.calibrate): steps
    x that cost + the per-seed setup, the same for reached and censored steps. Otherwise
    the measured in-loop seconds (censored at the seconds the trial trained)."""
    costs = [_num(r.get("calibrated_step_cost_s")) for r in rs]
    if rs and all(math.isfinite(c) for c in costs):
        setup = np.array([_num(r.get("calibrated_setup_s"), 0.0) for r in rs], float)
        cost = np.array(costs, float)
        with np.errstate(invalid="ignore"):
            seconds = np.where(solved, steps * cost + setup, math.inf)
        return seconds, steps_censor * cost + setup, True
    seconds = np.array([_num(r.get(time_col), math.inf) if ok else math.inf for r, ok in zip(rs, solved)], float)
    seconds_censor = np.array([s if ok else _num(r.get("train_time_s"), 0.0)
                               for r, ok, s in zip(rs, solved, seconds)], float)
    return seconds, seconds_censor, False


def _last_step(row: dict) -> float | None:
    """The last evaluated step of a trial's curve (None without a curve or at step 0)."""
    curve = row.get("curve")
    if not isinstance(curve, dict) or not curve.get("step"):
        return None
    last = _num(curve["step"][-1])
    return last if math.isfinite(last) and last > 0 else None
