"""Numbers and statistics -> the short strings in the leaderboard's cells (pure)."""

from __future__ import annotations

import math

import numpy as np

from .. import stats as st

OVER_BUDGET = "> budget"


def fmt_num(x: float | None) -> str:
    """A number in at most about three significant digits; None/NaN -> '–', an infinite
    value -> 'unbounded' (callers write what is known instead). Integers and values
    >= 100 print without decimals."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "unbounded"
    ax = abs(x)
    if ax >= 100 or (isinstance(x, int | np.integer)):
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 0.01:
        return f"{x:.2f}"
    return f"{x:.2g}"


def fmt_median(e: st.Estimate, budget: float | None, ci: bool = True) -> str:
    """A censoring-aware median in the budget's unit: '33 [18, 49]', '> 60', '33 [18, > 60]'.

    ``budget`` is the censoring point (None or inf: written '> budget'); ``ci`` adds the
    interval when there is one and the point is finite."""
    over = f"> {fmt_num(budget)}" if budget is not None and math.isfinite(budget) else OVER_BUDGET
    if isinstance(e.value, float) and math.isnan(e.value):
        return "–"
    point = fmt_num(e.value) if e.finite else over
    if not ci or e.ci is None or not e.finite:  # "> budget": an interval adds nothing
        return point
    lo, hi = e.ci
    if lo == hi:  # the order statistics of the interval coincide: say so, never "[2, 2]"
        return f"{point} [{_identical(e)}]"
    return f"{point} [{fmt_num(lo) if math.isfinite(lo) else over}, {fmt_num(hi) if math.isfinite(hi) else over}]"


def _identical(e: st.Estimate) -> str:
    """'identical: k of n seeds' for an interval of zero width (``Estimate.identical``)."""
    return f"{st.IDENTICAL}: {e.identical[0]} of {e.identical[1]} seeds" if e.identical else st.IDENTICAL


def fmt_seconds(e: st.Estimate, ci: bool = False) -> str:
    """A median in seconds: '9.94', '9.94 [5.1, > budget]' with ``ci``; '> budget' when
    the median is censored (not reached within the step budget)."""
    if isinstance(e.value, float) and math.isnan(e.value):
        return "–"
    if not e.finite:
        return OVER_BUDGET
    text = fmt_num(e.value)
    if ci and e.ci is not None:
        lo, hi = e.ci
        text += (f" [{_identical(e)}]" if lo == hi else
                 f" [{fmt_num(lo)}, {OVER_BUDGET if math.isinf(hi) else fmt_num(hi)}]")
    return text


def fmt_interval(e: st.Estimate) -> str:
    """'[1.1, 2.0]', '[< 0.8, 2.0]', '[1.1, > 3.2]' (one-sided ends, see stats.Estimate);
    '' without an interval."""
    if e.ci is None:
        return ""
    lo, hi = e.ci
    if lo == hi and not (e.lo_open or e.hi_open):  # a degenerate resampling: said, not shown as [x, x]
        return "[the same in every resample]"
    return f"[{'< ' if e.lo_open else ''}{fmt_num(lo)}, {'> ' if e.hi_open else ''}{fmt_num(hi)}]"


def fmt_ratio(e: st.Estimate | None, ci: bool = True) -> str:
    """A speedup: '1.5× [1.1, 2.0]'; for a censored median what is known: '> 3.2×'
    (baseline median beyond the budget, a bound that clears 1), 'baseline median > budget:
    no ratio', '< 0.4×', 'median > budget: no ratio', 'both medians > budget: no ratio'."""
    if e is None or (math.isnan(e.value) and e.note.startswith(st.NOT_ENOUGH)):
        return "–"
    v = e.value
    if math.isnan(v):
        return "no ratio: both > budget"
    if math.isinf(v):
        return f"> {fmt_num(e.bound)}×" if e.bound is not None and e.bound >= 1 else "no ratio: baseline > budget"
    if v == 0.0:
        return f"< {fmt_num(e.bound)}×" if e.bound is not None and e.bound <= 1 else "no ratio: method > budget"
    point = f"{fmt_num(v)}×"
    if not ci:
        return point
    if e.ci is None and e.note and not e.note.startswith(st.NOT_ENOUGH):
        return f"{point} ({e.note})"
    return f"{point} {fmt_interval(e)}".rstrip()


def fmt_p(p: float | None) -> str:
    """A p-value: '<0.001', three decimals below 0.1, else two; None -> '–'."""
    if p is None:
        return "–"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def fmt_solved(s: st.Sample) -> str:
    """'3/5', '3/5, 1 diverged', '3/4 (+1 error excluded)'."""
    text = f"{s.k}/{s.n}"
    for status in ("diverged", "timeout"):
        if s.count(status):
            text += f", {s.count(status)} {status}"
    extra = ", ".join(f"{v} {k}" for k, v in sorted(s.excluded.items()))
    return f"{text} (+{extra} excluded)" if extra else text
