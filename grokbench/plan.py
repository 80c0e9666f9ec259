"""Command-line choices -> the plan: (task, method) pairs x seeds, then cells to execute."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import registry
from .capping import CapPolicy
from .errors import UserError
from .limits import MAX_TRIALS, check_trials
from .record import MAX_INT, identity_key
from .spec import (
    ComponentSpec,
    MethodSpec,
    Overrides,
    TaskSpec,
    check_override_names,
    check_overrides_used,
    expand_methods,
    expand_tasks,
    resolve_method,
    resolve_task,
    split_task_label,
    trial_identity,
)

DEFAULT_CHECKPOINT_S = 300.0  # a cell in training saves its state at most this often
MAX_SEEDS = 100_000  # more seeds than any study needs; a larger count is a typo


class Slot(NamedTuple):
    """A position of a cell's batch axis: configuration ``config`` (an index into
    ``Cell.configs``) on seed ``seed``. One slot is one trial."""

    config: int
    seed: int


@dataclass(frozen=True)
class CheckpointPolicy:
    """Where a cell saves its training state (a folder) and at most how often, in seconds
    of wall time (``grokbench.checkpoint``)."""

    folder: str
    every_s: float = DEFAULT_CHECKPOINT_S


@dataclass(frozen=True)
class Cell:
    """One task, one method configuration or several, and the seeds to train together: the
    unit an executor runs. Picklable (it crosses to worker processes).

    ``variants``: further configurations of ``method`` trained in the same batch; they
    differ from it only in base-optimizer scalars (``sweep_signature``). The batch's leading
    axis then carries ``slots``, configuration-major: (0, s0), (0, s1), ..., (1, s0), ...
    ``checkpoint``: where and how often to save the training state (no part of any
    trial's identity; None: never). ``capping``: a tuning cell's capping policy
    (``grokbench.capping``; no part of any trial's identity; None: never capped).
    """

    task: TaskSpec
    method: MethodSpec
    seeds: tuple[int, ...]
    after_solve: int = 0
    device: str = "cpu"
    plugin_files: tuple[str, ...] = field(default=())
    variants: tuple[MethodSpec, ...] = ()
    checkpoint: CheckpointPolicy | None = None
    capping: CapPolicy | None = None

    @property
    def configs(self) -> tuple[MethodSpec, ...]:
        return (self.method, *self.variants)

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(Slot(c, s) for c in range(len(self.configs)) for s in self.seeds)

    @property
    def label(self) -> str:
        more = f" (+{len(self.variants)} configurations)" if self.variants else ""
        return f"{self.task.label} / {self.method.label}{more}"

    def identity(self, seed: int, config: int = 0) -> dict[str, Any]:
        return trial_identity(self.task, self.configs[config], seed, self.after_solve)

    def key(self, seed: int, config: int = 0) -> str:
        return identity_key(self.identity(seed, config))

    def slot_key(self, slot: Slot) -> str:
        return self.key(slot.seed, slot.config)

    def keys(self) -> list[str]:
        """The resume keys of the cell's trials, in slot order."""
        return [self.slot_key(slot) for slot in self.slots]


def sweep_signature(method: MethodSpec) -> tuple | None:
    """What two configurations must share to train in one batch: everything but the base
    optimizer's ``slot_settings`` (lr, weight decay, betas, ...), and the random stream.
    None when the base optimizer declares no per-slot settings."""
    slot_settings = getattr(registry.get_method(method.optimizer.name), "slot_settings", ())
    if not slot_settings:
        return None
    fixed = {k: v for k, v in method.optimizer.params.items() if k not in slot_settings}
    optimizer = ComponentSpec(method.optimizer.name, fixed, None, method.optimizer.source)
    parts = [t.identity() for t in method.transforms] + [optimizer.identity()]
    return (method.stream_label, repr(parts))


def parse_seeds(text: str, flag: str = "--seeds") -> list[int]:
    """``5`` -> 0..4; ``A-B`` -> A..B inclusive; ``A,B,C`` -> that list (at most MAX_SEEDS seeds,
    each at most ``record.MAX_INT``, 2**63 - 1). ``flag``: what the user wrote the seeds as,
    for the error (``--tune-seeds``, a file's field)."""
    text = str(text).strip()
    seeds = _seed_list(text, flag)
    if seeds is None:
        raise UserError(f"{flag} {text[:40]!r} is malformed; expected N (>= 1), A-B (A <= B) or A,B,C")
    if max(seeds) > MAX_INT:
        raise UserError(f"{flag} {text[:40]!r}: a seed is at most 2**63 - 1 ({MAX_INT})")
    return seeds


def _seed_list(text: str, flag: str) -> list[int] | None:
    too_many = UserError(f"{flag} {text[:40]!r} asks for more than {MAX_SEEDS:,} seeds")
    if re.fullmatch(r"\d{1,30}", text):
        if int(text) > MAX_SEEDS:
            raise too_many
        return list(range(int(text))) if int(text) >= 1 else None
    if m := re.fullmatch(r"(\d{1,30})-(\d{1,30})", text):
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi - lo + 1 > MAX_SEEDS:
            raise too_many
        return list(range(lo, hi + 1)) if hi >= lo else None
    if re.fullmatch(r"\d{1,30}(,\d{1,30})*,?", text):  # a single N was taken above
        if text.count(",") > MAX_SEEDS:
            raise too_many
        return list(dict.fromkeys(int(s) for s in text.split(",") if s))
    return None


@dataclass(frozen=True)
class Plan:
    """Every (task, method) pair and the seeds each task trains: ``seeds``, or the task's
    own in ``task_seeds`` ((task label, seeds) pairs: ``--seeds auto``)."""

    pairs: tuple[tuple[TaskSpec, MethodSpec], ...]
    seeds: tuple[int, ...]
    after_solve: int
    device: str
    plugin_files: tuple[str, ...]
    task_seeds: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def seeds_of(self, task_label: str) -> tuple[int, ...]:
        return dict(self.task_seeds).get(task_label, self.seeds)

    @property
    def all_seeds(self) -> tuple[int, ...]:
        """Every seed some task trains, in order."""
        return tuple(sorted({s for t, _ in self.pairs for s in self.seeds_of(t.label)} | set(self.seeds)))

    @property
    def n_trials(self) -> int:
        return sum(len(self.seeds_of(t.label)) for t, _ in self.pairs)

    def _cell(self, task: TaskSpec, method: MethodSpec, seeds: tuple[int, ...] = ()) -> Cell:
        return Cell(task, method, seeds, self.after_solve, self.device, self.plugin_files)

    def keys(self) -> set[str]:
        """The resume keys of every trial in the plan."""
        return {self._cell(t, m).key(s) for t, m in self.pairs for s in self.seeds_of(t.label)}

    def cells(self, done: set[str], max_batch: int) -> list[Cell]:
        """Cells for the trials not in ``done``, at most ``max_batch`` trials per cell.
        Configurations of one method that differ only in base-optimizer scalars and have the
        same seeds to do share cells (configurations batched like seeds) when they fit."""
        max_batch = max(1, max_batch)
        groups: dict[tuple, list[tuple[TaskSpec, MethodSpec]]] = {}
        for task, method in self.pairs:
            probe = self._cell(task, method)
            todo = tuple(s for s in self.seeds_of(task.label) if probe.key(s) not in done)
            if todo:
                signature = sweep_signature(method) or ("alone", method.label)
                groups.setdefault((task.label, signature, todo), []).append((task, method))
        out = []
        for (_, _, todo), members in groups.items():
            per_cell = max(1, max_batch // len(todo))
            for i in range(0, len(members), per_cell):
                out += self._chunked(members[i:i + per_cell], todo, max_batch)
        return out

    def _chunked(self, members: list[tuple[TaskSpec, MethodSpec]], todo: tuple[int, ...], max_batch: int) -> list[Cell]:
        """One cell of all ``members`` x ``todo`` when it fits ``max_batch``, else each
        member's seeds in chunks of ``max_batch``."""
        (task, method), variants = members[0], tuple(m for _, m in members[1:])
        if len(members) * len(todo) <= max_batch:
            return [Cell(task, method, todo, self.after_solve, self.device, self.plugin_files, variants)]
        return [self._cell(t, m, todo[i:i + max_batch]) for t, m in members for i in range(0, len(todo), max_batch)]


def build_plan(
    tasks: str,
    methods: str,
    seeds: str,
    overrides: Overrides,
    after_solve: int = 0,
    device: str = "cpu",
    plugin_files: tuple[str, ...] = (),
    baseline: bool = False,
    max_trials: int = MAX_TRIALS,
) -> Plan:
    """Resolve every name and parameter up front, so bad input fails before any training.
    ``baseline``: also train each task's baseline (its base optimizer alone) where the
    methods do not name it, first, so that every method has its reference. A plan of more
    than ``max_trials`` trials is refused (``grokbench.limits``), grids before they are
    expanded."""
    if after_solve < 0:
        raise UserError("after_solve must be >= 0")
    check_override_names(overrides)
    task_labels = expand_tasks(tasks)
    task_seeds = tuple((label, tuple(range(report_seeds(label)))) for label in task_labels) \
        if seeds == AUTO_SEEDS else ()
    seed_list = [] if task_seeds else parse_seeds(seeds)
    per_method = sum(len(s) for _, s in task_seeds) or len(task_labels) * len(seed_list)
    method_labels = expand_methods(methods, per_method, max_trials)
    check_trials(per_method * (len(method_labels) + int(baseline)), max_trials, "this plan (tasks x methods x seeds)")
    task_specs = [resolve_task(label, overrides) for label in task_labels]
    pairs = []
    for task in task_specs:
        specs = [resolve_method(m, task, overrides) for m in method_labels]
        reference = specs[0].baseline if specs else ""
        if baseline and reference and reference not in method_labels:
            specs.insert(0, resolve_method(reference, task, overrides))
        pairs += [(task, spec) for spec in specs]
    check_overrides_used(overrides, task_specs, [m for _, m in pairs])
    return Plan(_distinct(tuple(pairs)), tuple(seed_list), after_solve, device, plugin_files, task_seeds)


AUTO_SEEDS = "auto"


def report_seeds(task_label: str) -> int:
    """How many report seeds a task trains when ``--seeds`` is ``auto`` (its plugin's
    ``report_seeds``: sized so its page can detect a stated effect, docs/statistics.md)."""
    name = split_task_label(task_label)[0]
    return int(getattr(registry.get_task(name), "report_seeds", 10))


def _distinct(pairs: tuple[tuple[TaskSpec, MethodSpec], ...]) -> tuple[tuple[TaskSpec, MethodSpec], ...]:
    """The pairs with each (task, canonical method label) once: ``sgd[lr=.2]`` and
    ``sgd[lr=0.2]`` are one variant."""
    seen: dict[tuple[str, str], tuple[TaskSpec, MethodSpec]] = {}
    for task, method in pairs:
        seen.setdefault((task.label, method.label), (task, method))
    return tuple(seen.values())
