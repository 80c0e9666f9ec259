"""Command-line choices -> the plan: (task, method) pairs x seeds, then cells to execute."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError
from .spec import (
    MethodSpec,
    Overrides,
    TaskSpec,
    check_override_names,
    expand_methods,
    expand_tasks,
    resolve_method,
    resolve_task,
)
from .trial import Cell


def parse_seeds(text: str) -> list[int]:
    """``5`` -> 0..4; ``A-B`` -> A..B inclusive; ``A,B,C`` -> that list."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d+", text):
            count = int(text)
            if count < 1:
                raise ValueError
            return list(range(count))
        if m := re.fullmatch(r"(\d+)-(\d+)", text):
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise ValueError
            return list(range(lo, hi + 1))
        if re.fullmatch(r"\d+(,\d+)+,?", text):
            return list(dict.fromkeys(int(s) for s in text.split(",") if s))
    except ValueError:
        pass
    raise UserError(f"--seeds {text!r} is malformed; expected N (>= 1), A-B (A <= B) or A,B,C")


@dataclass(frozen=True)
class Plan:
    pairs: tuple[tuple[TaskSpec, MethodSpec], ...]
    seeds: tuple[int, ...]
    after_solve: int
    device: str
    plugin_files: tuple[str, ...]

    @property
    def n_trials(self) -> int:
        return len(self.pairs) * len(self.seeds)

    def _cell(self, task: TaskSpec, method: MethodSpec, seeds: tuple[int, ...] = ()) -> Cell:
        return Cell(task, method, seeds, self.after_solve, self.device, self.plugin_files)

    def keys(self) -> set[str]:
        """The resume keys of every trial in the plan."""
        return {self._cell(t, m).key(s) for t, m in self.pairs for s in self.seeds}

    def cells(self, done: set[str], max_batch: int) -> list[Cell]:
        """Cells for the trials not in ``done``; up to ``max_batch`` seeds per cell."""
        out = []
        for task, method in self.pairs:
            probe = self._cell(task, method)
            todo = [s for s in self.seeds if probe.key(s) not in done]
            for i in range(0, len(todo), max(1, max_batch)):
                chunk = tuple(todo[i : i + max(1, max_batch)])
                out.append(self._cell(task, method, chunk))
        return out


def build_plan(
    tasks: str,
    methods: str,
    seeds: str,
    overrides: Overrides,
    after_solve: int = 0,
    device: str = "cpu",
    plugin_files: tuple[str, ...] = (),
) -> Plan:
    """Resolve every name and parameter up front, so bad input fails before any training."""
    if after_solve < 0:
        raise UserError("--after-solve must be >= 0")
    check_override_names(overrides)
    task_specs = [resolve_task(label, overrides) for label in expand_tasks(tasks)]
    method_labels = expand_methods(methods)
    pairs = tuple((t, resolve_method(m, t, overrides)) for t in task_specs for m in method_labels)
    return Plan(pairs, tuple(parse_seeds(seeds)), after_solve, device, plugin_files)
