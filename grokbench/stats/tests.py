"""Hypothesis tests of a method against a reference over paired seeds, and their power.

Contracts: inputs are :class:`~.samples.Sample` objects over the same seeds, in order
(:meth:`Sample.take`); p-values are two-sided and raw (adjusted in :mod:`.multiplicity`);
None (with a note saying why) where no test can be made, never NaN, never an exception.

* **Primary test: the paired sign test.** For each paired seed, the method *wins* when
  it reaches the threshold strictly before the reference, *loses* when strictly after,
  and *ties* otherwise: both censored, equal steps, or a solve after the other trial's
  early censoring (a timeout: the order is unknown). A trial that did not reach the
  threshold in its budget loses to one that did. Two-sided exact binomial test of wins
  against losses, ties left out (p = 1 when every pair ties but one of them reached the
  threshold; no test when nothing reached it or fewer than 2 seeds are paired). Why it,
  and not log-rank, drives the verdict: (1) it uses the design: seeds are paired, while
  log-rank and Fisher treat the two groups as independent samples; (2) it assumes no
  model: log-rank is built for proportional hazards and loses its meaning when one method
  is faster early and stalls late, the usual shape of grokking curves; the sign test asks
  only which of the pair got there first, the question a user asks; (3) censoring is exact:
  an order counts only where the data decide it. Its price: it ignores how much sooner,
  and with n paired seeds its smallest two-sided p is 2/2^n (0.25 with 3 seeds, 0.002
  with 10), so a handful of seeds can never be significant.
* **Alongside:** log-rank on steps (scipy.stats.logrank with CensoredData) and Fisher's
  exact test on the solve rates.
* **Power:** :func:`sign_test_power` and :func:`detectable_win_rate` (the smallest share
  of winning seeds a family-adjusted sign test detects).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .constants import ALPHA, FAMILY_SIZE, NOT_ENOUGH
from .samples import Sample


def sign_test_power(n: int, win_rate: float, alpha: float) -> float:
    """Power of the two-sided exact sign test on n paired seeds (no ties) to call a method
    faster at level ``alpha`` when it is faster on each seed with probability ``win_rate``."""
    from scipy.stats import binom

    if n < 1:
        return 0.0
    k = np.arange(n + 1)
    p_two_sided = np.minimum(1.0, 2 * np.minimum(binom.cdf(k, n, 0.5), binom.sf(k - 1, n, 0.5)))
    wins = (p_two_sided <= alpha) & (k > n / 2)
    return float(binom.pmf(k[wins], n, win_rate).sum())


def detectable_win_rate(n: int, family_size: int = FAMILY_SIZE, alpha: float = ALPHA,
                        power: float = 0.8) -> float | None:
    """The smallest share of seeds (to 0.01) on which a method must be faster for the
    sign test, adjusted in a family of ``family_size``, to detect it with ``power``; None
    when even a method faster on every seed would not be (too few seeds)."""
    level = alpha / family_size
    for rate in np.arange(0.51, 1.0001, 0.01):
        if sign_test_power(n, float(rate), level) >= power:
            return round(float(rate), 2)
    return None


@dataclass(frozen=True)
class SignTest:
    """The paired sign test of a method against a reference: seeds on which the method
    reached the threshold first (wins), later (losses), neither or unknown (ties); ``p``
    two-sided exact, None when no test can be made (``note`` says why)."""

    wins: int
    losses: int
    ties: int
    p: float | None
    note: str = ""

    @property
    def direction(self) -> int:
        return (self.wins > self.losses) - (self.wins < self.losses)


def pair_outcome(a: float, a_horizon: float, b: float, b_horizon: float) -> int:
    """+1 when a reached the threshold strictly first, -1 when b did, 0 when tied or the
    order is unknown. ``a``/``b``: when each reached it (inf: not reached); ``*_horizon``:
    how far each is known not to have reached it (inf: never, in its budget)."""
    a, b = float(a), float(b)
    a_done, b_done = math.isfinite(a), math.isfinite(b)
    if a_done and b_done:
        return int(a < b) - int(a > b)
    if a_done:
        return 1 if a <= b_horizon else 0
    if b_done:
        return -1 if b <= a_horizon else 0
    return 0


def sign_test(a: Sample, b: Sample, seconds: bool = False) -> SignTest:
    """Paired sign test of ``a`` against ``b`` (the same seeds, in order) on steps (or
    training seconds) to the threshold; see the module docstring."""
    from scipy import stats

    ta, tb = (a.seconds, b.seconds) if seconds else (a.steps, b.steps)
    outcomes = [pair_outcome(x, hx, y, hy)
                for x, hx, y, hy in zip(ta, a.horizon(seconds), tb, b.horizon(seconds))]
    wins, losses = outcomes.count(1), outcomes.count(-1)
    ties = len(outcomes) - wins - losses
    if len(outcomes) < 2:
        return SignTest(wins, losses, ties, None, f"{NOT_ENOUGH} (fewer than 2 paired seeds)")
    if a.k + b.k == 0:
        return SignTest(wins, losses, ties, None, f"{NOT_ENOUGH} (no trial reached it)")
    if wins + losses == 0:
        return SignTest(wins, losses, ties, 1.0)
    return SignTest(wins, losses, ties, float(stats.binomtest(wins, wins + losses, 0.5).pvalue))


def logrank(a: Sample, b: Sample) -> tuple[float | None, float | None, str]:
    """Log-rank test of a against b on steps to target -> (z, p, note).

    z > 0: a solves sooner than b (more events than expected). None with a note when the
    test cannot be made.
    """
    from scipy import stats

    if a.n < 2 or b.n < 2:
        return None, None, f"{NOT_ENOUGH} (fewer than 2 paired seeds)"
    if a.k + b.k == 0:
        return None, None, f"{NOT_ENOUGH} (no trial solved)"

    def data(s: Sample):
        return stats.CensoredData(uncensored=s.steps[s.solved], right=s.steps_censor[~s.solved])

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = stats.logrank(data(a), data(b))
    except Exception as exc:  # scipy refuses some degenerate inputs
        return None, None, f"{NOT_ENOUGH} ({type(exc).__name__})"
    z, p = float(res.statistic), float(res.pvalue)
    if not (math.isfinite(z) and math.isfinite(p)):
        return None, None, f"{NOT_ENOUGH} (no variation between the groups)"
    return z, p, ""


def fisher(a: Sample, b: Sample) -> float | None:
    """Fisher's exact test (two-sided) on solved vs not, a against b."""
    from scipy import stats

    if a.n < 2 or b.n < 2:
        return None
    table = [[a.k, a.n - a.k], [b.k, b.n - b.k]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = float(stats.fisher_exact(table).pvalue)
    except Exception:
        return None
    return p if math.isfinite(p) else None
