"""A local pool of worker processes, robust to workers that die.

Why not concurrent.futures: a ProcessPoolExecutor whose worker is killed (SIGKILL, a
segfault, the OOM killer) breaks as a whole (BrokenProcessPool) and takes every queued
trial with it. Here each worker is a long-lived process with its own pipe to the driver:

- workers are started with ``spawn`` (never ``fork``: a forked torch can deadlock on the
  locks of its thread pools), import torch once, limit torch to ``threads`` threads, load
  the plugin files (the text the driver read when the run began), then run one cell at a
  time as the driver hands them out;
- a worker sends each record through its pipe the moment ``run_cell`` yields it, so a
  dying worker loses only the seeds it was still training;
- the driver waits on every pipe and every process sentinel at once; when a worker ends it
  reads what the pipe still holds, records the cell's missing seeds as ``error`` with how
  the worker ended (its exit code or signal), starts a fresh worker in its place and goes
  on with the plan;
- with a trial timeout, a cell that overstays its kill deadline (``TimeoutPolicy``) is
  killed and its missing seeds recorded as ``timeout``;
- SIGINT is ignored in workers: on Ctrl-C the driver alone stops, and closing the
  executor's iterator stops the workers. A worker whose driver is gone (its pipe broken,
  or its parent changed) exits at once and silently.

A pipe per worker, rather than one shared queue, means a worker killed mid-message can
only garble its own pipe, never the channel of the others.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from ..errors import UserError, one_line
from ..record import Record, Status
from ..timeout import TimeoutPolicy
from .base import cpu_count, describe_exit, lost_records, now, plugin_sources, stamp, thread_limit

if TYPE_CHECKING:
    from ..plan import Cell
    from ..trial import ProgressFn

EVAL_MESSAGE_INTERVAL_S = 0.25  # at most this often a worker reports training progress
EXIT_GRACE_S = 5.0  # a worker whose pipe closed gets this long to exit by itself
SHUTDOWN_GRACE_S = 5.0  # workers get this long to stop at the end of a run
POLL_S = 0.5  # the driver's longest wait before it checks the kill deadlines
DRIVER_GONE_EXIT = 1  # a worker's exit code when it finds its driver gone


# ----------------------------------------------------------------------------- worker side


def _watch_parent(parent_pid: int) -> None:
    """Exit when the driver is gone (killed with SIGKILL, say): no orphans keep training."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(DRIVER_GONE_EXIT)


def _send(conn: Connection, message: tuple) -> None:
    """Send to the driver; if the driver is gone, end this worker silently."""
    try:
        conn.send(message)
    except (OSError, EOFError):
        os._exit(DRIVER_GONE_EXIT)


def _worker_main(conn: Connection, threads: int | None, plugins: tuple[tuple[str, str], ...], parent_pid: int) -> None:
    """A worker process: set up once, then run cells until told to stop (None) or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    try:
        from .base import setup_worker

        used = setup_worker(threads, plugins)
    except UserError as exc:
        _send(conn, ("fatal", str(exc)))
        return
    except BaseException as exc:  # noqa: BLE001 - report anything that stops the set-up
        _send(conn, ("fatal", f"worker set-up failed: {one_line(exc)}"))
        return
    _send(conn, ("ready", {"threads": used, "pid": os.getpid()}))
    while True:
        try:
            job = conn.recv()
        except (OSError, EOFError):
            os._exit(DRIVER_GONE_EXIT)
        if job is None:
            return
        _run_job(conn, *job)


def _run_job(conn: Connection, cell: Cell, timeout: TimeoutPolicy) -> None:
    """Run one cell, sending each record, then 'done'; anything that escapes the trial
    loop (a plugin raising KeyboardInterrupt, say) is sent as 'crash' instead."""
    from ..trial import run_cell

    last = 0.0

    def progress(cell: Cell, step: int, max_steps: int, accs: list[float]) -> None:
        nonlocal last
        t = time.monotonic()
        if t - last >= EVAL_MESSAGE_INTERVAL_S:
            last = t
            _send(conn, ("eval", step, max_steps, accs))

    try:
        for record in run_cell(cell, progress, timeout):
            _send(conn, ("record", record))
    except BaseException as exc:  # noqa: BLE001 - the driver records it; the worker goes on
        _send(conn, ("crash", one_line(exc)))
    else:
        _send(conn, ("done",))


# ----------------------------------------------------------------------------- driver side


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while a worker starts: the worker inherits the ignored SIGINT, so a
    Ctrl-C while it still imports torch (before ``_worker_main`` runs) is not raised there.
    Only the main thread can change signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Slot:
    """One worker process and the cell it is running."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: Any = None
        self.conn: Connection | None = None
        self.ready = False
        self.info: dict[str, Any] = {}
        self.cell: Cell | None = None
        self.reported: set[str] = set()  # keys of the records the worker sent
        self.started_at = ""
        self.kill_at: float | None = None

    @property
    def busy(self) -> bool:
        return self.cell is not None

    @property
    def idle(self) -> bool:
        return self.conn is not None and self.ready and self.cell is None

    @property
    def overdue(self) -> bool:
        return self.conn is not None and self.kill_at is not None and time.monotonic() > self.kill_at


