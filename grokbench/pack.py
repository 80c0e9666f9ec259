"""``grokbench pack DIR``: move a finished results folder's records into one pack.

The folder's loose record files (``records/<key>.json.gz``, or the old ``<key>.json``) and
its existing pack, if any, become one new pack, ``records/packed.jsonl.xz`` (the format
and its precision: ``grokbench.packfile``). Where a key has both a loose file and a pack
entry, the loose file is the later write (a retried trial) and wins.

Records with status ``error`` stay loose: the next run retries them, and their retry is
written as a loose file that replaces them; a pack entry of the same key is dropped from the
new pack (the loose error record, the later write, is what a reader sees anyway).

Order of work, so that a pack killed at any moment loses no record: the new pack is
encoded and its bytes read back in memory (the same lines, the same keys); then written
atomically (temporary file, fsync, rename: ``store.atomic_write_bytes``); then the file on
disk is read back and compared with those bytes; only then are the loose files it holds
deleted, each only if it is still the file that was read (same inode, size and mtime: a
run that rewrote it meanwhile keeps its newer record).

A folder is refused (``UserError``) when it does not exist, is not a results folder, has
checkpoints of an unfinished run, or has a trial locked by a live run; and when its pack
cannot be read whole (packing again would drop what lies beyond the break).
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .packfile import decode_line, encode_pack, iter_lines, pack_lines
from .record import Record, Status
from .safefile import printable
from .store import Store, _fsync_dir, atomic_write_bytes


@dataclass
class PackSummary:
    """What ``pack_folder`` did. Bytes: the old pack and the loose files it replaced
    (``bytes_before``) -> the new pack (``bytes_after``)."""

    path: Path
    records: int  # in the new pack
    from_files: int  # loose files moved into it
    left_loose: int  # error records kept as files
    bytes_before: int
    bytes_after: int

    def line(self) -> str:
        if not self.from_files and self.bytes_before == self.bytes_after:
            return f"nothing to pack in {printable(self.path.parent.parent)} ({self.records} records packed already)"
        loose = f"; {self.left_loose} error record(s) left as files, to be retried" if self.left_loose else ""
        return (f"packed {self.records} records ({self.from_files} from files) into {printable(self.path)}: "
                f"{self.bytes_before:,} -> {self.bytes_after:,} bytes{loose}")


def pack_folder(root: str | Path) -> PackSummary:
    """Pack the results folder ``root`` (module docstring); UserError for a folder that
    cannot be packed."""
    store = _packable(Path(root))
    old = _read_pack_whole(store)
    seen = {p: _identity(p) for p in store.record_files()}
    loose = store.loose_records()
    moved = [(p, r) for p, r in loose if r.status != Status.ERROR]
    merged = {r.key: r for r in old}
    for key in {r.key for _, r in loose}:
        merged.pop(key, None)
    merged.update({r.key: r for _, r in moved})
    before = _size(store.pack_path) + sum(_size(p) for p, _ in moved)
    summary = PackSummary(store.pack_path, len(merged), len(moved), len(loose) - len(moved), before, before)
    data = _encode_checked(list(merged.values()))
    if not moved and len(merged) == len(old) and data == _bytes(store.pack_path):
        return summary  # a pack written at an older precision is re-encoded, else left alone
    try:
        atomic_write_bytes(store.pack_path, data)
    except OSError as exc:
        raise UserError(f"cannot write {printable(store.pack_path)}: {exc.strerror or exc}") from exc
    _check_on_disk(store, data)
    _remove_unchanged([p for p, _ in moved], seen)
    summary.bytes_after = len(data)
    return summary


def _packable(root: Path) -> Store:
    """The results folder at ``root`` when it can be packed; else UserError saying why."""
    if not root.is_dir():
        raise UserError(f"no such folder: {printable(root)}")
    store = Store(root)
    checkpoints = store.checkpoints_dir
    if checkpoints.is_dir() and any(checkpoints.iterdir()):
        raise UserError(f"{printable(checkpoints)} holds checkpoints of an unfinished run: finish it (run its "
                        f"command again) or delete them, then pack")
    store.remove_stale_files()
    locks = sorted(store.records_dir.glob("*.lock"))
    if locks:
        raise UserError(f"a live run holds {len(locks)} trial(s) of {printable(root)} "
                        f"({printable(locks[0].name)}): pack once it has ended")
    return store


def _read_pack_whole(store: Store) -> list[Record]:
    """The existing pack's records, all of them, or UserError (never a partial read)."""
    if not os.path.lexists(store.pack_path):
        return []
    try:
        return [decode_line(line) for line in pack_lines(store.pack_path)]
    except (OSError, ValueError) as exc:
        raise UserError(f"{printable(store.pack_path)} cannot be read whole ({exc}); move it aside to pack "
                        f"the loose records") from None


def _encode_checked(records: list[Record]) -> bytes:
    data, digests = encode_pack(records)
    _check(data, digests, "encoded in memory")
    return data


def _check(data: bytes, digests: list[str], where: str) -> None:
    """The pack ``data`` holds exactly the lines of ``digests``, each a readable record."""
    back = []
    for line in iter_lines(io.BytesIO(data)):
        decode_line(line)
        back.append(hashlib.sha256(line).hexdigest())
    if back != digests:
        raise RuntimeError(f"the pack {where} does not read back as written; no record file was removed")


def _check_on_disk(store: Store, data: bytes) -> None:
    """The pack file holds the bytes written (checked record by record in memory before)."""
    with open(store.pack_path, "rb") as f:
        if f.read() != data:
            raise RuntimeError(f"{printable(store.pack_path)} does not read back as written; "
                               f"no record file was removed")


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.lstat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _remove_unchanged(paths: list[Path], seen: dict[Path, tuple[int, int, int] | None]) -> None:
    """Delete each of ``paths`` that is still the file seen before reading (then fsync the
    folder); one rewritten meanwhile holds a later record and stays."""
    for path in paths:
        if seen.get(path) is not None and _identity(path) == seen[path]:
            path.unlink(missing_ok=True)
    if paths:
        _fsync_dir(paths[0].parent)


def _bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
