"""Method labels as text: splitting, bracketed settings, grid expansion, canonical values.

A label is ``PART[+PART...][@BASE]``; a PART is ``NAME[:PRESET][[SETTINGS]]`` and BASE is
``NAME[[SETTINGS]]``. SETTINGS is ``param=value, ...``; a value is a scalar, a tuple in
parentheses ``(0.9,0.98)``, or a list of either, ``lr=0.05,0.1,0.2`` (an item without
``=`` continues the list of the parameter before it). A list makes a grid: each listed
value is one variant, several lists give their Cartesian product.

Nothing here knows the registry: this module only reads and writes text. Which plugin a
parameter belongs to, and its type, is ``grokbench.spec``'s business.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import UserError

_OPEN, _CLOSE = "[(", "])"
_NAME = re.compile(r"[A-Za-z_][\w.-]*(:[\w.-]+)?")
_PARAM = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?")


def split_top_level(text: str, sep: str, what: str = "text") -> list[str]:
    """``text`` split on ``sep`` outside brackets and parentheses (items stripped).

    Raises UserError on unbalanced or crossed brackets, naming ``what``."""
    items, depth, start = [], [], 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth.append(_CLOSE[_OPEN.index(ch)])
        elif ch in _CLOSE:
            if not depth or depth.pop() != ch:
                raise UserError(f"{what} {text!r} has an unmatched {ch!r}")
        elif ch == sep and not depth:
            items.append(text[start:i].strip())
            start = i + 1
    if depth:
        raise UserError(f"{what} {text!r} has an unclosed {'[' if depth[-1] == ']' else '('!r}")
    items.append(text[start:].strip())
    return items


@dataclass(frozen=True)
class Part:
    """One written part of a label: ``name`` (with ``:PRESET`` if any) and its settings,
    ``(param as written, values)`` in written order; one value each after expansion."""

    name: str
    settings: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def text(self) -> str:
        if not self.settings:
            return self.name
        inner = ",".join(f"{p}={','.join(map(write_raw, vs))}" for p, vs in self.settings)
        return f"{self.name}[{inner}]"


@dataclass(frozen=True)
class Label:
    """A parsed label: the parts before ``@`` and the part after it (None: no ``@``)."""

    parts: tuple[Part, ...]
    base: Part | None

    def text(self) -> str:
        chain = "+".join(p.text() for p in self.parts)
        return chain + (f"@{self.base.text()}" if self.base is not None else "")


def parse_label(label: str) -> Label:
    """Text -> ``Label``; raises UserError (one line) on malformed text."""
    chain_and_base = split_top_level(label, "@", "method")
    if len(chain_and_base) > 2 or not all(chain_and_base):
        raise UserError(f"method {label!r} is malformed; expected BASE or ACC[+ACC...][@BASE]")
    parts = tuple(_parse_part(p, label) for p in split_top_level(chain_and_base[0], "+", "method"))
    base = _parse_part(chain_and_base[1], label) if len(chain_and_base) == 2 else None
    if base is not None and ":" in base.name:
        raise UserError(f"method {label!r}: the base after '@' takes no preset")
    return Label(parts, base)


def _parse_part(text: str, label: str) -> Part:
    head, bracket, rest = text.partition("[")
    head = head.strip()
    if not head or not _NAME.fullmatch(head):
        raise UserError(f"method {label!r} is malformed near {text!r}; expected NAME[:PRESET][param=value,...]")
    if not bracket:
        return Part(head)
    if not rest.endswith("]"):
        raise UserError(f"method {label!r}: text after ']' in {text!r}")
    return Part(head, _parse_settings(rest[:-1], label))


def _parse_settings(inner: str, label: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    items = split_top_level(inner, ",", "method")
    if not inner.strip():
        raise UserError(f"method {label!r} has empty brackets; write NAME[param=value]")
    settings: list[tuple[str, list[Any]]] = []
    for item in items:
        param, eq, value = item.partition("=")
        if eq and not param.strip().startswith("("):
            param = param.strip()
            if not _PARAM.fullmatch(param):
                raise UserError(f"method {label!r}: {param!r} is not a parameter name")
            settings.append((param, []))
            item = value.strip()
        elif not settings:
            raise UserError(f"method {label!r}: {item!r} has no 'param='; write NAME[param=value]")
        settings[-1][1].append(_parse_value(item, label))
    return tuple((p, tuple(vs)) for p, vs in settings)


def _parse_value(text: str, label: str) -> Any:
    if not text:
        raise UserError(f"method {label!r} has an empty value")
    if text.startswith("(") and text.endswith(")"):
        items = split_top_level(text[1:-1], ",", "method")
        if not all(items):
            raise UserError(f"method {label!r}: the tuple {text!r} has an empty item")
        return tuple(items)
    if any(c in text for c in "()[]=@+"):
        raise UserError(f"method {label!r}: the value {text!r} is malformed")
    return text


def expand_label(label: str) -> list[str]:
    """``sgd[lr=0.1,0.2]`` -> ``["sgd[lr=0.1]", "sgd[lr=0.2]"]``: every list a grid axis,
    the Cartesian product over all of them, in written order (the first list slowest)."""
    parsed = parse_label(label)
    slots = [(i, j) for i, part in enumerate(_all_parts(parsed)) for j in range(len(part.settings))]
    if not slots:
        return [parsed.text()]
    axes = [_all_parts(parsed)[i].settings[j][1] for i, j in slots]
    out = []
    for combo in itertools.product(*axes):
        chosen = dict(zip(slots, combo))
        parts = [Part(p.name, tuple((name, (chosen[(i, j)],)) for j, (name, _) in enumerate(p.settings)))
                 for i, p in enumerate(_all_parts(parsed))]
        n = len(parsed.parts)
        out.append(Label(tuple(parts[:n]), parts[n] if parsed.base is not None else None).text())
    return out


def grid_size(label: str) -> int:
    """How many labels ``expand_label`` makes of ``label``, counted without making them."""
    sizes = [len(values) for part in _all_parts(parse_label(label)) for _, values in part.settings]
    return math.prod(sizes)


def _all_parts(label: Label) -> list[Part]:
    return [*label.parts, *([label.base] if label.base is not None else [])]


def strip_settings(label: str) -> str:
    """The label without its bracketed settings: ``egd[lr=0.1]@adamw`` -> ``egd@adamw``."""
    out, depth = [], 0
    for ch in label:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def write_raw(value: Any) -> str:
    """A written value back to text (a tuple in parentheses)."""
    return f"({','.join(value)})" if isinstance(value, tuple) else str(value)


def format_value(value: Any) -> str:
    """A resolved value in canonical text: ``0.2``, ``1e-6``, ``3``, ``true``, ``none``,
    ``(0.9,0.98)``; equal values give equal text, and the text parses back to the value."""
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(format_value(v) for v in value) + ")"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        mantissa, e, exponent = repr(value).partition("e")
        return mantissa + (f"e{int(exponent)}" if e else "")
    return str(value)
