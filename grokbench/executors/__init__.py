"""Executors: take cells, yield finished trial records as they complete.

The driver (the CLI) is the only writer of the store; an executor only computes. Three
implementations share that contract (``Executor`` in base), each enforcing one
``TimeoutPolicy``:

- ``LocalExecutor``   in-process, sequential (the default; one child process when a
  trial timeout is set, so that it can be enforced);
- ``ProcessExecutor`` a pool of spawned worker processes on this machine;
- ``RayExecutor``     Ray tasks on a cluster or a local Ray instance (optional extra).

Every record is stamped with ``environment.executor`` (and ``host``, ``threads``,
``pid`` from the worker that ran it) and ``trial_timeout_s``.
"""

from __future__ import annotations

from .base import Executor, cpu_count
from .local import LocalExecutor
from .process import ProcessExecutor


def __getattr__(name: str):
    # RayExecutor's module imports Ray only when an executor is made; still, load it
    # lazily so that `import grokbench.executors` stays light.
    if name == "RayExecutor":
        from .ray_executor import RayExecutor

        return RayExecutor
    raise AttributeError(name)


__all__ = ["Executor", "LocalExecutor", "ProcessExecutor", "RayExecutor", "cpu_count"]
