"""A local pool of worker processes, robust to workers that die.

Why not concurrent.futures: a ProcessPoolExecutor whose worker is killed (SIGKILL, a
segfault, the OOM killer) breaks as a whole (BrokenProcessPool) and takes every queued
trial with it. Here each worker is a long-lived process with its own pipe to the driver:

- workers are started with ``spawn`` (never ``fork``: a forked torch can deadlock on the
  locks of its thread pools), import torch once, limit torch to ``threads`` threads, load
  the plugin files, then run one cell at a time as the driver hands them out;
- a worker sends each record through its pipe the moment ``run_cell`` yields it, so a
  dying worker loses only the seeds it was still training;
- the driver waits on every pipe and every process sentinel at once; when a worker dies it
  reads what the pipe still holds, records the cell's missing seeds as ``error`` (with the
  signal or exit code), starts a fresh worker in its place and goes on with the plan;
- with a trial timeout, a cell that overstays its time (plus a grace period for the
  worker's own cooperative check) is killed and its missing seeds recorded as ``timeout``;
- SIGINT is ignored in workers: on Ctrl-C the driver alone stops, and closing the
  executor's iterator terminates the workers.

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
from multiprocessing.connection import Connection, wait
from typing import Any

from ..errors import UserError
from ..trial import Cell, ProgressFn
from .base import cpu_count, describe_exit, lost_records, now, stamp

EVAL_MESSAGE_INTERVAL_S = 0.25  # at most this often a worker reports training progress


def _watch_parent(parent_pid: int) -> None:
    """Exit when the driver is gone (killed with SIGKILL, say): no orphans keep training."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)


def _worker_main(conn: Connection, threads: int, plugin_files: tuple[str, ...], parent_pid: int) -> None:
    """A worker process: set up once, then run cells until told to stop (None) or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    try:
        from ..errors import UserError as _UserError
        from .base import setup_worker

        used = setup_worker(threads, plugin_files)
    except _UserError as exc:
        conn.send(("fatal", str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - report anything that stops the set-up
        conn.send(("fatal", f"worker set-up failed: {type(exc).__name__}: {exc}"))
        return
    from ..trial import run_cell

    conn.send(("ready", {"threads": used, "pid": os.getpid()}))
    last = 0.0

    def progress(cell: Cell, step: int, max_steps: int, accs: list[float]) -> None:
        nonlocal last
        t = time.monotonic()
        if t - last >= EVAL_MESSAGE_INTERVAL_S:
            last = t
            conn.send(("eval", step, max_steps, accs))

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        cell, timeout_s = job
        for record in run_cell(cell, progress, timeout_s):
            conn.send(("record", record))
        conn.send(("done",))


class _Slot:
    """One worker process and the cell it is running."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: Any = None
        self.conn: Connection | None = None
        self.ready = False
        self.info: dict[str, Any] = {}
        self.cell: Cell | None = None
        self.reported: set[int] = set()
        self.started_at = ""
        self.deadline: float | None = None

    @property
    def busy(self) -> bool:
        return self.cell is not None


