"""Task statistics -> table rows (a list of dicts of strings, one dict per table row),
shared by the markdown page and the terminal (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from .. import stats as st
from .format import fmt_median, fmt_num, fmt_p, fmt_ratio, fmt_seconds, fmt_solved

MAIN_COLUMNS = [
    "#", "method", "solved", "crossed, fell back", "collapsed after window", "median epochs to target [95% CI]",
    "median plateau (epochs)",
    "speedup vs baseline [95% CI]", "seeds faster / slower / tied", "p sign test (adjusted)", "p log-rank (adjusted)",
    "p solve rate (Fisher, adjusted)", "verdict", "across thresholds", "wall-time verdict",
]
BASELINE_SPEEDUP = "1× (baseline)"
THRESHOLD_NAMES = {"t90": "0.90", "t95": "0.95", st.TARGET: "target"}
SIGNIFICANCE_MARKS = {st.FASTER: " ▲", st.SLOWER: " ▼"}


def budget_epochs(s: st.Sample) -> float | None:
    """The sample's budget in epochs (``Sample.budget_epochs``); None when not finite."""
    return s.budget_epochs


def scale_epochs(s: st.Sample) -> st.Estimate:
    """The censoring-aware median of the sample's steps to target, in epochs (no CI)."""
    return st.Estimate(s.median_epochs(), None)


def fmt_sign(c: st.Comparison | None, seconds: bool = False) -> str:
    """'9 / 1 / 0': seeds on which the method got there first / later / tied."""
    if c is None:
        return "–"
    t = c.time_sign if seconds else c.sign
    return f"{t.wins} / {t.losses} / {t.ties}"


def _baseline_cells(ts: st.TaskStats, method: str) -> dict[str, str]:
    """The main table's cells that compare one method with the task's baseline."""
    keys = ("speedup vs baseline [95% CI]", "seeds faster / slower / tied", "p sign test (adjusted)",
            "p log-rank (adjusted)", "p solve rate (Fisher, adjusted)", "verdict", "across thresholds", "wall-time verdict")
    c = ts.vs_baseline.get(method)
    if method == ts.baseline:
        return dict(zip(keys, (BASELINE_SPEEDUP, "–", "–", "–", "–", st.BASELINE, "–", st.BASELINE)))
    if c is None:
        verdict = "no baseline" if ts.baseline is None else st.NOT_ENOUGH
        return dict(zip(keys, ("–", "–", "–", "–", "–", verdict, "–", verdict)))
    return dict(zip(keys, (fmt_ratio(c.speedup_steps), fmt_sign(c), fmt_p(c.p_adjusted), fmt_p(c.p_logrank_adjusted),
                           fmt_p(c.p_fisher_adjusted), c.verdict, ts.consistency(method) or "–", c.time_verdict)))


def main_rows(ts: st.TaskStats) -> list[dict[str, str]]:
    """The per-task table (columns: MAIN_COLUMNS), ranked by censoring-aware median steps
    to target."""
    rows = []
    for rank, m in enumerate(ts.ranked(), 1):
        ms = ts.methods[m]
        s = ms.sample
        rows.append({
            "#": str(rank),
            "method": m,
            "solved": fmt_solved(s),
            "crossed, fell back": str(s.n_relapsed),
            "collapsed after window": str(s.n_unstable),
            "median epochs to target [95% CI]": fmt_median(ms.median_epochs, budget_epochs(s)) if s.n else "–",
            "median plateau (epochs)": (fmt_num(s.in_epochs(ms.median_plateau.value))
                                        if s.n and ms.median_plateau.finite else "–"),
            **_baseline_cells(ts, m),
        })
    return rows


