"""The per-task leaderboard tables in a terminal (rich): a few short columns that fit 80
columns without cutting a header, and a legend line that spells them out. The full table
(seeds faster/slower/tied, every test, the thresholds) is on the markdown page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.markup import escape

from .. import stats as st
from .rows import main_rows

# (main-table column, terminal header): the headers are single short words, spelled out
# by LEGEND, so that no header is ever cut at 80 columns.
TERMINAL_COLUMNS = [
    ("method", "method"),
    ("solved", "solved"),
    ("median epochs to target [95% CI]", "epochs"),
    ("speedup vs baseline [95% CI]", "speedup"),
    ("p sign test (adjusted)", "p"),
    ("verdict", "verdict"),
    ("wall-time verdict", "wall"),
]
TWO_LINE = ("median epochs to target [95% CI]", "speedup vs baseline [95% CI]")  # value, then CI
LEFT = ("method", "verdict", "wall-time verdict")
MAX_WIDTH = 12  # a column other than the method's is at most this wide; longer cells wrap
NOT_EVERY_THRESHOLD = "*"
LEGEND = ("epochs: median epochs to target, censoring-aware; speedup: baseline / method; "
          "[95% CI], unadjusted; p: paired sign test, fixed-family Bonferroni; verdict at 0.05 "
          f"(n.s.: not significant; {NOT_EVERY_THRESHOLD}: differs across the 0.90/0.95/target "
          "thresholds); wall: the verdict in seconds. Seeds faster/slower/tied, every test and "
          "figures: the results folder's leaderboard/README.md.")
VERDICT_STYLES = {st.FASTER: "green", st.SLOWER: "red"}
SHORT_VERDICTS = {st.NO_DIFF: "n.s.", st.NOT_ENOUGH: "no test", st.DEPENDS: "depends"}


def _default_console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a log file or a pipe: no reason to squash to 80 columns
        console = Console(width=160)
    return console


def _value_then_ci(cell: str) -> str:
    """'33 [18, 49]' -> '33\\n[18, 49]': the interval on its own line, so the column stays narrow."""
    point, bracket, rest = cell.partition(" [")
    return f"{point}\n[{rest}" if bracket else cell


def terminal_row(row: dict[str, str]) -> dict[str, str]:
    """A main-table row shortened for a terminal: '1×' for the baseline, 'n.s.', 'no test',
    a '*' on a verdict that is not the same at every threshold, intervals on a second line."""
    row = dict(row)
    row["speedup vs baseline [95% CI]"] = row["speedup vs baseline [95% CI]"].replace(" (baseline)", "")
    for column in TWO_LINE:
        row[column] = _value_then_ci(row[column])
    for column in ("verdict", "wall-time verdict"):
        row[column] = SHORT_VERDICTS.get(row[column], row[column])
    if row.get("across thresholds") in (st.FLIPS, st.DEPENDS):
        row["verdict"] += NOT_EVERY_THRESHOLD
    return row


def task_table(label: str, ts: st.TaskStats):
    """One task's main table (TERMINAL_COLUMNS of it) as a rich Table, with LEGEND as its
    caption. Every column but the method's is as wide as its widest line, at most MAX_WIDTH;
    the method's takes the rest, and cells wrap (a long label folds) rather than being cut."""
    from rich import box
    from rich.table import Table

    title = f"{label}  (baseline: {ts.baseline})" if ts.baseline else f"{label}  ({ts.note})"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0),
                  caption=LEGEND, caption_justify="left")
    rows = main_rows(ts)
    short_rows = [terminal_row(row) for row in rows]
    for column, header in TERMINAL_COLUMNS:
        widest = max((len(line) for r in short_rows for line in str(r[column]).split("\n")), default=0)
        table.add_column(header, justify="left" if column in LEFT else "right", overflow="fold",
                         min_width=len(header),
                         width=None if column == "method" else max(len(header), min(widest, MAX_WIDTH)))
    for row, short in zip(rows, short_rows):
        style = VERDICT_STYLES.get(row["verdict"])
        table.add_row(*[escape(str(short[c])) for c, _ in TERMINAL_COLUMNS], style=style)  # labels hold [..]
    return table


def print_tables(analysis: Mapping[str, st.TaskStats], console: Any = None) -> None:
    """Print each task's main table; ``console`` is a rich Console (default: stdout, 160
    columns when it is not a terminal)."""
    if console is None:
        console = _default_console()
    for label, ts in analysis.items():
        console.print(task_table(label, ts))
