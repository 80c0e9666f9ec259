"""Trials: the timed training loop and the untimed evaluation, for S seeds at once.

A *cell* is one (task, method) pair and a tuple of seeds. ``run_cell`` trains all of its
seeds in one seed-batched model (every tensor has a leading seed axis; S = 1 is the
single-seed case) and yields one record per seed as soon as that seed is finished.

Determinism and pairing: each seed's data, secret, initialization, held-out slice and
batch order come from generators derived from (task name, seed index, stream) only, on
the CPU, so they are identical whatever the method and whatever else is in the batch.

Timed vs untimed (AlgoPerf's line): only training steps (forward, backward, transforms,
optimizer, after-step hooks) are inside the clock; the device is synchronized before each
clock read; evaluation runs outside it under inference mode.

Time apportioning in a batch: the wall time of each training period is divided equally
among the S seeds computed in it, and each seed still training is charged that share. So a
seed's train_time_s is (its number of steps) x (the cost of one seed-step in this batch),
the same rule for every method.
"""

from __future__ import annotations

import math
import os
import platform
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch
from torch import Tensor

from . import __version__, seeding
from .method import StepContext
from .metrics import summarize
from .spec import MethodSpec, TaskSpec, identity_key, trial_identity
from .task import Split

# Called after each evaluation: (cell, step, max_steps, per-seed test accuracies of the
# seeds still training).
ProgressFn = Callable[["Cell", int, int, list[float]], None]