class ProcessExecutor:
    """``workers`` processes on this machine, each with ``threads`` torch threads
    (default: its share of the cores, at least 1)."""

    name = "process"

    def __init__(
        self,
        workers: int | None = None,
        threads: int | None = None,
        timeout_s: float | None = None,
        start_method: str = "spawn",
        kill_grace_s: float = 10.0,
    ) -> None:
        self.workers = max(1, workers or cpu_count())
        self.threads = threads or max(1, cpu_count() // self.workers)
        self.timeout_s = timeout_s
        self.start_method = start_method
        self.kill_grace_s = kill_grace_s

    def run(self, cells: Iterable[Cell], progress: ProgressFn | None = None) -> Iterator[dict[str, Any]]:
        queue = deque(cells)
        if not queue:
            return
        ctx = mp.get_context(self.start_method)
        plugin_files = queue[0].plugin_files
        slots = [_Slot(i) for i in range(min(self.workers, len(queue)))]
        failed_starts = 0

        def start(slot: _Slot) -> None:
            parent, child = ctx.Pipe(duplex=True)
            proc = ctx.Process(
                target=_worker_main, args=(child, self.threads, plugin_files, os.getpid()),
                name=f"grokbench-worker-{slot.index}", daemon=True,
            )
            proc.start()
            child.close()
            slot.proc, slot.conn, slot.ready, slot.info = proc, parent, False, {}
            slot.cell, slot.reported, slot.deadline = None, set(), None

        def reap(slot: _Slot, status: str, why: str) -> Iterator[dict[str, Any]]:
            """The slot's worker is gone (or being killed): record its missing seeds."""
            if slot.proc.is_alive():
                slot.proc.kill()
            slot.proc.join(5)
            if slot.conn is not None:
                slot.conn.close()
            slot.conn = None
            cell = slot.cell
            if cell is not None:
                missing = [s for s in cell.seeds if s not in slot.reported]
                message = why if status == "timeout" else f"worker process died: {describe_exit(slot.proc.exitcode)}"
                env = {"pid": slot.proc.pid, "threads": slot.info.get("threads"), "batched_seeds": len(cell.seeds)}
                for record in lost_records(cell, missing, status, message, slot.started_at, env):
                    yield self._stamp(record)
            slot.cell = None

        def receive(slot: _Slot) -> Iterator[dict[str, Any]]:
            """Handle every message waiting in the slot's pipe; reap it if the pipe broke."""
            nonlocal failed_starts
            while slot.conn is not None:
                try:
                    if not slot.conn.poll():
                        return
                    msg = slot.conn.recv()
                except (EOFError, OSError):
                    msg = None
                except Exception:  # noqa: BLE001 - a message garbled by a dying worker
                    msg = None
                if msg is None:
                    if not slot.ready:
                        failed_starts += 1
                    yield from reap(slot, "error", "")
                    return
                kind = msg[0]
                if kind == "ready":
                    slot.ready, slot.info, failed_starts = True, msg[1], 0
                elif kind == "fatal":
                    raise UserError(msg[1])
                elif kind == "eval":
                    if progress is not None and slot.cell is not None:
                        progress(slot.cell, *msg[1:])
                elif kind == "record":
                    record = msg[1]
                    slot.reported.add(record["identity"]["seed"])
                    yield self._stamp(record)
                elif kind == "done":
                    slot.cell, slot.deadline = None, None

        try:
            for slot in slots:
                start(slot)
            while queue or any(s.busy for s in slots):
                # Hand out cells to idle workers; replace dead ones while work remains.
                for slot in slots:
                    if slot.conn is None and queue:
                        if failed_starts >= 3 * len(slots):
                            raise RuntimeError(
                                f"grokbench worker processes keep dying before they start "
                                f"({describe_exit(slot.proc.exitcode)}); from a script of your own, start grokbench "
                                f"under `if __name__ == '__main__':` (workers are spawned and import the main module)"
                            )
                        start(slot)
                    if slot.conn is not None and slot.ready and not slot.busy and queue:
                        cell = queue.popleft()
                        slot.cell, slot.reported, slot.started_at = cell, set(), now()
                        if self.timeout_s is not None:
                            budget = self.timeout_s * max(1, len(cell.seeds))
                            slot.deadline = time.monotonic() + budget + max(self.kill_grace_s, 0.1 * budget)
                        slot.conn.send((cell, self.timeout_s))
                live = [s for s in slots if s.conn is not None]
                waitables: list[Any] = [s.conn for s in live] + [s.proc.sentinel for s in live]
                ready = set(wait(waitables, timeout=0.5)) if waitables else set()
                for slot in live:
                    if slot.conn in ready or slot.proc.sentinel in ready:
                        yield from receive(slot)
                    if slot.conn is not None and slot.proc.sentinel in ready:
                        # Exited, and its pipe is drained: whatever it did not send is lost.
                        if not slot.ready:
                            failed_starts += 1
                        yield from reap(slot, "error", "")
                    if slot.conn is not None and slot.deadline is not None and time.monotonic() > slot.deadline:
                        n = len(slot.cell.seeds)
                        per = f" x {n} seeds trained together" if n > 1 else ""
                        why = f"exceeded --trial-timeout {self.timeout_s:g}s{per}; the worker was killed"
                        yield from reap(slot, "timeout", why)
        finally:
            self._shutdown(slots)

    def _stamp(self, record: dict[str, Any]) -> dict[str, Any]:
        return stamp(record, self.name, self.timeout_s, workers=self.workers)

    @staticmethod
    def _shutdown(slots: list[_Slot]) -> None:
        """Idle workers are asked to stop; busy ones are terminated; stragglers killed."""
        for slot in slots:
            if slot.conn is None or slot.proc is None:
                continue
            try:
                if slot.busy or not slot.ready:
                    slot.proc.terminate()
                else:
                    slot.conn.send(None)
            except (OSError, ValueError):
                slot.proc.terminate()
        deadline = time.monotonic() + 5
        for slot in slots:
            if slot.proc is None:
                continue
            slot.proc.join(max(0.0, deadline - time.monotonic()))
            if slot.proc.is_alive():
                slot.proc.kill()
                slot.proc.join(1)
            if slot.conn is not None:
                slot.conn.close()
                slot.conn = None
