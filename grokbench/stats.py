"""Across-seed statistics: each method against its task's baseline, over the same seeds.

Inputs are the rows of :func:`grokbench.store.load_frame` (one per trial). Everything
here is plain numpy/scipy on those rows; nothing reaches back into training or the plugin
registry: every label, base, part and baseline it needs is in the records.

Decisions:

* **Baseline.** A task's baseline is its base optimizer alone (``sgd`` for sparse parity,
  ``adamw`` for the transformer), as every record names it (``baseline``, fixed at plan
  time; ``grokbench run`` trains it unless told not to). If the baseline is not among the
  results, the task's rows say so and carry no tests. Stacks are compared with each of
  their ``parts`` (also in the records); on request, named methods with each other.
* **Pairing.** Seeds are paired by construction: seed s gives every method the same data,
  initialization and data order. A method is compared with a reference over the seeds
  both have a final record for (status solved / unsolved / diverged); the other seeds are
  left out.
* **Metrics from curves.** When the frame has curves, every trial's metrics are recomputed
  from its curve (:func:`grokbench.metrics.with_curve_metrics`), so records written before
  a metric existed get it under the same definition.
* **Thresholds.** Steps to 0.90 and to 0.95 test accuracy (first evaluation at or above)
  and to the task's target (the sustained solve of :mod:`grokbench.metrics`; the status
  ``solved``). Each threshold is analysed on its own, with its own family.
* **Censoring.** A trial that did not reach a threshold is right-censored at its budget
  (``budget_steps``), for ``unsolved`` and ``diverged`` alike: a diverged trial never
  reached it and never will ("unsolved as worst"), so diverging looks worse, never
  better. A ``timeout`` with a curve is censored at the last step it reached; other
  statuses (``error``, a timeout without a curve) carry no measurement, are left out of
  every statistic and only counted.
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
  with 10), so a handful of seeds can never be significant. Log-rank on steps
  (scipy.stats.logrank with CensoredData) and Fisher's exact test on the solve rates are
  reported alongside, each adjusted in its own family.
* **Multiple comparisons: fixed families.** One task's methods against its baseline,
  separately per threshold and measure (steps, seconds), form a family; stacks against
  their parts and named pairs are families of their own. Each family is Bonferroni-adjusted
  as a family of ``FAMILY_SIZE`` (16) comparisons, or of as many as it holds when more. Holm
  is more powerful but makes a comparison's adjusted p depend on the other p-values of its
  family, so the same records gave one verdict on one page and another on a page with other
  methods (Grokfast vs SGD on parity: 0.043 and 0.064); with a fixed size it depends on its
  own test only, whatever else is on the page. Every comparison goes to comparisons.csv
  with its raw and adjusted p and its family. A verdict is *robust to the threshold* when it is the same
  significant verdict at all three thresholds: an intersection-union test, valid at 0.05
  without further adjustment. It *flips* when it is faster at one threshold and slower at
  another.
* **Verdict** at 0.05 (adjusted): ``faster`` / ``slower`` (more wins than losses = faster)
  / ``no significant difference``; ``not enough data`` where no test can be made. Never
  NaN, never an exception. The **wall-time verdict** is the same sign test on training
  seconds to target (a censored trial: never, unless it timed out: then the seconds it
  ran), in its own family of the fixed size.
* **Medians.** Censoring-aware: unsolved trials rank above every solved one, so the
  median is a number only when the middle order statistic(s) are solved (more than half
  solved; with an even count, exactly half solved also leaves it undetermined). Otherwise
  it is ``inf`` here and "> budget" in the leaderboard.
* **Intervals.** Percentile 95% intervals from resampling seeds with replacement
  (B = 2000), with a generator seeded from the task and method labels, so a leaderboard is
  reproducible. They are per comparison and *not* adjusted for multiplicity (the verdicts
  are): an interval that excludes 1 next to a non-significant verdict is no contradiction.
  Speedups (baseline median / method median, in steps and in training seconds) resample
  the paired seeds jointly. A resample whose median is censored has an unbounded speedup;
  putting its censored trials at their censoring points (a true bound on their times)
  bounds it on one side, so an interval end is exact when those bounds pin it and
  otherwise one-sided (``lo_open``: the end is at most ``lo``; ``hi_open``: at least
  ``hi``). A point estimate with a censored median carries that bound (``bound``).
* **Performance profiles** (Dolan and Moré): on task t, r(m, t) = median steps (or
  seconds) to target of m / the smallest such median on t, ``inf`` when m's median is
  censored; rho_m(tau) = the fraction of the tasks m ran on with r <= tau. The score is
  the area under rho_m for tau in [1, 4] divided by 3. A method is scored only on the
  tasks where it has records (a task it did not run on counts neither for nor against
  it); a task where no median is reached is left out of every profile.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ALPHA = 0.05
# Every family of comparisons (a task's methods against its baseline at one threshold and
# measure; stacks against their parts; named pairs) is Bonferroni-adjusted as a family of
# this many, or of as many as it holds when more: a verdict never depends on which other
# methods share the page (up to this many; grokbench ships 13 single methods).
FAMILY_SIZE = 16
# A tuned run's controls (``grokbench.tuning.controls``), each a family of its own: the
# task's base optimizer alone at a tuned accelerator's base settings, and the accelerator
# with its own tuned knobs on the tuned baseline's settings.
BASE_AT_ITS_SETTINGS = "base at its settings"
ON_THE_TUNED_BASE = "on the tuned base"
CONTROL_KINDS = (BASE_AT_ITS_SETTINGS, ON_THE_TUNED_BASE)
N_BOOT = 2000
CI_LEVEL = 0.95
TAU_MAX = 4.0
EVENT_STATUSES = frozenset({"solved"})
CENSORED_STATUSES = frozenset({"unsolved", "diverged"})
FINAL_STATUSES = EVENT_STATUSES | CENSORED_STATUSES
NOT_ENOUGH = "not enough data"
IDENTICAL = "identical"
FASTER, SLOWER, NO_DIFF, BASELINE = "faster", "slower", "no significant difference", "baseline"
ROBUST, FLIPS, DEPENDS = "robust", "flips", "depends on threshold"
TARGET = "target"
THRESHOLDS = ("t90", "t95", TARGET)  # steps to 0.90, to 0.95, to the task's target (sustained)
THRESHOLD_LEVELS = {"t90": 0.90, "t95": 0.95}
THRESHOLD_COLUMNS = {"t90": ("t90_step", "t90_time_s"), "t95": ("t95_step", "t95_time_s"),
                     TARGET: ("solve_step", "time_to_target_s")}
ALL_PAIRS = "all"


# ---------------------------------------------------------------------------- samples


@dataclass
class Sample:
    """One method's final trials on one task at one threshold, one entry per seed (sorted).

    ``steps``/``seconds``/``plateau`` are ``inf`` where the trial did not reach the
    threshold; ``steps_censor``/``seconds_censor`` are where it was censored (budget steps;
    the training seconds it ran), used for the log-rank test and for bounds. ``relapsed``:
    crossed the target and fell back below its hold level (before a stable solve, or for
    good). ``unstable``: solved, then fell below the hold level in the watched tail after
    the window (``grokbench.metrics``).
    """

    seeds: np.ndarray
    solved: np.ndarray
    steps: np.ndarray
    steps_censor: np.ndarray
    seconds: np.ndarray
    seconds_censor: np.ndarray
    plateau: np.ndarray
    steps_per_epoch: float
    budget_steps: float
    excluded: dict[str, int] = field(default_factory=dict)
    status: np.ndarray | None = None  # per seed: solved / unsolved / diverged / timeout
    relapsed: np.ndarray | None = None
    seconds_calibrated: bool = False  # seconds = steps x calibrated step cost (grokbench.calibrate)
    measured_seconds: np.ndarray | None = None  # the in-loop seconds to the threshold (inf: not reached)
    unstable: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(len(self.seeds))

    @property
    def k(self) -> int:
        return int(self.solved.sum())

    def take(self, seeds) -> Sample:
        index = {int(s): i for i, s in enumerate(self.seeds)}
        idx = np.array([index[int(s)] for s in seeds], dtype=int)
        return Sample(
            self.seeds[idx], self.solved[idx], self.steps[idx], self.steps_censor[idx],
            self.seconds[idx], self.seconds_censor[idx], self.plateau[idx],
            self.steps_per_epoch, self.budget_steps, dict(self.excluded),
            None if self.status is None else self.status[idx],
            None if self.relapsed is None else self.relapsed[idx], self.seconds_calibrated,
            None if self.measured_seconds is None else self.measured_seconds[idx],
            None if self.unstable is None else self.unstable[idx],
        )

    @property
    def n_diverged(self) -> int:
        return self.count("diverged")

    @property
    def n_relapsed(self) -> int:
        return 0 if self.relapsed is None else int(self.relapsed.sum())

    @property
    def n_unstable(self) -> int:
        return 0 if self.unstable is None else int(self.unstable.sum())

    def count(self, status: str) -> int:
        return 0 if self.status is None else int((self.status == status).sum())

    def horizon(self, seconds: bool = False) -> np.ndarray:
        """Per seed, how far the trial is known not to have reached the threshold: ``inf``
        for a final unsolved trial (never, in this protocol), the censoring point of a
        timeout; the value itself for a trial that reached it."""
        value, censor = (self.seconds, self.seconds_censor) if seconds else (self.steps, self.steps_censor)
        timed_out = np.zeros(self.n, bool) if self.status is None else self.status == "timeout"
        return np.where(self.solved, value, np.where(timed_out & ~self.solved, censor, np.inf))


def _num(value: Any, default: float = math.nan) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


def _records(rows) -> list[dict]:
    return rows.to_dict(orient="records") if hasattr(rows, "to_dict") else list(rows)


def _final_by_seed(records: list[dict]) -> tuple[dict[int, dict], dict[str, int]]:
    """The records that carry a measurement, one per seed (a later duplicate wins), and
    the count of the others by status."""
    excluded: dict[str, int] = {}
    by_seed: dict[int, dict] = {}
    for r in records:
        status = str(r.get("status"))
        if status not in FINAL_STATUSES and not (status == "timeout" and _last_step(r) is not None):
            excluded[status] = excluded.get(status, 0) + 1
            continue
        by_seed[int(r["seed"])] = r
    return by_seed, excluded


def _reached(row: dict, threshold: str) -> bool:
    step = _num(row.get(THRESHOLD_COLUMNS[threshold][0]))
    if threshold == TARGET:
        return str(row["status"]) in EVENT_STATUSES and math.isfinite(step)
    return math.isfinite(step)


def make_sample(rows, threshold: str = TARGET) -> Sample:
    """Rows of one (task, method) -> its Sample at ``threshold`` (one of THRESHOLDS).
    ``rows``: DataFrame or list of dicts."""
    by_seed, excluded = _final_by_seed(_records(rows))
    seeds = sorted(by_seed)
    rs = [by_seed[s] for s in seeds]
    budgets = [_num(r.get("budget_steps")) for r in rs]
    finite_budgets = [b for b in budgets if math.isfinite(b)]
    budget = max(finite_budgets) if finite_budgets else math.inf
    spe = [x for x in (_num(r.get("steps_per_epoch")) for r in rs) if math.isfinite(x) and x > 0]
    step_col, time_col = THRESHOLD_COLUMNS[threshold]
    solved = np.array([_reached(r, threshold) for r in rs], bool)
    steps = np.array([_num(r.get(step_col)) if ok else math.inf for r, ok in zip(rs, solved)], float)
    steps_censor = np.array([
        s if ok else _last_step(r) if str(r["status"]) == "timeout" else (b if math.isfinite(b) else budget)
        for r, ok, s, b in zip(rs, solved, steps, budgets)
    ], float)
    seconds, seconds_censor, calibrated = _seconds(rs, solved, steps, steps_censor, time_col)
    measured = np.array([_num(r.get(time_col), math.inf) if ok else math.inf for r, ok in zip(rs, solved)], float)
    plateau = np.array([_num(r.get("plateau_steps"), 0.0) if ok else math.inf for r, ok in zip(rs, solved)], float)
    relapsed = np.array([_num(r.get("relapses"), 0.0) > 0 for r in rs], bool)
    unstable = np.array([r.get("unstable") is True for r in rs], bool)
    return Sample(
        np.array(seeds, dtype=int), solved, steps, steps_censor, seconds, seconds_censor, plateau,
        spe[0] if spe else 1.0, budget, excluded,
        np.array([str(r["status"]) for r in rs], dtype=object), relapsed, calibrated, measured, unstable,
    )


def _seconds(rs: list[dict], solved: np.ndarray, steps: np.ndarray, steps_censor: np.ndarray,
             time_col: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Seconds to the threshold and censoring seconds, per seed, and whether calibrated.

    Calibrated (every row has a calibrated per-seed step cost, grokbench.calibrate): steps
    x that cost + the per-seed setup, the same for reached and censored steps. Otherwise
    the measured in-loop seconds (censored at the seconds the trial trained)."""
    costs = [_num(r.get("calibrated_step_cost_s")) for r in rs]
    if rs and all(math.isfinite(c) for c in costs):
        setup = np.array([_num(r.get("calibrated_setup_s"), 0.0) for r in rs], float)
        cost = np.array(costs, float)
        with np.errstate(invalid="ignore"):
            seconds = np.where(solved, steps * cost + setup, math.inf)
        return seconds, steps_censor * cost + setup, True
    seconds = np.array([_num(r.get(time_col), math.inf) if ok else math.inf for r, ok in zip(rs, solved)], float)
    seconds_censor = np.array([s if ok else _num(r.get("train_time_s"), 0.0)
                               for r, ok, s in zip(rs, solved, seconds)], float)
    return seconds, seconds_censor, False


