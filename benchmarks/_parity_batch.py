"""Shared by the micro-benchmarks: the sparse-parity task, S seeds' initial parameters and
one training batch, stacked on the seed axis exactly as the engine stacks them."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from grokbench import seeding
from grokbench.spec import resolve_task


def parity_batch(seeds: int, batch: int = 32):
    """(task, params (S, ...), x (S, batch, n), y (S, batch)) for seeds 0..seeds-1."""
    task = resolve_task("sparse_parity", {}).build()
    inits = [task.init_params(seeding.generator("sparse_parity", s, seeding.INIT)) for s in range(seeds)]
    splits = [task.make_data(seeding.generator("sparse_parity", s, seeding.DATA)) for s in range(seeds)]
    params = {k: torch.stack([p[k] for p in inits]) for k in inits[0]}
    x = torch.stack([s.x_train[:batch] for s in splits])
    y = torch.stack([s.y_train[:batch] for s in splits])
    return task, params, x, y


def time_ms(fn: Callable[[], object], reps: int) -> float:
    """Milliseconds per call, after one warm-up call."""
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps * 1e3
