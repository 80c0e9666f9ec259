"""The untimed evaluation: train and test loss and accuracy of every live seed."""

from __future__ import annotations

import time

import torch
from torch import Tensor

from .plan import Slot
from .seedbatch import SeedBatch
from .seedtrack import SeedTrack
from .task import Task

# Evaluation runs over chunks of seeds holding about this many examples, so the activations
# of a chunk stay in cache (one forward over all S seeds' data spills them to memory).
EVAL_CHUNK_EXAMPLES = 8192

COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc")


def measure(task: Task, batch: SeedBatch) -> dict[str, list[float]]:
    """Per live seed (batch order): train_loss, train_acc, test_loss, test_acc.

    The forward runs over chunks of seeds (``EVAL_CHUNK_EXAMPLES``). Outputs of the labels'
    shape (one per example, e.g. a scalar output) are gathered over all chunks and scored once
    per part, so the small loss and accuracy ops run twice per evaluation, not twice per chunk
    (a row's loss and accuracy are the same reductions over the same values either way);
    larger outputs (logits) are scored chunk by chunk, so that they are never all held at once.
    """
    n_examples = batch.n_train + batch.data["x_test"].shape[1]
    chunk = max(1, EVAL_CHUNK_EXAMPLES // n_examples)
    pieces: dict[str, list[Tensor]] = {k: [] for k in COLUMNS}
    outs: dict[str, list[Tensor]] = {"train": [], "test": []}
    with torch.inference_mode():
        for lo in range(0, len(batch.seeds), chunk):
            params = {k: v[lo:lo + chunk] for k, v in batch.params.items()}
            for part in ("train", "test"):
                x, y = batch.data[f"x_{part}"][lo:lo + chunk], batch.data[f"y_{part}"][lo:lo + chunk]
                out = task.forward(params, x)
                if out.shape == y.shape:
                    outs[part].append(out)
                else:
                    _score(task, part, out, y, pieces)
        for part, gathered in outs.items():
            if gathered:
                _score(task, part, torch.cat(gathered), batch.data[f"y_{part}"], pieces)
        return {k: torch.cat(v).double().cpu().tolist() for k, v in pieces.items()}


def _score(task: Task, part: str, out: Tensor, y: Tensor, pieces: dict[str, list[Tensor]]) -> None:
    """Append the per-seed loss and accuracy of outputs ``out`` against labels ``y``."""
    pieces[f"{part}_loss"].append(task.loss(out, y))
    pieces[f"{part}_acc"].append(task.correct(out, y).sum(dim=1).double() / y.shape[1])


def evaluate(task: Task, batch: SeedBatch, tracks: dict[Slot, SeedTrack], step: int, steps_per_epoch: int,
             step_losses: Tensor | None = None) -> float:
    """Append an evaluation at ``step`` to the curve of every unfinished live trial; returns
    the seconds it took. ``step_losses`` (the last training step's per-seed losses, given
    when one was non-finite) marks those seeds' train loss as non-finite (diverged)."""
    t0 = time.perf_counter()
    columns = measure(task, batch)
    finite = None if step_losses is None else torch.isfinite(step_losses.detach()).cpu().tolist()
    for pos, slot in enumerate(batch.slots):
        track = tracks[slot]
        if track.status is None:
            track.append(step, step / steps_per_epoch, {k: v[pos] for k, v in columns.items()},
                         step_ok=True if finite is None else finite[pos])
    return time.perf_counter() - t0
