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

Files: ``FOLDER/<name>.pt`` and ``FOLDER/<name>.json`` (the keys and the step, read to find
a match without loading tensors), written atomically (a temporary file, fsynced, renamed;
removed when the write fails), replaced at each save. The ``.pt`` file is one header line,
``grokbench checkpoint 2 sha256=<hex> bytes=<n>``, then the ``torch.save`` payload of
``n`` bytes whose SHA-256 it states. ``remove_finished`` deletes the checkpoints whose
trials all have final records and temporary files of killed saves.

Faults. A checkpoint is insurance, never the product: a save that fails (a file where the
folder should be, a read-only folder, a full disk, a state that cannot be pickled) prints
one warning per folder and process, and the cell trains on without checkpoints; its
records are those of a run without checkpoints (an interruption then restarts these
trials from scratch). Stopping the run instead would throw away the training in progress
of every trial for the sake of a copy. On resume, a checkpoint that fails its check (a
flipped bit, a truncated or extended file, garbage, a FIFO or other non-regular file) is
discarded with a warning naming it and why (deleted when it is this cell's own), and the
next candidate is tried, else the trials start afresh: their records equal a run
without that checkpoint. Rule for checkpoints of format 1 (grokbench before checksums,
no header): they cannot be verified, so they are discarded the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

import torch

from . import environment
from .errors import one_line
from .plan import Cell, CheckpointPolicy
from .safefile import OddFile, open_regular, printable, read_regular, remove_stale_temporaries
from .seedbatch import SeedBatch, index_state, map_tensors

FORMAT = 2
MAX_SIDE_BYTES = 16 * 2**20  # the largest .json side file read
_HEADER = re.compile(rb"grokbench checkpoint 2 sha256=([0-9a-f]{64}) bytes=([0-9]{20})\n")
_HEADER_BYTES = len(b"grokbench checkpoint 2 sha256=") + 64 + len(b" bytes=") + 20 + 1
_warned_folders: set[str] = set()  # folders this process has warned it cannot save to


class CorruptCheckpoint(ValueError):
    """A checkpoint file that fails its integrity check; the message says how."""


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
        self.failed = False  # a save failed: this cell trains on without checkpoints

    def due(self) -> bool:
        return not self.failed and time.monotonic() - self.last >= self.policy.every_s

    def save(self, step: int, batch: SeedBatch, run: Any) -> None:
        """Write the state after ``step`` steps (``run``: the cell's ``trial.CellRun``). A
        failure warns (once per folder and process) and stops this cell's saving; it never
        raises an Exception (module docstring, Faults)."""
        if self.failed:
            return
        try:
            self._write(step, batch, run)
        except Exception as exc:  # anything: a checkpoint must not fail the trials
            self.failed = True
            _warn_cannot_save(self.folder, exc)
        self.last = time.monotonic()

    def _write(self, step: int, batch: SeedBatch, run: Any) -> None:
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
        _atomic(self.folder / f"{self.name}.pt", lambda f: _write_checked(f, state))
        side = json.dumps({"format": FORMAT, "step": step, "keys": sorted(live)}).encode()
        _atomic(self.folder / f"{self.name}.json", lambda f: f.write(side))

    def discard(self) -> None:
        """Delete this cell's checkpoint (its trials are finished); a failure is ignored."""
        _remove(self.folder / f"{self.name}.pt")


def _warn_cannot_save(folder: Path, exc: BaseException) -> None:
    if str(folder) not in _warned_folders:
        _warned_folders.add(str(folder))
        print(f"warning: cannot save checkpoints in {printable(folder)} ({one_line(exc)}); training goes on "
              f"without them (an interruption restarts the trials in training from scratch)", file=sys.stderr)


def _remove(pt: Path) -> None:
    """Delete the checkpoint ``pt`` and its side file, as far as possible."""
    for path in (pt.with_suffix(".json"), pt):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _track_fields(track: Any) -> dict[str, Any]:
    return {"curve": track.curve, "train_time_s": track.train_time_s}  # the watch is rebuilt from the curve


def _atomic(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` through a temporary file, fsynced and renamed; on any failure the
    temporary file is removed and the exception goes on."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise


class _Hashing:
    """A write-only file that passes bytes on to ``f`` and hashes and counts them."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.sha, self.n = f, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.n += len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def _header(sha256: str, n: int) -> bytes:
    return f"grokbench checkpoint 2 sha256={sha256} bytes={n:020d}\n".encode()


def _write_checked(f: BinaryIO, state: dict[str, Any]) -> None:
    """The header and the ``torch.save`` payload of ``state``, streamed (no copy in memory);
    the header is written last, over a placeholder of the same length."""
    f.write(_header("0" * 64, 0))
    out = _Hashing(f)
    torch.save(state, out)
    f.seek(0)
    f.write(_header(out.sha.hexdigest(), out.n))
    f.seek(0, os.SEEK_END)


def read_payload(pt: Path) -> bytes:
    """The verified ``torch.save`` payload of checkpoint file ``pt``; ``CorruptCheckpoint``
    (or ``OddFile``, OSError) when it is not a regular file whose header's length and
    SHA-256 match its payload."""
    with open_regular(pt) as f:
        match = _HEADER.fullmatch(f.read(_HEADER_BYTES))
        if match is None:
            raise CorruptCheckpoint("no checksum header (format 1, written before checkpoints were checked, "
                                    "or not a checkpoint)")
        size, expected = os.fstat(f.fileno()).st_size, _HEADER_BYTES + int(match[2])
        if size != expected:
            raise CorruptCheckpoint(f"{size:,} bytes where its header says {expected:,} (truncated or extended)")
        payload = f.read(int(match[2]))
    if hashlib.sha256(payload).hexdigest() != match[1].decode():
        raise CorruptCheckpoint("its SHA-256 does not match its header (the file changed after it was written)")
    return payload


def write_payload(pt: Path, state: dict[str, Any]) -> None:
    """Write ``state`` as a checked checkpoint file ``pt`` (atomically)."""
    _atomic(pt, lambda f: _write_checked(f, state))


def candidates(policy: CheckpointPolicy, keys: list[str]) -> list[Path]:
    """The checkpoints (their .pt paths) whose trials still training include all ``keys``,
    the most advanced first; empty when none does or the folder is missing or unreadable."""
    found: list[tuple[int, Path]] = []
    for side in _side_files(Path(policy.folder)):
        try:
            meta = json.loads(read_regular(side, MAX_SIDE_BYTES))
            step, have = int(meta["step"]), set(meta["keys"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        pt = side.with_suffix(".pt")
        if set(keys) <= have and os.path.lexists(pt):
            found.append((step, pt))
    return [pt for _, pt in sorted(found, key=lambda item: -item[0])]


def _side_files(folder: Path) -> list[Path]:
    """The ``*.json`` files of ``folder``; empty when it cannot be listed (not a folder, a
    name too long, no permission): a checkpoint folder's faults never fail a cell."""
    try:
        return sorted(folder.glob("*.json"))
    except OSError:
        return []


def find(policy: CheckpointPolicy, keys: list[str]) -> Path | None:
    """The most advanced of ``candidates``; None when there is none."""
    return next(iter(candidates(policy, keys)), None)


def load(path: Path, cell: Cell) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it passes its check and holds every trial of ``cell``;
    else None, with a warning naming the file. A file that fails its check is deleted when
    it is this cell's own (the next save would replace it anyway)."""
    try:
        saved = torch.load(io.BytesIO(read_payload(path)), map_location="cpu", weights_only=False)
        missing = set(cell.keys()) - set(saved["tracks"])
    except (CorruptCheckpoint, OddFile, OSError) as exc:
        print(f"warning: discarding checkpoint {printable(path)}: {exc}; its trials start afresh", file=sys.stderr)
        if path.stem == checkpoint_name(cell.keys()):
            _remove(path)
        return None
    except Exception as exc:  # a verified file torch cannot read (another torch, say)
        print(f"warning: ignoring checkpoint {printable(path)}: {one_line(exc)}", file=sys.stderr)
        return None
    if saved.get("format") != FORMAT or missing:
        print(f"warning: ignoring checkpoint {printable(path)}: not a checkpoint of these trials", file=sys.stderr)
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
    ``done``), those whose side file is unreadable, and temporary files of killed saves
    (``safefile.remove_stale_temporaries``: a live save's are kept); returns how many
    checkpoints. A live run's checkpoint always names a trial without a final record."""
    folder = Path(folder)
    try:
        remove_stale_temporaries(folder)
    except OSError:
        return 0
    removed = 0
    for side in _side_files(folder):
        try:
            keys = set(json.loads(read_regular(side, MAX_SIDE_BYTES))["keys"])
        except (OSError, ValueError, KeyError, TypeError):
            keys = set()
        if keys <= done:
            _remove(side.with_suffix(".pt"))
            removed += 1
    return removed
