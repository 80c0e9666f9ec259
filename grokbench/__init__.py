"""grokbench: a benchmark harness for grokking accelerators.

Public API for plugin authors: ``Task``, ``Preset``, ``Split``, ``Transform``,
``Optimizer``, ``StepContext`` and the ``register`` decorator; a method's tunable
parameters are declared with the types of ``grokbench.search`` (``Log``, ``Linear``,
``Choice``). For notebooks:
``grokbench.run``, ``grokbench.load`` and ``grokbench.write_leaderboard`` (``grokbench.api``).

Names are imported on first use, so that ``import grokbench`` (and the CLI's start, where
a Ctrl-C must stay one line) does not import torch before it is needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Optimizer": "method", "StepContext": "method", "Transform": "method", "Preset": "preset",
    "register": "registry", "Split": "task", "Task": "task",
    "run": "api", "rerun": "api", "tune": "api", "load": "api", "write_leaderboard": "api",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'grokbench' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
