"""The study: the complete, resolved description of one run request, and DIR/study.toml.

A ``Study`` is built from the resolved ``Plan`` (``from_plan``) and rebuilds it exactly
(``Study.plan``): every task with its preset and every setting (the stability window's
``sustain_evals``, ``sustain_frac``, ``hold_band`` and ``tail_frac`` among them: they are
task settings), every method with its label, every resolved setting of its chain and base
optimizer, its baseline, its tuned configuration and control role, and why it is in the
run (``origin``: named on the command line, the task's baseline added, a tuned
accelerator's control); the seeds of each task; after_solve; the device kind; plugin
files. Besides the plan: the compare mode, whether baselines and controls were added,
the tuning source and what the request said (its --tasks, --methods, --seeds, --set).

Nothing is looked up again when a study is read: no tuning folder, no defaults, so a
study reruns the same trials (the same identity keys) after defaults change.

A results folder's ``study.toml`` holds one ``[[part]]`` per distinct run request that
wrote into it, in the order they first ran; a request equal to a part already there is
not added again, so the file always describes every trial the folder's runs asked for.
A part may also be written by hand as a request alone (``StudyRequest``: what to run and
the settings no flag sets, such as ``after_solve`` or ``baseline = false``); running it
resolves it and the folder's file then holds the resolved part. Format and hand editing:
docs/study.md. Reading checks every field (``grokbench.schema``):
an unknown field or a value of the wrong type is one UserError line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import UserError
from .plan import Plan
from .schema import (
    Field,
    Schema,
    an_object,
    boolean,
    check,
    check_each,
    integer,
    list_of,
    one_of,
    text,
)
from .spec import ComponentSpec, MethodSpec, TaskSpec, expand_methods

STUDY_FILE = "study.toml"
FORMAT = "grokbench-study/1"
KINDS = ("run", "tune")
COMPARE_MODES = ("baseline", "all-pairs")
NAMED, ADDED_BASELINE, CONTROL = "named", "baseline", "control"
ORIGINS = (NAMED, ADDED_BASELINE, CONTROL)


@dataclass(frozen=True)
class Request:
    """What the command asked for, as typed (provenance; a rerun does not resolve it)."""

    tasks: str = ""
    methods: str = ""
    seeds: str = ""
    overrides: tuple[str, ...] = ()
    tuned: str | None = None


@dataclass(frozen=True)
class StudyRequest:
    """A part written by hand with only its ``[part.request]`` and settings: resolved (as
    ``grokbench run`` resolves flags) when it runs, and replaced in the results folder's
    study.toml by the Study it resolved to. The settings no flag sets live here."""

    request: Request
    compare: str = "baseline"
    baseline: bool = True
    controls: bool = True
    after_solve: int = 0
    max_trials: int | None = None
    device: str | None = None
    plugin_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class TunedSource:
    """The tuning folder a ``--tuned`` run applied (as typed) and its budget; each tuned
    method carries the configuration it selected (``MethodSpec.tuned``)."""

    folder: str
    trials: int
    tune_seeds: tuple[int, ...]


@dataclass(frozen=True)
class Study:
    """One run request, resolved: the plan's fields (``pairs`` in plan order, each with its
    ``origins`` entry), and the settings that shape the comparisons but not the trials.
    ``device``: the device kind the plan resolved to (cpu, cuda, cuda:N)."""

    pairs: tuple[tuple[TaskSpec, MethodSpec], ...]
    origins: tuple[str, ...]
    seeds: tuple[int, ...]
    after_solve: int
    device: str
    plugin_files: tuple[str, ...] = ()
    task_seeds: tuple[tuple[str, tuple[int, ...]], ...] = ()
    compare: str = "baseline"
    baseline: bool = True
    controls: bool = True
    tuned: TunedSource | None = None
    request: Request = field(default_factory=Request)
    kind: str = "run"
    grokbench_version: str = __version__

    @property
    def plan(self) -> Plan:
        """The plan this study describes: the same pairs, seeds and keys."""
        return Plan(self.pairs, self.seeds, self.after_solve, self.device, self.plugin_files, self.task_seeds)

    def named_labels(self) -> set[str]:
        """The method labels the request named (not the added baselines or controls)."""
        return {m.label for (_, m), origin in zip(self.pairs, self.origins) if origin == NAMED}


def origins_of(plan: Plan, methods: str) -> tuple[str, ...]:
    """Why each of ``plan``'s pairs is there, given the ``--methods`` text it was built from."""
    named = set(expand_methods(methods))
    out = []
    for _, method in plan.pairs:
        if method.control:
            out.append(CONTROL)
        elif method.label == method.baseline and method.label not in named:
            out.append(ADDED_BASELINE)
        else:
            out.append(NAMED)
    return tuple(out)


