"""Trial records on disk: one JSON file per trial, written atomically; resumable.

Layout of a results folder::

    DIR/records/<key>.json   one record per trial (key = hash of the trial's identity)
    DIR/runs.jsonl           one line per `grokbench run` invocation (command, time, pid,
                             run_id, version) and one when it ends (ended, run_id, status)
    DIR/checkpoints/         training state of cells an interrupted run left unfinished
                             (``grokbench.checkpoint``); deleted once their trials have records

A record file appears only complete: it is written to a temporary file in the same folder,
flushed and fsynced, then renamed over the final name (atomic on POSIX), and the folder is
fsynced. A process killed at any moment leaves finished records intact and at most a
stray temporary file, which is ignored and cleaned up. Records with status ``error`` are
kept for inspection but do not count as done: the next run retries them. Files are created
with the user's umask (as ``open`` would), so a shared folder stays readable.

Concurrent runs into one folder: before training, a run *claims* each trial it is about to
train with a lock file ``records/<key>.lock`` (created exclusively, so the claim is atomic,
also on a file system shared between machines) and releases it when the run ends. A
second run skips the trials another live run has claimed and says so; a later re-run
picks up whatever the first one did not finish. A lock left by a process that died is
taken over when that process ran on this host and is gone; a lock from another host is
honoured until it is deleted by hand.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import UserError
from .record import BadRecord, Record, rows
from .timeout import TimeoutPolicy


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


def _file_mode() -> int:
    """0o666 less the process's umask: the mode ``open()`` would create a file with."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
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


