"""Helpers shared by the tests: tiny configurations that train in well under a second."""

from __future__ import annotations

import json
from pathlib import Path

TINY_PARITY = [
    "--set", "sparse_parity.n_train=200",
    "--set", "sparse_parity.n_test=100",
    "--set", "sparse_parity.max_epochs=8",
]


def run_cli(*argv: str) -> int:
    from grokbench.cli import main

    return main(list(argv))


def read_records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]


def interrupt_after(evaluations: int):
    """A progress callback that raises KeyboardInterrupt at the given evaluation (a Ctrl-C
    at a known point of training, never at a fixed delay)."""
    calls = []

    def progress(*_):
        calls.append(1)
        if len(calls) == evaluations:
            raise KeyboardInterrupt

    return progress
