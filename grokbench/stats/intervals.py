"""Point estimates with their 95% intervals: :class:`Estimate`, medians and speedups.

Contracts (values in steps or seconds, ``inf`` = not reached / unbounded):

* **Medians** (:func:`median_ci`) carry the exact distribution-free order-statistic
  interval of :func:`order_stat_ranks`: no resampling, so no seed. When its ends
  coincide, ``n_identical`` says how many seeds share that value.
* **Speedups** (:func:`ratio_ci`: baseline median / method median) come with a percentile
  interval from resampling the paired seeds jointly (B = ``N_BOOT``), with a generator
  seeded from the task and method labels (:func:`seeded_rng`), so a leaderboard is
  reproducible. A resample whose median is censored has an unbounded speedup; putting its
  censored trials at their censoring points (a true bound on their times) bounds it on
  one side, so an interval end is exact when those bounds pin it and otherwise one-sided
  (``lo_open``: the end is at most ``lo``; ``hi_open``: at least ``hi``). A point with a
  censored median carries that bound (``bound``).
* Intervals are per comparison and *not* adjusted for multiplicity (the verdicts are): an
  interval that excludes 1 next to a non-significant verdict is no contradiction.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from .constants import CI_LEVEL, N_BOOT, NOT_ENOUGH
from .survival import _ratio, _substituted, censored_median

IDENTICAL = "identical"


def seeded_rng(*labels: str) -> np.random.Generator:
    """A generator seeded from ``labels`` (crc32 of their joined text): the same labels,
    the same resamples, on any machine."""
    return np.random.default_rng(zlib.crc32("\x1f".join(labels).encode()))


def _order_stat(values: np.ndarray, q: float) -> float:
    """The order statistic at quantile ``q`` of ``values`` (inf and -inf allowed)."""
    s = np.sort(values)
    b = len(s)
    return float(s[int(math.floor(q * (b - 1))) if q < 0.5 else int(math.ceil(q * (b - 1)))])


def _quantile_bounds(replicates: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile interval by order statistics (works with inf; nan = undetermined:
    counted at the conservative end of each bound)."""
    r = np.asarray(replicates, dtype=float)
    tail = (1 - level) / 2
    lo = _order_stat(np.where(np.isnan(r), -np.inf, r), tail)
    hi = _order_stat(np.where(np.isnan(r), np.inf, r), 1 - tail)
    return float(max(lo, 0.0) if lo == -np.inf else lo), float(hi)


@dataclass
class Estimate:
    """A point estimate and its 95% interval; ``inf`` = beyond the budget / unbounded.

    ``ci`` is None when there is not enough data for an interval (``note`` says why).
    ``lo_open``: the interval's true lower end is at most ``ci[0]``; ``hi_open``: its upper
    end is at least ``ci[1]`` (see the module docstring). ``bound`` is a finite one-sided
    bound for a point that is inf or 0 (see ratio_ci). ``identical``: (k, n) when the
    interval has zero width, k of the n seeds sharing its value (the note says it too).
    """

    value: float
    ci: tuple[float, float] | None
    note: str = ""
    bound: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    identical: tuple[int, int] | None = None

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)


def order_stat_ranks(n: int, level: float = CI_LEVEL) -> tuple[int, float]:
    """(l, coverage): the distribution-free interval [x(l), x(n+1-l)] for a median of n
    values, l the largest rank whose exact binomial coverage 1 - 2 P(Binom(n, 1/2) < l) is
    at least ``level`` (l = 1 and its lower coverage when no rank reaches it: n <= 5).
    Valid for any distribution, discrete steps included (conservative with ties)."""
    from scipy.stats import binom

    best, coverage = 1, 1 - 2 * binom.cdf(0, n, 0.5)
    for rank in range(2, (n + 1) // 2 + 1):
        cover = 1 - 2 * binom.cdf(rank - 1, n, 0.5)
        if cover < level:
            break
        best, coverage = rank, cover
    return best, float(coverage)


def median_ci(values) -> Estimate:
    """Censoring-aware median of ``values`` (inf = not reached) with its exact,
    distribution-free order-statistic interval (``order_stat_ranks``); an unreached value
    ranks above all, so an upper end at inf reads "> budget". The note says when the
    interval has zero width (the values between its ranks are identical) or covers less
    than 95% (five values or fewer)."""
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) == 0:
        return Estimate(math.inf, None, NOT_ENOUGH)
    point = censored_median(v)
    if len(v) < 2:
        return Estimate(point, None, NOT_ENOUGH)
    rank, coverage = order_stat_ranks(len(v))
    lo, hi = float(v[rank - 1]), float(v[len(v) - rank])
    identical = (int(np.sum(v == lo)), len(v)) if lo == hi else None
    notes = [f"{IDENTICAL}: {identical[0]} of {identical[1]} seeds"] if identical else []
    if coverage < CI_LEVEL:
        notes.append(f"{coverage:.0%} interval: too few seeds for 95%")
    return Estimate(point, (lo, hi), "; ".join(notes), identical=identical)