def ensure_writable_dir(folder: Path, what: str) -> None:
    """Create ``folder`` if needed and prove it takes a file; UserError naming ``what`` if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write {what}: {exc.strerror or exc}") from exc


class Store:
    """A results folder. ``Store(dir, create=True)`` checks that it can be written."""

    def __init__(self, root: str | Path, create: bool = False) -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.checkpoints_dir = self.root / "checkpoints"
        if create:
            ensure_writable_dir(self.records_dir, f"results folder {self.root}")
            self._remove_stale_temporaries()
        elif not self.records_dir.is_dir():
            raise UserError(f"{self.root} is not a grokbench results folder (no records/ inside)")

    def _remove_stale_temporaries(self, age_s: float = 600.0) -> None:
        """Temporary files of writes that were killed (a live write takes milliseconds)."""
        for stale in self.records_dir.glob(".*.tmp"):
            try:
                if time.time() - stale.stat().st_mtime > age_s:
                    stale.unlink()
            except OSError:
                pass

    def path(self, key: str) -> Path:
        return self.records_dir / f"{key}.json"

    def write(self, record: Record) -> None:
        atomic_write_text(self.path(record.key), json.dumps(record.to_json(), default=str))

    def records(self) -> list[Record]:
        """Every readable record; a file that is not one is skipped with a warning naming it."""
        out = []
        for path in sorted(self.records_dir.glob("*.json")):
            try:
                out.append(Record.from_json(json.loads(path.read_bytes().decode("utf-8"))))
            except (OSError, UnicodeDecodeError, ValueError) as exc:  # BadRecord and JSON errors
                reason = exc if isinstance(exc, BadRecord) else f"{type(exc).__name__}: {exc}"
                print(f"warning: skipping {path}: not a readable grokbench record ({reason})", file=sys.stderr)
        return out

    def done_keys(self, timeout: TimeoutPolicy | None = None) -> set[str]:
        """Keys of the trials a run under ``timeout`` (default: none) does not run again
        (``TimeoutPolicy.is_final``: final statuses, and ``timeout`` records whose limit was
        at least this one's; ``error`` is always retried)."""
        policy = timeout or TimeoutPolicy()
        return {r.key for r in self.records() if policy.is_final(r)}

    def log_run(self, argv: Iterable[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append an invocation's line to runs.jsonl and return it; a folder where that
        fails is refused (UserError)."""
        line = {"command": " ".join(argv), "time": _now(), "pid": os.getpid(), "run_id": uuid.uuid4().hex[:16],
                **(extra or {})}
        try:
            self._append_run_line(line)
        except OSError as exc:
            raise UserError(f"cannot write {self.root / 'runs.jsonl'}: {exc.strerror or exc}") from exc
        return line

    def log_end(self, started: dict[str, Any], status: str) -> None:
        """Append the end of the invocation whose line ``log_run`` returned as ``started``
        (``status``: completed, interrupted or failed); a failure to write only warns."""
        line = {"ended": _now(), "run_id": started.get("run_id"), "status": status}
        try:
            self._append_run_line(line)
        except OSError as exc:
            print(f"warning: cannot log the end of this run in {self.root / 'runs.jsonl'}: {exc.strerror or exc}",
                  file=sys.stderr)

    def _append_run_line(self, line: dict[str, Any]) -> None:
        """Append one line; after a last line a killed writer left unfinished, on a line of
        its own (so that this one stays readable)."""
        with open(self.root / "runs.jsonl", "ab") as f:
            lead = b""
            if f.tell() > 0:
                with open(self.root / "runs.jsonl", "rb") as tail:
                    tail.seek(-1, os.SEEK_END)
                    lead = b"" if tail.read(1) == b"\n" else b"\n"
            f.write(lead + (json.dumps(line) + "\n").encode("utf-8"))

    def runs(self) -> list[dict[str, Any]]:
        """The invocations logged in runs.jsonl, each with the ``ended`` time and ``status``
        of its end line where it logged one (matched by ``run_id``; lines without one match
        none). Lines that are not JSON objects are skipped (a truncated or garbled line), and
        the fields readers use (``RUN_TEXT_FIELDS``) are strings or None: a field of another
        type reads as None. A start without an end (a killed run) has ``ended`` None."""
        lines = self._run_lines()
        ends = {e["run_id"]: e for e in (_run_fields(x) for x in lines if "ended" in x)
                if e["run_id"] is not None and e["ended"] is not None}
        out = []
        for line in (_run_fields(x) for x in lines if "ended" not in x):
            end = ends.get(line["run_id"]) if line["run_id"] is not None else None
            out.append({**line, "ended": end["ended"], "status": end["status"]} if end else line)
        return out

    def _run_lines(self) -> list[dict[str, Any]]:
        try:
            text = (self.root / "runs.jsonl").read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
        return out

    # -- claims: concurrent runs into one folder (see the module docstring) ----------------

    def claim(self, keys: Iterable[str]) -> tuple[set[str], dict[str, str]]:
        """Try to claim each key; returns (claimed, {key: who holds it}) for the others."""
        me = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()})
        claimed, held = set(), {}
        for key in keys:
            lock = self.records_dir / f"{key}.lock"
            for _ in range(2):
                try:
                    fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _file_mode())
                except FileExistsError:
                    if self._take_over_if_dead(lock):
                        continue
                    held[key] = self._holder(lock)
                    break
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(me)
                claimed.add(key)
                break
        return claimed, held

    def release(self, keys: Iterable[str]) -> None:
        for key in keys:
            (self.records_dir / f"{key}.lock").unlink(missing_ok=True)

    @staticmethod
    def _holder(lock: Path) -> str:
        try:
            info = json.loads(lock.read_text(encoding="utf-8"))
            return f"pid {info['pid']} on {info['host']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another run"

    @staticmethod
    def _take_over_if_dead(lock: Path) -> bool:
        """Remove ``lock`` if it was made by a process of this host that no longer exists."""
        try:
            info = json.loads(lock.read_text(encoding="utf-8"))
            if info["host"] != socket.gethostname():
                return False
            os.kill(int(info["pid"]), 0)
            return False
        except ProcessLookupError:
            lock.unlink(missing_ok=True)
            return True
        except (OSError, ValueError, KeyError, TypeError):
            return False


def load_frame(root: str | Path, with_curves: bool = False):
    """Every record of a results folder as one pandas DataFrame, a row per trial
    (columns: :func:`grokbench.record.to_row`; ``with_curves`` adds ``curve``). A folder
    holding two configurations of one (task, method) is refused (``grokbench.consistency``)."""
    import pandas as pd

    from .consistency import check_folder

    records = Store(root).records()
    check_folder(records, root)  # one configuration per (task, method), or a UserError naming them
    frame = pd.DataFrame(rows(records, with_curves))
    if not frame.empty:
        frame = frame.sort_values(["task_label", "method", "seed"], kind="stable").reset_index(drop=True)
    return frame


RUN_TEXT_FIELDS = ("command", "time", "run_id", "ended", "status", "version")


def _run_fields(line: dict[str, Any]) -> dict[str, Any]:
    """A runs.jsonl line with each of ``RUN_TEXT_FIELDS`` a string or None."""
    return {**line, **{k: line.get(k) if isinstance(line.get(k), str) else None for k in RUN_TEXT_FIELDS}}


def _now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
