"""Trials: the timed training loop and the untimed evaluation, for S seeds at once.

A cell (``grokbench.plan.Cell``) is one task, one method configuration (or several that
differ only in base-optimizer scalars) and a tuple of seeds. ``run_cell`` trains all of its
trials, its (configuration, seed) slots, in one batched model (S = 1 is the single-trial
case) and yields one ``Record`` per trial as soon as that trial is finished. Read it top to
bottom: ``_train`` is the loop; ``train_step`` is the timed unit; ``evaluate`` is the
untimed one; ``CellRun.finish`` holds the rules that end a trial; with a checkpoint policy
the cell starts from a saved state (``grokbench.checkpoint``) and saves its own, untimed,
after an evaluation.

Timed vs untimed: only ``train_step`` (forward, backward, the method's transforms, the
optimizer, after-step hooks) runs inside the clock (``environment.PeriodClock``: CUDA
events on a GPU, ``perf_counter`` after a device synchronization elsewhere); evaluation
runs outside it under inference mode.

Time apportioning in a batch (the *measured* figure): the wall time of each training
period is divided equally among the S seeds computed in it, and each seed still training
is charged that share. So a seed's train_time_s is (its number of steps) x (the cost of one
seed-step in the batch as it was then), the same rule for every method; the share grows as
finished seeds leave the batch. ``Record.timing`` keeps what that figure depends on: the
clock, the steps timed, the unshared seconds and process CPU seconds of the periods the
seed trained in, the batch width they were computed at, the load average and the peak
memory. A per-seed cost that does not depend on the batch's other seeds is the calibrated
one (``grokbench.calibrate``).
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import torch
from torch import Tensor

from . import checkpoint, environment
from .capping import GIVE_UP, Capper
from .chain import Chain
from .evaluation import evaluate
from .plan import Cell, Slot
from .record import Record, Status
from .seedbatch import SeedBatch
from .seedtrack import SeedTrack
from .task import Schedule, Task
from .timeout import TimeoutPolicy

# Called after each evaluation: (cell, step, max_steps, per-seed test accuracies of the
# seeds still training).
ProgressFn = Callable[[Cell, int, int, list[float]], None]

# Finished seeds are dropped from the batch once at least this fraction of it is finished
# (a finished seed left in the batch costs a full seed-step per step; dropping copies the
# batch's data once: at 1/16 the copies cost far less than the steps they save).
COMPACT_FRACTION = 1 / 16


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class SeedTiming:
    """What the clock saw of one seed's training periods. ``wall_s`` and ``cpu_s`` are the
    periods' whole (unshared) seconds; ``width_steps`` sums steps x batch width."""

    steps: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    width_steps: int = 0
    load1_max: float | None = None

    def add(self, period: environment.Period, steps: int, width: int) -> None:
        self.steps += steps
        self.wall_s += period.wall_s
        self.cpu_s += period.cpu_s
        self.width_steps += steps * width
        if period.load1 is not None:
            self.load1_max = max(period.load1, self.load1_max or 0.0)


