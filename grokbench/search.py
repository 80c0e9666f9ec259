"""Search-space declarations for plugins: the public types a method declares its tunable
parameters with (``search_space`` on the class).

A plugin class declares ``search_space = {"lr": Log(1e-3, 1.0), "weight_decay":
Log(1e-5, 0.1, zero=0.25), "alpha": Linear(0.8, 0.99), "window": Log(10, 200,
integer=True), "rank_rtol": Choice((None, 1e-6))}``. A dimension maps a point ``u`` of
the unit interval [0, 1] (a coordinate of a quasi-random point) to a value, rounded to
``SIGNIFICANT_DIGITS`` so labels stay readable; ``position`` maps a value back (0: lo,
1: hi; None where it has no place on the scale). Spaces are the same on every task.

Contract: part of the plugin API (with ``grokbench.Optimizer`` and friends); it imports
nothing from grokbench, and :mod:`grokbench.tuning` reads these types, never the other
way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SIGNIFICANT_DIGITS = 3  # proposed numbers are rounded to this many, so labels stay readable


def _round(value: float, integer: bool) -> float | int:
    if integer:
        return int(round(value))
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True)
class Log:
    """Log-uniform on [lo, hi]; with ``zero`` > 0, exactly 0 with that probability."""

    lo: float
    hi: float
    zero: float = 0.0
    integer: bool = False

    def value(self, u: float) -> float | int:
        if u < self.zero:
            return 0 if self.integer else 0.0
        v = (u - self.zero) / (1.0 - self.zero)
        return _round(math.exp(math.log(self.lo) + v * (math.log(self.hi) - math.log(self.lo))), self.integer)

    def position(self, value: Any) -> float | None:
        """Where ``value`` sits in [lo, hi] on the log scale (0: lo, 1: hi); None for the
        exact 0 of ``zero``."""
        if not isinstance(value, int | float) or value <= 0:
            return None
        return (math.log(value) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))

    def describe(self) -> str:
        text = f"log [{self.lo:g}, {self.hi:g}]" + (" integer" if self.integer else "")
        return f"0 (p {self.zero:g}) or {text}" if self.zero else text


@dataclass(frozen=True)
class Linear:
    """Uniform on [lo, hi]."""

    lo: float
    hi: float
    integer: bool = False

    def value(self, u: float) -> float | int:
        return _round(self.lo + u * (self.hi - self.lo), self.integer)

    def position(self, value: Any) -> float | None:
        """Where ``value`` sits in [lo, hi] (0: lo, 1: hi)."""
        if not isinstance(value, int | float) or self.hi == self.lo:
            return None
        return (value - self.lo) / (self.hi - self.lo)

    def describe(self) -> str:
        return f"linear [{self.lo:g}, {self.hi:g}]" + (" integer" if self.integer else "")


@dataclass(frozen=True)
class Choice:
    """One of ``values``, each with equal probability."""

    values: tuple[Any, ...]

    def value(self, u: float) -> Any:
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]

    def position(self, value: Any) -> float | None:
        """None: a choice has no edge."""
        return None

    def describe(self) -> str:
        return "one of " + ", ".join("none" if v is None else str(v) for v in self.values)


Dimension = Log | Linear | Choice

__all__ = ["Choice", "Dimension", "Linear", "Log", "SIGNIFICANT_DIGITS"]