def threshold_rows(ts: st.TaskStats, target: str = "") -> list[dict[str, str]]:
    """Per method: median epochs to 0.90, 0.95 and the target, the verdict against the
    baseline at each, and whether the verdict holds across them."""
    rows = []
    for m in ts.ranked():
        ms = ts.methods[m]
        s = ms.sample
        row = {"method": m}
        for t in st.THRESHOLDS:
            name = THRESHOLD_NAMES[t] if t != st.TARGET or not target else f"target ({target})"
            median = st.Estimate(s.in_epochs(ms.median_steps_at(t)) if s.n else math.nan, None)
            row[f"median epochs to {name}"] = fmt_median(median, budget_epochs(s), ci=False) if s.n else "–"
            c = ts.at_threshold.get(t, {}).get(m)
            row[f"verdict at {name}"] = st.BASELINE if m == ts.baseline else c.verdict if c else "–"
        row["across thresholds"] = "–" if m == ts.baseline else ts.consistency(m) or "–"
        rows.append(row)
    return rows


def stack_rows(ts: st.TaskStats) -> list[dict[str, str]]:
    """One row per stack against one of its parts alone, over their paired seeds."""
    rows = []
    for c in ts.stacks:
        a, b = ts.methods[c.method], ts.methods[c.reference]
        sa, sb = a.sample.take(c.seeds), b.sample.take(c.seeds)
        be = budget_epochs(sa)
        verdict = c.verdict
        if verdict in (st.FASTER, st.SLOWER):
            verdict = f"stack {verdict} than {c.reference}"
        rows.append({
            "stack": c.method,
            "vs part alone": c.reference,
            "paired seeds": str(c.n),
            "solved (stack / part)": f"{sa.k}/{sa.n} / {sb.k}/{sb.n}",
            "median epochs (stack / part)": (f"{fmt_median(scale_epochs(sa), be, ci=False)} / "
                                             f"{fmt_median(scale_epochs(sb), be, ci=False)}") if c.n else "–",
            "speedup of stack [95% CI]": fmt_ratio(c.speedup_steps),
            "seeds faster / slower / tied": fmt_sign(c),
            "p sign test (adjusted)": fmt_p(c.p_adjusted),
            "verdict": verdict,
        })
    return rows


def pair_rows(ts: st.TaskStats) -> list[dict[str, str]]:
    """The requested comparisons of named methods with each other (one family)."""
    rows = []
    for c in ts.pairs:
        sa, sb = ts.methods[c.method].sample.take(c.seeds), ts.methods[c.reference].sample.take(c.seeds)
        be = budget_epochs(sa)
        rows.append({
            "method": c.method,
            "vs": c.reference,
            "paired seeds": str(c.n),
            "solved": f"{sa.k}/{sa.n} vs {sb.k}/{sb.n}",
            "median epochs": (f"{fmt_median(scale_epochs(sa), be, ci=False)} vs "
                              f"{fmt_median(scale_epochs(sb), be, ci=False)}") if c.n else "–",
            "speedup [95% CI]": fmt_ratio(c.speedup_steps),
            "seeds faster / slower / tied": fmt_sign(c),
            "p sign test (adjusted)": fmt_p(c.p_adjusted),
            "verdict": c.verdict if c.verdict not in (st.FASTER, st.SLOWER) else f"{c.verdict} than {c.reference}",
        })
    return rows


CONTROL_COLUMNS = ["accelerator", "vs the tuned baseline", st.BASE_AT_ITS_SETTINGS, st.ON_THE_TUNED_BASE,
                   "on the tuned base vs the tuned baseline"]


def _control_cell(c: st.Comparison | None, named: bool = True) -> str:
    """'1.9× [1.2, 3.1] faster (p 0.004; 9 / 1 / 0) against `ref`'; '–' without one."""
    if c is None:
        return "–"
    ref = f" against `{c.reference}`" if named else ""
    return f"{fmt_ratio(c.speedup_steps)} {c.verdict} (p {fmt_p(c.p_adjusted)}; {fmt_sign(c)}){ref}"


def control_rows(ts: st.TaskStats) -> list[dict[str, str]]:
    """One row per tuned accelerator with controls: its speedup and verdict against the
    tuned baseline, against the base at its settings and against itself on the tuned base
    (each control's family), and the latter control against the tuned baseline."""
    accelerators = [m for m in ts.ranked() if any(m in cs for cs in ts.controls.values())]
    rows = []
    for m in accelerators:
        on_base = ts.controls.get(st.ON_THE_TUNED_BASE, {}).get(m)
        rows.append(dict(zip(CONTROL_COLUMNS, (
            m, _control_cell(ts.vs_baseline.get(m), named=False),
            _control_cell(ts.controls.get(st.BASE_AT_ITS_SETTINGS, {}).get(m)), _control_cell(on_base),
            _control_cell(ts.vs_baseline.get(on_base.reference) if on_base else None, named=False)))))
    return rows