def _bounded_ends(reps: np.ndarray, known: np.ndarray) -> tuple[float, float, bool, bool]:
    """Interval ends of ratio replicates ``reps`` whose unbounded entries (inf, 0, nan) are
    one-sided: ``known`` holds each replicate with its censored trials at their censoring
    points. Returns (lo, hi, lo_open, hi_open); an end no bound pins is nan."""
    tail = (1 - CI_LEVEL) / 2
    finite_known = np.where(np.isfinite(known) & (known > 0), known, np.nan)
    upper = np.where(reps == 0, finite_known, reps)            # a 0 is at most its bound
    upper = np.where(np.isnan(upper), np.inf, upper)           # nothing known: could be anything
    lower = np.where(np.isinf(reps), finite_known, reps)       # an inf is at least its bound
    lower = np.where(np.isnan(lower), 0.0, lower)
    lo_hi, lo_lo = _order_stat(upper, tail), _order_stat(lower, tail)
    hi_hi, hi_lo = _order_stat(upper, 1 - tail), _order_stat(lower, 1 - tail)
    lo = lo_hi if lo_hi == lo_lo or math.isfinite(lo_hi) else math.nan
    hi = hi_lo if hi_hi == hi_lo or hi_lo > 0 else math.nan
    return lo, hi, lo_hi != lo_lo, hi_hi != hi_lo


def ratio_ci(base, base_censor, method, method_censor, rng, n_boot: int = N_BOOT,
             idx: np.ndarray | None = None) -> Estimate:
    """Speedup = median(base) / median(method) over paired entries, paired bootstrap.

    A censored median makes the point estimate inf (baseline unsolved) or 0 (method
    unsolved); ``bound`` then holds the finite bound obtained by putting the censored
    trials at their censoring values (a true lower bound on their times): the speedup is
    >= bound (point inf) or <= bound (point 0). ``idx`` (replicates x n) fixes the
    resamples, so speedups in steps and in seconds share them; ``n_boot`` 0: no interval.
    """
    b, m = np.asarray(base, float), np.asarray(method, float)
    sb, sm = _substituted(b, base_censor), _substituted(m, method_censor)
    n = len(b)
    if n == 0:
        return Estimate(math.nan, None, NOT_ENOUGH)
    point = float(_ratio(censored_median(b), censored_median(m)))
    bound = None
    if math.isinf(point) or point == 0.0:
        bound_val = float(_ratio(censored_median(sb), censored_median(sm)))
        bound = bound_val if math.isfinite(bound_val) and bound_val > 0 else None
    if n < 2 or n_boot < 1:
        return Estimate(point, None, NOT_ENOUGH, bound)
    if idx is None:
        idx = rng.integers(0, n, size=(n_boot, n))
    reps = _ratio(censored_median(b[idx]), censored_median(m[idx]))
    known = _ratio(censored_median(sb[idx]), censored_median(sm[idx]))
    lo, hi, lo_open, hi_open = _bounded_ends(reps, known)
    if math.isnan(lo) or math.isnan(hi):
        return Estimate(point, None, "interval undetermined: censored medians", bound)
    return Estimate(point, (lo, hi), "", bound, lo_open, hi_open)


def scale(e: Estimate, factor: float) -> Estimate:
    """``e`` in another unit: point, interval and bound times ``factor`` (> 0)."""
    ci = None if e.ci is None else (e.ci[0] * factor, e.ci[1] * factor)
    return Estimate(e.value * factor, ci, e.note, None if e.bound is None else e.bound * factor,
                    e.lo_open, e.hi_open, e.identical)
