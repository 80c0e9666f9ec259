"""grokbench: a benchmark harness for grokking accelerators.

Public API for plugin authors: ``Task``, ``Preset``, ``Split``, ``Transform``,
``Optimizer``, ``StepContext`` and the ``register`` decorator.
"""

__version__ = "0.1.0"

from .method import Optimizer, StepContext, Transform  # noqa: E402
from .registry import register  # noqa: E402
from .task import Preset, Split, Task  # noqa: E402

__all__ = ["Optimizer", "Preset", "Split", "StepContext", "Task", "Transform", "register", "__version__"]