def heatmap_cell(ts: st.TaskStats, method: str) -> str:
    """One method on one task: its speedup in steps against the baseline, ▲/▼ when
    significantly faster/slower; 'baseline', 'not run', 'no baseline'."""
    if method not in ts.methods or not ts.methods[method].sample.n:
        return "not run"
    if method == ts.baseline:
        return st.BASELINE
    c = ts.vs_baseline.get(method)
    if c is None:
        return "no baseline"
    return fmt_ratio(c.speedup_steps, ci=False) + SIGNIFICANCE_MARKS.get(c.verdict, "")


def method_order(analysis: Mapping[str, st.TaskStats], profiles: Mapping[str, st.Profile] | None = None) -> list[str]:
    """Every method of the analysis but the controls, best profile score first (then by name)."""
    methods = dict.fromkeys(m for ts in analysis.values() for m in ts.named())
    scores = {m: (profiles[m].score if profiles and m in profiles else -1.0) for m in methods}
    return sorted(methods, key=lambda m: (-scores[m], m))


def heatmap_rows(analysis: Mapping[str, st.TaskStats], methods: list[str]) -> list[dict[str, str]]:
    """Method x task: speedup in steps to target against each task's baseline."""
    return [{"method": m, **{label: heatmap_cell(ts, m) for label, ts in analysis.items()}} for m in methods]


def profile_rows(steps: Mapping[str, st.Profile], seconds: Mapping[str, st.Profile],
                 methods: list[str]) -> list[dict[str, str]]:
    """Per method: tasks it ran on, its profile scores, and how often it was the best."""
    rows = []
    for m in methods:
        p, q = steps.get(m), seconds.get(m)
        rows.append({
            "method": m,
            "tasks": str(p.n_tasks) if p else "0",
            "score: steps": fmt_num(p.score) if p else "–",
            "score: wall time": fmt_num(q.score) if q else "–",
            "fastest (steps) on": f"{sum(r <= 1 for r in p.ratios.values())} of {p.n_tasks}" if p else "–",
            "within 2× of the fastest (steps)": f"{p.rho(2.0):.0%}" if p else "–",
        })
    return rows


def _savings_survive(c: st.Comparison | None, base: st.MethodStats | None) -> str:
    """Whether an epoch speedup > 1 is still a wall-time speedup: 'yes'/'no' when the
    wall-time CI lies above/below 1, '... (CI spans 1)' from the point estimate alone."""
    if c is None:
        return "–"
    if base is not None and not base.median_steps.finite:
        # a baseline that mostly never solves spent no comparable time: no wall-time verdict
        return "n/a (baseline unsolved)"
    es, ws = c.speedup_steps, c.speedup_time
    if math.isnan(es.value) or es.value <= 1:
        return "–"
    if ws.ci is not None and ws.ci[0] > 1 and not ws.lo_open:
        return "yes"
    if ws.ci is not None and ws.ci[1] < 1 and not ws.hi_open:
        return "no"
    if not math.isnan(ws.value):
        return "yes (CI spans 1)" if ws.value > 1 else "no (CI spans 1)"
    return "unclear"


def _speedup_cell(ts: st.TaskStats, method: str, estimate: st.Estimate | None) -> str:
    if method == ts.baseline:
        return BASELINE_SPEEDUP
    return fmt_ratio(estimate) if estimate is not None else "–"


def _measured_median(ms: st.MethodStats) -> str:
    """The median of the seconds measured in the training loop (calibrated or not)."""
    return fmt_seconds(st.Estimate(ms.median_measured_seconds, None))


