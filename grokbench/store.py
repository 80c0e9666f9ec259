"""Trial records on disk: one JSON file per trial, written atomically; resumable.

Layout of a results folder::

    DIR/records/<key>.json   one record per trial (key = hash of the trial's identity)
    DIR/runs.jsonl           one line per `grokbench run` invocation: command, time, version

A record file appears only complete: it is written to a temporary file in the same folder,
flushed and fsynced, then renamed over the final name (atomic on POSIX), and the folder is
fsynced. A process killed at any moment leaves finished records intact and at most a
stray temporary file, which is ignored and cleaned up. Records with status ``error`` are
kept for inspection but do not count as done: the next run retries them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import UserError

FINAL_STATUSES = frozenset({"solved", "unsolved", "diverged"})


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


class Store:
    """A results folder. ``Store(dir, create=True)`` checks that it can be written."""

    def __init__(self, root: str | Path, create: bool = False) -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        if create:
            try:
                self.records_dir.mkdir(parents=True, exist_ok=True)
                probe = self.records_dir / f".probe-{os.getpid()}"
                probe.write_text("")
                probe.unlink()
            except OSError as exc:
                raise UserError(f"cannot write results folder {self.root}: {exc.strerror or exc}") from exc
            for stale in self.records_dir.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
        elif not self.records_dir.is_dir():
            raise UserError(f"{self.root} is not a grokbench results folder (no records/ inside)")

    def path(self, key: str) -> Path:
        return self.records_dir / f"{key}.json"

    def write(self, record: dict[str, Any]) -> None:
        atomic_write_text(self.path(record["key"]), json.dumps(record, default=str))

    def records(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.records_dir.glob("*.json")):
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError) as exc:
                print(f"warning: skipping unreadable record {path}: {exc}", file=sys.stderr)
        return out

    def done_keys(self) -> set[str]:
        """Keys of trials with a final status (errors are not final: they are retried)."""
        return {r["key"] for r in self.records() if r.get("status") in FINAL_STATUSES}

    def log_run(self, argv: Iterable[str], extra: dict[str, Any] | None = None) -> None:
        line = {
            "command": " ".join(argv),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        with open(self.root / "runs.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    def runs(self) -> list[dict[str, Any]]:
        path = self.root / "runs.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


SUMMARY_COLUMNS = [
    "task", "preset", "method", "seed", "status",
    "fit_step", "t90_step", "solve_step", "fit_epoch", "t90_epoch", "solve_epoch",
    "plateau_steps", "plateau_epochs", "train_time_s", "time_to_target_s",
]


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One record -> one flat row: identity, status, metrics, budget, parameters."""
    ident = record["identity"]
    metrics = record.get("metrics") or {}
    row: dict[str, Any] = {
        "task": ident["task"],
        "preset": ident["preset"],
        "task_label": f"{ident['task']}:{ident['preset']}" if ident["preset"] else ident["task"],
        "method": ident["method"],
        "seed": ident["seed"],
        "status": record["status"],
    }
    for column in SUMMARY_COLUMNS[5:]:
        row[column] = metrics.get(column)
    row.update(record.get("budget") or {})
    row["error"] = record.get("error")
    row["task_params"] = ident["task_params"]
    row["optimizer"] = ident["optimizer"]["name"]
    row["optimizer_params"] = ident["optimizer"]["params"]
    row["transforms"] = ident["transforms"]
    row["device_name"] = record.get("environment", {}).get("device_name")
    row["key"] = record["key"]
    return row


def load_frame(root: str | Path, with_curves: bool = False):
    """Every record of a results folder as one pandas DataFrame, a row per trial."""
    import pandas as pd

    records = Store(root).records()
    rows = []
    for r in records:
        row = flatten(r)
        if with_curves:
            row["curve"] = r.get("curve")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.sort_values(["task_label", "method", "seed"], kind="stable").reset_index(drop=True)
    return frame
