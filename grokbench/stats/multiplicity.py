"""Fixed families of comparisons, their adjustment and the verdicts.

Contracts:

* **Fixed families.** One task's methods against its baseline, separately per threshold
  and measure (steps, seconds), form a family; stacks against their parts and named pairs
  are families of their own. Each family is Bonferroni-adjusted as a family of
  ``FAMILY_SIZE`` (16) comparisons, or of as many as it holds when more. Holm is more
  powerful but makes a comparison's adjusted p depend on the other p-values of its
  family, so the same records gave one verdict on one page and another on a page with
  other methods (Grokfast vs SGD on parity: 0.043 and 0.064); with a fixed size it
  depends on its own test only, whatever else is on the page. Every comparison goes to
  comparisons.csv with its raw and adjusted p and its family.
* **Verdict** at 0.05 (adjusted): ``faster`` / ``slower`` (more wins than losses =
  faster) / ``no significant difference``; ``not enough data`` where no test can be made.
  Never NaN, never an exception. The **wall-time verdict** is the same sign test on
  training seconds to target, in its own family of the fixed size.
* **Across thresholds.** A verdict is *robust to the threshold* when it is the same
  significant verdict at all three thresholds: an intersection-union test, valid at 0.05
  without further adjustment. It *flips* when it is faster at one threshold and slower at
  another.
"""

from __future__ import annotations

import math
from collections.abc import Collection

from .comparison import Comparison
from .constants import ALPHA, FAMILY_SIZE, FASTER, NO_DIFF, NOT_ENOUGH, SLOWER, THRESHOLDS

ROBUST, FLIPS, DEPENDS = "robust", "flips", "depends on threshold"


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
