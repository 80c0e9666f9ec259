"""Typed plugin parameters: defaults declare the type, user strings are coerced to it.

A plugin declares ``defaults = {"lr": 0.1, "scope": "all", "betas": (0.9, 0.98)}`` and
optionally ``choices = {"scope": ("all", "first")}``. Values from the command line arrive
as strings and are coerced to the type of the default; values from code are checked the
same way, so a preset cannot smuggle in a wrong type either.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .errors import UserError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _coerce_scalar(value: Any, like: Any, where: str) -> Any:
    if like is None:
        if isinstance(value, str):
            for kind in (int, float):
                try:
                    return kind(value)
                except ValueError:
                    pass
            return None if value.lower() in {"none", "null"} else value
        return value
    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise UserError(f"{where}: expected true or false, got {value!r}")
    if isinstance(like, int):
        if isinstance(value, bool):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                try:
                    as_float = float(value)
                except ValueError:
                    as_float = None
                if as_float is not None and as_float.is_integer():
                    return int(as_float)
        raise UserError(f"{where}: expected an integer, got {value!r}")
    if isinstance(like, float):
        if isinstance(value, bool):
            raise UserError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise UserError(f"{where}: expected a number, got {value!r}")
    if isinstance(like, str):
        if isinstance(value, str):
            return value
        raise UserError(f"{where}: expected a string, got {value!r}")
    return value


def coerce(value: Any, default: Any, where: str) -> Any:
    """Coerce ``value`` to the type of ``default``; raise UserError naming ``where``."""
    if isinstance(default, tuple):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise UserError(f"{where}: expected a comma-separated list, got {value!r}")
        like = default[0] if default else None
        return tuple(_coerce_scalar(v, like, where) for v in items)
    return _coerce_scalar(value, default, where)


def resolve(
    owner: str,
    defaults: dict[str, Any],
    choices: dict[str, tuple],
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """Defaults updated by overrides, each override checked against name, type and choices."""
    resolved = dict(defaults)
    for key, value in overrides.items():
        if key not in defaults:
            valid = ", ".join(sorted(defaults)) or "(none)"
            raise UserError(f"{owner} has no parameter {key!r}; valid: {valid}")
        resolved[key] = coerce(value, defaults[key], f"{owner}.{key}")
    for key, allowed in choices.items():
        if resolved.get(key) not in allowed:
            raise UserError(
                f"{owner}.{key} must be one of {', '.join(map(str, allowed))}; got {resolved.get(key)!r}"
            )
    return resolved


# ---------------------------------------------------------------------------- constraints
#
# A plugin declares ``constraints = {"lr": positive, "k": at_least(1), "betas": each(unit)}``
# (checked after coercion, at plan time, so an impossible value exits 2 before anything
# trains) and may define ``validate(self)`` for relations between parameters (``k <= n``).
# Every number must be finite: NaN and infinity are refused for every parameter.

Constraint = Callable[[Any], "str | None"]  # value -> None if fine, else what it must be

# Ceilings of common settings: far beyond any protocol, so a value above one is a typo or an
# overflow waiting to happen (lr 1e308), refused at plan time instead of failing in training.
MAX_LR = 1e6  # the widest searched space reaches 10; tests drive divergence at 1e6
MAX_WEIGHT_DECAY = 1e3
MAX_STEPS = 10**10  # steps, warm-up steps, epochs
MAX_SIZE = 10**7  # examples, hidden units, input bits, vocabulary: a task's sizes
MAX_WINDOW = 10**6  # gradients a filter keeps (grokfast_ma); memory is checked besides


def _number_rule(test: Callable[[float], bool], wording: str) -> Constraint:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        return None if test(value) else wording
    return check


positive = _number_rule(lambda v: v > 0, "> 0")
nonnegative = _number_rule(lambda v: v >= 0, ">= 0")
unit_open = _number_rule(lambda v: 0 <= v < 1, "in [0, 1)")
fraction = _number_rule(lambda v: 0 < v <= 1, "in (0, 1]")


def positive_at_most(hi: float) -> Constraint:
    """In (0, hi]: a positive value with a ceiling beyond which it can only be a typo."""
    return _number_rule(lambda v: 0 < v <= hi, f"in (0, {hi:g}]")


def at_least(lo: float) -> Constraint:
    return _number_rule(lambda v: v >= lo, f">= {lo:g}")


def between(lo: float, hi: float) -> Constraint:
    """Inclusive on both ends."""
    return _number_rule(lambda v: lo <= v <= hi, f"in [{lo:g}, {hi:g}]")


def each(rule: Constraint, length: int | None = None) -> Constraint:
    """A tuple whose every item satisfies ``rule`` (and of ``length`` items, if given)."""
    def check(value: Any) -> str | None:
        if length is not None and len(value) != length:
            return f"a list of {length} values"
        bad = next((why for why in map(rule, value) if why), None)
        return None if bad is None else f"a list of values {bad}"
    return check


def _non_finite(value: Any) -> bool:
    items = value if isinstance(value, tuple) else (value,)
    return any(isinstance(v, float) and not math.isfinite(v) for v in items)


def check_constraints(owner: str, values: dict[str, Any], constraints: dict[str, Constraint]) -> None:
    """Raise UserError naming the first value that is non-finite or breaks its constraint."""
    for key, value in values.items():
        if _non_finite(value):
            raise UserError(f"{owner}.{key} must be a finite number; got {value!r}")
        rule = constraints.get(key)
        why = rule(value) if rule is not None else None
        if why:
            raise UserError(f"{owner}.{key} must be {why}; got {value!r}")
