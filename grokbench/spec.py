"""Names on the command line -> fully resolved, picklable specs of tasks and methods.

Grammar:
  task    NAME or NAME:PRESET                       sparse_parity, sparse_parity:k5
  method  BASE | ACC[+ACC...][@BASE]                sgd, egd, grokfast+egd, egd@adamw
          ACC may name a preset: ACC:PRESET          egd:first, sketched_egd:ns
  --set   NAME.PARAM=VALUE, NAME a task or method, optionally NAME:PRESET.

An accelerator without ``@BASE`` runs on the task's (or preset's) base optimizer. The base
optimizer's settings are resolved in this order, later winning: the optimizer's own
defaults, the task's settings for it, the preset's, each accelerator's paired settings
(``optimizer_overrides``), then ``--set``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from . import __version__, registry
from .errors import UserError
from .method import Optimizer, Transform


@dataclass(frozen=True)
class TaskSpec:
    name: str
    preset: str | None
    params: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.name}:{self.preset}" if self.preset else self.name

    def build(self):
        return registry.get_task(self.name)(**self.params)


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    params: dict[str, Any]

    def build(self):
        return registry.get_method(self.name)(**self.params)


@dataclass(frozen=True)
class MethodSpec:
    label: str
    transforms: tuple[ComponentSpec, ...]
    optimizer: ComponentSpec


Overrides = dict[str, dict[str, str]]


def parse_overrides(items: list[str] | None) -> Overrides:
    """``["egd.scope=first", ...]`` -> ``{"egd": {"scope": "first"}}``."""
    out: Overrides = {}
    for item in items or []:
        target, eq, value = item.partition("=")
        name, dot, param = target.rpartition(".")
        if not eq or not dot or not name or not param:
            raise UserError(f"--set {item!r} is malformed; expected NAME.PARAM=VALUE, e.g. sgd.lr=0.05")
        out.setdefault(name, {})[param] = value
    return out


def split_task_label(label: str) -> tuple[str, str | None]:
    name, _, preset = label.partition(":")
    return name, (preset or None)


def expand_tasks(arg: str) -> list[str]:
    """``all`` -> every registered task's leaderboard variants; else the listed labels."""
    if arg.strip() == "all":
        return [
            cls.name if preset is None else f"{cls.name}:{preset}"
            for cls in registry.tasks().values()
            for preset in cls.leaderboard_presets
        ]
    labels = [s.strip() for s in arg.split(",") if s.strip()]
    if not labels:
        raise UserError("--tasks is empty; give 'all' or task names (see `grokbench list`)")
    return list(dict.fromkeys(labels))


def expand_methods(arg: str) -> list[str]:
    """Labels, where ``all`` stands for every registered single method (no combinations,
    no presets): ``all,grokfast+egd`` is every method and one stack."""
    labels: list[str] = []
    for item in (s.strip() for s in arg.split(",")):
        if item == "all":
            labels.extend(registry.methods())
        elif item:
            labels.append(item)
    if not labels:
        raise UserError("--methods is empty; give 'all' or method names (see `grokbench list`)")
    return list(dict.fromkeys(labels))


def resolve_task(label: str, overrides: Overrides) -> TaskSpec:
    name, preset_name = split_task_label(label)
    cls = registry.get_task(name)
    values: dict[str, Any] = {}
    if preset_name is not None:
        if preset_name not in cls.presets:
            valid = ", ".join(cls.presets) or "(none)"
            raise UserError(f"task {name!r} has no preset {preset_name!r}; valid: {valid}")
        values.update(cls.presets[preset_name].params)
    values.update(overrides.get(name, {}))
    if preset_name is not None:
        values.update(overrides.get(label, {}))
    task = cls(**values)
    return TaskSpec(name, preset_name, task.params)


def _base_optimizer(task: TaskSpec) -> str:
    cls = registry.get_task(task.name)
    if task.preset and cls.presets[task.preset].base_optimizer:
        return cls.presets[task.preset].base_optimizer
    return cls.base_optimizer


def _optimizer_settings(task: TaskSpec, opt_name: str) -> dict[str, Any]:
    cls = registry.get_task(task.name)
    values = dict(cls.optimizer_defaults.get(opt_name, {}))
    if task.preset:
        values.update(cls.presets[task.preset].optimizer.get(opt_name, {}))
    return values


def resolve_method(label: str, task: TaskSpec, overrides: Overrides) -> MethodSpec:
    chain, at, base = label.partition("@")
    names = [n.strip() for n in chain.split("+")]
    if any(not n for n in names) or (at and not base.strip()):
        raise UserError(f"method {label!r} is malformed; expected BASE or ACC[+ACC...][@BASE]")
    if not at and len(names) == 1 and issubclass(registry.get_method(names[0].partition(":")[0]), Optimizer):
        names, base = [], names[0]
    elif not at:
        base = _base_optimizer(task)
    base = base.strip()
    if not issubclass(registry.get_method(base), Optimizer):
        raise UserError(f"{base!r} in {label!r} is not a base optimizer; bases: {', '.join(optimizer_names())}")
    transforms = []
    opt_values = _optimizer_settings(task, base)
    for written in names:
        name, _, preset = written.partition(":")
        cls = registry.get_method(name)
        if not issubclass(cls, Transform):
            raise UserError(
                f"{name!r} in {label!r} is a base optimizer; write it after '@' (e.g. egd@{name})"
            )
        values: dict = {}
        if preset:
            if preset not in cls.presets:
                valid = ", ".join(cls.presets) or "(none)"
                raise UserError(f"method {name!r} has no preset {preset!r}; valid: {valid}")
            values.update(cls.presets[preset][1])
        values.update(overrides.get(name, {}))
        if preset:
            values.update(overrides.get(written, {}))
        transform = cls(**values)
        transforms.append(ComponentSpec(name, transform.params))
        opt_values.update(transform.optimizer_overrides)
    opt_values.update(overrides.get(base, {}))
    optimizer = registry.get_method(base)(**opt_values)
    return MethodSpec(label, tuple(transforms), ComponentSpec(base, optimizer.params))


def optimizer_names() -> list[str]:
    return [n for n, c in registry.methods().items() if issubclass(c, Optimizer)]


def check_override_names(overrides: Overrides) -> None:
    """Every --set NAME must be a registered task, task:preset or method."""
    tasks, methods = registry.tasks(), registry.methods()
    for name in overrides:
        task_name, preset = split_task_label(name)
        if task_name in methods and (preset is None or preset in methods[task_name].presets):
            continue
        if task_name in tasks and (preset is None or preset in tasks[task_name].presets):
            continue
        raise UserError(
            f"--set names {name!r}, which is no task or method; valid: {', '.join([*tasks, *methods])}"
        )


def trial_identity(task: TaskSpec, method: MethodSpec, seed: int, after_solve: int) -> dict[str, Any]:
    """Everything that determines a trial's outcome; its hash is the resume key."""
    return {
        "task": task.name,
        "preset": task.preset,
        "task_params": task.params,
        "method": method.label,
        "transforms": [asdict(t) for t in method.transforms],
        "optimizer": asdict(method.optimizer),
        "seed": seed,
        "after_solve": after_solve,
        "grokbench_version": __version__,
    }


def identity_key(identity: dict[str, Any]) -> str:
    canonical = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]
