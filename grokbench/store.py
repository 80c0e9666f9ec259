"""Trial records on disk: one file per trial, written atomically; resumable.

Layout of a results folder::

    DIR/records/<key>.json.gz  one record per trial (key = hash of the trial's identity),
                             gzip'd JSON (``grokbench.recordfile``); ``<key>.json``, plain
                             JSON, is the format before it: still read, never converted
                             (a trial run again is written compact, its plain file removed)
    DIR/records/packed.jsonl.xz  the records `grokbench pack DIR` moved out of their files,
                             one xz stream of JSON lines (``grokbench.packfile``); read with
                             the loose files, a loose file winning over a pack entry
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
picks up whatever the first one did not finish.

A lock names its holder: host, pid, the process's start time (``/proc/<pid>/stat``, so a
pid reused by an unrelated process is told apart) and the boot id (so a lock from before a
reboot is seen as dead). A lock is *stale*, and taken over by a run that wants its trial
(and removed at the start of any run), when its holder ran on this host and is gone: no
such pid, another start time or another boot. An empty or unreadable lock (a run killed
between creating and writing it, or a file that is not a lock) is stale once it is older
than ``UNREADABLE_LOCK_GRACE_S``; a younger one is honoured, as the write that fills it
takes microseconds. A lock from another host is honoured until it is deleted by hand.
Taking over renames the lock aside and checks it was the one judged stale, so two runs
taking over at once cannot both win against a fresh claim.

Only regular files of a sane size are read (``grokbench.safefile``): a FIFO, a device, a
directory or a huge file named like a record, a lock or ``runs.jsonl`` is skipped with a
warning naming it, never read. Temporary files of killed writes are removed at the start
of a run once older than ``STALE_TEMPORARY_S`` (a live write keeps its file fresh).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import UserError
from .packfile import PACK_NAME, decode_line, pack_lines
from .record import FINAL_STATUSES, BadRecord, Record, rows
from .recordfile import COMPACT_SUFFIX, PLAIN_SUFFIX, encode_record, read_record_bytes
from .safefile import (
    ESCAPE_ERRORS,
    OddFile,
    file_kind,
    printable,
    read_regular,
    remove_stale_temporaries,
)
from .timeout import TimeoutPolicy

MAX_RUNS_LOG_BYTES = 256 * 2**20  # the largest runs.jsonl read
MAX_LOCK_BYTES = 4096
UNREADABLE_LOCK_GRACE_S = 10.0  # an empty or unreadable lock younger than this is honoured


def _reason(exc: BaseException) -> str:
    """Why a record could not be read, for a warning: our own errors' message as is,
    another's with its type."""
    return str(exc) if isinstance(exc, (BadRecord, OddFile)) else f"{type(exc).__name__}: {exc}"


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
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one
    (characters UTF-8 cannot encode, from non-UTF-8 file names, as ``\\xNN``)."""
    atomic_write_bytes(path, text.encode("utf-8", errors=ESCAPE_ERRORS))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one: a
    temporary file in the same folder, flushed and fsynced, renamed over ``path``, then the
    folder fsynced."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
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
            ensure_writable_dir(self.records_dir, f"results folder {printable(self.root)}")
            self.remove_stale_files()
        elif not self.records_dir.is_dir():
            raise UserError(f"{printable(self.root)} is not a grokbench results folder (no records/ inside)")

    def remove_stale_files(self) -> None:
        """Remove what killed runs left in records/: temporary files untouched for
        ``STALE_TEMPORARY_S`` and stale locks (module docstring). A live run's are kept."""
        remove_stale_temporaries(self.records_dir)
        for lock in self.records_dir.glob("*.lock"):
            _take_over_if_stale(lock)

    def path(self, key: str) -> Path:
        """Where the record of ``key`` is written (compact: gzip'd JSON)."""
        return self.records_dir / f"{key}{COMPACT_SUFFIX}"

    def write(self, record: Record) -> None:
        """Write ``record`` compact (``encode_record``) and atomically, then remove an
        old-format ``<key>.json`` of the same key (a retried trial's): until that is gone a
        reader prefers the compact file, so no moment shows neither or two."""
        atomic_write_bytes(self.path(record.key), encode_record(record))
        old = self.records_dir / f"{record.key}{PLAIN_SUFFIX}"
        if old.is_file() and not old.is_symlink():
            old.unlink(missing_ok=True)
            _fsync_dir(self.records_dir)

    def record_files(self) -> list[Path]:
        """The record files of records/, sorted by name: ``*.json.gz`` and ``*.json`` (old
        format); where both forms of one name exist, the compact one (the later write)."""
        files = {p.name[:-len(PLAIN_SUFFIX)]: p for p in self.records_dir.glob(f"*{PLAIN_SUFFIX}")}
        files.update({p.name[:-len(COMPACT_SUFFIX)]: p for p in self.records_dir.glob(f"*{COMPACT_SUFFIX}")})
        return [files[stem] for stem in sorted(files)]

    def loose_records(self) -> list[tuple[Path, Record]]:
        """Every readable record file of records/ (either format) and its record, in file
        order; a file that is not one is skipped with a warning naming it. Each record's
        ``file`` is its file's name."""
        out = []
        for path in self.record_files():
            try:
                record = Record.from_json(json.loads(read_record_bytes(path).decode("utf-8")))
            except (OSError, UnicodeDecodeError, ValueError) as exc:  # BadRecord, OddFile and JSON errors
                print(f"warning: skipping {printable(path)}: not a readable grokbench record ({_reason(exc)})",
                      file=sys.stderr)
                continue
            record.file = path.name
            out.append((path, record))
        return out

    @property
    def pack_path(self) -> Path:
        """The folder's pack (``grokbench.packfile``), written by ``grokbench pack``."""
        return self.records_dir / PACK_NAME

    def packed_records(self) -> list[Record]:
        """The records of the folder's pack, streamed (none without a pack). A line that is
        not a record is skipped with a warning; a pack broken further on (truncated,
        corrupt, too large) keeps the records before the break, with a warning naming it."""
        path, out = self.pack_path, []
        if not os.path.lexists(path):
            return out
        try:
            for number, line in enumerate(pack_lines(path), 1):
                try:
                    out.append(decode_line(line))
                except (UnicodeDecodeError, ValueError) as exc:
                    print(f"warning: skipping line {number} of {printable(path)}: not a readable grokbench "
                          f"record ({_reason(exc)})", file=sys.stderr)
        except (OSError, ValueError) as exc:  # OddFile, a broken or truncated stream
            print(f"warning: {printable(path)} breaks after {len(out)} readable record(s) ({exc}); the rest "
                  f"of it is skipped", file=sys.stderr)
        return out

    def records(self) -> list[Record]:
        """Every readable record: the loose files (either format; a file that is not one is
        skipped with a warning naming it) and the pack's, where the folder has one. A key
        with both a loose file and a pack entry is read from the file (the later write: a
        retried trial). Each record's ``file`` says where it came from: its file's name,
        or ``packed.jsonl.xz#<key>``. Without a pack, in file order; with one, by key."""
        loose = [record for _, record in self.loose_records()]
        packed = self.packed_records()
        if not packed:
            return loose
        shadowed = {r.key for r in loose}
        return sorted(loose + [r for r in packed if r.key not in shadowed], key=lambda r: r.key)

    def final_keys(self) -> set[str]:
        """Keys of the trials whose record is final whatever the limits (solved, unsolved,
        diverged): their checkpoints can go."""
        return {r.key for r in self.records() if r.status in FINAL_STATUSES}

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
        """Append one line to runs.jsonl; after a last line a killed writer left unfinished, on
        a line of its own (so that this one stays readable). OSError when runs.jsonl is not a
        regular file (a FIFO would block)."""
        path = self.root / "runs.jsonl"
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({file_kind(mode)})")
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, _file_mode())
        with os.fdopen(fd, "r+b") as f:
            lead = b""
            end = f.seek(0, os.SEEK_END)
            if end > 0:
                f.seek(end - 1)
                lead = b"" if f.read(1) == b"\n" else b"\n"
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
        path = self.root / "runs.jsonl"
        try:
            text = read_regular(path, MAX_RUNS_LOG_BYTES).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except (OSError, OddFile) as exc:
            print(f"warning: skipping {printable(path)}: {exc}", file=sys.stderr)
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
        me = json.dumps({**_this_process(), "time": time.time()})
        claimed, held = set(), {}
        for key in keys:
            lock = self.records_dir / f"{key}.lock"
            for _ in range(2):
                try:
                    fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, _file_mode())
                except FileExistsError:
                    if _take_over_if_stale(lock):
                        continue
                    held[key] = _holder(lock)
                    break
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(me)
                claimed.add(key)
                break
        return claimed, held

    def release(self, keys: Iterable[str]) -> None:
        for key in keys:
            (self.records_dir / f"{key}.lock").unlink(missing_ok=True)


