"""The default executor: in-process and sequential."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..trial import Cell, ProgressFn, run_cell
from .base import stamp


class LocalExecutor:
    """One cell after another in this process. ``timeout_s`` is checked cooperatively
    (before each training step): a trial stuck inside one step cannot be interrupted here;
    use the process executor for a hard limit."""

    name = "local"

    def __init__(self, timeout_s: float | None = None) -> None:
        self.timeout_s = timeout_s

    def run(self, cells: Iterable[Cell], progress: ProgressFn | None = None) -> Iterator[dict[str, Any]]:
        for cell in cells:
            for record in run_cell(cell, progress, self.timeout_s):
                yield stamp(record, self.name, self.timeout_s)
