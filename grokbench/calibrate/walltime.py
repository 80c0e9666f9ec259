"""Calibrated wall time for the leaderboard: per task and method, each seed's step cost and
the conditions its measured seconds were taken under; and the calibrated estimates.

Calibrated seconds of a seed = its steps to target x its configuration's per-seed step cost
+ its per-seed setup (``StepCost.seconds_for``); an unsolved seed stays unsolved (inf) and
is censored at the steps it trained, costed the same way. The median and the speedup
against the baseline use ``grokbench.stats``'s censoring-aware median, and a paired
bootstrap over the common seeds, like the measured ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import stats as st
from .costs import StepCost


@dataclass
class MethodTiming:
    """One method on one task. seed_costs: each seed's calibrated cost (seeds whose
    configuration was not calibrated are absent); measured: the distinct conditions of its
    measured seconds ('device, threads, seeds per batch'); under_load / with_load: trials
    taken under load / trials whose record says."""

    seed_costs: dict[int, StepCost] = field(default_factory=dict)
    measured: set[str] = field(default_factory=set)
    under_load: int = 0
    with_load: int = 0

    def costs(self) -> list[StepCost]:
        """The distinct costs, in seed order."""
        return list({c.key: c for _, c in sorted(self.seed_costs.items())}.values())


def _measured_conditions(row: dict) -> str:
    threads, layout = row.get("threads"), row.get("batch_width") or 1  # frames built without to_row: 1
    return f"{row.get('device')}, {threads} thread{'s' * (threads != 1)}, {int(layout)} seeds per batch"


def walltime_context(frame, costs: dict[str, StepCost]) -> dict[str, dict[str, MethodTiming]]:
    """Task label -> method label -> MethodTiming, under the labels ``grokbench.stats.analyze``
    gives the same frame (a ``load_frame`` frame; ``costs`` from ``load_costs``)."""
    out: dict[str, dict[str, MethodTiming]] = {}
    if frame is None or len(frame) == 0:
        return out
    for row in st.disambiguate(frame).to_dict(orient="records"):
        timing = out.setdefault(str(row["task_label"]), {}).setdefault(str(row["method"]), MethodTiming())
        cost = costs.get(row.get("calibration_key"))
        if cost is not None:
            timing.seed_costs[int(row["seed"])] = cost
        if str(row.get("status")) in st.FINAL_STATUSES:
            timing.measured.add(_measured_conditions(row))
        if row.get("under_load") is not None:
            timing.with_load += 1
            timing.under_load += bool(row["under_load"])
    return out


def calibrated_seconds(sample: st.Sample, timing: MethodTiming | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(calibrated seconds to target, inf where unsolved; seconds at censoring) per seed of
    ``sample``; None unless every seed has a calibrated cost."""
    if timing is None or sample.n == 0:
        return None
    costs = [timing.seed_costs.get(int(s)) for s in sample.seeds]
    if any(c is None for c in costs):
        return None
    per_step = np.array([c.seed_step_cost_s for c in costs])
    setup = np.array([c.seed_setup_s for c in costs])
    return sample.steps * per_step + setup, sample.steps_censor * per_step + setup


def calibrated_median(label: str, method: str, sample: st.Sample, timing: MethodTiming | None) -> st.Estimate | None:
    """Censoring-aware median calibrated seconds to target, bootstrap 95% CI (None: not calibrated)."""
    secs = calibrated_seconds(sample, timing)
    if secs is None:
        return None
    return st.median_ci(secs[0])


def calibrated_speedup(label: str, method: str, sample: st.Sample, timing: MethodTiming | None,
                       base: str, base_sample: st.Sample, base_timing: MethodTiming | None) -> st.Estimate | None:
    """Baseline median / method median of calibrated seconds over their common seeds, paired
    bootstrap 95% CI (None: either side not calibrated, or no common seed)."""
    common = sorted(set(sample.seeds.tolist()) & set(base_sample.seeds.tolist()))
    if not common:
        return None
    a, b = sample.take(common), base_sample.take(common)
    secs_a, secs_b = calibrated_seconds(a, timing), calibrated_seconds(b, base_timing)
    if secs_a is None or secs_b is None:
        return None
    rng = st.seeded_rng(label, method, base, "calibrated speedup")
    idx = rng.integers(0, len(common), size=(st.N_BOOT, len(common)))
    return st.ratio_ci(secs_b[0], secs_b[1], secs_a[0], secs_a[1], rng, st.N_BOOT, idx)
