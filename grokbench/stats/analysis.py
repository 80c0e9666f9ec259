"""All statistics of each task of a frame: :func:`analyze` -> :class:`TaskStats` per task.

Contracts: inputs are the rows of :func:`grokbench.store.load_frame` (one per trial);
every label, base, part and baseline needed is in the records.

* **Baseline.** A task's baseline is its base optimizer alone (``sgd`` for sparse parity,
  ``adamw`` for the transformer), as every record names it (``baseline``, fixed at plan
  time; ``grokbench run`` trains it unless told not to). If the baseline is not among the
  results, the task's rows say so and carry no tests. Stacks are compared with each of
  their ``parts`` (also in the records); on request, named methods with each other; tuned
  accelerators with their controls (:mod:`.controls`).
* **Metrics from curves.** When the frame has curves, every trial's metrics are recomputed
  from its curve (:func:`grokbench.metrics.with_curve_metrics`), so records written before
  a metric existed get it under the same definition.
* Each (method, reference) list is one family at one threshold (:mod:`.multiplicity`);
  speedup intervals only at the target.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..metrics import with_curve_metrics
from .comparison import Comparison, MethodStats, compare, method_stats
from .constants import FINAL_STATUSES, N_BOOT, TARGET, THRESHOLDS
from .controls import control_pairs
from .frames import disambiguate
from .multiplicity import adjust, consistency
from .samples import Sample, _last_step, _num, _records, make_sample

ALL_PAIRS = "all"


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

    def control_labels(self) -> set[str]:
        """The labels that ran only as a tuned accelerator's control (``controls``): shown
        in the controls table and on cell pages, never ranked as methods."""
        return {c.reference for family in self.controls.values() for c in family.values()} - {self.baseline}

    def named(self) -> list[str]:
        """``ranked()`` without the controls: the methods the run was asked for."""
        controls = self.control_labels()
        return [m for m in self.ranked() if m not in controls]

    def verdicts(self, method: str) -> dict[str, str]:
        """The method's verdict against the baseline at each threshold."""
        return {t: c[method].verdict for t, c in self.at_threshold.items() if method in c}

    def consistency(self, method: str) -> str:
        """:func:`consistency` of the method's verdicts across the thresholds."""
        return consistency(self.verdicts(method).values())


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


def analyze(frame, baselines: dict[str, str] | None = None, n_boot: int = N_BOOT,
            pair_labels: Collection[str] | None = None) -> dict[str, TaskStats]:
    """Per task label (after :func:`disambiguate`): its :class:`TaskStats`. Metrics are
    recomputed from curves where the frame has them. ``pair_labels``: method labels to
    compare with each other on every task (ALL_PAIRS: every method)."""
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
