"""Curve -> summary metrics. One meaning everywhere:

- fit_step:   first evaluation with train accuracy >= fit_threshold (default 0.99).
- t90_step, t95_step: first evaluation with test accuracy >= 0.90, >= 0.95.
- first_cross_step: first evaluation with test accuracy >= the task's target.
- solve_step: the time to *stable generalization*: the first evaluation at or above the
  target after which test accuracy stays at or above the *hold level* (target - hold_band)
  through a watched window of W evaluations, W = max(sustain_evals, ceil(sustain_frac x
  steps so far / eval_every)) (``Stability``). Training goes on through the window (past
  the budget if needed: the budget bounds the time to reach the target, not the watch),
  so the window is observed, never assumed.
- unstable: the solve held through its window, then test accuracy fell below the hold
  level within the *tail*, also watched: max(W, tail_frac x the crossing's steps)
  evaluations after the window (tail_frac 1: until about twice the solve step): a late
  collapse.
- relapses: how often test accuracy fell from at or above the target to below the hold
  level before the solve (over the whole curve when there is no solve): crossed, fell back.
- plateau_steps = solve_step - fit_step, 0 if it generalizes before it fits: the plateau.
- *_epoch: the same points in epochs (one epoch = one pass over the training data), for
  reading a record on its own; the analysis converts steps itself, in one place
  (``grokbench.stats.Sample.in_epochs``), and never reads them.
- train_time_s: cumulative training seconds of the whole trial (evaluation excluded).
- t90_time_s, t95_time_s, time_to_target_s: cumulative training seconds up to t90_step,
  t95_step, solve_step.

Why a band and a window that grows with the steps: docs/stability.md (from curves trained
100 evaluations past their first crossing: most falls below a target are a few test
examples deep, a flicker, while a window of fixed length misses slow collapses).

Records written before the window existed (their task settings have no ``sustain_frac``)
keep the rule they were made under: the target held for ``sustain_evals`` more evaluations,
no band, and a run cut short by the end of the curve counts (``Stability.legacy``).

A metric that was never reached is None; statistics censor an unsolved trial at its
budget (``budget_steps``), never drop it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

T90 = 0.90
T95 = 0.95
DEFAULT_SUSTAIN_EVALS = 5
DEFAULT_SUSTAIN_FRAC = 0.1
DEFAULT_HOLD_BAND = 0.05
DEFAULT_TAIL_FRAC = 1.0
LEGACY_SUSTAIN_EVALS = 1  # the rule of records made before the window (grokbench < 0.2)
DEFAULT_FIT_THRESHOLD = 0.99
POINTS = ("fit", "t90", "t95", "first_cross", "solve")


@dataclass(frozen=True)
class Stability:
    """The rule for a stable solve (module docstring). ``min_evals`` >= 0 evaluations,
    ``frac`` >= 0 of the steps so far, ``band`` in [0, 1) below the target, ``tail_frac``
    >= 0: the tail watched after the window, as a fraction of the crossing's step (at least
    as long as the window); ``cut_counts`` (legacy records only): a window cut short by the
    end of the curve counts as held."""

    min_evals: int = DEFAULT_SUSTAIN_EVALS
    frac: float = DEFAULT_SUSTAIN_FRAC
    band: float = DEFAULT_HOLD_BAND
    tail_frac: float = DEFAULT_TAIL_FRAC
    cut_counts: bool = False

    @classmethod
    def legacy(cls, sustain_evals: int = LEGACY_SUSTAIN_EVALS) -> Stability:
        """The rule of records made before the window (grokbench 0.1: task settings without
        ``sustain_frac``): the target held for ``sustain_evals`` more evaluations, no band,
        no tail, a window cut short by the end of the curve counts. Needed by every
        committed record under ``leaderboard/`` (all written by 0.1); it goes when those
        pages are regenerated."""
        return cls(max(0, int(sustain_evals)), 0.0, 0.0, 0.0, cut_counts=True)

    def window(self, step: int, eval_every: int) -> int:
        """Evaluations after a crossing at ``step`` that must hold (the crossing excluded)."""
        return max(self.min_evals, math.ceil(self.frac * step / max(1, eval_every)))

    def tail(self, step: int, eval_every: int) -> int:
        """Evaluations watched after the window of a crossing at ``step``."""
        return max(self.window(step, eval_every), math.ceil(self.tail_frac * step / max(1, eval_every)))

    def watch_steps(self, max_steps: int, eval_every: int) -> int:
        """Steps past the budget that a crossing at the budget needs for window and tail."""
        return (self.window(max_steps, eval_every) + self.tail(max_steps, eval_every)) * max(1, eval_every)


class StabilityWatch:
    """Reads a trial's test accuracy one evaluation at a time and applies ``Stability``.

    After ``feed`` of evaluation i: ``solve`` is the index of the stable solve once its
    window has held (None before), ``relapses`` the falls below the hold level before it,
    ``unstable`` whether the tail after the window fell below the hold level, ``done``
    whether window and tail have both been watched (the trial may stop). A crossing after
    ``budget`` (steps; None: no budget) opens no window: the budget bounds the time to reach
    the target, the watch may only finish past it.
    """

    def __init__(self, target: float, stability: Stability, eval_every: int,
                 budget: int | None = None) -> None:
        self.target, self.rule, self.eval_every, self.budget = target, stability, eval_every, budget
        self.hold = target - stability.band
        self.crossing: int | None = None  # start of the window being watched
        self.window = self.tail = 0
        self.solve: int | None = None
        self.relapses = 0
        self.unstable = False
        self.last = -1

    def feed(self, step: int, acc: float | None) -> None:
        i = self.last = self.last + 1
        if self.solve is not None:
            if i <= self.solve + self.window + self.tail and not _at_or_above(acc, self.hold):
                self.unstable = True
            return
        if self.crossing is not None and not _at_or_above(acc, self.hold):
            self.crossing, self.relapses = None, self.relapses + 1
        within_budget = self.budget is None or step <= self.budget
        if self.crossing is None and within_budget and _at_or_above(acc, self.target):
            self.crossing, self.window = i, self.rule.window(step, self.eval_every)
            self.tail = self.rule.tail(step, self.eval_every)
        if self.crossing is not None and i - self.crossing >= self.window:
            self.solve = self.crossing

    def finish(self) -> None:
        """The curve ended (legacy records only): a window cut short counts as held."""
        if self.solve is None and self.crossing is not None and self.rule.cut_counts:
            self.solve = self.crossing

    @property
    def watching(self) -> bool:
        """A crossing's window or a solve's tail is still being watched."""
        return self.crossing is not None and not self.done

    @property
    def done(self) -> bool:
        return self.solve is not None and self.last >= self.solve + self.window + self.tail


def _at_or_above(value: float | None, threshold: float) -> bool:
    return value is not None and value >= threshold


def first_reaching(values: Sequence[float | None], threshold: float) -> int | None:
    """Index of the first value >= threshold (None values never count), else None."""
    for i, v in enumerate(values):
        if _at_or_above(v, threshold):
            return i
    return None


def watch(test_acc: Sequence[float | None], steps: Sequence[int], target: float,
          stability: Stability, eval_every: int, budget: int | None = None) -> StabilityWatch:
    """A ``StabilityWatch`` fed a whole curve (and told that it ended)."""
    w = StabilityWatch(target, stability, eval_every, budget)
    for step, acc in zip(steps, test_acc):
        w.feed(step, acc)
    w.finish()
    return w


def eval_period(steps: Sequence[int]) -> int:
    """Steps between evaluations, read off a curve (its first interval; 1 when shorter)."""
    return max(1, steps[1] - steps[0]) if len(steps) > 1 else 1


def summarize(
    curve: dict[str, list],
    *,
    fit_threshold: float,
    target: float,
    steps_per_epoch: int,
    stability: Stability | None = None,
    eval_every: int | None = None,
    budget_steps: int | None = None,
) -> dict[str, Any]:
    """Summary metrics of one trial's curve (columns step, train_acc, test_acc,
    train_time_s); see the module docstring for each metric. ``stability`` defaults to
    the current rule; ``eval_every`` (steps) to the curve's own spacing; ``budget_steps``
    (None: none) is the last step at which a crossing may start a solve."""
    test, steps = curve["test_acc"], curve["step"]
    rule = stability or Stability()
    watched = watch(test, steps, target, rule, eval_every or eval_period(steps), budget_steps)
    index = {
        "fit": first_reaching(curve["train_acc"], fit_threshold),
        "t90": first_reaching(test, T90),
        "t95": first_reaching(test, T95),
        "first_cross": first_reaching(test, target),
        "solve": watched.solve,
    }

    def at(name: str, column: str = "step") -> Any:
        return None if index[name] is None else curve[column][index[name]]

    out: dict[str, Any] = {f"{name}_step": at(name) for name in POINTS}
    solve, fit = out["solve_step"], out["fit_step"]
    plateau = None if solve is None else max(0, solve - (fit if fit is not None else solve))
    out["plateau_steps"] = plateau
    for name in POINTS:
        step = out[f"{name}_step"]
        out[f"{name}_epoch"] = None if step is None else step / steps_per_epoch
    out["plateau_epochs"] = None if plateau is None else plateau / steps_per_epoch
    out["train_time_s"] = curve["train_time_s"][-1] if steps else 0.0
    out["t90_time_s"], out["t95_time_s"] = at("t90", "train_time_s"), at("t95", "train_time_s")
    out["time_to_target_s"] = at("solve", "train_time_s")
    out["relapses"] = watched.relapses
    out["stable_window_evals"] = watched.window if solve is not None else None
    # a collapse seen in the tail, or a tail watched whole; None: not watched (older records)
    out["unstable"] = True if watched.unstable else (False if watched.done and not rule.cut_counts else None)
    return out


def stability_of(params: dict[str, Any]) -> Stability:
    """The rule a record was made under, from its task settings (``Stability.legacy`` for
    settings without ``sustain_frac``: records from before the window)."""
    sustain = _number(params.get("sustain_evals"))
    if "sustain_frac" not in params:
        return Stability.legacy(LEGACY_SUSTAIN_EVALS if sustain is None else int(sustain))
    frac, band = _number(params.get("sustain_frac")), _number(params.get("hold_band"))
    tail = _number(params.get("tail_frac"))
    return Stability(DEFAULT_SUSTAIN_EVALS if sustain is None else int(sustain),
                     DEFAULT_SUSTAIN_FRAC if frac is None else frac,
                     DEFAULT_HOLD_BAND if band is None else band,
                     DEFAULT_TAIL_FRAC if tail is None else tail)


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def summarize_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """The metrics of a frame row (``grokbench.record.to_row`` with its ``curve``),
    recomputed from its curve with its task's fit threshold, target and stability rule
    (``stability_of``); None when the row has no usable curve, target or steps per epoch."""
    curve = row.get("curve")
    if not isinstance(curve, dict) or not curve.get("step"):
        return None
    if not all(isinstance(curve.get(c), list) for c in ("train_acc", "test_acc", "train_time_s")):
        return None
    params = row.get("task_params") if isinstance(row.get("task_params"), dict) else {}
    target = _number(row.get("target")) or _number(params.get("target"))
    steps_per_epoch = _number(row.get("steps_per_epoch"))
    if target is None or not steps_per_epoch:
        return None
    fit = _number(params.get("fit_threshold"))
    eval_every, budget = _number(row.get("eval_every")), _number(row.get("budget_steps"))
    return summarize(curve, fit_threshold=DEFAULT_FIT_THRESHOLD if fit is None else fit, target=target,
                     steps_per_epoch=int(steps_per_epoch), stability=stability_of(params),
                     eval_every=int(eval_every) if eval_every else None,
                     budget_steps=int(budget) if budget else None)


def with_curve_metrics(frame):
    """A copy of ``frame`` whose metric columns are recomputed from each row's curve
    (rows without one keep their stored metrics). Records written before a metric existed
    get it this way, under the same definition as new ones. No ``curve`` column: as is."""
    if frame is None or len(frame) == 0 or "curve" not in frame.columns:
        return frame
    frame = frame.copy()
    rows = frame.to_dict(orient="records")
    computed = [summarize_row(r) for r in rows]
    names = sorted({k for m in computed if m for k in m})
    for name in names:
        stored = list(frame[name]) if name in frame.columns else [None] * len(rows)
        frame[name] = [m[name] if m else s for m, s in zip(computed, stored)]
    return frame