class CellRun:
    """The book-keeping of one cell: a ``SeedTrack`` and a ``SeedTiming`` per slot (trial),
    the clock, and how to make records."""

    def __init__(self, cell: Cell, device: torch.device) -> None:
        self.cell, self.device = cell, device
        self.tracks = {s: SeedTrack(s.seed, s.config) for s in cell.slots}
        self.timing = {s: SeedTiming() for s in cell.slots}
        self.env = environment.describe(device)
        self.clock = environment.PeriodClock(device)
        environment.keep_freed_memory()  # no page faults from the allocator in the loop
        self.memory_scope = environment.reset_peak_memory(device)
        self.load1_start = environment.load_average()
        self.started = _now()
        self.task: Task | None = None
        self.schedule: Schedule | None = None
        self.eval_time_s = 0.0
        self.capper = Capper(cell.capping) if cell.capping is not None else None

    def unfinished(self) -> list[SeedTrack]:
        return [t for t in self.tracks.values() if t.status is None]

    def charge(self, period: environment.Period, slots: list[Slot], steps: int) -> None:
        """Split the ``period`` of ``steps`` training steps equally among ``slots`` (those
        computed in it); each trial still training also notes the whole period."""
        for s in slots:
            if self.tracks[s].status is None:
                self.tracks[s].train_time_s += period.wall_s / len(slots)
                self.timing[s].add(period, steps, len(slots))

    def timing_fields(self, slot: Slot) -> dict[str, Any]:
        """The record's ``timing``: see the module docstring."""
        t = self.timing[slot]
        loads = [x for x in (self.load1_start, t.load1_max) if x is not None]
        return {
            "clock": self.clock.name,
            "apportioning": "equal share of each period among the seeds in the batch",
            "steps": t.steps,
            "periods_wall_s": t.wall_s,
            "periods_cpu_s": t.cpu_s,
            "cpu_per_wall": t.cpu_s / t.wall_s if t.wall_s > 0 else None,
            "mean_batch_width": t.width_steps / t.steps if t.steps else None,
            "load1_start": self.load1_start,
            "load1_max": max(loads) if loads else None,
            "peak_memory_scope": self.memory_scope,
            **environment.peak_memory(self.device),
        }

    def finish(self, step: int) -> Iterator[Record]:
        """End every seed whose last evaluation decides it: diverged, solved (its window and
        tail watched, and ``after_solve`` more evaluations) or out of budget."""
        for track in self.unfinished():
            status = track.decide(step, self.task.target, self.schedule.max_steps, self.cell.after_solve,
                                  self.task.stability, self.schedule.eval_every)
            if status is not None:
                yield self.end(track, status)

    def end(self, track: SeedTrack, status: Status, error: str | None = None,
            detail: str | None = None) -> Record:
        track.status, track.error = status, error
        record = track.record(self.cell, self.task, self.schedule, self.env, self.started, _now(),
                              self.eval_time_s, detail)
        record.timing = self.timing_fields(Slot(track.config, track.seed))
        if self.capper is not None:
            self.capper.note(track.config, str(status), record.metrics.get("solve_step"), track.seed)
        return record

    def cap(self, step: int) -> Iterator[Record]:
        """End, with status ``capped``, the trials of every configuration that can no longer
        beat or tie its study's incumbent (``grokbench.capping``); nothing without a policy."""
        if self.capper is None:
            return
        live: dict[int, list] = {}
        for track in self.unfinished():
            if track.watch is not None and track.watch.solve is not None:  # settled; its tail still watched
                self.capper.note_solve(track.config, track.seed, track.curve["step"][track.watch.solve])
            else:  # counted once: a settled trial is among the decided, not the live
                live.setdefault(track.config, []).append((track.curve["step"], track.curve["test_acc"]))
        for config, (bound, rule) in self.capper.to_cap(live, self.task.target, step,
                                                        self.schedule.max_steps).items():
            for track in [t for t in self.unfinished() if t.config == config
                          and (t.watch is None or t.watch.solve is None)]:  # a settled solve finishes its tail
                record = self.end(track, Status.CAPPED)
                record.metrics.update(capped_step=step, capping_bound=bound,
                                      capping_give_up=self.capper.policy.give_up if rule == GIVE_UP else None)
                yield record


def run_cell(cell: Cell, progress: ProgressFn | None = None,
             timeout: TimeoutPolicy | None = None) -> Iterator[Record]:
    """Train the cell's seeds together; yield each seed's record when it finishes.

    Statuses: see ``grokbench.record.Status``. An exception raised by a plugin (or a
    ``SystemExit`` from one) ends the cell's unfinished seeds with status ``error`` and its
    message; ``timeout`` follows ``timeout`` (a ``TimeoutPolicy``), checked before every
    training step, and the record keeps the curve so far.
    """
    run = CellRun(cell, environment.resolve_device(cell.device))
    try:
        run.task = cell.task.build()
        yield from _train(run, progress, timeout or TimeoutPolicy())
    except (Exception, SystemExit) as exc:
        message, detail = f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=6)
        for track in run.unfinished():
            yield run.end(track, Status.ERROR, message, detail)


