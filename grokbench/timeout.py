"""The trial-timeout rule, in one place: the trial loop, every executor and resume use it.

``--executor KIND,timeout=T`` gives each trial T seconds of wall time. Trials trained together in
one cell (its seeds, times its configurations) share one clock, so a cell of n trials may
run n x T seconds. The trial loop checks
the limit before every training step (cooperative); an executor that can kill its worker
does so after a grace period beyond it (hard). A ``timeout`` record is final for the limit
it ran under: a later run with the same or a smaller limit skips it, a larger limit (or
none) retries it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .record import FINAL_STATUSES, Record, Status


@dataclass(frozen=True)
class TimeoutPolicy:
    """``limit_s``: seconds per trial (None: no limit). ``kill_grace_s``: minimum grace
    before a hard kill (the grace is the larger of it and 10% of the cell's budget)."""

    limit_s: float | None = None
    kill_grace_s: float = 10.0

    @property
    def active(self) -> bool:
        return self.limit_s is not None

    def cell_budget_s(self, n_seeds: int) -> float | None:
        """Wall seconds a cell of ``n_seeds`` trials (slots) may train."""
        return None if self.limit_s is None else self.limit_s * max(1, n_seeds)

    def deadline(self, n_seeds: int, start: float | None = None) -> float | None:
        """Monotonic time after which the trial loop stops the cell (cooperative)."""
        budget = self.cell_budget_s(n_seeds)
        return None if budget is None else (time.monotonic() if start is None else start) + budget

    def kill_deadline(self, n_seeds: int, start: float | None = None) -> float | None:
        """Monotonic time after which an executor kills the cell's worker (hard)."""
        budget = self.cell_budget_s(n_seeds)
        if budget is None:
            return None
        return (time.monotonic() if start is None else start) + budget + max(self.kill_grace_s, 0.1 * budget)

    def message(self, n_seeds: int, what: str) -> str:
        """The record's error text; ``what`` says how it ended, e.g. 'stopped before step 40'."""
        per = f" x {n_seeds} trials trained together" if n_seeds > 1 else ""
        return f"exceeded the trial timeout {self.limit_s:g}s{per}; {what}"

    def is_final(self, record: Record) -> bool:
        """Whether a run under this policy skips ``record``'s trial (the resume rule):
        solved, unsolved and diverged always; ``timeout`` when it ran under a limit at least
        this policy's; ``error`` never."""
        if record.status in FINAL_STATUSES:
            return True
        limit = record.trial_timeout_s
        return (record.status == Status.TIMEOUT and self.limit_s is not None
                and limit is not None and limit >= self.limit_s)
