"""Typed plugin parameters: defaults declare the type, user strings are coerced to it.

A plugin declares ``defaults = {"lr": 0.1, "scope": "all", "betas": (0.9, 0.98)}`` and
optionally ``choices = {"scope": ("all", "first")}``. Values from the command line arrive
as strings and are coerced to the type of the default; values from code are checked the
same way, so a preset cannot smuggle in a wrong type either.
"""

from __future__ import annotations

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
