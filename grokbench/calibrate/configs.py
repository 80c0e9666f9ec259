"""The records of a results folder -> the configurations whose step cost is measured.

A configuration is one (task configuration, method configuration, device, batch layout):
every record with the same ``grokbench.record.calibration_key`` shares one step cost. Its
task and method are rebuilt from what the records resolved at plan time (the identity's
task parameters and chain), never re-resolved from names, so a calibration measures
exactly what was trained.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..record import Record, Status, batch_layout, calibration_key
from ..spec import ComponentSpec, MethodSpec, TaskSpec

# Records that carry a measurement: final statuses and timeouts (errors do not).
MEASURED = frozenset({Status.SOLVED, Status.UNSOLVED, Status.DIVERGED, Status.TIMEOUT})


@dataclass(frozen=True)
class CalibrationConfig:
    """One configuration to calibrate, with the seeds to build its batch from (``layout``
    of them: the records' own seeds first)."""

    key: str
    task_label: str
    method_label: str
    task: TaskSpec
    method: MethodSpec
    device: str
    layout: int
    seeds: tuple[int, ...]


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


def _seeds_for(records: list[Record], layout: int) -> tuple[int, ...]:
    """``layout`` seeds: the records' own (sorted), then the next unused ones."""
    seeds = sorted({r.seed for r in records})[:layout]
    extra = max(seeds, default=-1) + 1
    while len(seeds) < layout:
        seeds.append(extra)
        extra += 1
    return tuple(seeds)


def configs_of(records: list[Record]) -> tuple[list[CalibrationConfig], list[dict[str, str]]]:
    """(the configurations of the measured records, in first-seen order; the ones that
    cannot be rebuilt, each as {"task", "method", "reason"})."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.status in MEASURED:
            device, layout = record.environment.get("device") or "cpu", batch_layout(record)
            groups.setdefault(calibration_key(record.identity, device, layout), []).append(record)
    configs, skipped = [], []
    for key, group in groups.items():
        first = group[0]
        try:
            task, method = task_spec(first.identity), method_spec(first.identity)
        except (KeyError, TypeError) as exc:
            skipped.append({"task": first.task_label, "method": first.identity["method"],
                            "reason": f"the records do not hold the resolved chain ({exc})"})
            continue
        layout = batch_layout(first)
        configs.append(CalibrationConfig(key, first.task_label, first.identity["method"], task, method,
                                         first.environment.get("device") or "cpu", layout,
                                         _seeds_for(group, layout)))
    return configs, skipped


def records_threads(records: list[Record]) -> int | None:
    """The torch thread count most of the measured records ran with (None: they do not say)."""
    counts = Counter(r.environment.get("threads") for r in records if r.status in MEASURED)
    counts.pop(None, None)
    return int(counts.most_common(1)[0][0]) if counts else None
