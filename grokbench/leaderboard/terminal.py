"""The per-task leaderboard tables in a terminal (rich), with short headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.markup import escape

from .. import stats as st
from .rows import main_rows

TERMINAL_COLUMNS = [
    "#", "method", "solved", "median epochs to target [95% CI]", "speedup vs baseline [95% CI]",
    "seeds faster / slower / tied", "p sign test (adjusted)", "verdict", "across thresholds", "wall-time verdict",
]
SHORT_HEADERS = {
    "median epochs to target [95% CI]": "epochs to target\n[95% CI]",
    "speedup vs baseline [95% CI]": "speedup\n[95% CI]",
    "seeds faster / slower / tied": "seeds\nfast/slow/tie",
    "p sign test (adjusted)": "p adj\nsign test",
    "across thresholds": "0.90/0.95/\ntarget",
    "wall-time verdict": "wall time",
}
CAPTION = ("medians censoring-aware; speedup = baseline / method; verdict: paired sign test, fixed-family Bonferroni, 0.05 "
           "(n.s. = no significant difference); CIs unadjusted; thresholds, profiles and figures on the page")
VERDICT_STYLES = {st.FASTER: "green", st.SLOWER: "red"}
SHORT_VERDICTS = {st.NO_DIFF: "n.s.", st.NOT_ENOUGH: "no test", st.DEPENDS: "depends"}


def _default_console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a log file or a pipe: no reason to squash to 80 columns
        console = Console(width=160)
    return console


def terminal_row(row: dict[str, str]) -> dict[str, str]:
    """A main-table row shortened for a terminal: '1×' for the baseline, 'n.s.', 'no test',
    'depends'."""
    row = dict(row)
    row["speedup vs baseline [95% CI]"] = row["speedup vs baseline [95% CI]"].replace(" (baseline)", "")
    for column in ("verdict", "across thresholds", "wall-time verdict"):
        row[column] = SHORT_VERDICTS.get(row[column], row[column])
    return row


def task_table(label: str, ts: st.TaskStats):
    """One task's main table (TERMINAL_COLUMNS of it) as a rich Table."""
    from rich import box
    from rich.table import Table

    title = f"{label}  (baseline: {ts.baseline})" if ts.baseline else f"{label}  ({ts.note})"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  caption=CAPTION, caption_justify="left")
    for column in TERMINAL_COLUMNS:
        table.add_column(SHORT_HEADERS.get(column, column),
                         justify="left" if column in ("method", "verdict", "across thresholds",
                                                      "wall-time verdict") else "right",
                         no_wrap=column in ("#", "method"))
    for row in main_rows(ts):
        style = VERDICT_STYLES.get(row["verdict"])
        short = terminal_row(row)
        table.add_row(*[escape(str(short[c])) for c in TERMINAL_COLUMNS], style=style)  # labels hold [..]
    return table


def print_tables(analysis: Mapping[str, st.TaskStats], console: Any = None) -> None:
    """Print each task's main table; ``console`` is a rich Console (default: stdout, 160
    columns when it is not a terminal)."""
    if console is None:
        console = _default_console()
    for label, ts in analysis.items():
        console.print(task_table(label, ts))
