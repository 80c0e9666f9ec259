"""Across-seed statistics: each method against its task's baseline, over the same seeds.

Inputs are the rows of :func:`grokbench.store.load_frame` (one per trial). Everything
here is plain numpy/scipy on those rows; nothing reaches back into training.

Decisions (DESIGN.md, Statistics; issue #5):

* **Baseline.** A task's baseline is its base optimizer alone: the method whose label is
  the base optimizer's name (``sgd`` for sparse parity, ``adamw`` for the transformer).
  The base optimizer comes from the registered task (and preset); for a task that is not
  registered here it is inferred from the records (the optimizer under the accelerators
  that name no ``@BASE``). If the baseline is not among the results, the task's rows say
  so and carry no tests.
* **Pairing.** A method is compared with the baseline over the seeds both have a final
  record for (status solved / unsolved / diverged); the other seeds are left out.
* **Censoring.** Steps to target is the solve step for a solved trial. An ``unsolved``
  trial is right-censored at its budget (``budget_steps``). A ``diverged`` trial never
  reached the target and never will: it is also censored at the budget ("unsolved as
  worst"), so a method that diverges looks worse, never better. Records with any other
  status (``error``, ``timeout``, ...) are failures of the harness or a plugin, carry no
  measurement and are retried by the next run: they are left out of every statistic and
  only counted (the leaderboard shows the count next to solved k/n). A ``timeout`` (the
  run hit --trial-timeout) that has a curve is right-censored at the last step it reached:
  it had not solved by then, and dropping it would favour a slow method; a timeout
  without a curve is excluded and counted like an error.
* **Tests.** Log-rank (scipy.stats.logrank with CensoredData) on steps to target, which
  counts unsolved trials as slower than every solved one; Fisher's exact test on the solve
  rates (solved vs not, over the paired seeds).
* **Multiple comparisons.** Holm-Bonferroni across the methods of one task, applied to
  the log-rank p-values (the primary test: it already includes the solve rate through the
  censoring). The Fisher p-values are Holm-adjusted in their own family and reported as a
  secondary column; the verdict uses the adjusted log-rank p only.
* **Verdict** at 0.05 (adjusted): ``faster`` / ``slower`` (direction from the log-rank
  statistic: more solves than expected under equal hazards = faster) / ``no significant
  difference``; ``not enough data`` where no test can be made (fewer than 2 paired seeds,
  no solved trial at all, identical values, ...). Never NaN, never an exception.
* **Medians.** Censoring-aware: unsolved trials rank above every solved one, so the
  median is a number only when the middle order statistic(s) are solved (more than half
  solved; with an even count, exactly half solved also leaves it undetermined). Otherwise
  it is ``inf`` here and "> budget" in the leaderboard.
* **Bootstrap.** Percentile 95% intervals from resampling seeds with replacement
  (B = 2000), with a generator seeded from the task and method labels, so a leaderboard is
  reproducible. Speedups (baseline median / method median, in steps and in training
  seconds) resample the *paired* seeds jointly. A bound may be ``inf`` ("> budget"); a
  speedup bound whose replicate is undetermined (both medians censored) is taken at the
  conservative end (0 for the lower bound, inf for the upper).
"""

from __future__ import annotations

import math
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ALPHA = 0.05
N_BOOT = 2000
CI_LEVEL = 0.95
EVENT_STATUSES = frozenset({"solved"})
CENSORED_STATUSES = frozenset({"unsolved", "diverged"})
FINAL_STATUSES = EVENT_STATUSES | CENSORED_STATUSES
NOT_ENOUGH = "not enough data"
FASTER, SLOWER, NO_DIFF, BASELINE = "faster", "slower", "no significant difference", "baseline"


# ---------------------------------------------------------------------------- samples


