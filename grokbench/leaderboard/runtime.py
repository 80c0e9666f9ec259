"""How long a results folder took to make, for the page's provenance.

An invocation's run time is the wall clock from its start (its runs.jsonl line) to its
end (the line it logs when it completes, is interrupted or fails). Where no end was
logged (older logs, a killed process) it runs to the last record it finished, i.e. the
last record finished before the next invocation started: time such an invocation spent
on trials it never finished is not counted, and one that finished nothing counts zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..store import Store


def _when(text: Any) -> datetime | None:
    """An ISO timestamp with its zone, else None."""
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def invocation_seconds(starts: Iterable[Any], finishes: Iterable[Any], ends: Iterable[Any] | None = None) -> list[float]:
    """Seconds of each invocation, in start order: ISO timestamps of the starts, of the
    record finishes (in any order) and, aligned with ``starts``, of each one's logged end
    (None where unknown). Unreadable starts are skipped."""
    ends = list(ends) if ends is not None else []
    timed = [(_when(s), _when(ends[i]) if i < len(ends) else None) for i, s in enumerate(starts)]
    begun = sorted((s, e) for s, e in timed if s is not None)
    done = sorted(w for w in map(_when, finishes) if w is not None)
    out = []
    for i, (start, logged_end) in enumerate(begun):
        if logged_end is not None and logged_end >= start:
            out.append((logged_end - start).total_seconds())
            continue
        end = begun[i + 1][0] if i + 1 < len(begun) else None
        mine = [w for w in done if w >= start and (end is None or w < end)]
        out.append((mine[-1] - start).total_seconds() if mine else 0.0)
    return out


def logged_seconds(runs: list[dict[str, Any]], finishes: Iterable[Any]) -> float | None:
    """Total run time in seconds of a folder's invocations (``Store.runs``: start ``time``
    and, where logged, ``ended``) and its records' finish times; None when there is none."""
    if not runs:
        return None
    return sum(invocation_seconds([r.get("time") for r in runs], finishes, [r.get("ended") for r in runs]))


def folder_seconds(folder: str | Path) -> float | None:
    """``logged_seconds`` of a results folder read from disk."""
    store = Store(folder)
    return logged_seconds(store.runs(), (r.finished_at for r in store.records()))


def duration_text(seconds: float) -> str:
    """'2 h 05 min', '29 min' (rounded to the minute)."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def run_time_row(parts: list[tuple[str, str, float | None]]) -> tuple[str, str] | None:
    """The provenance row stating each part's run time and their total; ``parts``: (what,
    folder, seconds or None when its runs.jsonl is missing). None when nothing is known."""
    known = [(what, folder, s) for what, folder, s in parts if s is not None]
    if not known:
        return None
    text = "; ".join(f"{what} {duration_text(s)} (`{folder}`)" for what, folder, s in known)
    if len(known) > 1:
        text += f"; total {duration_text(sum(s for _, _, s in known))}"
    missing = [folder for _, folder, s in parts if s is None]
    if missing:
        text += f"; unknown for {', '.join(f'`{f}`' for f in missing)} (no runs.jsonl)"
    return ("run time", f"{text} (wall clock of each logged invocation, from its start to its logged end, or "
                        "to the last trial it finished where no end was logged)")
