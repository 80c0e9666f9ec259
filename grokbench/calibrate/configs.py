"""The records of a results folder -> the configurations whose step cost is measured.

A configuration is one (task configuration, method configuration, device, batch layout):
every record with the same ``grokbench.record.calibration_key`` shares one step cost. Its
task and method are rebuilt from what the records resolved at plan time (the identity's
task parameters and chain), never re-resolved from names, so a calibration measures
exactly what was trained.

Step structures. Configurations that differ only in their base optimizer's per-slot
scalars (``slot_settings``: lr, weight decay, betas; ``grokbench.plan.sweep_signature``)
and share a task configuration, device, batch layout and configurations per batch have one
step structure: they step the same tensors of the same shapes through the same kernels, in
the same number and order, and the scalars change only the values those kernels compute
with (the per-slot scalars are themselves tensors of the batch, whatever their values).
So one structure's step cost is every member's: it is measured once, on a batch built as
those records trained it (their configurations side by side when they shared a batch), and
written for each member's key. What this leaves out: values that change the work itself,
which on a CPU are denormal floats and non-finite losses (a diverged seed is zeroed and its
gradients sanitized, as in training, whichever member the structure stepped).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..plan import sweep_signature
from ..record import Record, Status, batch_layout, calibration_key
from ..spec import ComponentSpec, MethodSpec, TaskSpec

# Records that carry a measurement: final statuses and timeouts (errors do not).
MEASURED = frozenset({Status.SOLVED, Status.UNSOLVED, Status.DIVERGED, Status.TIMEOUT})


@dataclass(frozen=True)
class CalibrationConfig:
    """One step structure to calibrate: its first configuration (``key``, ``method``),
    ``variants`` trained beside it in one batch (configurations differing from it only in
    base-optimizer scalars; empty when its records trained one configuration per batch),
    the seeds of the batch (``layout`` trials = seeds x (1 + variants): the records' own
    seeds first), and ``members``: (calibration key, method label) of every configuration
    the measured cost applies to, its own first."""

    key: str
    task_label: str
    method_label: str
    task: TaskSpec
    method: MethodSpec
    device: str
    layout: int
    seeds: tuple[int, ...]
    variants: tuple[MethodSpec, ...] = ()
    members: tuple[tuple[str, str], ...] = ()


def task_spec(identity: dict[str, Any]) -> TaskSpec:
    """The task exactly as a record resolved it."""
    return TaskSpec(identity["task"], identity.get("preset"), dict(identity.get("task_params") or {}))


def _component(data: dict[str, Any]) -> ComponentSpec:
    return ComponentSpec(data["name"], dict(data.get("params") or {}), data.get("preset"))


def method_spec(identity: dict[str, Any]) -> MethodSpec:
    """The method's chain exactly as a record resolved it (KeyError: the record has none)."""
    optimizer = _component(identity["optimizer"])
    transforms = tuple(_component(t) for t in identity.get("transforms") or [])
    return MethodSpec(identity["method"], transforms, optimizer, identity.get("base") or optimizer.name,
                      tuple(identity.get("parts") or ()), identity.get("baseline") or "")


def _seeds_for(records: list[Record], n: int) -> tuple[int, ...]:
    """``n`` seeds: the records' own (sorted), then the next unused ones."""
    seeds = sorted({r.seed for r in records})[:n]
    extra = max(seeds, default=-1) + 1
    while len(seeds) < n:
        seeds.append(extra)
        extra += 1
    return tuple(seeds)


def _configs_per_batch(record: Record) -> int:
    return max(1, int(record.environment.get("batched_configs") or 1))


def _structure(record: Record, method: MethodSpec, key: str) -> str:
    """What configurations sharing one step cost have in common (see the module docstring);
    the configuration's own key when its optimizer is not loaded or declares no scalars."""
    try:
        signature = sweep_signature(method)
    except Exception:  # a plugin's optimizer that is not loaded: measured (or skipped) alone
        signature = None
    if signature is None:
        return key
    identity = record.identity
    return repr((identity.get("task"), identity.get("preset"), identity.get("task_params"), signature,
                 record.environment.get("device") or "cpu", batch_layout(record), _configs_per_batch(record)))


def _structure_config(members: list[tuple[str, list[Record], MethodSpec]]) -> CalibrationConfig:
    """One structure's configuration: its first member's, with as many variants beside it as
    its records trained together (members' chains, repeated when the folder holds fewer)."""
    key, group, method = members[0]
    first = group[0]
    layout, n_configs = batch_layout(first), _configs_per_batch(first)
    others = [m for _, _, m in members[1:]] or [method]
    variants = tuple(others[i % len(others)] for i in range(n_configs - 1))
    records = [r for _, g, _ in members for r in g]
    return CalibrationConfig(key, first.task_label, first.identity["method"], task_spec(first.identity), method,
                             first.environment.get("device") or "cpu", layout,
                             _seeds_for(records, max(1, layout // n_configs)), variants,
                             tuple((k, g[0].identity["method"]) for k, g, _ in members))


def configs_of(records: list[Record]) -> tuple[list[CalibrationConfig], list[dict[str, str]]]:
    """(the step structures of the measured records, in first-seen order; the
    configurations that cannot be rebuilt, each as {"task", "method", "reason"})."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.status in MEASURED:
            device, layout = record.environment.get("device") or "cpu", batch_layout(record)
            groups.setdefault(calibration_key(record.identity, device, layout), []).append(record)
    structures: dict[str, list[tuple[str, list[Record], MethodSpec]]] = {}
    skipped = []
    for key, group in groups.items():
        first = group[0]
        try:
            method = method_spec(first.identity)
            task_spec(first.identity)
        except (KeyError, TypeError) as exc:
            skipped.append({"task": first.task_label, "method": first.identity["method"],
                            "reason": f"the records do not hold the resolved chain ({exc})"})
            continue
        structures.setdefault(_structure(first, method, key), []).append((key, group, method))
    return [_structure_config(members) for members in structures.values()], skipped


def records_threads(records: list[Record]) -> int | None:
    """The torch thread count most of the measured records ran with (None: they do not say)."""
    counts = Counter(r.environment.get("threads") for r in records if r.status in MEASURED)
    counts.pop(None, None)
    return int(counts.most_common(1)[0][0]) if counts else None
