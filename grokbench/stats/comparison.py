"""One method's own medians (:class:`MethodStats`) and its paired comparison with a
reference (:class:`Comparison`: the baseline, a part of a stack, another method).

Contracts: a comparison is made over the seeds both samples have a final record for (the
others are left out); it holds the raw tests of :mod:`.tests` and the speedups of
:mod:`.intervals` (target only when ``n_boot`` > 0); its adjusted p-values, verdicts and
family are filled in by :func:`grokbench.stats.multiplicity.adjust` (until then the
verdict is ``NOT_ENOUGH``). Medians are censoring-aware (:mod:`.survival`); a censored
median carries its one-sided ``bound`` (the budget in steps; the censored trials'
training seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .constants import N_BOOT, NOT_ENOUGH, TARGET
from .intervals import Estimate, median_ci, ratio_ci, scale, seeded_rng
from .samples import Sample
from .survival import censored_median
from .tests import SignTest, fisher, logrank, sign_test


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
        """``median_steps`` in epochs (interval and bound included)."""
        return scale(self.median_steps, self.sample.in_epochs(1.0))

    @property
    def median_measured_seconds(self) -> float:
        """Censoring-aware median of the seconds measured in the training loop to target,
        whether or not ``median_seconds`` is calibrated (nan: no measured seconds)."""
        measured = self.sample.measured_seconds
        if measured is None or not self.sample.seconds_calibrated:
            return self.median_seconds.value
        return censored_median(measured)

    def median_steps_at(self, threshold: str) -> float:
        """Censoring-aware median steps to ``threshold`` (inf: undetermined, nan: no seeds)."""
        s = self.samples.get(threshold, self.sample if threshold == TARGET else None)
        return censored_median(s.steps) if s is not None and s.n else math.nan


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
    rng = seeded_rng(label, method, reference, "speedup")
    idx = rng.integers(0, max(len(common), 1), size=(n_boot, len(common))) if n_boot else None
    sp_steps = ratio_ci(b.steps, b.steps_censor, a.steps, a.steps_censor, rng, n_boot, idx)
    sp_time = ratio_ci(b.seconds, b.seconds_censor, a.seconds, a.seconds_censor, rng, n_boot, idx)
    sign = sign_test(a, b)
    return Comparison(method, reference, [int(s) for s in common], a.k, b.k, sign, sign_test(a, b, seconds=True),
                      z, p, fisher(a, b), sp_steps, sp_time, sign.note or note)
