"""Exact capping of tuning trials: stop a configuration once it can no longer beat or tie
the incumbent (adaptive capping, as in SMAC and ParamILS, for a steps-to-target objective).

A tuning study (``grokbench.tuning``) ranks the configurations of one (task, method) by
their median steps to the target over the same m tuning seeds, a seed that did not solve
counting as infinitely many steps. Two facts make capping exact:

- *Incumbent bound.* Fill a configuration's seeds that are not yet decided with infinity:
  the median of that is an upper bound ``U`` on its final median (a seed still to finish can
  only lower an order statistic). The lowest such bound over the study's configurations
  bounds the median the selection will reach. Only decided seeds enter it: a solved seed's
  solve step (known once its stability window has held, before the tail after it is
  watched: the tail can flag the solve unstable but never move it), or a seed that ended
  without solving.
- *Beyond the bound.* A seed is beyond ``U`` when its solve step can no longer be at or
  below ``U``: it ended without solving or solved after ``U``, or, still training, it has
  been evaluated at ``U`` or later and no evaluation at or before ``U`` reached the target
  (a solve step is always such an evaluation, whatever the stability window).

Once more than half of a configuration's m seeds are beyond ``U``, its median is above ``U``
(for odd m the middle value is; for even m the upper middle one is, so the mean of the two
is), so it can neither beat nor tie the configuration that gave ``U``. Its trials still
training stop with status ``capped`` (``Capper.to_cap``; ``grokbench.trial`` ends them). The selection and the selected
configuration's medians are those of the uncapped study: the chosen configuration is never
capped (its median is at most every bound), and the medians of trials that ran to their
end do not depend on the others. A capped trial is censored where it stopped: it never
counts as solved, and never as a budget miss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .metrics import first_reaching

# Statuses whose trial is decided for capping: a solve step (solved) or none (the rest).
DECIDED = frozenset({"solved", "unsolved", "diverged", "capped"})


def median_bound(steps: Iterable[float], n_seeds: int) -> float:
    """An upper bound on a configuration's median steps to target over ``n_seeds`` seeds,
    given the steps of its decided seeds (inf: not solved): the median with every seed not
    yet decided counted as inf. inf when fewer than half are solved."""
    known = list(steps)
    padded = known + [math.inf] * max(0, n_seeds - len(known))
    return float(np.median(padded)) if padded else math.inf


def beyond(curve_steps: Sequence[int], test_acc: Sequence[float | None], target: float, bound: float) -> bool:
    """Whether a trial still training, with this curve so far, can no longer have a solve
    step at or below ``bound``: it was evaluated at ``bound`` or later, and no evaluation
    at or before ``bound`` reached ``target``."""
    if not curve_steps or curve_steps[-1] < bound:
        return False
    early = [a for s, a in zip(curve_steps, test_acc) if s <= bound]
    return first_reaching(early, target) is None


def over_half(n_beyond: int, n_seeds: int) -> bool:
    """More than half of ``n_seeds``: the median is then beyond the bound."""
    return 2 * n_beyond > n_seeds


@dataclass(frozen=True)
class CapPolicy:
    """How a cell caps its configurations (picklable; it travels with ``grokbench.plan.Cell``).

    ``n_seeds``: m, the tuning seeds of every configuration. ``groups``: per configuration of
    the cell (``Cell.configs`` order), the study it is ranked in ((task, method) as text),
    or None to never cap it. ``known``: per configuration, the steps to target of its seeds
    already decided outside this cell (inf: not solved). ``bounds``: per study, the lowest
    median bound of its configurations outside this cell (``median_bound``), when finite.
    ``give_up``: the stated, inexact rule for studies where nothing solves (None: off): once
    a trial has trained this fraction of its budget and no trial of its study has solved
    (outside the cell: the studies not in ``reached``), nor, still training, reached the
    target at any evaluation, the study's trials still training stop (``capped``, rule
    ``give-up``). It is not exact: a configuration that would first solve later is missed.
    """

    n_seeds: int
    groups: tuple[str | None, ...]
    known: tuple[tuple[float, ...], ...]
    bounds: dict[str, float] = field(default_factory=dict)
    give_up: float | None = None
    reached: frozenset[str] = frozenset()


# The rule that capped a trial. Its record's metrics: capped_step; capping_bound (exact) or
# capping_give_up, the fraction of the budget (give-up).
EXACT, GIVE_UP = "exact", "give-up"


@dataclass
class Capper:
    """A cell's capping while it trains: what its finished trials decided, per configuration."""

    policy: CapPolicy
    decided: dict[int, list[float]] = field(default_factory=dict)
    settled: set[tuple[int, int]] = field(default_factory=set)  # (config, seed) noted before it ended

    def note(self, config: int, status: str, solve_step: float | None, seed: int | None = None) -> None:
        """A trial of configuration ``config`` ended with ``status`` (and ``solve_step``);
        nothing when its solve was noted already (``note_solve``)."""
        if (config, seed) in self.settled:
            return
        if status in DECIDED:
            step = float(solve_step) if status == "solved" and solve_step is not None else math.inf
            self.decided.setdefault(config, []).append(step)

    def note_solve(self, config: int, seed: int, solve_step: float) -> None:
        """A trial still training whose stable solve is settled (its window held: only the
        tail, which cannot move the solve step, is still watched) counts as decided now."""
        if (config, seed) not in self.settled:
            self.settled.add((config, seed))
            self.decided.setdefault(config, []).append(float(solve_step))

    def steps(self, config: int) -> list[float]:
        return [*self.policy.known[config], *self.decided.get(config, [])]

    def bound(self, group: str) -> float:
        """The incumbent bound of ``group``: over records outside the cell and the cell's own."""
        inside = [median_bound(self.steps(c), self.policy.n_seeds)
                  for c, g in enumerate(self.policy.groups) if g == group]
        return min([self.policy.bounds.get(group, math.inf), *inside])

    def to_cap(self, live: dict[int, list[tuple[list[int], list[float | None]]]], target: float,
               step: int = 0, max_steps: int = 0) -> dict[int, tuple[float | None, str]]:
        """The configurations to stop now at ``step`` (of a budget of ``max_steps``), each with
        the bound it cannot reach (None for ``give-up``) and the rule. ``live``: per
        configuration, the curves (steps, test accuracies) of its trials still training."""
        out = {c: (bound, EXACT) for c, bound in self._exact(live, target).items()}
        for config in self._given_up(live, target, step, max_steps):
            out.setdefault(config, (None, GIVE_UP))
        return out

    def _given_up(self, live: dict[int, list], target: float, step: int, max_steps: int) -> list[int]:
        policy = self.policy
        if policy.give_up is None or step < policy.give_up * max_steps:
            return []
        reached = set(policy.reached)
        for config, group in enumerate(policy.groups):
            if any(math.isfinite(s) for s in self.decided.get(config, [])):
                reached.add(group)
        for config, curves in live.items():
            if any(first_reaching(acc, target) is not None for _, acc in curves):
                reached.add(policy.groups[config])
        return [c for c, curves in live.items() if curves and policy.groups[c] is not None
                and policy.groups[c] not in reached]

    def _exact(self, live: dict[int, list], target: float) -> dict[int, float]:
        out = {}
        for config, curves in live.items():
            group = self.policy.groups[config]
            if group is None or not curves:
                continue
            bound = self.bound(group)
            if not math.isfinite(bound):
                continue
            n_beyond = sum(s > bound for s in self.steps(config))
            n_beyond += sum(beyond(steps, acc, target, bound) for steps, acc in curves)
            if over_half(n_beyond, self.policy.n_seeds):
                out[config] = bound
        return out
