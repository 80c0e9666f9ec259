"""Executors: take cells, yield finished trial records as they complete.

The driver (the CLI) is the only writer of the store; an executor only computes. Three
implementations share that contract (``Executor`` in base):

- ``LocalExecutor``   in-process, sequential (the default);
- ``ProcessExecutor`` a pool of spawned worker processes on this machine;
- ``RayExecutor``     Ray tasks on a cluster or a local Ray instance (optional extra).

Every record is stamped with ``environment.executor`` (and ``host``, ``threads``,
``pid`` from the worker that ran it).
"""

from __future__ import annotations

from .base import Executor, cpu_count
from .local import LocalExecutor
from .process import ProcessExecutor

EXECUTORS = ("local", "process", "ray")


def __getattr__(name: str):
    # RayExecutor lives in a module that imports nothing of Ray until it is used; still,
    # load it lazily so that `import grokbench.executors` stays light.
    if name == "RayExecutor":
        from .ray_executor import RayExecutor

        return RayExecutor
    raise AttributeError(name)


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "ProcessExecutor", "RayExecutor", "cpu_count"]