@dataclass
class Sample:
    """One method's final trials on one task, one entry per seed (sorted by seed).

    ``steps``/``seconds``/``plateau`` are ``inf`` where the trial did not solve;
    ``steps_censor``/``seconds_censor`` are where it was censored (budget steps; the
    training seconds it ran), used for the log-rank test and for bounds.
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
    status: np.ndarray | None = None  # per seed: solved / unsolved / diverged

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
        )

    @property
    def n_diverged(self) -> int:
        return self.count("diverged")

    def count(self, status: str) -> int:
        return 0 if self.status is None else int((self.status == status).sum())


def _num(value: Any, default: float = math.nan) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


def make_sample(rows) -> Sample:
    """Rows of one (task, method) -> Sample. ``rows``: DataFrame or list of dicts."""
    records = rows.to_dict(orient="records") if hasattr(rows, "to_dict") else list(rows)
    excluded: dict[str, int] = {}
    by_seed: dict[int, dict] = {}
    for r in records:
        status = str(r.get("status"))
        if status == "timeout" and _last_step(r) is not None:
            pass  # censored where it stopped
        elif status not in FINAL_STATUSES:
            excluded[status] = excluded.get(status, 0) + 1
            continue
        by_seed[int(r["seed"])] = r  # one record per seed; a later duplicate wins
    seeds = sorted(by_seed)
    rs = [by_seed[s] for s in seeds]
    budgets = [_num(r.get("budget_steps")) for r in rs]
    finite_budgets = [b for b in budgets if math.isfinite(b)]
    budget = max(finite_budgets) if finite_budgets else math.inf
    spe = [_num(r.get("steps_per_epoch")) for r in rs]
    spe = [x for x in spe if math.isfinite(x) and x > 0]
    solved = np.array([str(r["status"]) in EVENT_STATUSES and math.isfinite(_num(r.get("solve_step"))) for r in rs], bool)
    steps = np.array([_num(r.get("solve_step")) if ok else math.inf for r, ok in zip(rs, solved)], float)
    steps_censor = np.array([
        _num(r.get("solve_step")) if ok
        else _last_step(r) if str(r["status"]) == "timeout"
        else (b if math.isfinite(b) else budget)
        for r, ok, b in zip(rs, solved, budgets)
    ], float)
    seconds = np.array([_num(r.get("time_to_target_s"), math.inf) if ok else math.inf for r, ok in zip(rs, solved)], float)
    seconds_censor = np.array([
        s if ok else _num(r.get("train_time_s"), 0.0) for r, ok, s in zip(rs, solved, seconds)
    ], float)
    plateau = np.array([_num(r.get("plateau_steps"), 0.0) if ok else math.inf for r, ok in zip(rs, solved)], float)
    return Sample(
        np.array(seeds, dtype=int), solved, steps, steps_censor, seconds, seconds_censor, plateau,
        spe[0] if spe else 1.0, budget, excluded,
        np.array([str(r["status"]) for r in rs], dtype=object),
    )


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


def _quantile_bounds(replicates: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile interval by order statistics (works with inf; nan = undetermined:
    counted at the conservative end of each bound)."""
    r = np.asarray(replicates, dtype=float)
    b = len(r)
    tail = (1 - level) / 2
    low_sorted = np.sort(np.where(np.isnan(r), -np.inf, r))
    high_sorted = np.sort(np.where(np.isnan(r), np.inf, r))
    lo = low_sorted[int(math.floor(tail * (b - 1)))]
    hi = high_sorted[int(math.ceil((1 - tail) * (b - 1)))]
    return float(max(lo, 0.0) if lo == -np.inf else lo), float(hi)


@dataclass
class Estimate:
    """A point estimate and its 95% interval; ``inf`` = beyond the budget / unbounded.

    ``ci`` is None when there is not enough data for an interval (``note`` says why);
    ``bound`` is a finite one-sided bound for a point that is inf or 0 (see ratio_ci).
    """

    value: float
    ci: tuple[float, float] | None
    note: str = ""
    bound: float | None = None

    @property
    def finite(self) -> bool:
        return math.isfinite(self.value)


