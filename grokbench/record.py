"""The trial record: one per trial, the only thing that crosses from training to analysis.

A record holds the trial's identity (task, method label and chain, seed, budget-relevant
settings; its hash ``key`` is the resume key), where its settings came from without
entering the identity (``provenance``: ``tuned_from``, the tuning folder as typed), where
and how it ran (``environment``), its
``status``, summary ``metrics``, ``budget``, the ``curve``, and ``timing`` (what the
measured seconds depend on: clock, steps timed, unshared period seconds and CPU seconds,
batch width, load average, peak memory; see ``grokbench.trial``). ``Record.to_json`` /
``Record.from_json`` round-trip it; ``from_json`` refuses anything that is not a
grokbench record (``BadRecord``) and moves the tuning folder of older tuned records to
``provenance`` (``_move_tuned_folder``).
``rows`` turns records into the flat rows of a DataFrame (``store.load_frame``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from . import __version__


class Status(str, Enum):
    """How a trial ended."""

    SOLVED = "solved"      # test accuracy reached the target
    UNSOLVED = "unsolved"  # the budget ran out first (censored at the budget)
    DIVERGED = "diverged"  # a non-finite training loss
    ERROR = "error"        # an exception in a plugin or a lost worker (retried on resume)
    TIMEOUT = "timeout"    # the trial timeout ran out (final for its limit)
    CAPPED = "capped"      # tuning only: stopped once it could no longer beat or tie the incumbent
    #                        (grokbench.capping); censored where it stopped, never solved

    __str__ = str.__str__
    __format__ = str.__format__


FINAL_STATUSES = frozenset({Status.SOLVED, Status.UNSOLVED, Status.DIVERGED, Status.CAPPED})
MAX_INT = 2**63 - 1  # seeds and counts are 64-bit integers (what numpy, pandas and torch hold)
CURVE_COLUMNS = ("step", "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "train_time_s")


class BadRecord(ValueError):
    """A file in records/ that is not a readable grokbench record; the message says why."""


@dataclass
class Record:
    """One trial. ``identity`` is what determines the outcome; the rest is what happened."""

    key: str
    identity: dict[str, Any]
    status: str
    environment: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_detail: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    curve: dict[str, list] = field(default_factory=dict)
    eval_time_s: float = 0.0
    started_at: str = ""
    finished_at: str = ""
    grokbench_version: str = __version__
    trial_timeout_s: float | None = None
    timing: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    # where it was read from, relative to records/: its file's name, or ``packed.jsonl.xz#<key>``
    # for a packed record (grokbench.packfile); None when not read from disk; not stored
    file: str | None = field(default=None, compare=False)

    @property
    def seed(self) -> int:
        return int(self.identity["seed"])

    @property
    def task_label(self) -> str:
        preset = self.identity.get("preset")
        return f"{self.identity['task']}:{preset}" if preset else str(self.identity["task"])

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("file")
        out["status"] = str(self.status)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """Validate and load; raises BadRecord naming the first problem."""
        if not isinstance(data, dict):
            raise BadRecord(f"not a JSON object but {type(data).__name__}")
        _check_fields(data)
        known = {f for f in cls.__dataclass_fields__}
        record = cls(**{k: v for k, v in data.items() if k in known})
        _move_tuned_folder(record)
        return record


def _check_fields(data: dict[str, Any]) -> None:
    """The fields everything downstream relies on, with their types."""
    if not isinstance(data.get("key"), str):
        raise BadRecord("no string 'key'")
    ident = data.get("identity")
    if not isinstance(ident, dict):
        raise BadRecord("no 'identity' object")
    for name, kind in (("task", str), ("method", str), ("seed", int)):
        if not isinstance(ident.get(name), kind) or isinstance(ident.get(name), bool):
            raise BadRecord(f"identity.{name} is missing or not a {kind.__name__}")
    if not 0 <= ident["seed"] <= MAX_INT:
        raise BadRecord(f"identity.seed is not in 0..{MAX_INT} (2**63 - 1)")
    for name, kinds in (("preset", (str, type(None))), ("optimizer", dict), ("transforms", list),
                        ("task_params", dict), ("parts", list), ("base", (str, type(None))),
                        ("baseline", (str, type(None))), ("control", (str, type(None)))):
        if name in ident and not isinstance(ident[name], kinds):
            raise BadRecord(f"identity.{name} has the wrong type")
    parts = [ident.get("optimizer") or {"name": ""}, *(ident.get("transforms") or [])]
    if not all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in parts):
        raise BadRecord("a method part in the identity is not an object with a name")
    _check_tuned(ident.get("tuned"))
    if data.get("status") not in {s.value for s in Status}:
        raise BadRecord(f"unknown status {data.get('status')!r}")
    for name in ("metrics", "budget", "curve", "environment", "timing", "provenance"):
        if not isinstance(data.get(name, {}), dict):
            raise BadRecord(f"'{name}' is not an object")
    _check_scalars(data, ident)
    _check_curve(data.get("curve") or {})
    for section in ("metrics", "budget"):
        for name, value in (data.get(section) or {}).items():
            if section == "metrics" and name in FLAG_METRICS:
                if value is not None and not isinstance(value, bool):
                    raise BadRecord(f"metrics.{name} is not true, false or null")
            elif value is not None and not _is_number(value):
                raise BadRecord(f"{section}.{name} is not a number")
    clash = set(data.get("budget") or {}) & set(_ROW_FIELDS)
    if clash:
        raise BadRecord(f"budget fields {sorted(clash)} would overwrite the row's")


def _check_curve(curve: dict[str, Any]) -> None:
    lengths = set()
    for name, values in curve.items():
        if not isinstance(values, list) or not all(v is None or _is_number(v) for v in values):
            raise BadRecord(f"curve.{name} is not a list of numbers")
        lengths.add(len(values))
    if len(lengths) > 1:
        raise BadRecord("curve columns have different lengths")


# Scalar fields of a record and of its identity that readers rely on, each with its type
# (and, for the record's own, whether null is allowed); an absent one is filled by default.
# A record breaking one is skipped, naming the field.
_SCALARS: tuple[tuple[str, tuple[type, ...], bool], ...] = (
    ("error", (str,), True), ("error_detail", (str,), True), ("started_at", (str,), False),
    ("finished_at", (str,), False), ("grokbench_version", (str,), False),
)
_NUMBERS = (("eval_time_s", False), ("trial_timeout_s", True))
_COUNTS = (("environment", "batched_seeds"), ("environment", "batched_configs"))
_IDENTITY_SCALARS = (("after_solve", (int,)), ("grokbench_version", (str,)))


def _check_scalars(data: dict[str, Any], ident: dict[str, Any]) -> None:
    for name, kinds, nullable in _SCALARS:
        value = data.get(name)
        if name in data and not (isinstance(value, kinds) or (nullable and value is None)):
            raise BadRecord(f"'{name}' is not a {kinds[0].__name__}")
    for name, nullable in _NUMBERS:
        value = data.get(name)
        if name in data and not (_is_number(value) or (nullable and value is None)):
            raise BadRecord(f"'{name}' is not a number")
    for section, name in _COUNTS:
        value = (data.get(section) or {}).get(name)
        if value is not None and not (_is_number(value) and isinstance(value, int) and value >= 1):
            raise BadRecord(f"{section}.{name} is not a count (an integer >= 1)")
    for name, kinds in _IDENTITY_SCALARS:
        if name in ident and (not isinstance(ident[name], kinds) or isinstance(ident[name], bool)):
            raise BadRecord(f"identity.{name} is not a {kinds[0].__name__}")
    written_by = data.get("grokbench_version")
    if written_by and "grokbench_version" in ident and ident["grokbench_version"] != written_by:
        raise BadRecord(f"grokbench_version {written_by!r} disagrees with identity.grokbench_version "
                        f"{ident['grokbench_version']!r}")


# What the readers of a tuned record use (``grokbench.tuning.tuned``), with its type; and
# fields that may be absent but, when present, have a type.
_TUNED_FIELDS = (("config", str), ("index", int), ("trials", int), ("tune_seeds", list))
_TUNED_OPTIONAL = (("space", dict), ("folder", str))


def _check_tuned(tuned: Any) -> None:
    if tuned is None:
        return
    if not isinstance(tuned, dict):
        raise BadRecord("identity.tuned is not an object")
    for name, kind in _TUNED_FIELDS:
        if not isinstance(tuned.get(name), kind) or isinstance(tuned.get(name), bool):
            raise BadRecord(f"identity.tuned.{name} is missing or not a {kind.__name__}")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in tuned["tune_seeds"]):
        raise BadRecord("identity.tuned.tune_seeds is not a list of integers")
    for name, kind in _TUNED_OPTIONAL:
        if name in tuned and not isinstance(tuned[name], kind):
            raise BadRecord(f"identity.tuned.{name} is not a {kind.__name__}")


def _is_number(value: Any) -> bool:
    """An int within 64 bits or a float (NaN and infinities included: readers treat them as
    missing); not a bool, and not an integer too large for a DataFrame column."""
    if isinstance(value, bool):
        return False
    return isinstance(value, float) or (isinstance(value, int) and -MAX_INT - 1 <= value <= MAX_INT)


def _move_tuned_folder(record: Record) -> None:
    """The migration rule for tuned records written while the tuning folder, as typed, was
    part of the identity (``identity.tuned.folder``): the folder moves to
    ``provenance.tuned_from`` and the key becomes the hash of the identity without it, the
    key a run of the same selection from any spelling or copy of that folder computes.

    Needed by the committed grokbench 0.1 records of ``leaderboard/tuned`` (440 of them
    carry ``identity.tuned.folder``); it goes when that page is regenerated."""
    tuned = record.identity.get("tuned")
    if not isinstance(tuned, dict) or "folder" not in tuned:
        return
    tuned = dict(tuned)
    folder = tuned.pop("folder")
    record.provenance = {"tuned_from": folder, **record.provenance}
    record.identity["tuned"] = tuned
    record.key = identity_key(record.identity)


def identity_key(identity: dict[str, Any]) -> str:
    """A trial's resume key: the first 20 hex digits of the SHA-256 of its identity as
    canonical JSON (sorted keys)."""
    canonical = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


# ------------------------------------------------------------------------------- rows

SUMMARY_COLUMNS = [
    "task", "preset", "method", "seed", "status",
    "fit_step", "t90_step", "t95_step", "first_cross_step", "solve_step",
    "fit_epoch", "t90_epoch", "t95_epoch", "first_cross_epoch", "solve_epoch",
    "plateau_steps", "plateau_epochs", "relapses", "stable_window_evals", "unstable",
    "train_time_s", "t90_time_s", "t95_time_s", "time_to_target_s",
]
METRIC_COLUMNS = SUMMARY_COLUMNS[5:]
FLAG_METRICS = frozenset({"unstable"})  # true / false / null (not watched); every other metric is a number


# Columns of a row that come from the identity and status: no budget field may replace them.
_ROW_FIELDS = ("task", "preset", "task_label", "method", "seed", "status", "key", "error", "base", "baseline",
               "parts", "optimizer", "optimizer_params", "transforms", "task_params", "control")


def to_row(record: Record, with_curve: bool = False) -> dict[str, Any]:
    """One record -> one flat row: identity, status, metrics, budget, parameters, timing."""
    ident = record.identity
    optimizer = ident.get("optimizer") or {}
    row: dict[str, Any] = {
        "task": ident["task"], "preset": ident.get("preset"), "task_label": record.task_label,
        "method": ident["method"], "seed": record.seed, "status": str(record.status),
    }
    row.update({c: _finite(record.metrics.get(c)) for c in METRIC_COLUMNS})
    row.update(record.budget)
    row.update({
        "error": record.error,
        "task_params": ident.get("task_params"),
        "optimizer": optimizer.get("name"),
        "optimizer_params": optimizer.get("params"),
        "transforms": ident.get("transforms"),
        "base": ident.get("base"),
        "parts": list(ident.get("parts") or []),
        "baseline": ident.get("baseline"),
        "tuned": ident.get("tuned"),
        "control": ident.get("control"),
        "tuned_from": record.provenance.get("tuned_from"),
        "device_name": record.environment.get("device_name"),
        **{k: record.environment.get(k) for k in ("torch", "device", "threads", "host", "executor",
                                                  "batched_seeds", "batched_configs", "resumed_at_steps",
                                                  "resumed_devices")},
        "batch_width": batch_layout(record),
        "record_version": record.grokbench_version or None,
        "started_at": record.started_at or None,
        "finished_at": record.finished_at or None,
        "key": record.key,
        "record_file": f"records/{record.file}" if record.file else None,
    })
    row.update(_timing_columns(record))
    if with_curve:
        row["curve"] = record.curve
    return row


CONFIG_FIELDS = ("task", "preset", "task_params", "method", "transforms", "optimizer")


def calibration_key(identity: dict[str, Any], device: str | None, layout: int) -> str:
    """Hash of what one step cost is measured for: the task's and the method's configuration
    (the ``CONFIG_FIELDS`` of a trial identity), the device, and the batch layout (the
    number of seeds trained together). Seeds, version and after-solve do not enter it."""
    payload = {k: identity.get(k) for k in CONFIG_FIELDS}
    payload.update(device=device, layout=int(layout))
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def batch_layout(record: Record) -> int:
    """Trials trained together in the record's cell: its seeds times its configurations
    (1 for records that do not say)."""
    env = record.environment
    return int(env.get("batched_seeds") or 1) * int(env.get("batched_configs") or 1)


def under_load(record: Record) -> bool | None:
    """Whether the 1-minute load average during the trial exceeded the cores its process
    could use (more runnable threads than cores: its seconds were shared); None when the
    record does not say."""
    load, cpus = record.timing.get("load1_max"), record.environment.get("cpus")
    if not _is_number(load) or not _is_number(cpus):
        return None
    return load > cpus


def _timing_columns(record: Record) -> dict[str, Any]:
    timing = record.timing
    return {
        "steps_timed": timing.get("steps"),
        "timing_clock": timing.get("clock"),
        "cpus": record.environment.get("cpus"),
        "load1_max": timing.get("load1_max"),
        "under_load": under_load(record),
        "cpu_per_wall": timing.get("cpu_per_wall"),
        "mean_batch_width": timing.get("mean_batch_width"),
        "peak_rss_mb": timing.get("peak_rss_mb"),
        "peak_device_mem_mb": timing.get("peak_device_mem_mb"),
        "calibration_key": calibration_key(record.identity, record.environment.get("device"),
                                           batch_layout(record)),
    }


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def rows(records: list[Record], with_curves: bool = False) -> list[dict[str, Any]]:
    """Flat rows of ``records`` (:func:`to_row` each)."""
    return [to_row(r, with_curves) for r in records]
