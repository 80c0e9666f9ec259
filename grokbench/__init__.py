"""grokbench: a benchmark harness for grokking accelerators.

Public API for plugin authors: ``Task``, ``Preset``, ``Split``, ``Transform``,
``Optimizer``, ``StepContext`` and the ``register`` decorator. For notebooks:
``grokbench.run``, ``grokbench.load`` and ``grokbench.write_leaderboard`` (``grokbench.api``).
"""

__version__ = "0.1.0"

from .method import Optimizer, StepContext, Transform  # noqa: E402
from .preset import Preset  # noqa: E402
from .registry import register  # noqa: E402
from .task import Split, Task  # noqa: E402

_API = ("run", "load", "write_leaderboard")


def __getattr__(name: str):
    # The notebook API is loaded on first use: plugin modules import this package.
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(name)


__all__ = ["Optimizer", "Preset", "Split", "StepContext", "Task", "Transform", "register", "__version__", *_API]
