"""Performance profiles across tasks (Dolan and Moré).

Contract: on task t, r(m, t) = median steps (or seconds) to target of m / the smallest
such median on t, ``inf`` when m's median is censored; rho_m(tau) = the fraction of the
tasks m ran on with r <= tau. The score is the area under rho_m for tau in [1, TAU_MAX]
divided by TAU_MAX - 1. A method is scored only on the tasks where it has records (a task
it did not run on counts neither for nor against it); a task where no median is reached
is left out of every profile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .analysis import TaskStats
from .comparison import MethodStats

TAU_MAX = 4.0


@dataclass
class Profile:
    """One method's performance profile: per task it ran on, its median cost to target
    divided by the best method's there (inf: its median was not reached)."""

    method: str
    ratios: dict[str, float]

    @property
    def n_tasks(self) -> int:
        return len(self.ratios)

    def rho(self, tau: float) -> float:
        """The fraction of its tasks on which it is within a factor ``tau`` of the best."""
        return sum(r <= tau for r in self.ratios.values()) / self.n_tasks if self.ratios else math.nan

    @property
    def score(self) -> float:
        """Area under rho on [1, TAU_MAX] divided by (TAU_MAX - 1): 1 = best everywhere."""
        if not self.ratios:
            return math.nan
        return sum(max(0.0, TAU_MAX - max(r, 1.0)) for r in self.ratios.values()) / (TAU_MAX - 1) / self.n_tasks


def _median_cost(ms: MethodStats, cost: str) -> float:
    return ms.median_steps.value if cost == "steps" else ms.median_seconds.value


def performance_profiles(analysis: Mapping[str, TaskStats], cost: str = "steps") -> tuple[dict[str, Profile], list[str]]:
    """Performance profiles in ``cost`` ("steps" or "seconds") to target, see the module
    docstring; a task's controls (``TaskStats.control_labels``) are no competitors. Returns
    (profile per method, tasks left out because no median was reached)."""
    ratios: dict[str, dict[str, float]] = {}
    left_out = []
    for label, ts in analysis.items():
        controls = ts.control_labels()
        costs = {m: _median_cost(ms, cost) for m, ms in ts.methods.items() if ms.sample.n and m not in controls}
        best = min((c for c in costs.values() if math.isfinite(c) and c > 0), default=None)
        if best is None:
            left_out.append(label)
            continue
        for m, c in costs.items():
            ratios.setdefault(m, {})[label] = c / best if math.isfinite(c) else math.inf
    return {m: Profile(m, r) for m, r in ratios.items()}, left_out
