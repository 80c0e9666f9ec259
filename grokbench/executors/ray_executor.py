"""Cells as Ray tasks: on an existing cluster (``address``) or a local Ray instance.

Each cell is one Ray task that asks for ``cpus_per_trial`` CPUs and ``gpus_per_trial``
GPUs (fractions allowed: four trials with 0.25 GPU share one GPU). The task is a Ray
*streaming generator*: it yields a start message, then each seed's record the moment
``run_cell`` finishes it, and the driver collects them with ``ray.wait`` over all running
tasks, so records reach the store one by one, as with the other executors.

Faults: tasks are never retried by Ray (``max_retries=0``); a task whose worker dies
(killed, out of memory, a segfault, a lost node) ends with Ray's error, and its missing
seeds are recorded as ``error`` (retried by the next ``grokbench run``). With a trial
timeout, a task that overstays its time (plus a grace period for the task's own
cooperative check; ``TimeoutPolicy.kill_deadline``) is cancelled with ``force=True`` and
its missing seeds are ``timeout``.

Workers need grokbench (same version) installed; plugin files travel with each task as
source text, so a ``--plugin FILE`` need not exist on the other machines.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..record import Record, Status
from ..timeout import TimeoutPolicy
from .base import cpu_count, lost_records, now, plugin_sources, stamp

if TYPE_CHECKING:
    from ..plan import Cell
    from ..trial import ProgressFn

INSTALL_HINT = "pip install 'grokbench[ray]'"


def import_ray():
    """``import ray``, or the one-line error that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise UserError(f"--executor ray needs Ray, which is not installed; install it with: {INSTALL_HINT}") from exc
    return ray


def _ray_cell(cell: Cell, plugins: tuple[tuple[str, str], ...], threads: int, timeout: TimeoutPolicy):
    """The Ray task (a generator): set up the worker, then stream the cell's records."""
    from ..trial import run_cell
    from .base import setup_worker

    used = setup_worker(threads, plugins)
    yield ("start", {"host": socket.gethostname(), "pid": os.getpid(), "threads": used})
    for record in run_cell(cell, None, timeout):
        yield ("record", record)


class _Running:
    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.reported: set[str] = set()  # keys of the records the task sent
        self.info: dict[str, Any] = {}
        self.started_at = now()
        self.kill_at: float | None = None


class RayExecutor:
    """Cells as Ray tasks. ``address`` None starts a local Ray instance with ``num_cpus``
    CPUs (default: this machine's) and stops it afterwards; an address (``auto``,
    ``HOST:PORT``, ``ray://HOST:10001``) joins that cluster. If Ray is already initialized
    in this process (a test, a notebook), that instance is used and left running."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
        timeout: TimeoutPolicy | None = None,
        num_cpus: int | None = None,
    ) -> None:
        if cpus_per_trial <= 0:
            raise UserError("ray: cpus per trial must be > 0")
        if gpus_per_trial < 0:
            raise UserError("ray: gpus per trial must be >= 0")
        self.ray = import_ray()
        self.address = address
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        self.timeout = timeout or TimeoutPolicy()
        self.num_cpus = num_cpus

    def _init(self) -> bool:
        """Connect to (or start) Ray; True when this call started it."""
        ray = self.ray
        if ray.is_initialized():
            return False
        quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
        try:
            if self.address:
                ray.init(address=self.address, **quiet)
            else:
                ray.init(num_cpus=self.num_cpus or cpu_count(), include_dashboard=False, **quiet)
        except ConnectionError as exc:
            raise UserError(f"cannot reach the Ray cluster at {self.address!r}: {exc}") from exc
        return True

    def run(self, cells: Iterable[Cell], progress: ProgressFn | None = None) -> Iterator[Record]:
        cells = list(cells)
        if not cells:
            return
        ray = self.ray
        started_here = self._init()
        task = ray.remote(
            num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial, max_retries=0,
            num_returns="streaming",  # the default for generators in recent Ray; explicit for Ray 2.9
        )(_ray_cell)
        plugins = plugin_sources(cells[0].plugin_files)
        threads = max(1, int(self.cpus_per_trial))
        plugins_ref = ray.put(plugins)
        running: dict[Any, _Running] = {}
        try:
            for cell in cells:
                running[task.remote(cell, plugins_ref, threads, self.timeout)] = _Running(cell)
            while running:
                gens = list(running)
                ready, _ = ray.wait(gens, num_returns=1, timeout=0.5)
                if ready:
                    ready, _ = ray.wait(gens, num_returns=len(gens), timeout=0)
                for gen in ready:
                    yield from self._advance(gen, running)
                yield from self._cancel_overdue(running)
        finally:
            for gen in running:
                try:
                    ray.cancel(gen, force=True)
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
            if started_here:
                ray.shutdown()

    def _cancel_overdue(self, running: dict[Any, _Running]) -> Iterator[Record]:
        """Cancel the tasks past their kill deadline; their missing seeds are ``timeout``."""
        for gen, r in list(running.items()):
            if r.kill_at is not None and time.monotonic() > r.kill_at:
                self.ray.cancel(gen, force=True)
                why = self.timeout.message(len(r.cell.slots), "the Ray task was cancelled")
                yield from self._lost(running.pop(gen), Status.TIMEOUT, why)

    def _advance(self, gen: Any, running: dict[Any, _Running]) -> Iterator[Record]:
        """Take the next item of a ready task's stream: a message, its end, or its error."""
        ray, r = self.ray, running[gen]
        try:
            ref = next(gen)
        except StopIteration:
            del running[gen]
            if set(r.cell.keys()) - r.reported:  # ended without reporting every trial
                yield from self._lost(r, Status.ERROR, "the Ray task ended without a record for this trial")
            return
        try:
            kind, payload = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - the worker died, the task was cancelled, ...
            del running[gen]
            message = f"Ray task failed: {type(exc).__name__}: {_first_line(exc)}"
            yield from self._lost(r, Status.ERROR, message)
            return
        if kind == "start":
            r.info = payload
            r.kill_at = self.timeout.kill_deadline(len(r.cell.slots))
        elif kind == "record":
            r.reported.add(payload.key)
            yield self._stamp(payload)

    def _lost(self, r: _Running, status: Status, message: str) -> Iterator[Record]:
        for record in lost_records(r.cell, r.reported, status, message, r.started_at, dict(r.info)):
            yield self._stamp(record)

    def _stamp(self, record: Record) -> Record:
        return stamp(record, self.name, self.timeout, cpus_per_trial=self.cpus_per_trial,
                     gpus_per_trial=self.gpus_per_trial, ray_address=self.address or "local")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[0][:300] if lines else ""
