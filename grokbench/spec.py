"""Names on the command line -> fully resolved, picklable specs of tasks and methods.

Grammar:
  task    NAME or NAME:PRESET                       sparse_parity, sparse_parity:k5
  method  BASE | ACC[+ACC...][@BASE]                sgd, egd, grokfast+egd, egd@adamw
          ACC may name a preset: ACC:PRESET          egd:first, sketched_egd:ns
          any part may carry settings in brackets    sgd[lr=0.2], egd[lr=0.05]@adamw,
                                                     grokfast:paper[lamb=5], adamw[betas=(0.9,0.98)]
          a list of values is a grid                 sgd[lr=0.05,0.1,0.2,0.4] = four variants;
                                                     several lists: their Cartesian product
  --set   NAME.PARAM=VALUE, NAME a task or method, optionally NAME:PRESET.

A bracketed setting belongs to the part it is written on if that part has the parameter,
else to the chain's base optimizer (``egd[lr=0.05]`` sets the base's lr); a name both
have (``eps``) goes to the part it is written on, and ``BASE.param`` names the base
explicitly (``egd[adamw.eps=1e-6]@adamw``). Settings written after ``@`` belong to the
base. A name neither has, a setting written twice, or a bad value is a UserError. A
variant's label is canonical: values in one canonical form (``variants.format_value``),
each bracket's settings sorted, ``BASE.`` kept only where it is needed, so equal
configurations get equal labels. In a stack, base settings written on one accelerator
reach the parts-alone labels of that accelerator only; write them after ``@BASE`` to give
them to every part.

An accelerator without ``@BASE`` runs on the base optimizer its preset names, else on the
task's (or task preset's) base optimizer. The base optimizer's settings are resolved in
this order, later winning: the optimizer's own defaults, the task's settings for it, the
task preset's, each accelerator preset's paired settings for that base, each accelerator's
``optimizer_overrides``, ``--set``, then the label's bracketed settings. An accelerator's
own: its defaults, its preset, ``--set``, then its bracketed settings.

Everything downstream (records, statistics, leaderboard) reads what is resolved here:
the label, its chain, its base, a stack's parts and the task's baseline are written into
the trial identity, so nothing is looked up or guessed afterwards. The baseline is the
task's base optimizer's plain label, whatever settings a variant carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import __version__, registry, variants
from .chain import Chain
from .errors import UserError
from .limits import check_trials
from .method import Optimizer, Transform
from .preset import Preset


@dataclass(frozen=True)
class TaskSpec:
    """A task label resolved at plan time; ``source`` is where its plugin came from
    (``registry.source``: "builtin", a plugin file's hash, ...)."""

    name: str
    preset: str | None
    params: dict[str, Any]
    source: str = "builtin"

    @property
    def label(self) -> str:
        return f"{self.name}:{self.preset}" if self.preset else self.name

    def build(self):
        return registry.get_task(self.name)(**self.params)


@dataclass(frozen=True)
class ComponentSpec:
    """One part of a method's chain: a registered method, its preset, its resolved params."""

    name: str
    params: dict[str, Any]
    preset: str | None = None
    source: str = "builtin"

    def build(self):
        return registry.get_method(self.name)(**self.params)

    def identity(self) -> dict[str, Any]:
        """Name, params, preset; and the source when it is not a built-in."""
        out = {"name": self.name, "params": self.params, "preset": self.preset}
        if self.source != "builtin":
            out["source"] = self.source
        return out


@dataclass(frozen=True)
class MethodSpec:
    """A method label resolved on one task, fixed at plan time.

    label: the canonical label (with its bracketed settings, if any); base: the base
    optimizer's name; parts: the labels of a stack's accelerators alone (empty unless it
    stacks two or more); baseline: the task's baseline method label (its base optimizer
    alone), the reference every comparison of this trial is made against; tuned: where a
    tuned configuration is (``grokbench.tuning``: its configuration, index and budget,
    nothing about where it was read from), None for an untuned label; tuned_from: the
    tuning folder as given, provenance only (the record's ``provenance``, never its
    identity, so any spelling or copy of the folder gives the same trials); control: the
    role of a tuned run's control (``stats.CONTROL_KINDS``: "base at its settings" or "on
    the tuned base", ``grokbench.tuning.controls``), None for any other label.
    stream_label: the label without bracketed settings, the key of the method's random
    stream (so that variants of one method draw the same random numbers); derived from
    ``label`` once, when the spec is made (never passed).
    """

    label: str
    transforms: tuple[ComponentSpec, ...]
    optimizer: ComponentSpec
    base: str
    parts: tuple[str, ...] = ()
    baseline: str = ""
    tuned: dict[str, Any] | None = None
    tuned_from: str | None = None
    control: str | None = None
    stream_label: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stream_label", variants.strip_settings(self.label))

    def build(self) -> Chain:
        return Chain([t.build() for t in self.transforms], self.optimizer.build())


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
    """``NAME[:PRESET]`` -> (name, preset or None): the one place a task label is split."""
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


def expand_methods(arg: str, trials_each: int = 1, max_trials: int | None = None) -> list[str]:
    """Labels, where ``all`` stands for every registered single method (no combinations,
    no presets): ``all,grokfast+egd`` is every method and one stack. Commas inside
    brackets and parentheses belong to a label; a label's value lists expand to a grid.
    With ``max_trials``, a grid whose configurations times ``trials_each`` (tasks times
    seeds) exceed it is refused before it is expanded."""
    labels: list[str] = []
    for item in variants.split_top_level(arg, ",", "--methods"):
        if item == "all":
            labels.extend(registry.methods())
        elif item:
            if max_trials is not None:
                size = variants.grid_size(item)
                check_trials(size * trials_each, max_trials,
                             f"--methods {item[:60]!r} ({size:,} configuration(s), {trials_each:,} trials each)")
            labels.extend(variants.expand_label(item))
    if not labels:
        raise UserError("--methods is empty; give 'all' or method names (see `grokbench list`)")
    return list(dict.fromkeys(labels))


def resolve_task(label: str, overrides: Overrides) -> TaskSpec:
    name, preset_name = split_task_label(label)
    cls = registry.get_task(name)
    values: dict[str, Any] = {}
    if preset_name is not None:
        values.update(_preset(cls, preset_name, "task").params)
    values.update(overrides.get(name, {}))
    if preset_name is not None:
        values.update(overrides.get(label, {}))
    task = cls(**values)
    return TaskSpec(name, preset_name, task.params, registry.source(name))


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


def _preset(cls, preset: str, what: str) -> Preset:
    if preset not in cls.presets:
        valid = ", ".join(cls.presets) or "(none)"
        raise UserError(f"{what} {cls.name!r} has no preset {preset!r}; valid: {valid}")
    return cls.presets[preset]


def _split_chain(parsed: variants.Label) -> tuple[list[variants.Part], variants.Part | None]:
    """The accelerators and the written base part: ``grokfast+egd@adamw`` -> ([grokfast,
    egd], adamw); a base alone, ``sgd[lr=0.2]``, -> ([], sgd[lr=0.2])."""
    parts = list(parsed.parts)
    if parsed.base is None and len(parts) == 1:
        if issubclass(registry.get_method(parts[0].name.partition(":")[0]), Optimizer):
            return [], parts[0]
    return parts, parsed.base


def _chosen_base(label: str, written: list[str], explicit: str | None, task: TaskSpec) -> str:
    """``@BASE`` if written, else the base an accelerator preset names, else the task's."""
    if explicit is not None:
        return explicit
    named = set()
    for item in written:
        name, _, preset = item.partition(":")
        if preset:
            named.add(_preset(registry.get_method(name), preset, "method").base_optimizer)
    named.discard(None)
    if len(named) > 1:
        raise UserError(f"the presets in {label!r} name different base optimizers ({', '.join(sorted(named))}); "
                        f"write one with @BASE")
    return named.pop() if named else _base_optimizer(task)


BASE = -1  # the routing target of a setting that belongs to the base optimizer


def _route_settings(label: str, accs: list[variants.Part], base_part: variants.Part | None,
                    base: str) -> dict[int, dict[str, Any]]:
    """Bracketed settings -> {accelerator index or BASE: {param: written value}} (see the
    module docstring for the rule); an unknown or doubly set name is a UserError."""
    routed: dict[int, dict[str, Any]] = {}
    written = [(i, p) for i, p in enumerate(accs)] + ([(BASE, base_part)] if base_part is not None else [])
    for index, part in written:
        own = part.name.partition(":")[0]
        for param, (value,) in part.settings:
            name = param.rpartition(".")[2]
            target = _target(label, index, own, param, base)
            if name in routed.setdefault(target, {}):
                raise UserError(f"method {label!r} sets {base if target == BASE else own}.{name} twice")
            routed[target][name] = value
    return routed


def _target(label: str, index: int, own: str, param: str, base: str) -> int:
    """Where ``param`` written on part ``index`` (named ``own``) goes: that part if it has
    the name, else the base; ``BASE.name`` / ``OWN.name`` choose explicitly."""
    prefix, dot, name = param.rpartition(".")
    if dot and prefix not in {base, own}:
        raise UserError(f"method {label!r}: {param!r} names {prefix!r}, which is neither {own!r} nor its base {base!r}")
    if index == BASE or prefix == base:
        return BASE
    if name in registry.get_method(own).defaults:
        return index
    if prefix != own and name in registry.get_method(base).defaults:
        return BASE
    raise UserError(f"method {label!r}: {name!r} is no parameter of {own} ({_names(own)}) "
                    f"nor of its base {base} ({_names(base)})")


def _names(method: str) -> str:
    return ", ".join(registry.get_method(method).defaults) or "none"


def _build(cls, values: dict[str, Any], label: str):
    """``cls(**values)``, a bad value's UserError prefixed with the label it came from."""
    try:
        return cls(**values)
    except UserError as exc:
        raise UserError(f"method {label!r}: {exc}") from None


def _resolve_transform(written: str, label: str, base: str, overrides: Overrides,
                       settings: dict[str, Any]):
    """One accelerator of a chain -> (its spec, the base-optimizer settings it pairs with)."""
    name, _, preset_name = written.partition(":")
    cls = registry.get_method(name)
    if not issubclass(cls, Transform):
        raise UserError(f"{name!r} in {label!r} is a base optimizer; write it after '@' (e.g. egd@{name})")
    values: dict[str, Any] = {}
    paired: dict[str, Any] = {}
    if preset_name:
        preset = _preset(cls, preset_name, "method")
        values.update(preset.params)
        paired.update(preset.optimizer.get(base, {}))
    values.update(overrides.get(name, {}))
    if preset_name:
        values.update(overrides.get(written, {}))
    values.update(settings)
    transform = _build(cls, values, label)
    paired.update(transform.optimizer_overrides)
    return ComponentSpec(name, transform.params, preset_name or None, registry.source(name)), paired


def _parse_chain(label: str, task: TaskSpec):
    """label -> (parsed, accelerator parts, written base part or None, base optimizer name)."""
    parsed = variants.parse_label(label)
    accs, base_part = _split_chain(parsed)
    if accs:
        explicit = base_part.name if base_part is not None else None
        base = _chosen_base(label, [p.name for p in accs], explicit, task)
    else:
        base = base_part.name
    if not issubclass(registry.get_method(base), Optimizer):
        raise UserError(f"{base!r} in {label!r} is not a base optimizer; bases: {', '.join(optimizer_names())}")
    return parsed, accs, base_part, base


def written_settings(label: str, task: TaskSpec) -> set[tuple[int | None, str]]:
    """The parameters a label's brackets set: (accelerator index, or None for the base
    optimizer, parameter name) each."""
    _, accs, base_part, base = _parse_chain(label, task)
    routed = _route_settings(label, accs, base_part, base)
    return {(None if target == BASE else target, name) for target, values in routed.items() for name in values}


def resolve_method(label: str, task: TaskSpec, overrides: Overrides) -> MethodSpec:
    """A method label on a task -> its fully resolved chain, labelled canonically (see the
    module docstring)."""
    parsed, accs, base_part, base = _parse_chain(label, task)
    routed = _route_settings(label, accs, base_part, base)
    opt_values = _optimizer_settings(task, base)
    transforms = []
    for index, part in enumerate(accs):
        spec, paired = _resolve_transform(part.name, label, base, overrides, routed.get(index, {}))
        transforms.append(spec)
        opt_values.update(paired)
    opt_values.update(overrides.get(base, {}))
    opt_values.update(routed.get(BASE, {}))
    optimizer = _build(registry.get_method(base), opt_values, label)
    canonical = _canonical_label(label, parsed, base, transforms, optimizer.params)
    parts = stack_parts(canonical) if len(accs) > 1 else []
    return MethodSpec(canonical, tuple(transforms), ComponentSpec(base, optimizer.params, None, registry.source(base)),
                      base, tuple(parts),
                      _base_optimizer(task))


def _canonical_label(label: str, parsed: variants.Label, base: str, transforms: list[ComponentSpec],
                     base_params: dict[str, Any]) -> str:
    """The label with every setting's resolved value in canonical form, each bracket's
    settings sorted, and ``BASE.`` kept only where the part has a parameter of that name."""
    def settings(index: int, part: variants.Part, own: dict[str, Any]) -> tuple:
        out = []
        for param, _ in part.settings:
            name = param.rpartition(".")[2]
            target = _target(label, index, part.name.partition(":")[0], param, base)
            shown = f"{base}.{name}" if target == BASE and index != BASE and name in own else name
            out.append((shown, (variants.format_value((base_params if target == BASE else own)[name]),)))
        return tuple(sorted(out))

    if not transforms:  # a base alone
        return variants.Part(parsed.parts[0].name, settings(BASE, parsed.parts[0], base_params)).text()
    parts = [variants.Part(p.name, settings(i, p, t.params)) for i, (p, t) in enumerate(zip(parsed.parts, transforms))]
    tail = variants.Part(parsed.base.name, settings(BASE, parsed.base, base_params)) if parsed.base is not None else None
    return variants.Label(tuple(parts), tail).text()


def stack_parts(label: str) -> list[str]:
    """``grokfast+egd@adamw`` -> ``["grokfast@adamw", "egd@adamw"]``: each part alone (with
    its own bracketed settings)."""
    parsed = variants.parse_label(label)
    return [variants.Label((part,), parsed.base).text() for part in parsed.parts]


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


def check_overrides_used(overrides: Overrides, tasks: list[TaskSpec], methods: list[MethodSpec]) -> None:
    """Every --set NAME must name something this run trains: a --set that would change
    nothing is refused rather than silently ignored."""
    used = {t.name for t in tasks} | {t.label for t in tasks}
    for m in methods:
        used.add(m.optimizer.name)
        for part in m.transforms:
            used.update({part.name, f"{part.name}:{part.preset}" if part.preset else part.name})
    for name, values in overrides.items():
        if name not in used:
            param, value = next(iter(values.items()))
            raise UserError(f"--set {name}.{param}={value}: {name!r} is not in this run, so it would change "
                            f"nothing (this run's tasks and methods: {', '.join(sorted(used))})")


def trial_identity(task: TaskSpec, method: MethodSpec, seed: int, after_solve: int) -> dict[str, Any]:
    """Everything that determines a trial's outcome; its hash is the resume key. A tuned
    method adds ``tuned`` (its configuration, index and budget: content, not the folder
    it was read from), a tuned run's control its ``control`` role; other identities are
    unchanged, so their keys are too."""
    identity = {
        "task": task.name,
        "preset": task.preset,
        "task_params": task.params,
        "method": method.label,
        "base": method.base,
        "parts": list(method.parts),
        "baseline": method.baseline,
        "transforms": [t.identity() for t in method.transforms],
        "optimizer": method.optimizer.identity(),
        "seed": seed,
        "after_solve": after_solve,
        "grokbench_version": __version__,
    }
    if method.tuned:
        identity["tuned"] = method.tuned
    if method.control:
        identity["control"] = method.control
    if task.source != "builtin":  # a plugin's trials never share a key with a built-in's
        identity["task_source"] = task.source
    return identity