def _last_step(row: dict) -> float | None:
    """The last evaluated step of a trial's curve (None without a curve or at step 0)."""
    curve = row.get("curve")
    if not isinstance(curve, dict) or not curve.get("step"):
        return None
    last = _num(curve["step"][-1])
    return last if math.isfinite(last) and last > 0 else None


# ---------------------------------------------------------------------------- medians


def censored_median(values) -> float:
    """Median with ``inf`` (not reached) ranked above everything; ``inf`` if undetermined,
    ``nan`` only for an empty input. Works along the last axis of a 2-D array too."""
    arr = np.sort(np.asarray(values, dtype=float), axis=-1)
    n = arr.shape[-1]
    if n == 0:
        return math.nan
    lo, hi = arr[..., (n - 1) // 2], arr[..., n // 2]
    with np.errstate(invalid="ignore"):
        out = np.where(np.isinf(lo) | np.isinf(hi), np.inf, (lo + hi) / 2)
    return float(out) if out.ndim == 0 else out


def _rng(*labels: str) -> np.random.Generator:
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
    bound for a point that is inf or 0 (see ratio_ci).
    """

    value: float
    ci: tuple[float, float] | None
    note: str = ""
    bound: float | None = None
    lo_open: bool = False
    hi_open: bool = False

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
    notes = []
    if lo == hi:
        notes.append(f"{IDENTICAL}: {int(np.sum(v == lo))} of {len(v)} seeds")
    if coverage < CI_LEVEL:
        notes.append(f"{coverage:.0%} interval: too few seeds for 95%")
    return Estimate(point, (lo, hi), "; ".join(notes))


def _ratio(num, den):
    """num / den on [0, inf]: x/inf = 0, inf/x = inf, inf/inf and 0/0 = nan."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out = np.where(np.isinf(num) & np.isinf(den), np.nan, out)
    return out


def _substituted(values, censor):
    return np.where(np.isinf(values), censor, values)


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


# ---------------------------------------------------------------------------- tests


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


# ---------------------------------------------------------------------------- results


@dataclass
class MethodStats:
    """One method on one task: its own seeds (unpaired). ``sample`` is at the target;
    ``samples`` has every threshold."""

    method: str
    sample: Sample
    median_steps: Estimate
    median_seconds: Estimate
    median_plateau: Estimate
    step_cost_s: float | None  # median training seconds per step
    samples: dict[str, Sample] = field(default_factory=dict)

    @property
    def median_epochs(self) -> Estimate:
        return scale(self.median_steps, 1.0 / self.sample.steps_per_epoch)

    def median_steps_at(self, threshold: str) -> float:
        """Censoring-aware median steps to ``threshold`` (inf: undetermined, nan: no seeds)."""
        s = self.samples.get(threshold, self.sample if threshold == TARGET else None)
        return censored_median(s.steps) if s is not None and s.n else math.nan


def scale(e: Estimate, factor: float) -> Estimate:
    ci = None if e.ci is None else (e.ci[0] * factor, e.ci[1] * factor)
    return Estimate(e.value * factor, ci, e.note, None if e.bound is None else e.bound * factor,
                    e.lo_open, e.hi_open)


@dataclass
class Comparison:
    """Method against a reference (the baseline, a part of a stack, another method),
    paired by seed, at one threshold. ``p_adjusted`` is the sign-test p adjusted in its
    fixed-size ``family`` (``adjust``) that makes ``verdict``; ``time_verdict`` is the same
    on training seconds (target only)."""

    method: str
    reference: str
    seeds: list[int]
    k: int
    k_ref: int
    sign: SignTest
    time_sign: SignTest
    z: float | None
    p_logrank: float | None
    p_fisher: float | None
    speedup_steps: Estimate
    speedup_time: Estimate
    note: str = ""
    p_adjusted: float | None = None
    p_logrank_adjusted: float | None = None
    p_fisher_adjusted: float | None = None
    p_time_adjusted: float | None = None
    verdict: str = NOT_ENOUGH
    time_verdict: str = NOT_ENOUGH
    family: str = ""

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def p_sign(self) -> float | None:
        return self.sign.p


def method_stats(method: str, samples: dict[str, Sample]) -> MethodStats:
    """One method's medians (exact intervals: no resampling, so no seed or count)."""
    sample = samples[TARGET]
    steps = median_ci(sample.steps)
    seconds = median_ci(sample.seconds)
    if not seconds.finite and sample.n:
        lower = censored_median(np.where(np.isinf(sample.seconds), sample.seconds_censor, sample.seconds))
        seconds.bound = lower if math.isfinite(lower) else None
    if not steps.finite and sample.n and math.isfinite(sample.budget_steps):
        steps.bound = sample.budget_steps
    plateau = median_ci(sample.plateau)
    return MethodStats(method, sample, steps, seconds, plateau, None, samples)


def compare(label: str, method: str, sample: Sample, reference: str, ref_sample: Sample,
            n_boot: int = N_BOOT) -> Comparison:
    """Paired comparison of ``method`` with ``reference`` over their common seeds;
    ``n_boot`` 0: point speedups without intervals."""
    common = sorted(set(sample.seeds.tolist()) & set(ref_sample.seeds.tolist()))
    a, b = sample.take(common), ref_sample.take(common)
    z, p, note = logrank(a, b)
    rng = _rng(label, method, reference, "speedup")
    idx = rng.integers(0, max(len(common), 1), size=(n_boot, len(common))) if n_boot else None
    sp_steps = ratio_ci(b.steps, b.steps_censor, a.steps, a.steps_censor, rng, n_boot, idx)
    sp_time = ratio_ci(b.seconds, b.seconds_censor, a.seconds, a.seconds_censor, rng, n_boot, idx)
    sign = sign_test(a, b)
    return Comparison(method, reference, [int(s) for s in common], a.k, b.k, sign, sign_test(a, b, seconds=True),
                      z, p, fisher(a, b), sp_steps, sp_time, sign.note or note)


def _verdict(p_adjusted: float | None, direction: int, alpha: float) -> str:
    if p_adjusted is None:
        return NOT_ENOUGH
    if p_adjusted < alpha and direction:
        return FASTER if direction > 0 else SLOWER
    return NO_DIFF


def bonferroni(pvalues, family_size: int = FAMILY_SIZE) -> list[float | None]:
    """min(1, m p) with m = max(family_size, the number of p-values given): each adjusted p
    depends on its own test and the fixed family size only (None/NaN stay None)."""
    ps = [None if p is None or (isinstance(p, float) and math.isnan(p)) else float(p) for p in pvalues]
    m = max(family_size, sum(p is not None for p in ps))
    return [None if p is None else min(1.0, m * p) for p in ps]


def adjust(comparisons: list[Comparison], alpha: float = ALPHA, family: str = "") -> None:
    """Adjust one family of comparisons (in place; each test its own family, of the fixed
    size ``FAMILY_SIZE``: ``bonferroni``), then the verdicts (steps) and wall-time verdicts.
    ``family`` names the family (for comparisons.csv)."""
    adjusted = zip(bonferroni([c.sign.p for c in comparisons]), bonferroni([c.p_logrank for c in comparisons]),
                   bonferroni([c.p_fisher for c in comparisons]), bonferroni([c.time_sign.p for c in comparisons]))
    for c, (ps, pl, pf, pt) in zip(comparisons, adjusted):
        c.p_adjusted, c.p_logrank_adjusted, c.p_fisher_adjusted, c.p_time_adjusted = ps, pl, pf, pt
        c.verdict = _verdict(ps, c.sign.direction, alpha)
        c.time_verdict = _verdict(pt, c.time_sign.direction, alpha)
        c.family = family


def consistency(verdicts: Collection[str]) -> str:
    """How verdicts at the thresholds agree: ROBUST (the same significant verdict at every
    threshold), FLIPS (faster at one, slower at another), DEPENDS (significant at some
    only), or '' (significant at none)."""
    verdicts = list(verdicts)
    significant = {v for v in verdicts if v in (FASTER, SLOWER)}
    if not significant:
        return ""
    if len(significant) == 2:
        return FLIPS
    return ROBUST if len(verdicts) == len(THRESHOLDS) and all(v in significant for v in verdicts) else DEPENDS


@dataclass
class TaskStats:
    """One task: per-method statistics, comparisons with the baseline at each threshold
    (``at_threshold[t][method]``; ``vs_baseline`` is the target's), stacks against their
    parts, the requested pairs of named methods, and each tuned accelerator against its
    controls (``controls[kind][accelerator]``, the control its ``reference``)."""

    label: str
    baseline: str | None
    methods: dict[str, MethodStats]
    vs_baseline: dict[str, Comparison]
    stacks: list[Comparison]
    note: str = ""
    at_threshold: dict[str, dict[str, Comparison]] = field(default_factory=dict)
    pairs: list[Comparison] = field(default_factory=list)
    controls: dict[str, dict[str, Comparison]] = field(default_factory=dict)

    def ranked(self) -> list[str]:
        """Methods ordered by censoring-aware median steps to target (then solve rate)."""
        def key(m: str):
            ms = self.methods[m]
            return (ms.median_steps.value if ms.sample.n else math.inf,
                    -(ms.sample.k / ms.sample.n) if ms.sample.n else 0.0,
                    ms.median_seconds.value if ms.sample.n else math.inf, m)
        return sorted(self.methods, key=key)

    def verdicts(self, method: str) -> dict[str, str]:
        """The method's verdict against the baseline at each threshold."""
        return {t: c[method].verdict for t, c in self.at_threshold.items() if method in c}

    def consistency(self, method: str) -> str:
        """:func:`consistency` of the method's verdicts across the thresholds."""
        return consistency(self.verdicts(method).values())


# ---------------------------------------------------------------------------- frames


def _param_diff(dicts: list[dict]) -> list[str]:
    """For each dict, 'k=v,...' of the keys whose values differ across the list."""
    keys = sorted({k for d in dicts for k in d})
    differ = [k for k in keys if len({repr(d.get(k)) for d in dicts}) > 1]
    return [",".join(f"{k}={d.get(k)}" for k in differ) for d in dicts]


def _flat_params(row: dict, prefix_fields: tuple[str, ...]) -> dict:
    out = {}
    for f in prefix_fields:
        v = row.get(f)
        if isinstance(v, dict):
            out.update({f"{k}": val for k, val in v.items()})
        elif isinstance(v, list):
            for t in v:
                if isinstance(t, dict):
                    out.update({f"{t.get('name')}.{k}": val for k, val in (t.get("params") or {}).items()})
        elif v is not None:
            out[f] = v
    return out


def _relabel(labels: list[str], rows: list[dict], groups: list[list[int]], config: list[str],
             fields: tuple[str, ...]) -> list[str]:
    """Within each group of row indices, rows of different ``config`` get the differing
    parameters appended to their label: ``label [k=v]``."""
    out = list(labels)
    for idx in groups:
        cfgs = list(dict.fromkeys(config[i] for i in idx))
        if len(cfgs) < 2:
            continue
        reps = [next(rows[i] for i in idx if config[i] == c) for c in cfgs]
        names = dict(zip(cfgs, _param_diff([_flat_params(r, fields) for r in reps])))
        for i in idx:
            out[i] = f"{labels[i]} [{names[config[i]]}]"
    return out


def disambiguate(frame):
    """Copy of ``frame`` with ``task_label``/``method`` made unique per configuration.

    A results folder may hold the same task label under different parameters (another
    ``--set``), or one method label with different settings; those are different
    experiments and must not be pooled. Each variant gets the differing parameters
    appended, e.g. ``sparse_parity [max_epochs=60]``.
    """
    import json

    frame = frame.copy()
    if frame.empty:
        return frame

    def sig(v) -> str:
        return json.dumps(v, sort_keys=True, default=str)

    rows = frame.to_dict(orient="records")
    tasks = [str(t) for t in frame["task_label"]]
    task_groups = [[i for i, t in enumerate(tasks) if t == label] for label in dict.fromkeys(tasks)]
    tasks = _relabel(tasks, rows, task_groups, [sig(r.get("task_params")) for r in rows], ("task_params",))
    fields = ("optimizer", "optimizer_params", "transforms")
    methods = [str(m) for m in frame["method"]]
    keys = [(t, m) for t, m in zip(tasks, methods)]
    method_groups = [[i for i, k in enumerate(keys) if k == key] for key in dict.fromkeys(keys)]
    frame["task_label"] = tasks
    frame["method"] = _relabel(methods, rows, method_groups, [sig([r.get(f) for f in fields]) for r in rows],
                               fields)
    return frame


def _pick_baseline(methods: list[str], base: str | None) -> str | None:
    if base is None:
        return None
    if base in methods:
        return base
    variants = sorted(m for m in methods if m.startswith(base + " ["))
    return variants[0] if variants else None


def _resolve_baseline(records: list[dict], methods: list[str], baseline: str | None) -> tuple[str | None, str]:
    """(the task's baseline label among ``methods``, or None with a note saying why)."""
    if baseline is not None:
        return (baseline, "") if baseline in methods else (None, f"baseline ({baseline}) not in the results: no tests")
    base = next((r.get("baseline") for r in records if r.get("baseline")), None)
    found = _pick_baseline(methods, base)
    if found is not None or not records:
        return found, ""
    return None, (f"baseline ({base}) not in the results: no tests" if base
                  else "baseline unknown (the records name none): no tests")


def _step_cost(rows: list[dict]) -> float | None:
    """Median training seconds per step over a method's final trials."""
    costs = []
    for r in rows:
        last = _last_step(r)
        t = _num(r.get("train_time_s"))
        if last and math.isfinite(t) and str(r.get("status")) in FINAL_STATUSES:
            costs.append(t / last)
    return float(np.median(costs)) if costs else None


def _family(label: str, pairs: list[tuple[str, str]], samples: dict[str, dict[str, Sample]], threshold: str,
            n_boot: int, name: str) -> list[Comparison]:
    """One family: each (method, reference) compared at ``threshold``, adjusted together."""
    family = [compare(label, m, samples[m][threshold], ref, samples[ref][threshold], n_boot) for m, ref in pairs]
    adjust(family, family=f"{label} / {name} / {threshold}")
    return family


def _named_pairs(methods: list[str], baseline: str | None, labels: Collection[str] | None) -> list[tuple[str, str]]:
    """Every pair of the methods ``labels`` names (ALL_PAIRS: every method), the baseline
    left out (each is compared with it already)."""
    if not labels:
        return []
    named = [m for m in methods if m != baseline and (ALL_PAIRS in labels or m in labels
                                                      or m.split(" [", 1)[0] in labels)]
    return [(a, b) for i, a in enumerate(named) for b in named[i + 1:]]


def task_stats(label: str, rows, baseline: str | None = None, n_boot: int = N_BOOT,
               pair_labels: Collection[str] | None = None) -> TaskStats:
    """All statistics of one task: ``rows`` are its trials (one task label);
    ``pair_labels``: methods to compare with each other (see :func:`analyze`)."""
    records = _records(rows)
    by_method: dict[str, list] = {}
    for r in records:
        by_method.setdefault(str(r["method"]), []).append(r)
    samples = {m: {t: make_sample(rs, t) for t in THRESHOLDS} for m, rs in by_method.items()}
    methods = {m: method_stats(m, s) for m, s in samples.items()}
    for m, rs in by_method.items():
        methods[m].step_cost_s = _step_cost(rs)
    baseline, note = _resolve_baseline(records, list(samples), baseline)
    at_threshold: dict[str, dict[str, Comparison]] = {}
    if baseline is not None:
        vs = [(m, baseline) for m in samples if m != baseline]
        for t in THRESHOLDS:
            family = _family(label, vs, samples, t, n_boot if t == TARGET else 0, "vs baseline")
            at_threshold[t] = {c.method: c for c in family}
    stacks = [(m, part) for m, rs in by_method.items() for part in rs[0].get("parts") or [] if part in samples]
    ts = TaskStats(label, baseline, methods, at_threshold.get(TARGET, {}),
                   _family(label, stacks, samples, TARGET, n_boot, "stacks vs parts"), note, at_threshold)
    ts.pairs = _family(label, _named_pairs(list(samples), baseline, pair_labels), samples, TARGET, n_boot,
                       "named pairs")
    ts.controls = {kind: {c.method: c for c in _family(label, pairs, samples, TARGET, n_boot, kind)}
                   for kind, pairs in control_pairs(by_method, baseline).items() if pairs}
    return ts


def _signature(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def control_pairs(by_method: Mapping[str, list[dict]], baseline: str | None) -> dict[str, list[tuple[str, str]]]:
    """(accelerator, control) per control kind, matched on content: a tuned accelerator's
    "base at its settings" is the control record of that kind whose base optimizer runs
    at exactly the accelerator's base settings; its "on the tuned base" the control of
    that kind whose accelerators are exactly its own (names, presets, settings) and whose
    base runs at the baseline's settings. Content, not a name, so one control serves every
    accelerator that drew the same base settings."""
    first = {m: rs[0] for m, rs in by_method.items() if rs}
    base_params = _signature(first[baseline].get("optimizer_params")) if baseline in first else None
    out: dict[str, list[tuple[str, str]]] = {kind: [] for kind in CONTROL_KINDS}
    for m, r in first.items():
        if isinstance(r.get("control"), str) or not r.get("transforms") or not isinstance(r.get("tuned"), dict):
            continue
        for c, cr in first.items():
            if cr.get("control") == BASE_AT_ITS_SETTINGS and not cr.get("transforms") \
                    and cr.get("optimizer") == r.get("optimizer") \
                    and _signature(cr.get("optimizer_params")) == _signature(r.get("optimizer_params")):
                out[BASE_AT_ITS_SETTINGS].append((m, c))
            elif cr.get("control") == ON_THE_TUNED_BASE and cr.get("optimizer") == r.get("optimizer") \
                    and _signature(cr.get("transforms")) == _signature(r.get("transforms")) \
                    and _signature(cr.get("optimizer_params")) == base_params:
                out[ON_THE_TUNED_BASE].append((m, c))
    return out


def analyze(frame, baselines: dict[str, str] | None = None, n_boot: int = N_BOOT,
            pair_labels: Collection[str] | None = None) -> dict[str, TaskStats]:
    """Per task label (after :func:`disambiguate`): its :class:`TaskStats`. Metrics are
    recomputed from curves where the frame has them. ``pair_labels``: method labels to
    compare with each other on every task (ALL_PAIRS: every method)."""
    from .metrics import with_curve_metrics

    out: dict[str, TaskStats] = {}
    if frame is None or len(frame) == 0:
        return out
    frame = disambiguate(with_curve_metrics(frame))
    for label, rows in frame.groupby("task_label", sort=True):
        out[str(label)] = task_stats(str(label), rows, (baselines or {}).get(str(label)), n_boot, pair_labels)
    return out


def add_pairs(analysis: Mapping[str, TaskStats], pair_labels: Collection[str], n_boot: int = N_BOOT) -> None:
    """Compare the named methods with each other on every task of ``analysis`` (in place;
    see :func:`analyze`). Tasks that have pairs already are left alone."""
    for ts in analysis.values():
        if ts.pairs or not pair_labels:
            continue
        samples = {m: ms.samples for m, ms in ts.methods.items()}
        ts.pairs = _family(ts.label, _named_pairs(list(samples), ts.baseline, pair_labels), samples, TARGET, n_boot,
                           "named pairs")


# ---------------------------------------------------------------------------- across tasks


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
    docstring. Returns (profile per method, tasks left out because no median was reached)."""
    ratios: dict[str, dict[str, float]] = {}
    left_out = []
    for label, ts in analysis.items():
        costs = {m: _median_cost(ms, cost) for m, ms in ts.methods.items() if ms.sample.n}
        best = min((c for c in costs.values() if math.isfinite(c) and c > 0), default=None)
        if best is None:
            left_out.append(label)
            continue
        for m, c in costs.items():
            ratios.setdefault(m, {})[label] = c / best if math.isfinite(c) else math.inf
    return {m: Profile(m, r) for m, r in ratios.items()}, left_out
