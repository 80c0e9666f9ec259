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


Interval = tuple[datetime, datetime]


def invocation_intervals(starts: Iterable[Any], finishes: Iterable[Any],
                         ends: Iterable[Any] | None = None) -> list[Interval]:
    """(start, end) of each invocation, in start order: ISO timestamps of the starts, of
    the record finishes (in any order) and, aligned with ``starts``, of each one's logged
    end (None where unknown). Unreadable starts are skipped; an invocation that finished
    nothing and logged no end is (start, start)."""
    ends = list(ends) if ends is not None else []
    timed = [(_when(s), _when(ends[i]) if i < len(ends) else None) for i, s in enumerate(starts)]
    begun = sorted(((s, e) for s, e in timed if s is not None), key=lambda interval: interval[0])
    done = sorted(w for w in map(_when, finishes) if w is not None)
    out = []
    for i, (start, logged_end) in enumerate(begun):
        if logged_end is not None and logged_end >= start:
            out.append((start, logged_end))
            continue
        end = begun[i + 1][0] if i + 1 < len(begun) else None
        mine = [w for w in done if w >= start and (end is None or w < end)]
        out.append((start, mine[-1] if mine else start))
    return out


def logged_intervals(runs: list[dict[str, Any]], finishes: Iterable[Any]) -> list[Interval] | None:
    """The invocation intervals of a folder's runs (``Store.runs``: start ``time`` and,
    where logged, ``ended``) and its records' finish times; None when there is no run."""
    if not runs:
        return None
    return invocation_intervals([r.get("time") for r in runs], finishes, [r.get("ended") for r in runs])


def folder_intervals(folder: str | Path) -> list[Interval] | None:
    """``logged_intervals`` of a results folder read from disk."""
    store = Store(folder)
    return logged_intervals(store.runs(), (r.finished_at for r in store.records()))


def _total(intervals: Iterable[Interval]) -> float:
    return sum((end - start).total_seconds() for start, end in intervals)


def elapsed_seconds(intervals: Iterable[Interval]) -> float:
    """Seconds during which at least one of ``intervals`` ran (the length of their union)."""
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += (end - start).total_seconds()
        reach = end if reach is None else max(reach, end)
    return total


def duration_text(seconds: float) -> str:
    """'2 h 05 min', '29 min' (rounded to the minute)."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def run_time_row(parts: list[tuple[str, str, list[Interval] | None]]) -> tuple[str, str] | None:
    """The provenance row stating each part's run time and their total; ``parts``: (what,
    folder, its invocations' intervals or None when its runs.jsonl is missing). Where
    invocations overlapped (run at the same time, slowing each other), the row also gives
    the elapsed time, the length of their union. None when nothing is known."""
    known = [(what, folder, iv) for what, folder, iv in parts if iv is not None]
    if not known:
        return None
    text = "; ".join(f"{what} {duration_text(_total(iv))} (`{folder}`)" for what, folder, iv in known)
    every = [interval for _, _, iv in known for interval in iv]
    total, elapsed = _total(every), elapsed_seconds(every)
    if len(known) > 1:
        text += f"; total {duration_text(total)}"
    if total - elapsed >= 60:
        text += (f"; invocations overlapped (ran at the same time on the same machine, slowing each other): "
                 f"{duration_text(elapsed)} elapsed while any ran")
    missing = [folder for _, folder, iv in parts if iv is None]
    if missing:
        text += f"; unknown for {', '.join(f'`{f}`' for f in missing)} (no runs.jsonl)"
    return ("run time", f"{text} (wall clock of each logged invocation, from its start to its logged end, or "
                        "to the last trial it finished where no end was logged)")
