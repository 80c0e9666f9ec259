"""Declared shapes of the hand-editable files the CLI reads (tuned.json, claim files).

A schema is a table, field name -> ``Field(kind, required)``; a kind is a small function
that returns None for an acceptable value, else what the value must be ("a whole number
>= 1"). ``check`` applies a table to a parsed JSON object and raises one ``UserError``
naming the file and the field's path (``x.json: experiments[0].methods[1].published must
be ...; got 'abc'``): no traceback, and no value silently reinterpreted (``"no"`` is not
a boolean, ``"abc"`` is not a list of notes). Unknown fields are refused the same way:
a misspelt optional field (``numbers_comparible``) would otherwise be ignored without a
word and change what the file means.

``plain_name`` is the rule for every name read from a file or the command line that
becomes a path component: non-empty, no path separator, not ``.`` or ``..``, no NUL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import UserError

Kind = Callable[[Any], "str | None"]  # value -> None if acceptable, else what it must be


@dataclass(frozen=True)
class Field:
    """One field of a schema: its kind, and whether the file must give it."""

    kind: Kind
    required: bool = True


Schema = dict[str, Field]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def integer(lo: int | None = None, hi: int | None = None) -> Kind:
    """A whole number (not a boolean, not 2.0) in [lo, hi] (either end open when None)."""
    wording = "a whole number" + _range_text(lo, hi)

    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok and _in_range(value, lo, hi) else wording
    return check


def number(lo: float | None = None, hi: float | None = None) -> Kind:
    """A finite number (integer or float, not a boolean) in [lo, hi]."""
    wording = "a finite number" + _range_text(lo, hi)

    def check(value: Any) -> str | None:
        ok = _is_number(value) and math.isfinite(value)
        return None if ok and _in_range(value, lo, hi) else wording
    return check


def _in_range(value: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f" >= {lo:g}"
    return f" <= {hi:g}" if hi is not None else ""


def one_of(*allowed: Any) -> Kind:
    wording = "one of " + ", ".join(map(repr, allowed))
    return lambda value: None if isinstance(value, str) and value in allowed else wording


def any_of(*kinds: Kind) -> Kind:
    """Acceptable when any of ``kinds`` accepts it; else all their wordings, joined by 'or'."""
    def check(value: Any) -> str | None:
        whys = [kind(value) for kind in kinds]
        return None if None in whys else " or ".join(dict.fromkeys(w for w in whys if w))
    return check


def null(value: Any) -> str | None:
    return None if value is None else "null"


def list_of(item: Kind, min_items: int = 0) -> Kind:
    """A JSON list (a string is not a list of its characters) of acceptable items."""
    what = f"a list of values each {_wording(item)}" + (f" (at least {min_items})" if min_items else "")

    def check(value: Any) -> str | None:
        ok = isinstance(value, list) and len(value) >= min_items and all(item(v) is None for v in value)
        return None if ok else what
    return check


def dict_of(value_kind: Kind) -> Kind:
    """A JSON object of string keys and acceptable values."""
    what = f"an object of values each {_wording(value_kind)}"

    def check(value: Any) -> str | None:
        ok = isinstance(value, dict) and all(value_kind(v) is None for v in value.values())
        return None if ok else what
    return check


def an_object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "an object"


def _wording(kind: Kind) -> str:
    """What ``kind`` asks for (its answer to a value no kind accepts)."""
    return kind(_NOTHING) or "acceptable"


_NOTHING = object()


def plain_name(value: Any) -> str | None:
    """A name that can be one path component: non-empty, no '/' or '\\', not '.' or '..',
    no NUL, no leading or trailing white space."""
    if not isinstance(value, str):
        return "a plain name (a string)"
    bad = (not value or value in {".", ".."} or any(c in value for c in "/\\\0")
           or value != value.strip())
    return "a plain name (no path separator, not empty, '.' or '..')" if bad else None


def require_plain_name(value: Any, where: str) -> str:
    """``value`` if it is a plain name (see ``plain_name``), else a UserError naming ``where``."""
    why = plain_name(value)
    if why:
        raise UserError(f"{where} must be {why}; got {_shown(value)}")
    return value


def check(data: Any, schema: Schema, where: str, path: str = "") -> dict[str, Any]:
    """``data`` if it is an object that fits ``schema``: every required field present,
    every field of its kind, no field the schema does not name. Raises one UserError
    ``WHERE: PATH.FIELD must be ...; got VALUE`` at the first problem."""
    here = path or "the file"
    if not isinstance(data, dict):
        raise UserError(f"{where}: {here} must be a JSON object; got {_shown(data)}")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise UserError(f"{where}: {_join(path, unknown[0])} is not a field here "
                        f"(known: {', '.join(schema)})")
    for name, spec in schema.items():
        if name not in data:
            if spec.required:
                raise UserError(f"{where}: {_join(path, name)} is missing")
            continue
        why = spec.kind(data[name])
        if why:
            raise UserError(f"{where}: {_join(path, name)} must be {why}; got {_shown(data[name])}")
    return data


def check_each(items: list[Any], schema: Schema, where: str, path: str) -> list[dict[str, Any]]:
    """``check`` for every item of a list, each named ``path[i]``."""
    return [check(item, schema, where, f"{path}[{i}]") for i, item in enumerate(items)]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
