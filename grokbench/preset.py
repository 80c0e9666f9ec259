"""Presets: named protocols of a task or a method, selectable as ``NAME:PRESET``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    """A named protocol, the same type for tasks and methods.

    description: one line, shown by ``grokbench list``.
    params: parameter values of the plugin itself.
    optimizer: base optimizer name -> settings this protocol pairs with it (for a task, its
        optimizer's hyperparameters; for a method, e.g. Grokfast's paper weight decay).
    base_optimizer: the base optimizer this protocol trains with (None: unchanged).
    """

    description: str
    params: dict[str, Any] = field(default_factory=dict)
    optimizer: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_optimizer: str | None = None
