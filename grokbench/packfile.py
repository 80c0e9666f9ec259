"""Many records as one file: the bytes of a pack, ``records/packed.jsonl.xz``.

A pack is JSON lines, one record per line (``Record.to_json``, no spaces), sorted by key,
compressed as one xz stream (lzma preset 9 | extreme; the same records give the same
bytes). One stream shares what records repeat (identity, environment, timing, budget),
which per-file gzip cannot. ``grokbench pack DIR`` writes it (``grokbench.pack``);
``grokbench.store.Store.records`` reads it beside the loose ``records/<key>.json.gz``.

Curves (``pack_curve``): a loss column (a curve column named ``*_loss``) to
``LOSS_DIGITS`` significant digits (no statistic reads a loss; they are kept for plots,
and they were most of a pack's bytes), ``*_time_s`` columns rounded to 1e-4 s; every other
value exactly as in the record. Non-finite values and nulls stay as they were.

Reading streams (``iter_lines``): the stream is inflated a chunk at a time, never whole;
a line longer than ``MAX_RECORD_BYTES``, a pack of more than ``MAX_PACK_BYTES`` on disk,
more than ``MAX_PACK_INFLATED_BYTES`` inflated or a stream needing more than
``MAX_DECODER_MEMORY`` bytes to decode is refused (``OddFile``) at that point; a broken or
truncated stream is a ValueError after the lines before the break.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .record import Record
from .recordfile import MAX_RECORD_BYTES
from .safefile import OddFile, open_regular

PACK_NAME = "packed.jsonl.xz"  # in records/
PRESET = 9 | lzma.PRESET_EXTREME
MAX_PACK_BYTES = 2 * 2**30  # the largest pack read, on disk
MAX_PACK_INFLATED_BYTES = 16 * 2**30  # the most a pack may inflate to (20,000 records: ~0.2 GB)
MAX_DECODER_MEMORY = 256 * 2**20  # preset 9 needs ~65 MiB to decode
CHUNK = 2**20
TIME_DECIMALS = 4  # *_time_s curve columns: 1e-4 s
LOSS_DIGITS = 4  # *_loss curve columns: significant digits (relative error at most 5e-4)


def _loss(value: Any) -> Any:
    """A finite float to ``LOSS_DIGITS`` significant digits; anything else as it is."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    return float(f"{value:.{LOSS_DIGITS}g}")


def _time(value: Any) -> Any:
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    return round(value, TIME_DECIMALS)


def pack_curve(curve: dict[str, list]) -> dict[str, list]:
    """``curve`` at the pack's precision (module docstring); columns keep their order."""
    out = {}
    for name, values in curve.items():
        if name.endswith("_loss"):
            out[name] = [_loss(v) for v in values]
        elif name.endswith("_time_s"):
            out[name] = [_time(v) for v in values]
        else:
            out[name] = list(values)
    return out


def encode_line(record: Record) -> bytes:
    """One record as a pack line (no newline): its JSON at the pack's precision."""
    data = record.to_json()
    data["curve"] = pack_curve(data.get("curve") or {})
    return json.dumps(data, separators=(",", ":"), default=str).encode("utf-8")


def encode_pack(records: Iterable[Record]) -> tuple[bytes, list[str]]:
    """The pack of ``records`` (sorted by key here) and the SHA-256 of each line, in order
    (to check a read-back against). Keys must be unique (ValueError otherwise)."""
    ordered = sorted(records, key=lambda r: r.key)
    if len({r.key for r in ordered}) != len(ordered):
        raise ValueError("two records of one key in a pack")
    compressor = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=PRESET)
    parts, digests = [], []
    for record in ordered:
        line = encode_line(record)
        digests.append(hashlib.sha256(line).hexdigest())
        parts.append(compressor.compress(line + b"\n"))
    parts.append(compressor.flush())
    return b"".join(parts), digests


def decode_line(line: bytes) -> Record:
    """A pack line -> its record, with ``file`` = ``packed.jsonl.xz#<key>``; BadRecord,
    UnicodeDecodeError or another ValueError for a line that is not one."""
    record = Record.from_json(json.loads(line.decode("utf-8")))
    record.file = f"{PACK_NAME}#{record.key}"
    return record


def iter_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of the pack read from ``stream``, without their newlines, one at a time
    (bounds and errors: module docstring)."""
    inflater = lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=MAX_DECODER_MEMORY)
    pending: list[bytes] = []
    held = inflated = 0
    while not inflater.eof:
        chunk = stream.read(CHUNK) if inflater.needs_input else b""
        if inflater.needs_input and not chunk:
            raise ValueError("a truncated xz stream")
        try:
            out = inflater.decompress(chunk, CHUNK)
        except lzma.LZMAError as exc:
            raise ValueError(f"a broken xz stream ({exc})") from None
        inflated += len(out)
        if inflated > MAX_PACK_INFLATED_BYTES:
            raise OddFile(f"inflates to more than the {MAX_PACK_INFLATED_BYTES:,} bytes a pack may hold")
        *lines, rest = out.split(b"\n")
        if lines:
            lines[0] = b"".join([*pending, lines[0]])
            pending, held = [], 0
        for line in (*lines, rest):
            if len(line) + held > MAX_RECORD_BYTES:
                raise OddFile(f"a line longer than the {MAX_RECORD_BYTES:,} bytes a record may hold")
        yield from (line for line in lines if line)
        pending.append(rest)
        held += len(rest)
    if held or inflater.unused_data or stream.read(1):
        raise ValueError("data after the last record's line")


def pack_lines(path: Path) -> Iterator[bytes]:
    """The lines of the pack file ``path`` (``iter_lines``); OddFile for what is not a
    regular file of at most ``MAX_PACK_BYTES``."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_PACK_BYTES:
            raise OddFile(f"{size:,} bytes, more than the {MAX_PACK_BYTES:,} a pack may hold")
        yield from iter_lines(f)
