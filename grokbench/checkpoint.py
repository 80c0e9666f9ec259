"""Checkpoints of a cell in training, so that a long trial survives an interrupted run.

A cell with a ``CheckpointPolicy`` saves its whole training state at an evaluation, at
most once every ``every_s`` seconds of wall time: the step, the record key of every batch
position, the parameters, the method's state, the batch-order and method random streams,
the epoch's shuffled batches, the per-slot settings, whether gradients are sanitized, and
per trial still training its curve, clock shares and timing. A later cell whose record
keys are all among one checkpoint's trials still training rebuilds its batch as usual
(data and chain from the seeds), loads that state, keeps only its own trials and goes on
from the saved step: its trials' curves are those of the uninterrupted run (tested for
every built-in method). Trials that finished after the save have records and are left
out; a batch that lost them is narrower, which changes only the batch layout. A resumed
trial's record says where it went on from: ``environment.resumed_at_steps`` and, per entry,
``environment.resumed_devices`` (the device that trained up to that step; a checkpoint may
be resumed on another device, whose numerics then take over).

Files: ``FOLDER/<name>.pt`` (``torch.save``) and ``FOLDER/<name>.json`` (the keys and the
step, read to find a match without loading tensors), written atomically, replaced at each
save. ``remove_finished`` deletes the checkpoints whose trials all have final records.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from . import environment
from .plan import Cell, CheckpointPolicy
from .seedbatch import SeedBatch, index_state, map_tensors

FORMAT = 1


def checkpoint_name(keys: list[str]) -> str:
    """The file stem of the checkpoint of a cell with record ``keys``."""
    return hashlib.sha1("\n".join(sorted(keys)).encode()).hexdigest()[:20]


def _to(tree: Any, device: torch.device | str) -> Any:
    """``tree`` with every tensor leaf detached and moved to ``device``."""
    return map_tensors(tree, lambda t: t.detach().to(device))


class Saver:
    """Saves a cell's state under its policy, at most once per ``every_s`` seconds."""

    def __init__(self, cell: Cell, policy: CheckpointPolicy) -> None:
        self.cell, self.policy = cell, policy
        self.folder = Path(policy.folder)
        self.name = checkpoint_name(cell.keys())
        self.last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.policy.every_s

    def save(self, step: int, batch: SeedBatch, run: Any) -> None:
        """Write the state after ``step`` steps (``run``: the cell's ``trial.CellRun``)."""
        keys = [self.cell.slot_key(s) for s in batch.slots]
        live = {self.cell.slot_key(s): s for s in batch.slots if run.tracks[s].status is None}
        state = {
            "format": FORMAT, "step": step, "keys": keys, "params": _to(batch.params, "cpu"),
            "state": _to(batch.state, "cpu"), "order_gens": [g.get_state() for g in batch.order_gens],
            "method_gens": [g.get_state() for g in batch.ctx.generators],
            "epoch_batches": _to(batch.epoch_batches, "cpu"), "sanitize": batch.sanitize,
            "slot_settings": _to(batch.ctx.slot_settings, "cpu"),
            "tracks": {k: _track_fields(run.tracks[s]) for k, s in live.items()},
            "timing": {k: asdict(run.timing[s]) for k, s in live.items()},
            "eval_time_s": run.eval_time_s, "started": run.started, "resumed": run.env.get("resumed_at_steps", []),
            "resumed_devices": run.env.get("resumed_devices", []), "device": environment.device_label(run.env),
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        _atomic(self.folder / f"{self.name}.pt", lambda f: torch.save(state, f))
        side = json.dumps({"format": FORMAT, "step": step, "keys": sorted(live)}).encode()
        _atomic(self.folder / f"{self.name}.json", lambda f: f.write(side))
        self.last = time.monotonic()

    def discard(self) -> None:
        """Delete this cell's checkpoint (its trials are finished)."""
        for suffix in (".json", ".pt"):
            (self.folder / f"{self.name}{suffix}").unlink(missing_ok=True)


def _track_fields(track: Any) -> dict[str, Any]:
    return {"curve": track.curve, "train_time_s": track.train_time_s}  # the watch is rebuilt from the curve


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


def find(policy: CheckpointPolicy, keys: list[str]) -> Path | None:
    """The checkpoint (its .pt path) whose trials still training include all ``keys``, the
    most advanced one when several do; None when none does or the folder is missing."""
    best: tuple[int, Path] | None = None
    for side in Path(policy.folder).glob("*.json"):
        try:
            meta = json.loads(side.read_text())
            step, have = int(meta["step"]), set(meta["keys"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        pt = side.with_suffix(".pt")
        if meta.get("format") == FORMAT and set(keys) <= have and pt.is_file() and (best is None or step > best[0]):
            best = (step, pt)
    return best[1] if best else None


def load(path: Path, cell: Cell) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it is readable and holds every trial of ``cell``; else
    None, with a warning naming the file (the cell then starts afresh)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        missing = set(cell.keys()) - set(saved["tracks"])
    except Exception as exc:  # a damaged or foreign file must not fail the trials
        print(f"warning: ignoring checkpoint {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    if saved.get("format") != FORMAT or missing:
        print(f"warning: ignoring checkpoint {path}: not a checkpoint of these trials", file=sys.stderr)
        return None
    return saved


def restore(saved: dict[str, Any], cell: Cell, batch: SeedBatch, run: Any) -> int:
    """Put a ``load``-ed checkpoint into a freshly built ``batch`` and ``run`` of ``cell``;
    returns the step to go on from."""
    device = batch.ctx.device
    index = torch.tensor([saved["keys"].index(cell.slot_key(s)) for s in batch.slots])
    with torch.no_grad():
        batch.params = {k: v[index].to(device).requires_grad_() for k, v in saved["params"].items()}
    batch.state = _to(index_state(saved["state"], index), device)
    for gens, states in ((batch.order_gens, saved["order_gens"]), (batch.ctx.generators, saved["method_gens"])):
        for g, i in zip(gens, index.tolist()):
            g.set_state(states[i])
    if saved["epoch_batches"] is not None:
        batch.epoch_batches = tuple(t[index].to(device) for t in saved["epoch_batches"])
    batch.sanitize = saved["sanitize"]
    batch.ctx.slot_settings = {k: v[index].to(device) for k, v in saved["slot_settings"].items()}
    for slot in batch.slots:
        key = cell.slot_key(slot)
        vars(run.tracks[slot]).update(saved["tracks"][key])
        vars(run.timing[slot]).update(saved["timing"][key])
    run.eval_time_s, run.started = saved["eval_time_s"], saved["started"]
    run.env["resumed_at_steps"] = [*saved["resumed"], saved["step"]]
    earlier = saved.get("resumed_devices", [None] * len(saved["resumed"]))
    run.env["resumed_devices"] = [*earlier, saved.get("device")]
    return int(saved["step"])


def remove_finished(folder: str | Path, done: set[str]) -> int:
    """Delete the checkpoints in ``folder`` whose trials all have final records (keys in
    ``done``), unreadable ones and stray temporary files; returns how many checkpoints."""
    for stray in Path(folder).glob(".*.tmp"):
        stray.unlink(missing_ok=True)
    removed = 0
    for side in Path(folder).glob("*.json"):
        try:
            keys = set(json.loads(side.read_text())["keys"])
        except (OSError, ValueError, KeyError, TypeError):
            keys = set()
        if keys <= done:
            for path in (side, side.with_suffix(".pt")):
                path.unlink(missing_ok=True)
            removed += 1
    return removed
