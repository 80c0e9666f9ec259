"""Progress on long runs: a rich live display in a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time

from .plan import Cell
from .record import Record


class PlainProgress:
    """Log lines: one per finished trial, and at most one per 10 s of training progress."""

    def __init__(self, total: int, skipped: int, stream=None) -> None:
        self.total, self.done = total, skipped
        self.stream = stream or sys.stderr
        self._last = 0.0
        if skipped:
            self._print(f"{skipped} of {total} trials already in the results folder; skipping them")

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def on_eval(self, cell: Cell, step: int, max_steps: int, accs: list[float]) -> None:
        now = time.monotonic()
        if now - self._last >= 10 and accs:
            self._last = now
            best = max(accs)
            self._print(f"  {cell.label} seeds {_seeds(cell)}: step {step}/{max_steps}, best test acc {best:.3f}")

    def on_record(self, record: Record) -> None:
        self.done += 1
        m = record.metrics
        where = f"epoch {m['solve_epoch']:g}" if m.get("solve_epoch") is not None else ""
        extra = f" ({record.error})" if record.error else ""
        self._print(
            f"[{self.done}/{self.total}] {record.task_label} {record.identity['method']} seed {record.seed}: "
            f"{record.status} {where} {m.get('train_time_s', 0.0):.2f}s{extra}".rstrip()
        )

    def close(self) -> None:
        pass


class RichProgress(PlainProgress):
    """A live bar: trials done of total, and the current cell's step and test accuracy."""

    def __init__(self, total: int, skipped: int) -> None:
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
            console=Console(stderr=True), transient=False,
        )
        self.progress.start()
        self.trials = self.progress.add_task("trials", total=total, completed=skipped)
        self.current = self.progress.add_task("", total=1, completed=0)
        super().__init__(total, skipped, stream=None)

    def _print(self, text: str) -> None:
        self.progress.console.print(text, highlight=False, markup=False)

    def on_eval(self, cell: Cell, step: int, max_steps: int, accs: list[float]) -> None:
        best = max(accs) if accs else 0.0
        self.progress.update(
            self.current, total=max_steps, completed=step,
            description=f"{cell.label} seeds {_seeds(cell)}  test acc (best) {best:.3f}",
        )

    def on_record(self, record: Record) -> None:
        super().on_record(record)
        self.progress.update(self.trials, completed=self.done)

    def close(self) -> None:
        self.progress.stop()


def _seeds(cell: Cell) -> str:
    s = cell.seeds
    consecutive = len(s) > 1 and list(s) == sorted(set(s)) and s[-1] - s[0] == len(s) - 1  # no range built
    return f"{s[0]}-{s[-1]}" if consecutive else ",".join(map(str, s))


def make_progress(total: int, skipped: int) -> PlainProgress:
    if sys.stderr.isatty():
        return RichProgress(total, skipped)
    return PlainProgress(total, skipped)
