"""Executors: take cells, yield finished trial records as they complete.

The driver (the CLI) is the only writer of the store; an executor only computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .trial import Cell, ProgressFn, run_cell


class LocalExecutor:
    """In-process and sequential: one cell after another."""

    name = "local"

    def run(self, cells: Iterable[Cell], progress: ProgressFn | None = None) -> Iterator[dict[str, Any]]:
        for cell in cells:
            for record in run_cell(cell, progress):
                record["environment"]["executor"] = self.name
                yield record
