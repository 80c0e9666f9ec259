"""A results folder -> one flat table, a row per trial: CSV or Parquet for other tools.

``grokbench export DIR -o FILE.csv`` (or ``FILE.parquet``; no ``-o``: CSV on standard
output). The folder is read the one way every reader reads it (``store.load_frame``, plus
the calibrated columns where DIR has a calibration), and its metrics are recomputed from
the curves as the report does (``metrics.with_curve_metrics``), so records written before
a metric existed have it too. Columns, in this order:

* the trial: ``task, preset, task_label, method, seed, status``;
* every metric (``record.METRIC_COLUMNS``: steps and epochs to 0.90, 0.95 and the target,
  first crossing, plateau, relapses, stable-window fields, seconds) and the budget;
* the settings, flattened: ``task.<param>`` (the task's parameters), ``optimizer`` and
  ``optimizer.<param>``, ``transforms`` (their names, ``+``-joined) and
  ``<transform>.<param>`` per transform, ``tuned.<field>`` where tuned;
* where and how it ran (environment, timing), wall seconds and the calibrated columns
  (``calibrated_*``) where present, the record's ``key`` and ``record_file``
  (``records/<key>.json.gz``, relative to DIR; a packed record's is
  ``records/packed.jsonl.xz#<key>``).

Nested values left after flattening (lists) are written as JSON text. Missing values are
empty cells in CSV and nulls in Parquet. A leaderboard page's ``results.csv`` is this table
without the per-task, per-study and bookkeeping columns (:func:`page_columns`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .errors import UserError

PARQUET_SUFFIX = ".parquet"
_NESTED = ("task_params", "optimizer_params", "transforms", "tuned", "parts")

# What a leaderboard page's results.csv (page_columns) leaves out of the export: what is the
# same for a whole task or study (the task's parameters, on the page's provenance; the tuning
# search space and seeds, in the tuning folder) and the bookkeeping of how each trial ran
# (its machine's name and its record's key stay): about half of a row's bytes.
PAGE_LEFT_OUT_PREFIXES = ("task.", "tuned.space.")
PAGE_LEFT_OUT = frozenset({
    "preset", "tuned.index", "tuned.trials", "tuned.tune_seeds", "tuned.with_default", "tuned_from",
    "torch", "device", "threads", "host", "executor", "batched_seeds", "batched_configs",
    "resumed_at_steps", "resumed_devices", "batch_width", "record_version", "started_at",
    "finished_at", "record_file", "steps_timed", "timing_clock", "cpus", "load1_max", "under_load",
    "cpu_per_wall", "mean_batch_width", "peak_rss_mb", "peak_device_mem_mb", "calibration_key",
})


def load_export_frame(results_dir: str | Path):
    """The folder's flat table (module docstring); UserError for what is not a results folder."""
    from .calibrate import load_calibrated_frame
    from .metrics import with_curve_metrics

    frame = with_curve_metrics(load_calibrated_frame(results_dir, with_curves=True))
    return export_frame(frame)


def export_frame(frame):
    """``frame`` (``load_frame`` columns, curves and calibrated columns optional) -> the
    flat table: the nested settings replaced in place by their flattened columns, no curve."""
    import pandas as pd

    records = frame.drop(columns=["curve"], errors="ignore").to_dict(orient="records")
    rows = [_flat_row(r) for r in records]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    names = list(columns) or list(frame.columns.drop("curve", errors="ignore"))
    flat = pd.DataFrame(rows, columns=names, dtype=object)  # ints stay ints beside missing values
    for name in names:
        if _is_count(name):
            flat[name] = pd.Series([int(v) if isinstance(v, float) and v.is_integer() else v for v in flat[name]],
                                   index=flat.index, dtype=object)
    return flat


def page_columns(flat):
    """The flat table (:func:`export_frame`) without the columns of ``PAGE_LEFT_OUT`` and
    ``PAGE_LEFT_OUT_PREFIXES``: the rows of a leaderboard page's results.csv, every trial with
    its outcome, metrics, budget, settings, machine and record key."""
    keep = [c for c in flat.columns if c not in PAGE_LEFT_OUT and not c.startswith(PAGE_LEFT_OUT_PREFIXES)]
    return flat[keep]


def _is_count(name: str) -> bool:
    """Columns of whole numbers that a frame holds as floats beside missing values (steps)."""
    return name.endswith(("_step", "_steps")) or name in ("relapses", "stable_window_evals", "seed")


def _flat_row(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name == "task_params":
            out.update(_flatten(value, "task"))
        elif name == "optimizer_params":
            out.update(_flatten(value, "optimizer"))
        elif name == "transforms":
            out.update(_transform_columns(value))
        elif name == "tuned":
            out.update(_flatten(value, "tuned"))
        else:
            out[name] = _cell(value)
    return out


def _transform_columns(transforms: Any) -> dict[str, Any]:
    """``transforms`` ('egd+grokfast') and ``<name>.<param>`` for each transform's params."""
    parts = [t for t in transforms if isinstance(t, dict)] if isinstance(transforms, list) else []
    out: dict[str, Any] = {"transforms": "+".join(str(t.get("name")) for t in parts) or None}
    for part in parts:
        name = str(part.get("name"))
        out.update(_flatten(part.get("params"), name))
        if part.get("preset") is not None:
            out[f"{name}.preset"] = _cell(part["preset"])
    return out


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    """A dict -> ``{prefix.key: cell}``, recursively (``prefix.a.b``); None or a non-dict -> {}."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}"
        out.update(_flatten(item, name) if isinstance(item, dict) else {name: _cell(item)})
    return out


def _cell(value: Any) -> Any:
    """A scalar as is (non-finite floats -> None); lists and dicts as JSON text."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def csv_text(flat) -> str:
    """The flat table as CSV text (a header line, a line per trial)."""
    return flat.to_csv(index=False)


def write_export(flat, path: str | Path) -> Path:
    """Write the flat table to ``path``: Parquet when it ends in ``.parquet`` (needs
    pyarrow: UserError saying so without it), CSV otherwise; atomically (a reader sees the
    old file or the whole new one). Returns the path."""
    from .store import atomic_write_bytes

    path = Path(path)
    if path.suffix.lower() == PARQUET_SUFFIX:
        data = _parquet_bytes(flat)
    else:
        data = csv_text(flat).encode("utf-8")
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _parquet_bytes(flat) -> bytes:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UserError("writing .parquet needs pyarrow (pip install pyarrow); "
                        "or export to a .csv file") from None
    import io

    buf = io.BytesIO()
    _typed(flat).to_parquet(buf, index=False)
    return buf.getvalue()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _typed(flat):
    """A copy whose mixed columns have one type each (Parquet columns are typed): numbers
    (bools aside) where every value is one, else text."""
    import pandas as pd

    flat = flat.copy()
    for name in flat.columns:
        values = list(flat[name].astype(object))
        kinds = {type(v) for v in values if not _missing(v)}
        if len(kinds) <= 1 or kinds <= {int, float}:
            continue
        flat[name] = pd.Series([None if _missing(v) else str(v) for v in values], index=flat.index, dtype=object)
    return flat
