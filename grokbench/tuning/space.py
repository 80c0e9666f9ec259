"""Search spaces of whole chains: the tunable parameters a method or base optimizer
declares (``search_space``, with the dimension types of the plugin API
:mod:`grokbench.search`), their union over a chain, and where a value sits in its range.

A chain's space is the union of its accelerators' spaces and its base optimizer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import registry
from ..search import Dimension

EDGE = 0.05  # a value in the outer 5% of its range (on its scale) is at the edge of it


def at_edge(dimension: Dimension, value: Any) -> str | None:
    """'low' or 'high' when ``value`` lies in the outer ``EDGE`` of ``dimension``'s range
    (log scale for ``Log``): the search may have wanted to go further; else None."""
    position = dimension.position(value)
    if position is None:
        return None
    return "low" if position < EDGE else "high" if position > 1 - EDGE else None


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
