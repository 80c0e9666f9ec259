"""Curve -> summary metrics. One meaning everywhere:

- fit_step:   first evaluation with train accuracy >= fit_threshold (default 0.99).
- t90_step, t95_step: first evaluation with test accuracy >= 0.90, >= 0.95.
- first_cross_step: first evaluation with test accuracy >= the task's target.
- solve_step: the *sustained* solve: the first evaluation at or above the target after
  which test accuracy stays at or above it for the next ``sustain`` evaluations (the
  task's ``sustain_evals``; 0 makes it the first crossing). A run of evaluations at or above
  the target that reaches the end of the curve counts: the trial ended there (its budget
  ran out) without falling back.
- relapses: how often test accuracy fell from at or above the target to below it before
  the solve (over the whole curve when there is no solve): crossed, then fell back.
- plateau_steps = solve_step - fit_step, 0 if it generalizes before it fits: the plateau.
- *_epoch: the same points in epochs (one epoch = one pass over the training data).
- train_time_s: cumulative training seconds of the whole trial (evaluation excluded).
- t90_time_s, t95_time_s, time_to_target_s: cumulative training seconds up to t90_step,
  t95_step, solve_step.

A metric that was never reached is None; statistics censor an unsolved trial at its
budget (``budget_steps``), never drop it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

T90 = 0.90
T95 = 0.95
DEFAULT_SUSTAIN_EVALS = 1
DEFAULT_FIT_THRESHOLD = 0.99
POINTS = ("fit", "t90", "t95", "first_cross", "solve")


def _at_or_above(value: float | None, threshold: float) -> bool:
    return value is not None and value >= threshold


def first_reaching(values: Sequence[float | None], threshold: float) -> int | None:
    """Index of the first value >= threshold (None values never count), else None."""
    for i, v in enumerate(values):
        if _at_or_above(v, threshold):
            return i
    return None


def sustained_reaching(values: Sequence[float | None], threshold: float, sustain: int) -> int | None:
    """Index of the first value >= threshold followed by ``sustain`` more such values (a
    run cut short by the end of ``values`` counts), else None."""
    start = None
    for i, v in enumerate(values):
        if not _at_or_above(v, threshold):
            start = None
            continue
        start = i if start is None else start
        if i - start >= sustain:
            return start
    return start


def trailing_run(values: Sequence[float | None], threshold: float, limit: int) -> int:
    """How many of the last values are >= threshold, counting back at most ``limit``."""
    count = 0
    for v in reversed(values[-limit:] if limit > 0 else []):
        if not _at_or_above(v, threshold):
            break
        count += 1
    return count


def count_relapses(values: Sequence[float | None], threshold: float, until: int | None = None) -> int:
    """Falls from >= threshold to below it among ``values[:until]`` (all when None)."""
    values = values if until is None else values[:until]
    return sum(1 for prev, cur in zip(values, values[1:])
               if _at_or_above(prev, threshold) and not _at_or_above(cur, threshold))


def summarize(
    curve: dict[str, list],
    *,
    fit_threshold: float,
    target: float,
    steps_per_epoch: int,
    sustain: int = DEFAULT_SUSTAIN_EVALS,
) -> dict[str, Any]:
    """Summary metrics of one trial's curve (columns step, train_acc, test_acc,
    train_time_s); see the module docstring for each metric."""
    test = curve["test_acc"]
    index = {
        "fit": first_reaching(curve["train_acc"], fit_threshold),
        "t90": first_reaching(test, T90),
        "t95": first_reaching(test, T95),
        "first_cross": first_reaching(test, target),
        "solve": sustained_reaching(test, target, max(0, int(sustain))),
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
    out["train_time_s"] = curve["train_time_s"][-1] if curve["step"] else 0.0
    out["t90_time_s"], out["t95_time_s"] = at("t90", "train_time_s"), at("t95", "train_time_s")
    out["time_to_target_s"] = at("solve", "train_time_s")
    out["relapses"] = count_relapses(test, target, index["solve"])
    return out


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def summarize_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """The metrics of a frame row (``grokbench.record.to_row`` with its ``curve``),
    recomputed from its curve with its task's fit threshold, target and ``sustain_evals``;
    None when the row has no usable curve, target or steps per epoch."""
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
    sustain = _number(params.get("sustain_evals", DEFAULT_SUSTAIN_EVALS))
    fit = DEFAULT_FIT_THRESHOLD if fit is None else fit
    sustain = DEFAULT_SUSTAIN_EVALS if sustain is None else int(sustain)
    return summarize(curve, fit_threshold=fit, target=target, steps_per_epoch=int(steps_per_epoch),
                     sustain=sustain)


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
