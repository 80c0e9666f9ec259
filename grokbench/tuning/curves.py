"""Tuning curves: does the selection still move at K?

For one (task, method) study: the median steps to target of the configuration the rule
(``selection.select``) would choose from the method's defaults and the first k of its K
drawn configurations, for k = 0, 1, 2, 4, ..., K, over random orders of the K draws (a
fixed generator, so the table is the same on every machine). Each row gives the median of
that value over the orders and its 10th and 90th percentiles. A curve still falling at K
says more draws would likely find better settings; a flat tail says K sufficed.

With capping, a capped configuration's median is only known to lie above its capping
bound; where one sits among the first k with a bound below the chosen median, that order's
value is an upper bound (the capped configuration might have been better), and the row
counts such orders. At k = K the value is exact (the selection is the uncapped study's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .selection import Outcome, select

ORDERS = 200
ORDER_SEED = 0


@dataclass(frozen=True)
class CurvePoint:
    """The chosen median after the defaults and ``k`` draws, over random orders."""

    k: int
    median: float
    p10: float
    p90: float
    bounded: int  # orders where the value is only an upper bound (a capped configuration among the first k)
    orders: int


def _ks(n_drawn: int) -> list[int]:
    ks, k = [0], 1
    while k < n_drawn:
        ks.append(k)
        k *= 2
    return ks + [n_drawn] if n_drawn else ks


def _quantile(sorted_values: list[float], q: float) -> float:
    """The order statistic at ``q`` (no interpolation, so inf stays inf)."""
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


def _chosen(prefix: list[Outcome], default_index: int | None) -> tuple[float, bool]:
    """The chosen median among ``prefix``, and whether a capped configuration could beat it."""
    best = select(prefix, default_index)
    value = math.inf if best.capped else best.median_steps
    bounded = any(o.capped and (o.capped_above is None or o.capped_above < value) for o in prefix)
    return value, bounded


def tuning_curve(outcomes: list[Outcome], default_index: int | None, orders: int = ORDERS) -> list[CurvePoint]:
    """The curve of one study; ``default_index``: the defaults' configuration (always in)."""
    defaults = [o for o in outcomes if o.index == default_index]
    drawn = [o for o in outcomes if o.index != default_index]
    rng = np.random.default_rng(ORDER_SEED)
    perms = [rng.permutation(len(drawn)) for _ in range(orders)] if drawn else [np.arange(0)]
    out = []
    for k in _ks(len(drawn)):
        values, bounded = [], 0
        for perm in perms:
            prefix = defaults + [drawn[i] for i in perm[:k]]
            if not prefix:
                continue
            value, is_bound = _chosen(prefix, default_index)
            values.append(value)
            bounded += is_bound
        if values:
            values.sort()
            out.append(CurvePoint(k, _quantile(values, 0.5), _quantile(values, 0.1), _quantile(values, 0.9),
                                  bounded, len(values)))
    return out


def curve_lines(points: list[CurvePoint], trials: int) -> list[str]:
    """A markdown table of a tuning curve ("tuning curve" in its title)."""
    if len(points) < 2:
        return []

    def steps(x: float) -> str:
        return f"{x:g}" if math.isfinite(x) else "> budget"

    lines = [f"Tuning curve: the chosen configuration's median steps to target from the defaults and the first k "
             f"of the {trials} draws, over {points[0].orders} random orders (10th-90th percentile)", "",
             "| k | median | 10th-90th | orders with a capped configuration that could be lower |",
             "|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p.k} | {steps(p.median)} | {steps(p.p10)}-{steps(p.p90)} | {p.bounded} |")
    return [*lines, ""]


def curve_json(points: list[CurvePoint]) -> list[dict]:
    """A curve for tuned.json (``curve`` of each selection): an infinite value (beyond the
    budget) as None."""
    def finite(x: float) -> float | None:
        return x if math.isfinite(x) else None

    return [{"k": p.k, "median": finite(p.median), "p10": finite(p.p10), "p90": finite(p.p90),
             "bounded": p.bounded, "orders": p.orders} for p in points]


def curve_from_json(data: list[dict]) -> list[CurvePoint]:
    """``curve_json``'s inverse (None -> inf); a malformed point is a ValueError."""
    def value(x) -> float:
        return math.inf if x is None else float(x)

    try:
        return [CurvePoint(int(d["k"]), value(d["median"]), value(d["p10"]), value(d["p90"]), int(d["bounded"]),
                           int(d["orders"])) for d in data]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed tuning curve: {exc}") from None
