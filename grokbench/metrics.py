"""Curve -> summary metrics. One meaning everywhere (DESIGN.md):

- fit_step:   first evaluation with train accuracy >= fit_threshold (default 0.99).
- t90_step:   first evaluation with test accuracy >= 0.90.
- solve_step: first evaluation with test accuracy >= the task's target.
- plateau_steps = solve_step - fit_step, 0 if it generalizes before it fits: the plateau.
- *_epoch: the same points in epochs (one epoch = one pass over the training data).
- train_time_s: cumulative training seconds of the whole trial (evaluation excluded).
- time_to_target_s: cumulative training seconds up to solve_step.

A metric that was never reached is None; statistics censor an unsolved trial at its
budget (``budget_steps``), never drop it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

T90 = 0.90


def first_reaching(values: Sequence[float | None], threshold: float) -> int | None:
    """Index of the first value >= threshold (None values never count), else None."""
    for i, v in enumerate(values):
        if v is not None and v >= threshold:
            return i
    return None


def summarize(
    curve: dict[str, list],
    *,
    fit_threshold: float,
    target: float,
    steps_per_epoch: int,
) -> dict[str, Any]:
    """Summary metrics of one trial's curve (columns step, train_acc, test_acc, train_time_s)."""
    steps = curve["step"]

    def at(index: int | None, column: str = "step") -> Any:
        return None if index is None else curve[column][index]

    fit = first_reaching(curve["train_acc"], fit_threshold)
    t90 = first_reaching(curve["test_acc"], T90)
    solve = first_reaching(curve["test_acc"], target)
    out: dict[str, Any] = {
        "fit_step": at(fit),
        "t90_step": at(t90),
        "solve_step": at(solve),
    }
    plateau = None
    if solve is not None:
        fitted_at = out["fit_step"] if out["fit_step"] is not None else out["solve_step"]
        plateau = max(0, out["solve_step"] - fitted_at)
    out["plateau_steps"] = plateau
    for name in ("fit", "t90", "solve"):
        step = out[f"{name}_step"]
        out[f"{name}_epoch"] = None if step is None else step / steps_per_epoch
    out["plateau_epochs"] = None if plateau is None else plateau / steps_per_epoch
    out["train_time_s"] = curve["train_time_s"][-1] if steps else 0.0
    out["time_to_target_s"] = at(solve, "train_time_s")
    return out
