"""Progress on long runs: a rich live display in a terminal, plain log lines otherwise,
each with an ETA (``grokbench.eta``: measured step costs x the remaining budgets, an
upper-bound-ish estimate)."""

from __future__ import annotations

import sys
import time

from .eta import EtaTracker, format_eta
from .plan import Cell
from .record import Record

ETA_EVERY_S = 1.0  # the live display recomputes its ETA at most this often


class PlainProgress:
    """Log lines: one per finished trial, and at most one per 10 s of training progress,
    each with the ETA. ``on_cells`` tells it the cells to run (their budgets make the ETA)."""

    def __init__(self, total: int, skipped: int, stream=None, eta: EtaTracker | None = None) -> None:
        self.total, self.done = total, skipped
        self.stream = stream or sys.stderr
        self._last = 0.0
        self.eta = eta or EtaTracker()
        if skipped:
            self._print(f"{skipped} of {total} trials already in the results folder; skipping them")

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def on_cells(self, cells: list[Cell], later: bool = False) -> None:
        """The cells this command runs now, or (``later``) in a later wave of a tuning study."""
        self.eta.add_cells(cells, later)

    def on_eval(self, cell: Cell, step: int, max_steps: int, accs: list[float]) -> None:
        self.eta.on_eval(cell, step, max_steps)
        now = time.monotonic()
        if now - self._last >= 10 and accs:
            self._last = now
            best = max(accs)
            self._print(f"  {cell.label} seeds {_seeds(cell)}: step {step}/{max_steps}, best test acc {best:.3f}, "
                        f"{format_eta(self.eta.estimate())}")

    def on_record(self, record: Record) -> None:
        self.eta.on_record(record.key)
        self.done += 1
        m = record.metrics
        where = f"epoch {m['solve_epoch']:g}" if m.get("solve_epoch") is not None else ""
        extra = f" ({record.error})" if record.error else ""
        self._print(
            f"[{self.done}/{self.total}] {record.task_label} {record.identity['method']} seed {record.seed}: "
            f"{record.status} {where} {m.get('train_time_s', 0.0):.2f}s{extra}".rstrip()
            + f", {format_eta(self.eta.estimate())}"
        )

    def close(self) -> None:
        pass


class RichProgress(PlainProgress):
    """A live bar: trials done of total with the ETA, and the current cell's step and test
    accuracy."""

    def __init__(self, total: int, skipped: int, eta: EtaTracker | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}", markup=False), console=Console(stderr=True), transient=False,
        )
        self.progress.start()
        self.trials = self.progress.add_task("trials", total=total, completed=skipped, eta="")
        self.current = self.progress.add_task("", total=1, completed=0, eta="")
        self._eta_at = 0.0
        super().__init__(total, skipped, stream=None, eta=eta)

    def _print(self, text: str) -> None:
        self.progress.console.print(text, highlight=False, markup=False)

    def on_eval(self, cell: Cell, step: int, max_steps: int, accs: list[float]) -> None:
        self.eta.on_eval(cell, step, max_steps)
        best = max(accs) if accs else 0.0
        self.progress.update(
            self.current, total=max_steps, completed=step,
            description=f"{cell.label} seeds {_seeds(cell)}  test acc (best) {best:.3f}",
        )
        now = time.monotonic()
        if now - self._eta_at >= ETA_EVERY_S:
            self._eta_at = now
            self.progress.update(self.trials, eta=format_eta(self.eta.estimate()))

    def on_record(self, record: Record) -> None:
        super().on_record(record)
        self.progress.update(self.trials, completed=self.done, eta=format_eta(self.eta.estimate()))

    def close(self) -> None:
        self.progress.stop()


def _seeds(cell: Cell) -> str:
    s = cell.seeds
    consecutive = len(s) > 1 and list(s) == sorted(set(s)) and s[-1] - s[0] == len(s) - 1  # no range built
    return f"{s[0]}-{s[-1]}" if consecutive else ",".join(map(str, s))


def make_progress(total: int, skipped: int, eta: EtaTracker | None = None) -> PlainProgress:
    """A live display in a terminal, else log lines; ``eta``: a tracker to go on with (its
    measured costs carry over), else a fresh one."""
    if sys.stderr.isatty():
        return RichProgress(total, skipped, eta)
    return PlainProgress(total, skipped, eta=eta)
