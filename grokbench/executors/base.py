"""What every executor shares: the contract, the record stamp, worker set-up."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ..trial import Cell, ProgressFn, lost_record


class Executor(Protocol):
    """Take cells, yield each finished trial record as soon as it exists.

    The caller (the CLI) is the only writer of the store. Closing the returned iterator
    (``.close()``, or dropping it after Ctrl-C) shuts the executor's workers down.
    """

    name: str

    def run(self, cells: Iterable[Cell], progress: ProgressFn | None = None) -> Iterator[dict[str, Any]]: ...


def cpu_count() -> int:
    """Cores this process may use (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def stamp(record: dict[str, Any], executor: str, timeout_s: float | None, **extra: Any) -> dict[str, Any]:
    """Which executor ran the record (environment.executor, plus e.g. workers), and the
    --trial-timeout in force (the resume rule for ``timeout`` records needs it)."""
    env = record.setdefault("environment", {})
    env["executor"] = executor
    env.update(extra)
    record["trial_timeout_s"] = timeout_s
    return record


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def lost_records(
    cell: Cell, seeds: Iterable[int], status: str, message: str, started: str, env: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Records for the seeds of ``cell`` whose worker vanished before reporting them."""
    base = {"host": socket.gethostname(), "device": cell.device, **env}
    for seed in seeds:
        yield lost_record(cell, seed, status, message, dict(base), started)


def describe_exit(exitcode: int | None) -> str:
    """A worker's exit code in words: 'killed by SIGKILL (exit code -9)'."""
    if exitcode is None:
        return "no exit code"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
        hint = " (a segmentation fault in native code)" if name == "SIGSEGV" else hint
        return f"killed by {name}{hint}, exit code {exitcode}"
    return f"exited with code {exitcode}"


def plugin_sources(files: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(path, source text) of each plugin file, so a worker on another machine can load it."""
    return tuple((path, Path(path).read_text(encoding="utf-8")) for path in files)


def setup_worker(threads: int | None, plugins: Iterable[str] | tuple[tuple[str, str], ...]) -> int:
    """In a worker: limit torch's threads, load the built-in plugins and the plugin files.

    ``plugins`` holds paths, or (path, source) pairs: when the path is missing on this
    machine or holds other text, the source is written to a private temporary file and
    loaded from there. Returns torch's thread count.
    """
    import torch

    from .. import registry

    if threads is not None and threads >= 1 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    registry.load_builtins()
    for item in plugins:
        path, source = (item, None) if isinstance(item, str) else item
        p = Path(path)
        if source is not None and (not p.is_file() or p.read_text(encoding="utf-8") != source):
            folder = Path(tempfile.mkdtemp(prefix="grokbench-plugin-"))
            p = folder / Path(path).name
            p.write_text(source, encoding="utf-8")
        registry.load_plugin_file(p)
    return torch.get_num_threads()