def median_ci(values, rng: np.random.Generator, n_boot: int = N_BOOT) -> Estimate:
    """Censoring-aware median of ``values`` (inf = not reached) with a bootstrap CI."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return Estimate(math.inf, None, NOT_ENOUGH)
    point = censored_median(v)
    if len(v) < 2:
        return Estimate(point, None, NOT_ENOUGH)
    idx = rng.integers(0, len(v), size=(n_boot, len(v)))
    reps = censored_median(v[idx])
    return Estimate(point, _quantile_bounds(reps))


def _ratio(num, den):
    """num / den on [0, inf]: x/inf = 0, inf/x = inf, inf/inf and 0/0 = nan."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out = np.where(np.isinf(num) & np.isinf(den), np.nan, out)
    return out


def ratio_ci(base, base_censor, method, method_censor, rng, n_boot: int = N_BOOT,
             idx: np.ndarray | None = None) -> Estimate:
    """Speedup = median(base) / median(method) over paired entries, paired bootstrap.

    A censored median makes the point estimate inf (baseline unsolved) or 0 (method
    unsolved); ``bound`` then holds the finite bound obtained by putting the censored
    trials at their censoring values (a true lower bound on their times): the speedup is
    >= bound (point inf) or <= bound (point 0). ``idx`` (replicates x n) fixes the
    resamples, so speedups in steps and in seconds share them.
    """
    b, m = np.asarray(base, float), np.asarray(method, float)
    n = len(b)
    if n == 0:
        return Estimate(math.nan, None, NOT_ENOUGH)
    mb, mm = censored_median(b), censored_median(m)
    point = float(_ratio(mb, mm))
    bound = None
    if math.isinf(point) or point == 0.0:
        sb = censored_median(np.where(np.isinf(b), base_censor, b))
        sm = censored_median(np.where(np.isinf(m), method_censor, m))
        bound_val = float(_ratio(sb, sm))
        bound = bound_val if math.isfinite(bound_val) and bound_val > 0 else None
    if n < 2:
        return Estimate(point, None, NOT_ENOUGH, bound)
    if idx is None:
        idx = rng.integers(0, n, size=(n_boot, n))
    reps = _ratio(censored_median(b[idx]), censored_median(m[idx]))
    return Estimate(point, _quantile_bounds(reps), "", bound)


# ---------------------------------------------------------------------------- tests


