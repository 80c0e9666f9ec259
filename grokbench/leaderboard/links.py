"""Where a leaderboard's per-cell pages are, and the main tables' links to them (pure).

Labels hold brackets, commas, ``+``, ``@`` and spaces (``grokfast+egd@adamw``,
``sparse_parity [max_epochs=60]``); file and folder names are plain: every run of other
characters than letters, digits, ``_ . -`` becomes ``_``, and labels that would share a
name (also when case is ignored, as on macOS and Windows) each get the first 8 hex digits
of the label's SHA-256 appended, so two labels never share a file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from .. import stats as st

CELLS_DIR = "cells"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(label: str) -> str:
    """A label -> a plain file-name stem: runs of other characters than letters, digits,
    ``_ . -`` become ``_``; no leading dot or dash; never empty."""
    return _UNSAFE.sub("_", label).strip("_.-") or "_"


def _unique(labels: list[str]) -> dict[str, str]:
    """Label -> its safe name; labels whose names collide (ignoring case) get
    ``<name>-<first 8 hex of the label's SHA-256>``."""
    names = {label: safe_name(label) for label in labels}
    folded: dict[str, int] = {}
    for name in names.values():
        folded[name.lower()] = folded.get(name.lower(), 0) + 1
    out = {label: (f"{name}-{_digest(label)[:8]}" if folded[name.lower()] > 1 else name)
           for label, name in names.items()}
    taken = [name.lower() for name in out.values()]
    if len(set(taken)) < len(taken):  # a label spelled like another's suffixed name: the whole digest
        out = {label: (f"{name}-{_digest(label)}" if taken.count(name.lower()) > 1 else name)
               for label, name in out.items()}
    return out


def _digest(label: str) -> str:
    return hashlib.sha256(label.encode("utf-8", "surrogateescape")).hexdigest()


def cell_names(analysis: Mapping[str, st.TaskStats]) -> dict[str, dict[str, str]]:
    """Per task label, per method label: the cell page's path relative to the page's folder
    (``cells/<task>/<method>.md``), plain and collision-free (module docstring)."""
    tasks = _unique(list(analysis))
    return {label: {m: f"{CELLS_DIR}/{tasks[label]}/{stem}.md" for m, stem in _unique(list(ts.methods)).items()}
            for label, ts in analysis.items()}


def link_cells(rows: list[dict[str, str]], links: Mapping[str, str] | None, prefix: str = "") -> list[dict[str, str]]:
    """Main-table rows with every cell holding a number (the rank aside) made a link to
    the method's cell page (``prefix`` + ``links[method]``); as is without links."""
    if not links:
        return rows
    out = []
    for row in rows:
        target = links.get(row.get("method", ""))
        if target is None:
            out.append(row)
            continue
        out.append({col: _link(text, prefix + target) if col not in ("#", "method") and _has_digit(text)
                    else text for col, text in row.items()})
    return out


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in str(text))


def _link(text: str, target: str) -> str:
    escaped = str(text).replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"[{escaped}]({target})"