# -- locks (see the module docstring) ------------------------------------------------------

def _read_small_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(1024)
    except (OSError, ValueError):
        return None


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    stat_line = _read_small_text(f"/proc/{pid}/stat")
    fields = stat_line.rpartition(")")[2].split() if stat_line else []
    return fields[19] if len(fields) > 19 else None  # field 22 of stat; [0] here is field 3


def _this_process() -> dict[str, Any]:
    boot = _read_small_text("/proc/sys/kernel/random/boot_id")
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_time(os.getpid()),
            "boot": boot.strip() if boot else None}


def _holder_is_gone(info: dict[str, Any]) -> bool:
    """Whether the process a readable lock names is known to be gone (only on this host)."""
    if info["host"] != socket.gethostname():
        return False
    here = _this_process()
    if info.get("boot") and here["boot"] and info["boot"] != here["boot"]:
        return True  # the host rebooted since
    pid = int(info["pid"])
    if pid <= 0:
        raise ValueError("not a process id")  # 0 and -1 would address groups of processes
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; beyond any pid
        return True
    except PermissionError:
        pass  # alive, another user's
    return bool(info.get("start")) and _start_time(pid) not in (None, str(info["start"]))


def _lock_is_stale(lock: Path, mtime: float) -> bool:
    try:
        info = json.loads(read_regular(lock, MAX_LOCK_BYTES).decode("utf-8"))
        return _holder_is_gone(info)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # empty, garbage, odd file
        return time.time() - mtime > UNREADABLE_LOCK_GRACE_S


def _take_over_if_stale(lock: Path) -> bool:
    """Remove ``lock`` if it is stale; True when it is gone (removed here or meanwhile).
    It is renamed aside first and put back when what was renamed is not the file judged
    stale (a fresh claim that replaced it)."""
    try:
        seen = lock.lstat()
        if not _lock_is_stale(lock, seen.st_mtime):
            return False
        aside = lock.with_name(f".{lock.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        os.rename(lock, aside)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    moved = aside.lstat()
    if (moved.st_dev, moved.st_ino) != (seen.st_dev, seen.st_ino):
        try:
            os.link(aside, lock)
        except FileExistsError:
            pass
        except OSError:
            os.replace(aside, lock)
            return False
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return True


def _holder(lock: Path) -> str:
    try:
        info = json.loads(read_regular(lock, MAX_LOCK_BYTES).decode("utf-8"))
        return f"pid {info['pid']} on {info['host']}"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "another run"


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
