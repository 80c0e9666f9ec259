"""The one verdict rule of a reproduction, and the measurements it reads.

Row outcomes (one per method with a published value; ``m`` = our censoring-aware median
in the claim's unit, ``B`` our budget, ``F`` = FACTOR = 1.5):

* published number P, ``m`` finite: *agrees* when our median lies within a factor F of it
  (``P / F <= m <= P * F``); else *disagrees*. (The rule before 0.2 also accepted P inside
  our interval and used F = 2: with 2 seeds a 4x window and wide intervals passed nearly
  anything.)
* published number P, ``m`` censored (half or more of the seeds did not reach the
  metric): *disagrees* when ``P * F <= B`` (we gave at least F times the published cost
  and most seeds still did not get there); else *censored* (our budget cannot show it).
* published ``true`` (reaches the metric): *agrees* when ``m`` is finite; else *censored*.
* published ``false`` (does not reach it): *agrees* when no seed reaches it within B;
  *disagrees* when some do.
* no published value (controls, open questions), or numbers marked not comparable: no
  outcome; shown only.

Orderings (``A`` before ``B``): *holds* when A reaches the metric before B significantly:
the paired sign test over their common seeds at ``ALPHA`` (0.05), A winning; *violated*
when B's median is finite and at or below A's; *not significant* when A's median is lower
but the test does not show it; *censored* when both medians are censored.

Claim verdict: **not reproduced** when any row disagrees or any ordering is violated;
else **inconclusive at this budget** when any row or ordering is censored or not
significant, a row has no records, or a method has fewer than ``MIN_SEEDS`` (3) seeds;
else **reproduced**.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import stats
from .claims import Claim, MethodEntry

FACTOR = 1.5
ALPHA = 0.05  # an ordering must hold with significance (paired sign test, two-sided)
MIN_SEEDS = 3  # fewer seeds than this make a claim inconclusive
AGREES, DISAGREES, CENSORED, NO_RECORDS, SHOWN = "agrees", "disagrees", "censored", "no records", ""
HOLDS, VIOLATED, NOT_SIGNIFICANT = "holds", "violated", "not significant"
REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive at this budget"
NOT_RUN = "not run"


@dataclass(frozen=True)
class Measure:
    """One method's trials at the claim's metric, in the claim's unit (``inf`` = not reached)."""

    n: int
    k: int
    median: float
    ci: tuple[float, float] | None
    budget: float
    diverged: int
    sample: stats.Sample | None = None  # per seed, for the paired test of an ordering

    @property
    def censored(self) -> bool:
        return not math.isfinite(self.median)


def measure(rows, metric: str, unit: str, label: str) -> Measure | None:
    """``rows`` (one method's records) -> its Measure; None without a final record."""
    sample = stats.make_sample(rows, metric)
    if sample.n == 0:
        return None
    per = sample.steps_per_epoch if unit == "epochs" else 1.0
    values = sample.steps / per
    estimate = stats.median_ci(values)
    return Measure(sample.n, sample.k, estimate.value, estimate.ci, sample.budget_steps / per,
                   sample.n_diverged, sample)


def row_outcome(entry: MethodEntry, m: Measure | None, comparable: bool = True) -> str:
    """The row rule of the module docstring."""
    published = entry.published
    if published is None or (not comparable and not isinstance(published, bool)):
        return SHOWN
    if m is None:
        return NO_RECORDS
    if isinstance(published, bool):
        if published:
            return AGREES if not m.censored else CENSORED
        return AGREES if m.k == 0 else DISAGREES
    if m.censored:
        return DISAGREES if published * FACTOR <= m.budget else CENSORED
    return AGREES if published / FACTOR <= m.median <= published * FACTOR else DISAGREES


def ordering_outcome(faster: Measure | None, slower: Measure | None) -> str:
    """The ordering rule of the module docstring: A (``faster``) before B (``slower``)."""
    if faster is None or slower is None:
        return CENSORED
    if not slower.censored and slower.median <= faster.median:
        return VIOLATED
    if faster.censored:
        return CENSORED
    if faster.sample is None or slower.sample is None:
        return NOT_SIGNIFICANT
    common = sorted(set(faster.sample.seeds.tolist()) & set(slower.sample.seeds.tolist()))
    test = stats.sign_test(faster.sample.take(common), slower.sample.take(common))
    return HOLDS if test.p is not None and test.p < ALPHA and test.direction > 0 else NOT_SIGNIFICANT


@dataclass
class ClaimResult:
    """Everything the page shows of one claim: per experiment, per method, its Measure and
    row outcome; the orderings; the verdict and its reason; per experiment, the devices
    its records trained on."""

    claim: Claim
    measures: dict[str, dict[str, Measure | None]]
    rows: dict[str, dict[str, str]]
    orderings: dict[str, list[tuple[str, str, str]]]
    verdict: str
    reason: str
    skipped: list[str]
    hardware: dict[str, str] = field(default_factory=dict)  # experiment -> where its trials ran


def judge(claim: Claim, measures: dict[str, dict[str, Measure | None]], skipped: list[str]) -> ClaimResult:
    """Apply the rule to the experiments that ran (``measures``: experiment -> method -> Measure)."""
    rows, orderings = {}, {}
    for exp in claim.experiments:
        if exp.id not in measures:
            continue
        got = measures[exp.id]
        rows[exp.id] = {e.method: row_outcome(e, got.get(e.method), claim.numbers_comparable) for e in exp.methods}
        orderings[exp.id] = [(a, b, ordering_outcome(got.get(a), got.get(b))) for a, b in exp.ordering]
    verdict, reason = _verdict(rows, orderings, measures)
    return ClaimResult(claim, measures, rows, orderings, verdict, reason, skipped)


def _verdict(rows, orderings, measures) -> tuple[str, str]:
    outcomes = [(f"{exp}/{m}", o) for exp, r in rows.items() for m, o in r.items()]
    orders = [(f"{exp}: {a} before {b}", o) for exp, lst in orderings.items() for a, b, o in lst]
    if not outcomes and not orders:
        return NOT_RUN, "no experiment of this claim has run at this budget"
    bad = [w for w, o in outcomes if o == DISAGREES] + [w for w, o in orders if o == VIOLATED]
    if bad:
        return NOT_REPRODUCED, "disagrees: " + "; ".join(bad)
    none = [f"{exp}/{m}" for exp, got in measures.items() for m, v in got.items() if v is None]
    few = [f"{exp}/{m}" for exp, got in measures.items() for m, v in got.items()
           if v is not None and v.n < MIN_SEEDS]
    open_ = [w for w, o in outcomes + orders if o == CENSORED]
    weak = [w for w, o in orders if o == NOT_SIGNIFICANT]
    if open_ or none or few or weak:
        parts = [f"{what}: " + "; ".join(items) for what, items in
                 (("censored at our budget", open_), ("ordering not significant", weak), ("no records", none),
                  (f"fewer than {MIN_SEEDS} seeds", few)) if items]
        return INCONCLUSIVE, ", ".join(parts)
    return REPRODUCED, "every published value agrees within 1.5x and every ordering holds significantly"
