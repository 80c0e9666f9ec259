"""The one selection rule of tuning, and the per-configuration summary it ranks.

Rule: the configuration with the lowest median number of steps to the target over the
tuning seeds, where a seed that did not solve (unsolved, diverged, timed out, failed)
counts as beyond the budget (infinitely many steps), so a configuration that solves fewer
than half of the seeds has an infinite median; ties go to the configuration that solved
more seeds, then to the method's own configuration (its defaults: tuning found no reason
to move away from them, which matters most when no configuration solves), then to the
lower configuration index. Steps are exact and the same on every
machine, so the choice does not depend on the load of the machine that tuned.

A configuration with a ``capped`` trial (``grokbench.capping``) ranks after every other: it
was stopped because its median could no longer beat or tie another configuration's, so
ranking it last is what the uncapped study would do; its median is unknown beyond the
bound it was capped at (``Outcome.capped_above``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..record import Record, Status

RULE = ("lowest median steps to target over the tuning seeds, a seed not solved counting as beyond "
        "the budget; ties: more seeds solved, then the method's defaults, then the lower configuration index; "
        "a configuration stopped by capping (it could no longer beat or tie the best) is never chosen")


@dataclass(frozen=True)
class Outcome:
    """One configuration on the tuning seeds: steps to target per seed (inf: not solved)."""

    index: int
    label: str
    steps: tuple[float, ...]
    statuses: tuple[str, ...]
    capped_above: float | None = None  # capped: its median is above this many steps

    @property
    def capped(self) -> bool:
        return "capped" in self.statuses

    @property
    def solved(self) -> int:
        return sum(math.isfinite(s) for s in self.steps)

    @property
    def median_steps(self) -> float:
        """The censored median: inf unless more than half the seeds solved (an even count
        takes the mean of the middle two, inf when either is)."""
        return float(np.median(self.steps)) if self.steps else math.inf

    def rank_key(self, default_index: int | None = None) -> tuple[bool, float, int, bool, int]:
        return (self.capped, self.median_steps, -self.solved, self.index != default_index, self.index)


def steps_to_target(record: Record) -> float:
    """The record's steps to the target, inf unless it solved."""
    step = record.metrics.get("solve_step")
    return float(step) if record.status == Status.SOLVED and step is not None else math.inf


def outcome(index: int, label: str, records: Iterable[Record]) -> Outcome:
    """An ``Outcome`` from a configuration's records, in seed order."""
    ordered = sorted(records, key=lambda r: r.seed)
    bounds = [r.metrics.get("capping_bound") for r in ordered if str(r.status) == "capped"]
    capped_above = max((float(b) for b in bounds if b is not None), default=None)
    return Outcome(index, label, tuple(steps_to_target(r) for r in ordered), tuple(str(r.status) for r in ordered),
                   capped_above)


def select(outcomes: list[Outcome], default_index: int | None = None) -> Outcome:
    """The configuration the rule chooses (``outcomes`` must not be empty);
    ``default_index``: the index of the method's own configuration, if it was tried."""
    return min(outcomes, key=lambda o: o.rank_key(default_index))