class ProcessExecutor:
    """``workers`` processes on this machine, each with ``threads`` torch threads
    (default: its share of the cores, at least 1, at most ``OMP_NUM_THREADS`` when that is
    set: on a shared machine one thread per process avoids oversubscription); ``timeout``
    is enforced by killing a worker past the policy's kill deadline."""

    name = "process"

    def __init__(
        self,
        workers: int | None = None,
        threads: int | None = None,
        timeout: TimeoutPolicy | None = None,
        start_method: str = "spawn",
    ) -> None:
        self.workers = max(1, workers or cpu_count())
        share = max(1, cpu_count() // self.workers)
        self.threads: int | None = threads or min(share, thread_limit() or share)
        self.timeout = timeout or TimeoutPolicy()
        self.start_method = start_method

    def run(self, cells: Iterable[Cell], progress: ProgressFn | None = None) -> Iterator[Record]:
        """The records of ``cells``. A lazy iterable is drawn from as late as possible: one
        cell per worker at the start, then one each time a worker is free (a tuning
        study's capping policy is then made from the records written up to that moment)."""
        source = _CellSource(cells, self.workers)
        if source.ready:
            yield from _Pool(self, source, progress).records()

    def stamp(self, record: Record) -> Record:
        """Mark a record as run by this pool."""
        return stamp(record, self.name, self.timeout, workers=self.workers)


class _CellSource:
    """The cells still to run: the first ``first`` drawn at once (they size the pool), the
    rest one at a time by ``take``, when a worker is free."""

    def __init__(self, cells: Iterable[Cell], first: int) -> None:
        self.rest = iter(cells)
        self.ready = deque(c for _, c in zip(range(first), self.rest))
        self.exhausted = len(self.ready) < first

    def pending(self) -> bool:
        """Whether a cell may remain (without drawing one)."""
        return bool(self.ready) or not self.exhausted

    def take(self) -> Cell | None:
        """The next cell, drawn now; None when there is none left."""
        if self.ready:
            return self.ready.popleft()
        cell = None if self.exhausted else next(self.rest, None)
        self.exhausted = self.exhausted or cell is None
        return cell


class _Pool:
    """One run of a ProcessExecutor: the worker slots, the source of cells, the event loop."""

    def __init__(self, executor: ProcessExecutor, source: _CellSource, progress: ProgressFn | None) -> None:
        self.executor = executor
        self.timeout = executor.timeout
        self.source = source
        self.progress = progress
        self.context = mp.get_context(executor.start_method)
        self.plugins = plugin_sources(source.ready[0].plugin_files)
        self.slots = [_Slot(i) for i in range(len(source.ready))]
        self.failed_starts = 0

    def records(self) -> Iterator[Record]:
        """Every record of the cells, as they arrive; the workers stop on the way out."""
        try:
            while self.source.pending() or any(s.busy for s in self.slots):
                self._dispatch()
                yield from self._poll()
        finally:
            self._shutdown()

    def _dispatch(self) -> None:
        """Start workers in empty slots while work remains; hand cells to idle workers."""
        for slot in self.slots:
            if slot.conn is None and self.source.pending():
                self._start(slot)
            if slot.idle:
                cell = self.source.take()
                if cell is not None:
                    self._assign(slot, cell)

    def _start(self, slot: _Slot) -> None:
        if self.failed_starts >= 3 * len(self.slots):
            raise UserError(
                f"grokbench worker processes keep ending before they start (the last one "
                f"{describe_exit(slot.proc.exitcode)}); from a script of your own, start grokbench under "
                f"`if __name__ == '__main__':` (workers are spawned and import the main module)"
            )
        parent, child = self.context.Pipe(duplex=True)
        proc = self.context.Process(
            target=_worker_main, args=(child, self.executor.threads, self.plugins, os.getpid()),
            name=f"grokbench-worker-{slot.index}", daemon=True,
        )
        with _sigint_ignored():
            proc.start()
        child.close()
        slot.proc, slot.conn, slot.ready, slot.info = proc, parent, False, {}
        slot.cell, slot.reported, slot.kill_at = None, set(), None

    def _assign(self, slot: _Slot, cell: Cell) -> None:
        slot.cell, slot.reported, slot.started_at = cell, set(), now()
        slot.kill_at = self.timeout.kill_deadline(len(cell.slots))
        try:
            slot.conn.send((cell, self.timeout))
        except OSError:
            pass  # the worker just died: its sentinel reports it on the next poll

    def _poll(self) -> Iterator[Record]:
        """Wait for messages or deaths (at most POLL_S), then handle them and the deadlines."""
        live = [s for s in self.slots if s.conn is not None]
        waitables = [s.conn for s in live] + [s.proc.sentinel for s in live]
        ready = set(wait(waitables, timeout=POLL_S)) if live else set()
        for slot in live:
            if slot.conn in ready or slot.proc.sentinel in ready:
                yield from self._receive(slot)
            if slot.conn is not None and slot.proc.sentinel in ready:
                yield from self._worker_ended(slot, None)  # exited; its pipe is drained
            if slot.overdue:
                yield from self._kill_overdue(slot)

    def _receive(self, slot: _Slot) -> Iterator[Record]:
        """Handle every message waiting in the slot's pipe; a broken pipe ends the worker."""
        while slot.conn is not None:
            try:
                if not slot.conn.poll():
                    return
                message = slot.conn.recv()
            except (EOFError, OSError):
                yield from self._worker_ended(slot, "closed its pipe")
                return
            except Exception:  # noqa: BLE001 - a message garbled by a dying worker
                yield from self._worker_ended(slot, "sent an unreadable message")
                return
            yield from self._handle(slot, message)

    def _handle(self, slot: _Slot, message: tuple) -> Iterator[Record]:
        """One message of a worker (see ``_worker_main`` and ``_run_job`` for who sends what)."""
        kind = message[0]
        if kind == "ready":
            slot.ready, slot.info, self.failed_starts = True, message[1], 0
        elif kind == "fatal":
            raise UserError(message[1])
        elif kind == "eval":
            if self.progress is not None and slot.cell is not None:
                self.progress(slot.cell, *message[1:])
        elif kind == "record":
            record = message[1]
            slot.reported.add(record.key)
            yield self.executor.stamp(record)
        elif kind == "done":
            slot.cell, slot.kill_at = None, None
        elif kind == "crash":
            yield from self._lost(slot, Status.ERROR, f"the trial raised {message[1]} in the worker process")

    def _worker_ended(self, slot: _Slot, broken: str | None) -> Iterator[Record]:
        """The worker exited, or ``broken`` says how its pipe failed: give it EXIT_GRACE_S to
        exit by itself, then record its missing seeds with how it ended."""
        if not slot.ready:
            self.failed_starts += 1
        killed = self._close(slot, EXIT_GRACE_S)
        if killed:
            how = f"{broken or 'stopped answering'} and was killed by grokbench"
        else:
            how = describe_exit(slot.proc.exitcode)
        yield from self._lost(slot, Status.ERROR, f"worker process {how}")

    def _kill_overdue(self, slot: _Slot) -> Iterator[Record]:
        self._close(slot, 0.0)
        n_trials = len(slot.cell.slots) if slot.cell is not None else 1
        yield from self._lost(slot, Status.TIMEOUT, self.timeout.message(n_trials, "the worker was killed"))

    def _lost(self, slot: _Slot, status: Status, message: str) -> Iterator[Record]:
        """Records for the trials of the slot's cell not reported yet; the slot is then free."""
        cell, slot.cell, slot.kill_at = slot.cell, None, None
        if cell is None:
            return
        env = {"pid": slot.proc.pid, "threads": slot.info.get("threads")}
        for record in lost_records(cell, slot.reported, status, message, slot.started_at, env):
            yield self.executor.stamp(record)

    @staticmethod
    def _close(slot: _Slot, grace: float) -> bool:
        """Wait up to ``grace`` seconds for the worker to exit, SIGKILL it if it has not,
        close its pipe. Returns whether it had to be killed."""
        proc = slot.proc
        if grace > 0:
            proc.join(grace)
        killed = proc.is_alive()
        if killed:
            proc.kill()
            proc.join(SHUTDOWN_GRACE_S)
        if slot.conn is not None:
            slot.conn.close()
            slot.conn = None
        return killed

    def _shutdown(self) -> None:
        """Idle workers are asked to stop, the others are sent SIGTERM; all get
        SHUTDOWN_GRACE_S together before the stragglers are killed."""
        open_slots = [s for s in self.slots if s.conn is not None]
        for slot in open_slots:
            try:
                if slot.idle:
                    slot.conn.send(None)
                else:
                    slot.proc.terminate()
            except (OSError, ValueError):
                slot.proc.terminate()
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for slot in open_slots:
            self._close(slot, max(0.0, deadline - time.monotonic()))
