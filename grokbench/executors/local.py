"""The default executor: in this process, one cell after another."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..timeout import TimeoutPolicy
from .base import stamp
from .process import ProcessExecutor

if TYPE_CHECKING:
    from ..plan import Cell
    from ..record import Record
    from ..trial import ProgressFn


class LocalExecutor:
    """One cell after another in this process.

    With an active ``timeout`` the cells run instead in one child process (started once,
    with torch's default thread count), because only a process can be stopped inside a
    training step that never returns: the trial loop's cooperative check ends an overlong
    trial at the next step, and the child is killed past the policy's kill deadline. Such
    records carry ``environment.child_process = True``.
    """

    name = "local"

    def __init__(self, timeout: TimeoutPolicy | None = None) -> None:
        self.timeout = timeout or TimeoutPolicy()

    def run(self, cells: Iterable[Cell], progress: ProgressFn | None = None) -> Iterator[Record]:
        if self.timeout.active:
            yield from _ChildProcess(self.timeout).run(cells, progress)
            return
        from ..trial import run_cell

        for cell in cells:
            for record in run_cell(cell, progress, self.timeout):
                yield stamp(record, self.name, self.timeout)


class _ChildProcess(ProcessExecutor):
    """A pool of one worker that keeps torch's default threads and stamps as ``local``."""

    name = LocalExecutor.name

    def __init__(self, timeout: TimeoutPolicy) -> None:
        super().__init__(workers=1, timeout=timeout)
        self.threads = None

    def stamp(self, record: Record) -> Record:
        return stamp(record, self.name, self.timeout, child_process=True)
