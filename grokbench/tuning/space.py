"""Search spaces of whole chains: the tunable parameters a method or base optimizer
declares (``search_space``, with the dimension types of the plugin API
:mod:`grokbench.search`), their union over a chain, and where a value sits in its range.

A chain's space is the union of its accelerators' spaces and its base optimizer's.

A study can search a setting over another range than the declared one: ``--set
sgd.lr=1e-4..10`` (``parse_range``) keeps the dimension's scale and replaces its bounds
(``with_range``); ``proposals`` says which points such a range adds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import registry
from ..errors import UserError
from ..search import Choice, Dimension, Linear, Log

EDGE = 0.05  # a value in the outer 5% of its range (on its scale) is at the edge of it


def at_edge(dimension: Dimension, value: Any) -> str | None:
    """'low' or 'high' when ``value`` lies in the outer ``EDGE`` of ``dimension``'s range
    (log scale for ``Log``): the search may have wanted to go further; else None."""
    position = dimension.position(value)
    if position is None:
        return None
    return "low" if position < EDGE else "high" if position > 1 - EDGE else None


RANGE_SEPARATOR = ".."


def parse_range(text: str) -> tuple[float, float] | None:
    """``"1e-4..10"`` -> (0.0001, 10.0); None when ``text`` is no range (an ordinary value);
    a UserError for a range that is malformed or empty (lo >= hi)."""
    lo_text, sep, hi_text = str(text).partition(RANGE_SEPARATOR)
    if not sep:
        return None
    try:
        lo, hi = float(lo_text), float(hi_text)
    except ValueError:
        raise UserError(f"search range {text!r} is malformed; expected LO..HI, e.g. 1e-4..10") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise UserError(f"search range {text!r} must have finite LO < HI")
    return lo, hi


def with_range(dimension: Dimension, lo: float, hi: float, name: str) -> Dimension:
    """``dimension`` searched over [lo, hi] on its own scale (a ``Log``'s exact-0 share kept);
    a UserError for a choice, or a log range that does not lie above 0."""
    if isinstance(dimension, Choice):
        raise UserError(f"{name} is a choice ({dimension.describe()}); it has no range to set")
    if isinstance(dimension, Log):
        if lo <= 0:
            raise UserError(f"{name} is searched on a log scale; its range must lie above 0, got {lo:g}..{hi:g}")
        return Log(lo, hi, dimension.zero, dimension.integer)
    return Linear(lo, hi, dimension.integer)


def width(dimension: Dimension) -> float:
    """The range's length on its scale (log units for ``Log``; 0 for a choice)."""
    if isinstance(dimension, Log):
        return math.log(dimension.hi) - math.log(dimension.lo)
    return float(dimension.hi - dimension.lo) if isinstance(dimension, Linear) else 0.0


def inside(dimension: Dimension, value: Any) -> bool:
    """Whether ``value`` lies in ``dimension``'s range (a choice's values, a log range's
    exact 0, and anything its ``position`` does not place, count as inside)."""
    position = dimension.position(value)
    return position is None or -1e-9 <= position <= 1 + 1e-9


def declared_space(name: str) -> dict[str, Dimension]:
    """The ``search_space`` a registered method declares ({} when none)."""
    return dict(getattr(registry.get_method(name), "search_space", None) or {})


@dataclass(frozen=True)
class Axis:
    """One dimension of a chain's space: ``part`` is the accelerator's index in the chain,
    or None for the base optimizer; ``owner`` the method's registered name."""

    part: int | None
    owner: str
    param: str
    dimension: Dimension

    @property
    def name(self) -> str:
        return f"{self.owner}.{self.param}"


def chain_space(transform_names: list[str], base: str) -> list[Axis]:
    """The union of the accelerators' spaces (in chain order) and the base's, in declared order,
    less the base settings an accelerator fixes (its ``base_settings``, e.g. perpgrad's decay 0)."""
    axes = [Axis(i, name, p, d) for i, name in enumerate(transform_names) for p, d in declared_space(name).items()]
    fixed = {p for name in transform_names for p in getattr(registry.get_method(name), "base_settings", {})}
    axes += [Axis(None, base, p, d) for p, d in declared_space(base).items() if p not in fixed]
    return axes


def describe_space(axes: list[Axis]) -> dict[str, str]:
    """``{"sgd.lr": "log [0.001, 1]", ...}`` for records and tables."""
    return {axis.name: axis.dimension.describe() for axis in axes}