def holm(pvalues) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as the input; NaN/None stay None)."""
    ps = [None if p is None or (isinstance(p, float) and math.isnan(p)) else float(p) for p in pvalues]
    valid = sorted((p, i) for i, p in enumerate(ps) if p is not None)
    m = len(valid)
    out: list[float | None] = [None] * len(ps)
    running = 0.0
    for rank, (p, i) in enumerate(valid):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


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
    """One method on one task: its own seeds (unpaired)."""

    method: str
    sample: Sample
    median_steps: Estimate
    median_seconds: Estimate
    median_plateau: Estimate
    step_cost_s: float | None  # median training seconds per step

    @property
    def median_epochs(self) -> Estimate:
        return scale(self.median_steps, 1.0 / self.sample.steps_per_epoch)


def scale(e: Estimate, factor: float) -> Estimate:
    ci = None if e.ci is None else (e.ci[0] * factor, e.ci[1] * factor)
    return Estimate(e.value * factor, ci, e.note, None if e.bound is None else e.bound * factor)


@dataclass
class Comparison:
    """Method against a reference (the baseline, or one part of a stack), paired by seed."""

    method: str
    reference: str
    seeds: list[int]
    k: int
    k_ref: int
    z: float | None
    p_logrank: float | None
    p_fisher: float | None
    speedup_steps: Estimate
    speedup_time: Estimate
    note: str = ""
    p_adjusted: float | None = None
    p_fisher_adjusted: float | None = None
    verdict: str = NOT_ENOUGH

    @property
    def n(self) -> int:
        return len(self.seeds)


def method_stats(label: str, method: str, sample: Sample, n_boot: int = N_BOOT) -> MethodStats:
    rng = _rng(label, method, "median")
    steps = median_ci(sample.steps, rng, n_boot)
    seconds = median_ci(sample.seconds, rng, n_boot)
    if not seconds.finite and sample.n:
        lower = censored_median(np.where(np.isinf(sample.seconds), sample.seconds_censor, sample.seconds))
        seconds.bound = lower if math.isfinite(lower) else None
    if not steps.finite and sample.n and math.isfinite(sample.budget_steps):
        steps.bound = sample.budget_steps
    plateau = median_ci(sample.plateau, rng, n_boot)
    return MethodStats(method, sample, steps, seconds, plateau, None)


def compare(label: str, method: str, sample: Sample, reference: str, ref_sample: Sample,
            n_boot: int = N_BOOT) -> Comparison:
    """Paired comparison of ``method`` with ``reference`` over their common seeds."""
    common = sorted(set(sample.seeds.tolist()) & set(ref_sample.seeds.tolist()))
    a, b = sample.take(common), ref_sample.take(common)
    z, p, note = logrank(a, b)
    pf = fisher(a, b)
    rng = _rng(label, method, reference, "speedup")
    idx = rng.integers(0, max(len(common), 1), size=(n_boot, len(common)))  # shared paired resamples
    sp_steps = ratio_ci(b.steps, b.steps_censor, a.steps, a.steps_censor, rng, n_boot, idx)
    sp_time = ratio_ci(b.seconds, b.seconds_censor, a.seconds, a.seconds_censor, rng, n_boot, idx)
    return Comparison(method, reference, [int(s) for s in common], a.k, b.k, z, p, pf,
                      sp_steps, sp_time, note)


def adjust(comparisons: list[Comparison], alpha: float = ALPHA) -> None:
    """Holm across one family of comparisons (in place), then the verdicts."""
    for c, pa, pfa in zip(comparisons, holm([c.p_logrank for c in comparisons]),
                          holm([c.p_fisher for c in comparisons])):
        c.p_adjusted, c.p_fisher_adjusted = pa, pfa
        if pa is None or c.z is None:
            c.verdict = NOT_ENOUGH
        elif pa < alpha:
            c.verdict = FASTER if c.z > 0 else SLOWER
        else:
            c.verdict = NO_DIFF


@dataclass
class TaskStats:
    label: str
    baseline: str | None
    methods: dict[str, MethodStats]
    vs_baseline: dict[str, Comparison]
    stacks: list[Comparison]
    note: str = ""

    def ranked(self) -> list[str]:
        """Methods ordered by censoring-aware median steps to target (then solve rate)."""
        def key(m: str):
            ms = self.methods[m]
            return (ms.median_steps.value if ms.sample.n else math.inf,
                    -(ms.sample.k / ms.sample.n) if ms.sample.n else 0.0,
                    ms.median_seconds.value if ms.sample.n else math.inf, m)
        return sorted(self.methods, key=key)


def stack_parts(method: str) -> list[str]:
    """``grokfast+egd@adamw`` -> ``["grokfast@adamw", "egd@adamw"]``; [] if not a stack."""
    chain, at, base = method.partition("@")
    parts = [p.strip() for p in chain.split("+") if p.strip()]
    if len(parts) < 2:
        return []
    return [p + (at + base if at else "") for p in parts]


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
    task_cfg = [sig(r.get("task_params")) for r in rows]
    new_task = list(frame["task_label"])
    for label in dict.fromkeys(frame["task_label"]):
        idx = [i for i, r in enumerate(rows) if r["task_label"] == label]
        cfgs = list(dict.fromkeys(task_cfg[i] for i in idx))
        if len(cfgs) > 1:
            reps = [next(rows[i] for i in idx if task_cfg[i] == c) for c in cfgs]
            names = _param_diff([_flat_params(r, ("task_params",)) for r in reps])
            for c, name in zip(cfgs, names):
                for i in idx:
                    if task_cfg[i] == c:
                        new_task[i] = f"{label} [{name}]"
    frame["task_label"] = new_task
    fields = ("optimizer", "optimizer_params", "transforms")
    method_cfg = [sig([r.get(f) for f in fields]) for r in rows]
    new_method = list(frame["method"])
    for (task, label), _ in frame.groupby(["task_label", "method"], sort=False):
        idx = [i for i, r in enumerate(rows) if new_task[i] == task and r["method"] == label]
        cfgs = list(dict.fromkeys(method_cfg[i] for i in idx))
        if len(cfgs) > 1:
            reps = [next(rows[i] for i in idx if method_cfg[i] == c) for c in cfgs]
            names = _param_diff([_flat_params(r, fields) for r in reps])
            for c, name in zip(cfgs, names):
                for i in idx:
                    if method_cfg[i] == c:
                        new_method[i] = f"{label} [{name}]"
    frame["method"] = new_method
    return frame


def base_optimizer(task: str, preset: str | None, rows=None) -> str | None:
    """The task's base optimizer: from the registry, else inferred from the records."""
    try:
        from . import registry

        registry.load_builtins()
        cls = registry.get_task(task)
        if preset and preset in cls.presets and cls.presets[preset].base_optimizer:
            return cls.presets[preset].base_optimizer
        return cls.base_optimizer
    except Exception:
        pass
    if rows is None:
        return None
    counts: dict[str, int] = {}
    for r in rows.to_dict(orient="records") if hasattr(rows, "to_dict") else rows:
        if r.get("transforms") and "@" not in str(r.get("method")):
            counts[str(r.get("optimizer"))] = counts.get(str(r.get("optimizer")), 0) + 1
    return max(counts, key=counts.get) if counts else None


