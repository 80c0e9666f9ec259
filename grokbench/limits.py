"""Limits checked at plan time, so that an impossible plan exits 2 before anything trains.

* Plan size: a plan (grids times tasks times seeds, or a tuning study's K configurations
  times seeds) may hold at most ``MAX_TRIALS`` trials unless the caller raises the limit
  (``max_trials``: a study file's, or the Python API's); a grid is counted before it is expanded, so a 10^9-point grid is
  refused without building it.
* Memory: a cell holds, per trial, the model's parameters, its gradient, the method's
  state (``Method.state_copies`` gradient-sized copies per part of the chain) and the
  task's data. That lower bound (activations come on top), times the trials a cell trains
  together, must fit the device's memory (physical memory for the CPU, the GPU's for
  CUDA). Tasks that do not declare ``parameter_count`` are not checked.

Ranges of single settings are declared where the settings are (``constraints`` of each
plugin, ceilings in ``grokbench.params``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from .errors import UserError

MAX_TRIALS = 100_000  # trials of one plan; a larger plan is almost always a mistyped grid
FLOAT_BYTES = 4  # float32 parameters, gradients and state


def check_trials(count: int, limit: int, what: str) -> None:
    """Refuse ``count`` trials above ``limit``, naming ``what`` made them and the limit."""
    if count > limit:
        raise UserError(f"{what} makes {count:,} trials, more than the limit of {limit:,} "
                        f"(max_trials = N in a study file raises it: docs/study.md)")


def trial_bytes(task: Any, chain: Any) -> int | None:
    """A lower bound on one trial's memory in bytes: parameters, gradient and method state
    (``chain``'s parts' ``state_copies``) in float32, plus the data; None when the task
    does not declare its parameter count. ``task``: a built Task; ``chain``: a built Chain."""
    n_params = task.parameter_count()
    if n_params is None:
        return None
    copies = 2 + sum(int(part.state_copies) for part in [*chain.transforms, chain.optimizer])
    return FLOAT_BYTES * n_params * copies + task.data_bytes()


def device_memory(device: str) -> int | None:
    """Bytes of memory of ``device`` (physical memory for the CPU); None when unknown."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_properties(torch.device(device)).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cells: Iterable[tuple[Any, Any, int]], device: str) -> None:
    """Refuse a plan one of whose cells cannot fit ``device``. ``cells``: (TaskSpec,
    MethodSpec, width) each, width the trials trained together (a cell's seeds times its
    configurations; 1 to check each trial alone)."""
    limit = device_memory(device)
    if limit is None:
        return
    sizes: dict[tuple[str, str], int | None] = {}
    for task_spec, method_spec, width in cells:
        pair = (task_spec.label, method_spec.label)
        if pair not in sizes:
            sizes[pair] = trial_bytes(task_spec.build(), method_spec.build())
        per_trial = sizes[pair]
        if per_trial is None or per_trial * width <= limit:
            continue
        where = f"{task_spec.label} / {method_spec.label} needs at least {_gib(per_trial)} per trial"
        if per_trial > limit:
            raise UserError(f"{where}, more than the {_gib(limit)} of {device} memory; choose smaller settings")
        raise UserError(f"{where}, {_gib(per_trial * width)} for {width} trials trained together, more than the "
                        f"{_gib(limit)} of {device} memory; --batch-seeds {max(1, limit // per_trial)} fits")


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:,.1f} GiB"