@dataclass(frozen=True)
class Cell:
    """One (task, method) pair and the seeds to train together. Picklable."""

    task: TaskSpec
    method: MethodSpec
    seeds: tuple[int, ...]
    after_solve: int = 0
    device: str = "cpu"
    plugin_files: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return f"{self.task.label} / {self.method.label}"

    def identity(self, seed: int) -> dict[str, Any]:
        return trial_identity(self.task, self.method, seed, self.after_solve)

    def key(self, seed: int) -> str:
        return identity_key(self.identity(seed))


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def environment(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = _cpu_name()
    return {
        "device": str(device),
        "device_name": device_name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "pid": os.getpid(),
    }


def _carve_holdout(split: Split, fraction: float, gen: torch.Generator) -> tuple[Split, tuple[Tensor, Tensor]]:
    """Move a random ``fraction`` of the training set into a held-out slice (order kept)."""
    n = split.x_train.shape[0]
    n_hold = max(1, round(fraction * n))
    perm = torch.randperm(n, generator=gen)
    hold, keep = perm[:n_hold].sort().values, perm[n_hold:].sort().values
    inner = Split(split.x_train[keep], split.y_train[keep], split.x_test, split.y_test)
    return inner, (split.x_train[hold], split.y_train[hold])


def _stack(tensors: list[Tensor], device: torch.device) -> Tensor:
    return torch.stack(tensors).to(device)


class _SeedState:
    """Book-keeping of one seed of the batch: its curve, clock share and status."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.curve: dict[str, list] = {
            k: [] for k in ("step", "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "train_time_s")
        }
        self.train_time_s = 0.0
        self.status: str | None = None  # None while training
        self.error: str | None = None
        self.solved_evals = 0
        self.finished = False


def _finite_or_none(x: float) -> float | None:
    return x if x == x and abs(x) != float("inf") else None


def run_cell(
    cell: Cell, progress: ProgressFn | None = None, timeout_s: float | None = None
) -> Iterator[dict[str, Any]]:
    """Train the cell's seeds together; yield each seed's record when it finishes.

    Statuses: ``solved`` (test accuracy reached the target), ``unsolved`` (budget spent),
    ``diverged`` (a non-finite loss), ``error`` (an exception; its message is recorded),
    ``timeout`` (``timeout_s`` given and exceeded: the cell may run ``timeout_s`` seconds
    of wall time per seed it holds, so a one-seed cell gets exactly ``timeout_s``; the
    check runs before every training step, and the record keeps the curve so far).
    """
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    deadline = None if timeout_s is None else time.monotonic() + timeout_s * max(1, len(cell.seeds))
    device = resolve_device(cell.device)
    states = [_SeedState(s) for s in cell.seeds]
    env = environment(device)
    schedule = None
    task = None
    try:
        task = cell.task.build()
        transforms = [c.build() for c in cell.method.transforms]
        optimizer = cell.method.optimizer.build()
        yield from _train(cell, task, transforms, optimizer, device, states, env, started, progress,
                          deadline, timeout_s)
    except Exception as exc:  # a plugin bug ends these trials with status "error"
        message = f"{type(exc).__name__}: {exc}"
        detail = traceback.format_exc(limit=6)
        for st in states:
            if not st.finished:
                st.status, st.error = "error", message
                st.finished = True
                yield _record(cell, st, env, schedule, task, started, eval_time_s=0.0, detail=detail)


# Evaluation runs over chunks of seeds holding about this many examples, so the activations
# of a chunk stay in cache (one forward over all S seeds' data spills them to memory).
EVAL_CHUNK_EXAMPLES = 8192

# Finished seeds are dropped from the batch once at least this fraction of it is finished.
COMPACT_FRACTION = 0.25


def _tree_index(tree: Any, keep: Tensor, n_seeds: int) -> Any:
    """Index dim 0 of every tensor with a leading seed axis (dim 0 == n_seeds) in ``tree``.

    Walks dicts, lists, tuples and plain objects' attributes; other values are kept as is.
    This is how transform and optimizer states follow the batch when seeds finish; the
    Method contract asks that every per-seed state tensor carries the leading seed axis.
    """
    if isinstance(tree, Tensor):
        return tree[keep] if tree.dim() > 0 and tree.shape[0] == n_seeds else tree
    if isinstance(tree, dict):
        return {k: _tree_index(v, keep, n_seeds) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_tree_index(v, keep, n_seeds) for v in tree]
    if isinstance(tree, tuple):
        return type(tree)(*(_tree_index(v, keep, n_seeds) for v in tree)) if hasattr(tree, "_fields") \
            else tuple(_tree_index(v, keep, n_seeds) for v in tree)
    if hasattr(tree, "__dict__") and not isinstance(tree, (type, torch.nn.Module, torch.Generator)):
        for k, v in vars(tree).items():
            setattr(tree, k, _tree_index(v, keep, n_seeds))
        return tree
    return tree


def _train(cell, task, transforms, optimizer, device, states, env, started, progress, deadline=None, timeout_s=None):
    name = cell.task.name
    fraction = max((t.holdout_fraction for t in transforms), default=0.0)
    splits, holdouts, inits = [], [], []
    for seed in cell.seeds:
        split = task.make_data(seeding.generator(name, seed, seeding.DATA))
        if fraction > 0:
            split, hold = _carve_holdout(split, fraction, seeding.generator(name, seed, seeding.HOLDOUT))
            holdouts.append(hold)
        splits.append(split)
        inits.append(task.init_params(seeding.generator(name, seed, seeding.INIT)))
    order_gens = [seeding.generator(name, s, seeding.ORDER) for s in cell.seeds]
    method_gens = [seeding.generator(name, s, seeding.METHOD, cell.method.label) for s in cell.seeds]

    # Seed-batched tensors. ``live`` maps batch position -> index into ``states``; when seeds
    # finish, every seed-axis tensor (data, parameters, states) is re-indexed to the live ones.
    data = {
        "x_train": _stack([s.x_train for s in splits], device),
        "y_train": _stack([s.y_train for s in splits], device),
        "x_test": _stack([s.x_test for s in splits], device),
        "y_test": _stack([s.y_test for s in splits], device),
    }
    if holdouts:
        data["x_hold"] = _stack([h[0] for h in holdouts], device)
        data["y_hold"] = _stack([h[1] for h in holdouts], device)
    params = {k: _stack([p[k] for p in inits], device).requires_grad_() for k in inits[0]}
    live = list(range(len(states)))

    n_train = data["x_train"].shape[1]
    schedule = task.schedule(n_train)
    batch, spe = schedule.batch_size, schedule.steps_per_epoch
    eval_chunk = max(1, EVAL_CHUNK_EXAMPLES // (n_train + data["x_test"].shape[1]))

    def loss_fn(p: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return task.loss(task.forward(p, x), y)

    holdout = (data["x_hold"], data["y_hold"]) if holdouts else None
    ctx = StepContext(0, loss_fn, (data["x_train"], data["y_train"]), holdout, list(method_gens), device)
    t_states = [t.init(params, ctx) for t in transforms]
    opt_state = optimizer.init(params)
    check_each_step = device.type == "cpu"  # free on CPU; on CUDA it would sync every step
    fast_grad = task.has_fast_grad
    sanitize = False
    eval_time = 0.0

    def evaluate(step: int) -> None:
        nonlocal eval_time
        t0 = time.perf_counter()
        pieces: dict[str, list[Tensor]] = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
        with torch.inference_mode():
            for lo in range(0, len(live), eval_chunk):
                chunk = {k: v[lo : lo + eval_chunk] for k, v in params.items()}
                for part in ("train", "test"):
                    x, y = data[f"x_{part}"][lo : lo + eval_chunk], data[f"y_{part}"][lo : lo + eval_chunk]
                    out = task.forward(chunk, x)
                    pieces[f"{part}_loss"].append(task.loss(out, y))
                    pieces[f"{part}_acc"].append(task.correct(out, y).sum(dim=1).double() / y.shape[1])
            columns = {k: torch.cat(v).double().cpu().tolist() for k, v in pieces.items()}
        for pos, i in enumerate(live):
            st = states[i]
            if st.finished:
                continue
            c = st.curve
            c["step"].append(step)
            c["epoch"].append(step / spe)
            for k, v in columns.items():
                c[k].append(_finite_or_none(v[pos]))
            c["train_time_s"].append(st.train_time_s)
        eval_time += time.perf_counter() - t0

    def finish_if_done(step: int) -> Iterator[dict[str, Any]]:
        for i in live:
            st = states[i]
            if st.finished:
                continue
            test_acc = st.curve["test_acc"][-1]
            if st.curve["train_loss"][-1] is None:
                st.status = "diverged"
            elif st.solved_evals or (test_acc is not None and test_acc >= task.target):
                st.solved_evals += 1  # counts the solving evaluation and the ones after it
                if st.solved_evals > cell.after_solve or step >= schedule.max_steps:
                    st.status = "solved"
            elif step >= schedule.max_steps:
                st.status = "unsolved"
            if st.status is not None:
                st.finished = True
                yield _record(cell, st, env, schedule, task, started, eval_time)

    def compact() -> None:
        """Drop finished seeds from every seed-axis tensor once enough of them finished."""
        nonlocal params, t_states, opt_state, live, perm, holdout, seed_index, x_epoch, y_epoch
        keep_pos = [pos for pos, i in enumerate(live) if not states[i].finished]
        if not keep_pos or len(live) - len(keep_pos) < max(1, COMPACT_FRACTION * len(live)):
            return
        n_now = len(live)
        keep = torch.tensor(keep_pos, device=device)
        for k in data:
            data[k] = data[k][keep]
        with torch.no_grad():
            params = {k: v[keep].detach().requires_grad_() for k, v in params.items()}
        opt_state = _tree_index(opt_state, keep, n_now)
        t_states = [_tree_index(s, keep, n_now) for s in t_states]
        if perm is not None:
            perm, x_epoch, y_epoch = perm[keep], x_epoch[keep], y_epoch[keep]
        order_gens[:] = [order_gens[p] for p in keep_pos]
        ctx.generators = [ctx.generators[p] for p in keep_pos]
        holdout = (data["x_hold"], data["y_hold"]) if holdouts else None
        ctx.holdout = holdout
        live = [live[p] for p in keep_pos]
        seed_index = torch.arange(len(live), device=device).unsqueeze(1)

    evaluate(0)
    yield from finish_if_done(0)
    perm = x_epoch = y_epoch = None
    seed_index = torch.arange(len(live), device=device).unsqueeze(1)
    _sync(device)
    t0 = time.perf_counter()
    for step in range(schedule.max_steps):
        if all(states[i].finished for i in live):
            break
        if deadline is not None and time.monotonic() > deadline:
            per = f" x {len(states)} seeds trained together" if len(states) > 1 else ""
            message = f"exceeded --trial-timeout {timeout_s:g}s{per}; stopped before step {step}"
            for st in states:
                if not st.finished:
                    st.status, st.error, st.finished = "timeout", message, True
                    yield _record(cell, st, env, schedule, task, started, eval_time)
            return
        b = step % spe
        if b == 0:  # one gather per epoch; the batches are then slices (views) of it
            perm = torch.stack([torch.randperm(n_train, generator=g) for g in order_gens]).to(device)
            x_epoch, y_epoch = data["x_train"][seed_index, perm], data["y_train"][seed_index, perm]
        xb, yb = x_epoch[:, b * batch : (b + 1) * batch], y_epoch[:, b * batch : (b + 1) * batch]
        if fast_grad:
            with torch.no_grad():
                losses, grads = task.loss_and_grad(params, xb, yb)
        else:
            losses = loss_fn(params, xb, yb)
            grads = dict(zip(params, torch.autograd.grad(losses.sum(), list(params.values()))))
        if sanitize:
            for g in grads.values():
                torch.nan_to_num_(g, nan=0.0, posinf=0.0, neginf=0.0)
        ctx.step, ctx.batch, ctx.lr = step, (xb, yb), optimizer.lr_at(step)
        for transform, state in zip(transforms, t_states):
            grads = transform.update(grads, params, state, ctx)
        optimizer.step(params, grads, opt_state, step)
        for transform, state in zip(transforms, t_states):
            transform.after_step(params, state, ctx)

        done = step + 1
        bad = check_each_step and not math.isfinite(losses.sum().item())
        if done % schedule.eval_every == 0 or done == schedule.max_steps or bad:
            _sync(device)
            share = (time.perf_counter() - t0) / len(live)
            for i in live:
                if not states[i].finished:
                    states[i].train_time_s += share
            evaluate(done)
            if bad:
                finite = torch.isfinite(losses.detach()).cpu().tolist()
                for i, ok in zip(live, finite):
                    if not ok and not states[i].finished:
                        states[i].curve["train_loss"][-1] = None
            for pos, i in enumerate(live):
                if not states[i].finished and states[i].curve["train_loss"][-1] is None:
                    sanitize = True
                    with torch.no_grad():
                        for p in params.values():
                            p[pos].zero_()
            yield from finish_if_done(done)
            if progress is not None:
                progress(cell, done, schedule.max_steps,
                         [states[i].curve["test_acc"][-1] or 0.0 for i in live if not states[i].finished])
            compact()
            _sync(device)
            t0 = time.perf_counter()


def lost_record(cell: Cell, seed: int, status: str, message: str, env: dict[str, Any], started: str) -> dict[str, Any]:
    """The record of a trial whose worker vanished (killed, crashed, timed out from outside):
    its identity, ``status`` and ``message``, and no curve. Executors use it."""
    st = _SeedState(seed)
    st.status, st.error, st.finished = status, message, True
    return _record(cell, st, env, None, None, started, eval_time_s=0.0)


def _record(cell: Cell, st: _SeedState, env, schedule, task, started: str, eval_time_s: float, detail: str | None = None) -> dict[str, Any]:
    identity = cell.identity(st.seed)
    metrics: dict[str, Any] = {}
    budget: dict[str, Any] = {}
    if schedule is not None and task is not None:
        metrics = summarize(st.curve, fit_threshold=task.fit_threshold, target=task.target, steps_per_epoch=schedule.steps_per_epoch)
        budget = {
            "budget_steps": schedule.max_steps,
            "budget_epochs": schedule.max_steps / schedule.steps_per_epoch,
            "steps_per_epoch": schedule.steps_per_epoch,
            "eval_every": schedule.eval_every,
            "batch_size": schedule.batch_size,
            "target": task.target,
        }
    return {
        "key": identity_key(identity),
        "identity": identity,
        "environment": {**env, "batched_seeds": len(cell.seeds)},
        "status": st.status,
        "error": st.error,
        "error_detail": detail if st.status == "error" else None,
        "metrics": metrics,
        "budget": budget,
        "curve": st.curve,
        "eval_time_s": eval_time_s,
        "started_at": started,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "grokbench_version": __version__,
    }