def _pick_baseline(methods: list[str], base: str | None) -> str | None:
    if base is None:
        return None
    if base in methods:
        return base
    variants = sorted(m for m in methods if m.startswith(base + " ["))
    return variants[0] if variants else None


def task_stats(label: str, rows, baseline: str | None = None, n_boot: int = N_BOOT) -> TaskStats:
    """All statistics of one task: ``rows`` are its trials (one task label)."""
    records = rows.to_dict(orient="records") if hasattr(rows, "to_dict") else list(rows)
    by_method: dict[str, list] = {}
    for r in records:
        by_method.setdefault(str(r["method"]), []).append(r)
    samples = {m: make_sample(rs) for m, rs in by_method.items()}
    methods = {m: method_stats(label, m, s, n_boot) for m, s in samples.items()}
    for m, rs in by_method.items():
        costs = []
        for r in rs:
            curve = r.get("curve")
            last = curve["step"][-1] if isinstance(curve, dict) and curve.get("step") else None
            t = _num(r.get("train_time_s"))
            if last and math.isfinite(t) and str(r.get("status")) in FINAL_STATUSES:
                costs.append(t / last)
        methods[m].step_cost_s = float(np.median(costs)) if costs else None
    note = ""
    if baseline is None and records:
        base = base_optimizer(str(records[0].get("task")), records[0].get("preset"), records)
        baseline = _pick_baseline(list(samples), base)
        if baseline is None:
            note = (f"baseline ({base}) not in the results: no tests" if base
                    else "baseline unknown (task not registered, no accelerator to infer it from): no tests")
    elif baseline is not None and baseline not in samples:
        note, baseline = f"baseline ({baseline}) not in the results: no tests", None
    vs: dict[str, Comparison] = {}
    if baseline is not None:
        for m in samples:
            if m != baseline:
                vs[m] = compare(label, m, samples[m], baseline, samples[baseline], n_boot)
        adjust(list(vs.values()))
    stacks = []
    for m in samples:
        for part in stack_parts(m):
            if part in samples:
                stacks.append(compare(label, m, samples[m], part, samples[part], n_boot))
    adjust(stacks)
    return TaskStats(label, baseline, methods, vs, stacks, note)


def analyze(frame, baselines: dict[str, str] | None = None, n_boot: int = N_BOOT) -> dict[str, TaskStats]:
    """Per task label (after :func:`disambiguate`): its :class:`TaskStats`."""
    out: dict[str, TaskStats] = {}
    if frame is None or len(frame) == 0:
        return out
    frame = disambiguate(frame)
    for label, rows in frame.groupby("task_label", sort=True):
        out[str(label)] = task_stats(str(label), rows, (baselines or {}).get(str(label)), n_boot)
    return out