def from_plan(plan: Plan, request: Request, *, compare: str = "baseline", baseline: bool = True,
              controls: bool = True, kind: str = "run") -> Study:
    """The study of a resolved ``plan`` made from ``request`` (tuned, with controls, when
    the plan's methods say so)."""
    if compare not in COMPARE_MODES:
        raise UserError(f"--compare must be one of {', '.join(COMPARE_MODES)}; got {compare!r}")
    tuned = [m for _, m in plan.pairs if m.tuned]
    source = None
    if tuned:
        first = tuned[0]
        source = TunedSource(first.tuned_from or "", int(first.tuned["trials"]), tuple(first.tuned["tune_seeds"]))
    return Study(plan.pairs, origins_of(plan, request.methods), plan.seeds, plan.after_solve, plan.device,
                 plan.plugin_files, plan.task_seeds, compare, baseline, controls and bool(tuned), source,
                 request, kind)


# ------------------------------------------------------------------ values <-> TOML data

_TUPLE, _NONE = "__tuple__", "__none__"


def _encode(value: Any) -> Any:
    """A setting as TOML data: tuples and None (which TOML lacks) as tagged inline tables."""
    if value is None:
        return {_NONE: True}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if any(str(k).startswith("__") for k in value):
            raise UserError(f"cannot write the setting {value!r}: its names begin with '__'")
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (bool, int, float, str)):
        return value
    raise UserError(f"cannot write the setting {value!r} ({type(value).__name__}) to {STUDY_FILE}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_NONE}:
            return None
        if set(value) == {_TUPLE} and isinstance(value[_TUPLE], list):
            return tuple(_decode(v) for v in value[_TUPLE])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _optional(out: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        out[name] = value


def _component(spec: ComponentSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name}
    _optional(out, "preset", spec.preset)
    out["source"] = spec.source
    out["params"] = _encode(spec.params)
    return out


def _method(task: TaskSpec, method: MethodSpec, origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {"task": task.label, "label": method.label, "origin": origin, "base": method.base,
                           "parts": list(method.parts), "baseline": method.baseline}
    _optional(out, "control", method.control)
    _optional(out, "tuned_from", method.tuned_from)
    if method.tuned is not None:
        out["tuned"] = _encode(method.tuned)
    out["optimizer"] = _component(method.optimizer)
    if method.transforms:
        out["transform"] = [_component(t) for t in method.transforms]
    return out


def to_data(study: Study) -> dict[str, Any]:
    """The study as one ``[[part]]`` table of study.toml."""
    tasks: dict[str, TaskSpec] = {}
    for task, _ in study.pairs:
        tasks.setdefault(task.label, task)
    own_seeds = dict(study.task_seeds)
    out: dict[str, Any] = {"kind": study.kind, "grokbench_version": study.grokbench_version,
                           "device": study.device, "after_solve": study.after_solve, "seeds": list(study.seeds),
                           "compare": study.compare, "baseline": study.baseline, "controls": study.controls,
                           "plugin_files": list(study.plugin_files)}
    r = study.request
    out["request"] = {"tasks": r.tasks, "methods": r.methods, "seeds": r.seeds, "set": list(r.overrides)}
    _optional(out["request"], "tuned", r.tuned)
    if study.tuned is not None:
        out["tuned"] = {"folder": study.tuned.folder, "trials": study.tuned.trials,
                        "tune_seeds": list(study.tuned.tune_seeds)}
    out["task"] = []
    for label, task in tasks.items():
        entry: dict[str, Any] = {"name": task.name}
        _optional(entry, "preset", task.preset)
        entry["source"] = task.source
        if label in own_seeds:
            entry["seeds"] = list(own_seeds[label])
        entry["params"] = _encode(task.params)
        out["task"].append(entry)
    out["method"] = [_method(t, m, o) for (t, m), o in zip(study.pairs, study.origins)]
    return out


def request_data(part: StudyRequest) -> dict[str, Any]:
    """A request part as its ``[[part]]`` table (the fields it was written with, defaults
    filled in)."""
    r = part.request
    request = {"tasks": r.tasks, "methods": r.methods, "seeds": r.seeds, "set": list(r.overrides)}
    _optional(request, "tuned", r.tuned)
    out: dict[str, Any] = {"kind": "run", "compare": part.compare, "baseline": part.baseline,
                           "controls": part.controls, "after_solve": part.after_solve}
    _optional(out, "max_trials", part.max_trials)
    _optional(out, "device", part.device)
    return {**out, "plugin_files": list(part.plugin_files), "request": request}


def _part_data(part: Study | StudyRequest) -> dict[str, Any]:
    return to_data(part) if isinstance(part, Study) else request_data(part)


# --------------------------------------------------------------------- reading (checked)

def _seed_list(value: Any) -> str | None:
    return list_of(integer(lo=0))(value)


_strings = list_of(text)
_settings = an_object
_opt_text = Field(text, required=False)

PART_FIELDS: Schema = {
    "kind": Field(one_of(*KINDS)), "grokbench_version": Field(text), "device": Field(text),
    "after_solve": Field(integer(lo=0)), "seeds": Field(_seed_list), "compare": Field(one_of(*COMPARE_MODES)),
    "baseline": Field(boolean), "controls": Field(boolean), "plugin_files": Field(_strings),
    "request": Field(an_object), "tuned": Field(an_object, required=False), "task": Field(list_of(an_object, 1)),
    "method": Field(list_of(an_object, 1)),
}
REQUEST_FIELDS: Schema = {"tasks": Field(text), "methods": Field(text), "seeds": Field(text), "set": Field(_strings),
                          "tuned": _opt_text}
# A part to resolve: its request, and settings that default as `grokbench run` does.
REQUEST_PART_FIELDS: Schema = {
    "kind": Field(one_of("run"), required=False), "request": Field(an_object),
    "compare": Field(one_of(*COMPARE_MODES), required=False), "baseline": Field(boolean, required=False),
    "controls": Field(boolean, required=False), "after_solve": Field(integer(lo=0), required=False),
    "max_trials": Field(integer(lo=1), required=False), "device": _opt_text,
    "plugin_files": Field(_strings, required=False),
}
TUNED_FIELDS: Schema = {"folder": Field(text), "trials": Field(integer(lo=1)), "tune_seeds": Field(_seed_list)}
TASK_FIELDS: Schema = {"name": Field(text), "preset": _opt_text, "source": Field(text),
                       "seeds": Field(_seed_list, required=False), "params": Field(_settings)}
COMPONENT_FIELDS: Schema = {"name": Field(text), "preset": _opt_text, "source": Field(text),
                            "params": Field(_settings)}
METHOD_FIELDS: Schema = {
    "task": Field(text), "label": Field(text), "origin": Field(one_of(*ORIGINS)), "base": Field(text),
    "parts": Field(_strings), "baseline": Field(text), "control": _opt_text, "tuned_from": _opt_text,
    "tuned": Field(an_object, required=False), "optimizer": Field(an_object),
    "transform": Field(list_of(an_object), required=False),
}
FILE_FIELDS: Schema = {"format": Field(one_of(FORMAT)), "part": Field(list_of(an_object, 1))}


def _read_component(data: Any, where: str, path: str) -> ComponentSpec:
    check(data, COMPONENT_FIELDS, where, path)
    return ComponentSpec(data["name"], _decode(data["params"]), data.get("preset"), data["source"])


def _read_method(data: dict[str, Any], where: str, path: str) -> MethodSpec:
    optimizer = _read_component(data["optimizer"], where, f"{path}.optimizer")
    transforms = tuple(_read_component(t, where, f"{path}.transform[{i}]")
                       for i, t in enumerate(data.get("transform", [])))
    tuned = _decode(data["tuned"]) if "tuned" in data else None
    return MethodSpec(data["label"], transforms, optimizer, data["base"], tuple(data["parts"]), data["baseline"],
                      tuned, data.get("tuned_from"), data.get("control"))


def _request(data: Any, where: str, path: str) -> Request:
    r = check(data, REQUEST_FIELDS, where, path)
    return Request(r["tasks"], r["methods"], r["seeds"], tuple(r["set"]), r.get("tuned"))


def _request_part(data: dict[str, Any], where: str, path: str) -> StudyRequest:
    check(data, REQUEST_PART_FIELDS, where, path)
    request = _request(data["request"], where, f"{path}.request")
    return StudyRequest(request, data.get("compare", "baseline"), data.get("baseline", True),
                        data.get("controls", True), data.get("after_solve", 0), data.get("max_trials"),
                        data.get("device"), tuple(data.get("plugin_files", ())))


def from_data(data: Any, where: str, path: str = "part[0]") -> Study | StudyRequest:
    """One ``[[part]]`` table -> its Study (or, with no ``task`` and ``method`` tables, the
    StudyRequest to resolve); every field checked (one UserError line)."""
    if isinstance(data, dict) and "task" not in data and "method" not in data:
        return _request_part(data, where, path)
    check(data, PART_FIELDS, where, path)
    request = _request(data["request"], where, f"{path}.request")
    tasks: dict[str, TaskSpec] = {}
    task_seeds = []
    for i, entry in enumerate(check_each(data["task"], TASK_FIELDS, where, f"{path}.task")):
        task = TaskSpec(entry["name"], entry.get("preset"), _decode(entry["params"]), entry["source"])
        if task.label in tasks:
            raise UserError(f"{where}: {path}.task[{i}] is a second entry for {task.label}")
        tasks[task.label] = task
        if "seeds" in entry:
            task_seeds.append((task.label, tuple(entry["seeds"])))
    pairs, origins = [], []
    for i, entry in enumerate(check_each(data["method"], METHOD_FIELDS, where, f"{path}.method")):
        if entry["task"] not in tasks:
            raise UserError(f"{where}: {path}.method[{i}].task {entry['task']!r} is no task of this part "
                            f"({', '.join(tasks)})")
        pairs.append((tasks[entry["task"]], _read_method(entry, where, f"{path}.method[{i}]")))
        origins.append(entry["origin"])
    source = None
    if "tuned" in data:
        t = check(data["tuned"], TUNED_FIELDS, where, f"{path}.tuned")
        source = TunedSource(t["folder"], t["trials"], tuple(t["tune_seeds"]))
    if not data["seeds"] and len(task_seeds) != len(tasks):
        raise UserError(f"{where}: {path}.seeds is empty, so every task needs its own seeds")
    return Study(tuple(pairs), tuple(origins), tuple(data["seeds"]), data["after_solve"], data["device"],
                 tuple(data["plugin_files"]), tuple(task_seeds), data["compare"], data["baseline"], data["controls"],
                 source, request, data["kind"], data["grokbench_version"])


def dumps(studies: list[Study | StudyRequest] | tuple[Study | StudyRequest, ...]) -> str:
    """study.toml's text for these parts."""
    from .tomltext import dumps as toml_dumps

    return toml_dumps({"format": FORMAT, "part": [_part_data(s) for s in studies]})


def loads(text_: str, where: str) -> list[Study | StudyRequest]:
    """study.toml's text -> its parts, every field checked."""
    from .tomltext import loads as toml_loads

    data = check(toml_loads(text_, where), FILE_FIELDS, where)
    return [from_data(part, where, f"part[{i}]") for i, part in enumerate(data["part"])]


def read(path: str | Path) -> list[Study | StudyRequest]:
    """The parts of a study file; a missing or unreadable one is a UserError."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such study file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the study file {path}: {exc}") from None
    return loads(content, str(path))


def read_folder(folder: str | Path) -> list[Study] | None:
    """The parts of ``folder``'s study.toml; None when it has none (results made before
    study files, or by hand)."""
    path = Path(folder) / STUDY_FILE
    return [p for p in read(path) if isinstance(p, Study)] if path.is_file() else None


def record(folder: str | Path, study: Study, resolves: StudyRequest | None = None) -> Path:
    """Add ``study`` to ``folder``'s study.toml as a new part unless an equal part is there
    (compared as written, so a part read back from the file matches); ``resolves``: the
    request part it was resolved from, which leaves the file. Returns the path."""
    from .store import atomic_write_text

    path = Path(folder) / STUDY_FILE
    parts = read(path) if path.is_file() else []
    if resolves is not None:
        parts = [p for p in parts if p != resolves]
    mine = to_data(study)
    if not any(isinstance(p, Study) and to_data(p) == mine for p in parts):
        parts.append(study)
    elif resolves is None:
        return path
    atomic_write_text(path, dumps(parts))
    return path
