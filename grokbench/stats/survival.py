"""Censoring-aware medians and ratios of times to a threshold.

Contracts: a value ``inf`` means "not reached" (right-censored) and ranks above every
reached value. The median is a number only when the middle order statistic(s) are reached
(more than half reached; with an even count, exactly half reached also leaves it
undetermined); otherwise it is ``inf`` (the leaderboard's "> budget"). Ratios live on
[0, inf] with x/inf = 0, inf/x = inf and inf/inf = 0/0 = nan.
"""

from __future__ import annotations

import math

import numpy as np


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


def _ratio(num, den):
    """num / den on [0, inf]: x/inf = 0, inf/x = inf, inf/inf and 0/0 = nan."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out = np.where(np.isinf(num) & np.isinf(den), np.nan, out)
    return out


def _substituted(values, censor):
    return np.where(np.isinf(values), censor, values)