def build_chain(cell: Cell) -> tuple[Chain, dict[str, list[Any]]]:
    """The chain of the cell's first configuration, and the base-optimizer settings in which
    its configurations differ, one value per configuration (``SeedBatch`` makes them per slot)."""
    chain = cell.method.build()
    names = chain.optimizer.slot_settings if cell.variants else ()
    values = {name: [spec.optimizer.params[name] for spec in cell.configs] for name in names}
    return chain, {name: v for name, v in values.items() if len({repr(x) for x in v}) > 1}


def _train(run: CellRun, progress: ProgressFn | None, timeout: TimeoutPolicy) -> Iterator[Record]:
    cell, task = run.cell, run.task
    chain, config_settings = build_chain(cell)
    batch = SeedBatch.build(task, cell.task.name, cell.method.stream_label, cell.seeds, chain, run.device,
                            len(cell.configs), config_settings)
    run.schedule = schedule = task.schedule(batch.n_train)
    deadline = timeout.deadline(len(cell.slots))
    saver, start = _resume(cell, batch, run)
    if start == 0:
        run.eval_time_s += evaluate(task, batch, run.tracks, 0, schedule.steps_per_epoch)
        yield from run.finish(0)
    run.clock.start()
    period_start = start
    # past the budget, only trials watching a crossing's window or a solve's tail train on
    limit = schedule.max_steps + task.stability.watch_steps(schedule.max_steps, schedule.eval_every)
    for step in range(start, limit):
        if not run.unfinished():
            break
        if deadline is not None and time.monotonic() > deadline:
            message = timeout.message(len(cell.slots), f"stopped before step {step}")
            for track in run.unfinished():
                yield run.end(track, Status.TIMEOUT, message)
            return
        losses = train_step(task, chain, batch, step, schedule)
        done = step + 1
        diverging = run.device.type == "cpu" and not math.isfinite(losses.sum().item())
        if done % schedule.eval_every and done not in (schedule.max_steps, limit) and not diverging:
            continue
        run.charge(run.clock.stop(), batch.slots, done - period_start)
        run.eval_time_s += evaluate(task, batch, run.tracks, done, schedule.steps_per_epoch,
                                    losses if diverging else None)
        _stop_diverged(batch, run)
        yield from run.finish(done)
        yield from run.cap(done)
        if progress is not None:
            progress(cell, done, schedule.max_steps, [run.tracks[s].last_test_acc for s in batch.slots
                                                      if run.tracks[s].status is None])
        _compact(batch, run)
        if saver is not None and saver.due() and run.unfinished():
            saver.save(done, batch, run)
        run.clock.start()
        period_start = done
    for track in run.unfinished():  # at the watch limit, which no window outlasts: for safety
        solved = track.watch is not None and track.watch.solve is not None
        yield run.end(track, Status.SOLVED if solved else Status.UNSOLVED)
    if saver is not None:
        saver.discard()  # every trial has its record now


def _resume(cell: Cell, batch: SeedBatch, run: CellRun) -> tuple[checkpoint.Saver | None, int]:
    """The cell's checkpoint saver (None without a policy) and the step to start from: the
    most advanced matching checkpoint that loads (``checkpoint.load`` warns about and
    discards those that do not), put into ``batch`` and ``run``; else 0."""
    if cell.checkpoint is None:
        return None, 0
    for found in checkpoint.candidates(cell.checkpoint, cell.keys()):
        saved = checkpoint.load(found, cell)
        if saved is not None:
            return checkpoint.Saver(cell, cell.checkpoint), checkpoint.restore(saved, cell, batch, run)
    return checkpoint.Saver(cell, cell.checkpoint), 0


