"""Step costs on disk (``DIR/calibration.json``, next to ``records/``) and the calibrated
time to target they give each trial.

Calibrated time to target of a solved trial = solve_step x (its share of one batch step) +
(its share of the method's one-time setup), where the share is 1/layout of the whole
batch's median step cost: a seed is charged as if its whole batch trained every step,
whichever of its neighbours had finished, so the figure does not depend on which other
seeds happened to be in the batch. One calibration measures every configuration of a
folder in one interleaved session, so its costs are comparable with each other; the file
is replaced whole, never merged with another session's.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..safefile import read_regular
from ..store import atomic_write_text

CALIBRATION_FILE = "calibration.json"
FORMAT = "grokbench-calibration"
FORMAT_VERSION = 1
MAX_CALIBRATION_BYTES = 64 * 2**20  # the largest calibration file read (a regular file only)


@dataclass(frozen=True)
class StepCost:
    """The calibrated cost of one configuration (task, method, device, layout).

    step_cost_s: median seconds of one training step of the whole batch of ``layout`` seeds;
    iqr_over_median: the blocks' spread; rel_se: relative standard error of the median;
    stable: rel_se reached the session's tolerance;
    rounds: blocks measured (after warmup_steps), block_steps: the last one's steps; cost_period: the method's
    cost period the blocks are a multiple of; setup_s: the method's one-time setup (its
    chain's init) for the whole batch; cpu_step_cost_s: median process CPU seconds of one
    batch step (CPU devices; None on CUDA); cpu_per_wall: process CPU seconds per wall
    second while measuring; threads: torch threads; mode: ``full`` or ``quick``.
    """

    key: str
    task_label: str
    method: str
    device: str
    layout: int
    threads: int
    step_cost_s: float
    iqr_over_median: float
    rel_se: float
    stable: bool
    rounds: int
    block_steps: int
    warmup_steps: int
    cost_period: int
    setup_s: float
    cpu_step_cost_s: float | None
    cpu_per_wall: float | None
    mode: str
    measured_as: str = ""

    @property
    def seed_step_cost_s(self) -> float:
        """One seed's share of a batch step."""
        return self.step_cost_s / self.layout

    @property
    def seed_setup_s(self) -> float:
        return self.setup_s / self.layout

    def seconds_for(self, steps: float) -> float:
        """Calibrated seconds of one seed training ``steps`` steps (setup included)."""
        return steps * self.seed_step_cost_s + self.seed_setup_s

    @property
    def conditions(self) -> str:
        """Where it was measured, e.g. 'cpu, 2 threads, 10 seeds per batch'."""
        return f"{self.device}, {self.threads} thread{'s' * (self.threads != 1)}, {self.layout} seeds per batch"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepCost:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data or f.default is MISSING})


def calibration_path(results_dir: str | Path) -> Path:
    return Path(results_dir) / CALIBRATION_FILE


def write_calibration(results_dir: str | Path, costs: list[StepCost], skipped: list[dict[str, str]],
                      info: dict[str, Any]) -> Path:
    """Replace DIR/calibration.json (atomically): ``info`` (when, where, settings), the costs
    and the configurations that could not be measured."""
    path = calibration_path(results_dir)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, **info,
            "costs": [asdict(c) for c in costs], "skipped": skipped}
    atomic_write_text(path, json.dumps(data, indent=1, default=str) + "\n")
    return path


def read_calibration(results_dir: str | Path) -> dict[str, Any] | None:
    """The folder's calibration file as a dict; None when there is none, or it is not one
    (with a warning naming it)."""
    path = calibration_path(results_dir)
    if not path.is_file():
        return None
    try:
        data = json.loads(read_regular(path, MAX_CALIBRATION_BYTES).decode("utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a grokbench calibration")
        data["costs"] = [StepCost.from_json(c) for c in data.get("costs") or []]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"warning: ignoring {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    return data


def load_costs(results_dir: str | Path) -> dict[str, StepCost]:
    """The folder's step costs by calibration key (the ``calibration_key`` column of
    ``grokbench.store.load_frame``); empty when the folder was never calibrated."""
    data = read_calibration(results_dir)
    return {c.key: c for c in data["costs"]} if data else {}


def _calibrated(row: dict[str, Any], cost: StepCost | None) -> dict[str, Any]:
    if cost is None:
        return {"calibrated_step_cost_s": None, "calibrated_setup_s": None,
                "calibrated_time_to_target_s": None, "calibrated_train_time_s": None}
    solve, steps = row.get("solve_step"), row.get("steps_timed")
    solved = row.get("status") == "solved" and _finite(solve)
    return {
        "calibrated_step_cost_s": cost.seed_step_cost_s,
        "calibrated_setup_s": cost.seed_setup_s,
        "calibrated_time_to_target_s": cost.seconds_for(solve) if solved else None,
        "calibrated_train_time_s": cost.seconds_for(steps) if _finite(steps) else None,
    }


def _finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def with_calibrated_columns(frame, costs: dict[str, StepCost]):
    """Copy of a ``load_frame`` frame with ``calibrated_step_cost_s`` (per seed-step),
    ``calibrated_setup_s`` (per seed), ``calibrated_time_to_target_s`` (solved trials) and
    ``calibrated_train_time_s`` (the steps it trained); None where the trial's
    configuration has no calibrated cost."""
    import pandas as pd

    frame = frame.copy()
    if frame.empty:
        return frame
    extra = [_calibrated(r, costs.get(r.get("calibration_key"))) for r in frame.to_dict(orient="records")]
    for column, values in pd.DataFrame(extra, index=frame.index).items():
        frame[column] = values.astype(object).where(values.notna(), None)
    return frame
