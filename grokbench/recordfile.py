"""One record as bytes on disk: the compact format written, both formats read.

A record file is ``records/<key>.json.gz``: the record's JSON (``Record.to_json``, no
spaces) compressed with gzip (level 9, no time stamp, so the same record gives the same
bytes). Its curve is already columnar, one array per column (``step``, ``test_acc``, ...),
not a list of per-evaluation objects. Files written before this format,
``records/<key>.json`` (plain JSON), are read as they are and never rewritten; a trial that
runs again is written compact and its old file removed (``grokbench.store.Store.write``).

Sizes are bounded both ways: a file on disk of at most ``MAX_RECORD_BYTES``, and a
decompressed record of at most ``MAX_RECORD_BYTES`` too (a small file that would inflate
to gigabytes is refused, ``OddFile``, never inflated).
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

from .record import Record
from .safefile import OddFile, read_regular

COMPACT_SUFFIX = ".json.gz"
PLAIN_SUFFIX = ".json"  # the format before compact records: still read
MAX_RECORD_BYTES = 64 * 2**20  # the largest record read, on disk and decompressed (published ones: ~0.1 MB)


def encode_record(record: Record) -> bytes:
    """The compact file content of ``record``: gzip'd JSON, deterministic."""
    text = json.dumps(record.to_json(), separators=(",", ":"), default=str)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def decode_bytes(data: bytes, compressed: bool) -> bytes:
    """A record file's content -> its JSON bytes (inflated when ``compressed``), at most
    ``MAX_RECORD_BYTES`` (``OddFile`` beyond); a broken gzip stream is a ValueError."""
    if not compressed:
        return data
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer
    try:
        out = inflater.decompress(data, MAX_RECORD_BYTES + 1)
    except zlib.error as exc:
        raise ValueError(f"not a gzip stream ({exc})") from None
    if len(out) > MAX_RECORD_BYTES:
        raise OddFile(f"inflates to more than the {MAX_RECORD_BYTES:,} bytes a record may hold")
    if not inflater.eof:
        raise ValueError("a truncated gzip stream")
    return out


def read_record_bytes(path: Path) -> bytes:
    """The JSON bytes of the record file ``path`` (either format, by its name); OddFile
    for what is not a regular file of a sane size, ValueError for a broken stream."""
    return decode_bytes(read_regular(path, MAX_RECORD_BYTES), path.name.endswith(COMPACT_SUFFIX))