def train_step(task: Task, chain: Chain, batch: SeedBatch, step: int, schedule: Schedule) -> Tensor:
    """The timed unit: one optimizer step of every live seed. Returns the per-seed losses."""
    xb, yb = batch.minibatch(step, schedule.batch_size, schedule.steps_per_epoch)
    if task.has_fast_grad:
        with torch.no_grad():
            losses, grads = task.loss_and_grad(batch.params, xb, yb)
    else:
        losses, grads = autograd_step(task, batch.params, xb, yb)
    if batch.sanitize:
        for g in grads.values():
            torch.nan_to_num_(g, nan=0.0, posinf=0.0, neginf=0.0)
    batch.ctx.step, batch.ctx.batch = step, (xb, yb)
    chain.update(grads, batch.params, batch.state, batch.ctx)
    chain.after_step(batch.params, batch.state, batch.ctx)
    return losses


def autograd_step(task: Task, params: dict[str, Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Per-seed losses (S,) and the gradient of their sum with respect to ``params`` (leaves
    of shape (S, ...)), by autograd. On a CPU, in chunks of ``task.cpu_gradient_seeds``
    seeds (0: all at once): a seed's loss depends on its own parameters only, so each chunk
    gives its seeds' gradients, and a chunk's activations stay in cache. On the CPU measured
    (an Intel Xeon) the kernels compute each seed the same way at any batch size, so the
    chunks' gradients equal the all-at-once ones bit for bit (benchmarks/README.md, #28)."""
    n_seeds = x.shape[0]
    chunk = int(task.cpu_gradient_seeds) if x.device.type == "cpu" else 0
    if chunk <= 0 or chunk >= n_seeds:
        losses = task.loss(task.forward(params, x), y)
        return losses, dict(zip(params, torch.autograd.grad(losses.sum(), list(params.values()))))
    losses, parts = [], {name: [] for name in params}
    for lo in range(0, n_seeds, chunk):
        leaves = {name: p[lo:lo + chunk].detach().requires_grad_() for name, p in params.items()}
        loss = task.loss(task.forward(leaves, x[lo:lo + chunk]), y[lo:lo + chunk])
        for name, g in zip(leaves, torch.autograd.grad(loss.sum(), list(leaves.values()))):
            parts[name].append(g)
        losses.append(loss.detach())
    return torch.cat(losses), {name: torch.cat(gs) for name, gs in parts.items()}


def _stop_diverged(batch: SeedBatch, run: CellRun) -> None:
    """A seed whose loss went non-finite is zeroed, and from then on every gradient is
    sanitized, so that its NaNs cannot reach a batched kernel shared with other seeds."""
    for pos, slot in enumerate(batch.slots):
        if run.tracks[slot].status is None and run.tracks[slot].diverged:
            batch.sanitize = True
            with torch.no_grad():
                for p in batch.params.values():
                    p[pos].zero_()


def _compact(batch: SeedBatch, run: CellRun) -> None:
    """Drop finished trials from the batch once at least COMPACT_FRACTION of it finished."""
    keep = [pos for pos, s in enumerate(batch.slots) if run.tracks[s].status is None]
    n_done = len(batch.slots) - len(keep)
    if keep and n_done >= max(1, COMPACT_FRACTION * len(batch.slots)):
        batch.compact(keep)


def lost_record(cell: Cell, slot: Slot, status: Status, message: str, env: dict[str, Any],
                started: str) -> Record:
    """The record of a trial whose worker vanished (killed, crashed, timed out from outside):
    its identity, ``status`` and ``message``, no curve. Executors use it."""
    track = SeedTrack(slot.seed, slot.config)
    track.status, track.error = status, message
    return track.record(cell, None, None, env, started, _now(), 0.0, None)
