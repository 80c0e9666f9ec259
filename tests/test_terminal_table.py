"""The end-of-run console table fits 80 columns: no line wider, no header cut."""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console
from test_stats import analyze, rows, spread

from grokbench import leaderboard as lb
from grokbench.leaderboard.terminal import TERMINAL_COLUMNS


def _realistic_task():
    """64 paired seeds: a fast method, a slower one whose verdict depends on the threshold,
    the baseline, a long stacked label, and a method that mostly never solves."""
    return analyze(rows("base", spread(2000, 64)), rows("egd", spread(300, 64)),
                   rows("grokfast", spread(1800, 64)),
                   rows("grokfast[alpha=0.98,lamb=5]+egd@adamw", spread(700, 64)),
                   rows("neuralgrok:paper_text", [None] * 40 + spread(900, 24)))


def _render(width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    lb.print_tables({"sparse_parity": _realistic_task()}, console=console)
    return console.file.getvalue().splitlines()


def test_table_fits_80_columns_without_cutting_a_header():
    lines = _render(80)
    assert max(cell_len(line) for line in lines) <= 80
    header = next(line for line in lines if line.split()[:1] == ["method"])
    assert header.split() == [h for _, h in TERMINAL_COLUMNS]  # every header whole, on one line
    assert "…" not in "\n".join(lines)                        # no cell cut either
    text = "".join(lines)
    for piece in ("64/64", "<0.001", "baseline", "n.s.", "neuralgrok:pape"):
        assert piece in text


def test_long_labels_wrap_rather_than_vanish():
    """A label longer than its column folds onto further lines; all its characters remain."""
    lines = _render(80)
    method_width = next(line for line in lines if line.startswith("method")).index("solved")
    column = "".join(line[:method_width].strip() for line in lines)
    assert "grokfast[alpha=0.98,lamb=5]+egd@adamw" in column