def walltime_rows(ts: st.TaskStats, timing: Mapping | None = None) -> list[dict[str, str]]:
    """Epoch speedup next to wall-time speedup: do an accelerator's savings survive its
    per-step cost?

    ``timing``: this task's entry of ``grokbench.calibrate.walltime_context(frame, costs)``.
    Where every seed of a method (and, for its speedup, of the baseline) has a calibrated
    step cost, the seconds, the speedup and the verdict are calibrated (steps to target x
    calibrated step cost) and "wall time from" says so, with the calibration's conditions;
    otherwise they are the seconds measured in the training loop, said as well. "measured s
    to target" is always the in-loop figure; "notes" flags measured seconds taken under
    load and conditions (device, threads, seeds per batch) that differ from the baseline's."""
    from dataclasses import replace

    from ..calibrate import walltime as cw

    timing = timing or {}
    rows = []
    base = ts.methods.get(ts.baseline) if ts.baseline else None
    base_timing = timing.get(ts.baseline) if ts.baseline else None
    base_cost = _wall_step_cost(base, base_timing) if base else (None, False)
    for m in ts.ranked():
        ms, t = ts.methods[m], timing.get(m)
        s, c = ms.sample, ts.vs_baseline.get(m)
        median = cw.calibrated_median(ts.label, m, s, t) if s.n else None
        speedup = (cw.calibrated_speedup(ts.label, m, s, t, ts.baseline, base.sample, base_timing)
                   if c is not None and base is not None else None)
        calibrated = median is not None and (c is None or speedup is not None)
        if calibrated and c is not None:
            c = replace(c, speedup_time=speedup)
        cost, cost_calibrated = _wall_step_cost(ms, t)
        same_kind = cost_calibrated == base_cost[1]
        rows.append({
            "method": m,
            "median epochs to target": fmt_median(ms.median_epochs, budget_epochs(s), ci=False) if s.n else "–",
            "epoch speedup [95% CI]": _speedup_cell(ts, m, c.speedup_steps if c else None),
            "median s to target [95% CI]": fmt_seconds(median if calibrated else ms.median_seconds, ci=True)
            if s.n else "–",
            "wall-time speedup [95% CI]": _speedup_cell(ts, m, c.speedup_time if c else None),
            "ms per step": fmt_num(cost * 1000) if cost else "–",
            "step cost vs baseline": f"{fmt_num(cost / base_cost[0])}×" if cost and base_cost[0] and same_kind
            else "–",
            "epoch savings survive?": _savings_survive(c, base),
            "wall time from": _wall_source(t) if calibrated or s.seconds_calibrated else "measured in the loop",
            "measured s to target": _measured_median(ms) if s.n else "–",
            "notes": _wall_notes(m, t, ts.baseline, base_timing),
        })
    return rows


def _wall_step_cost(ms: st.MethodStats, t) -> tuple[float | None, bool]:
    """(seconds per seed-step, calibrated?): the median calibrated cost over the method's
    seeds when every seed has one, else the measured one."""
    costs = [t.seed_costs.get(int(seed)) for seed in ms.sample.seeds] if t is not None and ms.sample.n else []
    if costs and all(costs):
        return float(sorted(c.seed_step_cost_s for c in costs)[len(costs) // 2]), True
    return ms.step_cost_s, False


def _wall_source(t) -> str:
    conditions = sorted({c.conditions for c in t.costs()})
    return "calibrated: " + "; ".join(conditions)


def _wall_notes(method: str, t, baseline: str | None, base_t) -> str:
    """Load and differing conditions of a method's wall times, '–' when there is nothing to say."""
    if t is None:
        return "–"
    notes = []
    if t.under_load:
        notes.append(f"{t.under_load}/{t.with_load} measured under load")
    if len(t.measured) > 1:
        notes.append("measured under several conditions: " + "; ".join(sorted(t.measured)))
    if base_t is not None and method != baseline:
        mine, theirs = {c.conditions for c in t.costs()}, {c.conditions for c in base_t.costs()}
        if mine and theirs and mine != theirs:
            notes.append(f"calibrated at {'; '.join(sorted(mine))}, baseline at {'; '.join(sorted(theirs))}")
        if t.measured and base_t.measured and t.measured != base_t.measured:
            notes.append(f"measured at {'; '.join(sorted(t.measured))}, baseline at {'; '.join(sorted(base_t.measured))}")
    return "; ".join(notes) or "–"
