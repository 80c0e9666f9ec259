"""What every executor shares: the contract, the record stamp, lost records, worker set-up."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import UserError, one_line
from ..timeout import TimeoutPolicy

if TYPE_CHECKING:
    from ..plan import Cell
    from ..record import Record, Status
    from ..trial import ProgressFn


class Executor(Protocol):
    """Take cells, yield each finished trial record as soon as it exists.

    The caller (the CLI) is the only writer of the store. Closing the returned iterator
    (``.close()``, or dropping it after Ctrl-C) shuts the executor's workers down.
    ``timeout`` is the trial-timeout policy (``--executor ...,timeout=S``) the executor enforces; resume uses the same one.
    """

    name: str
    timeout: TimeoutPolicy

    def run(self, cells: Iterable[Cell], progress: ProgressFn | None = None) -> Iterator[Record]: ...


def thread_limit() -> int | None:
    """The user's cap on threads per process: ``OMP_NUM_THREADS`` when it is a positive
    integer, else None."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def cpu_count() -> int:
    """Cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def stamp(record: Record, executor: str, timeout: TimeoutPolicy, **extra: Any) -> Record:
    """Mark ``record`` with the executor that ran it (``environment.executor`` plus
    ``extra``, e.g. ``workers``) and the trial timeout in force (``trial_timeout_s``,
    which the resume rule for ``timeout`` records reads). Returns the same record."""
    record.environment["executor"] = executor
    record.environment.update(extra)
    record.trial_timeout_s = timeout.limit_s
    return record


def now() -> str:
    """The current UTC time as a record writes it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def lost_records(
    cell: Cell, reported: set[str], status: Status, message: str, started: str, env: dict[str, Any]
) -> Iterator[Record]:
    """Records for the trials of ``cell`` whose worker ended before reporting them (their keys
    are not in ``reported``): ``status`` and ``message``, no curve; ``env`` adds to this
    machine's host and the cell's device."""
    from ..trial import lost_record

    base = {"host": socket.gethostname(), "device": cell.device, **env}
    for slot in cell.slots:
        if cell.slot_key(slot) not in reported:
            yield lost_record(cell, slot, status, message, dict(base), started)


_SIGNAL_HINTS = {
    "SIGKILL": " (sent by the out-of-memory killer, or by a kill -9)",
    "SIGSEGV": " (a segmentation fault in native code)",
    "SIGBUS": " (a bus error in native code)",
    "SIGABRT": " (an abort in native code)",
}


def describe_exit(exitcode: int | None) -> str:
    """How a worker process ended, from its exit code alone: 'exited with code 3',
    'was killed by SIGKILL (...), exit code -9'. Only true statements: a negative code is
    the signal that ended it, a non-negative one the code it exited with itself."""
    if exitcode is None:
        return "ended with no exit code known"
    if exitcode >= 0:
        return f"exited with code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    return f"was killed by {name}{_SIGNAL_HINTS.get(name, '')}, exit code {exitcode}"


def plugin_sources(files: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(path, source text) of each plugin file, read once by the driver: workers load this
    text (on another machine, or after the file was edited mid-run), never another."""
    try:
        return tuple((path, Path(path).read_text(encoding="utf-8")) for path in files)
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read a plugin file for the workers: {one_line(exc)}") from exc


def _local_copy(path: str, source: str) -> Path:
    """``path`` when it holds ``source`` on this machine; else a private copy of ``source``
    whose path depends only on the text, so that loading it again is a no-op."""
    p = Path(path)
    if p.is_file() and p.read_text(encoding="utf-8") == source:
        return p
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"grokbench-plugin-{os.getuid()}-{digest}"
    copy = folder / p.name
    if not copy.is_file() or copy.read_text(encoding="utf-8") != source:
        folder.mkdir(mode=0o700, exist_ok=True)
        # written whole under a private name, then renamed: two runs at once never read half
        fd, partial = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(partial, copy)
    return copy


def setup_worker(threads: int | None, plugins: Iterable[tuple[str, str]]) -> int:
    """In a worker: limit torch's threads, load the built-in plugins and the plugin files.

    ``threads`` None leaves torch's default. ``plugins`` holds (path, source) pairs
    (``plugin_sources``): when the path is missing on this machine or holds other text, the
    source is loaded from a private copy. Returns torch's thread count.
    """
    import torch

    from .. import registry

    if threads is not None and threads >= 1 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    registry.load_builtins()
    for path, source in plugins:
        registry.load_plugin_file(_local_copy(path, source))
    return torch.get_num_threads()
