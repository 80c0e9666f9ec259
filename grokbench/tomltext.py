"""A small TOML writer for the values grokbench emits, and the reader (``tomllib``).

``dumps`` writes a table of str, int, float, bool, lists and tables: a list of tables is an
array of tables (``[[name]]``), a table whose keys all begin with ``__`` an inline table
(``{ __tuple__ = [0.9, 0.98] }``), any other table a ``[section]``. Floats are written
with ``repr``, which TOML reads back to the same float (``inf``, ``nan`` included), so
``loads(dumps(t)) == t`` for every table it accepts. The stdlib has a TOML reader from
Python 3.11 (``tomllib``); on 3.10 the ``tomli`` package is the same reader.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import UserError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:  # a lone surrogate (a non-UTF-8 byte of a path): not TOML text
            raise UserError(f"cannot write {text[:40]!r} to a TOML file: it is not valid text")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)


def _inline(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(k.startswith("__") for k in value)


def _table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and not _inline(v) for v in value)


def value_text(value: Any) -> str:
    """One TOML value (no sections): a scalar, an array or an inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {value_text(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}: {value!r}")


def dumps(table: dict[str, Any]) -> str:
    """``table`` as TOML text (see the module docstring for what each value becomes)."""
    lines: list[str] = []
    _emit(table, [], lines)
    return "\n".join(lines).strip() + "\n"


def _emit(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    sections = []
    for name, value in table.items():
        if (isinstance(value, dict) and not _inline(value)) or _table_array(value):
            sections.append((name, value))
        else:
            lines.append(f"{_key(name)} = {value_text(value)}")
    for name, value in sections:
        here = [*path, _key(name)]
        if isinstance(value, dict):
            lines += ["", f"[{'.'.join(here)}]"]
            _emit(value, here, lines)
        else:
            for item in value:
                lines += ["", f"[[{'.'.join(here)}]]"]
                _emit(item, here, lines)


def loads(text: str, where: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error is one UserError naming ``where``."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise UserError(f"{where}: reading TOML needs Python >= 3.11 or the tomli package "
                            f"(pip install tomli)") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{where}: not valid TOML: {exc}") from None
