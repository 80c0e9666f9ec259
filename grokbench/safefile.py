"""Reading files that someone else may have put there: regular files of bounded size only.

A results folder is shared ground: a user, another tool or a dying process may leave a
FIFO, a device (a symlink to ``/dev/zero``), a directory named like a record or a huge
sparse file where grokbench expects a small JSON file. Reading such a thing naively
blocks forever (a FIFO without a writer) or exhausts memory. ``open_regular`` opens a
path only when it is a regular file (a symlink to one is followed), without ever blocking
on the open (``O_NONBLOCK``), and ``read_regular`` reads it only when it holds at most a
stated number of bytes. Anything else raises ``OddFile``, a ``ValueError`` whose message
says what the file is, so callers that skip unreadable files with a warning skip these too.

``printable`` renders a file name for a message or a written page: bytes that are not
UTF-8 (kept by Python as lone surrogates) appear as ``\\xNN`` instead of failing to encode.
``remove_stale_temporaries`` cleans up after writes that were killed.
"""

from __future__ import annotations

import codecs
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

ESCAPE_ERRORS = "grokbench-escape"  # codec error handler: a surrogate-escaped byte as \xNN


class OddFile(ValueError):
    """A path that is not a regular file of a sane size; the message says what it is."""


def _escape(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}"
                   for c in bad), exc.end


codecs.register_error(ESCAPE_ERRORS, _escape)


def printable(name: str | os.PathLike[str]) -> str:
    """``name`` with every character UTF-8 cannot encode (a byte of a non-UTF-8 file name,
    which Python keeps as a lone surrogate) written as ``\\xNN`` or ``\\uNNNN``."""
    return os.fspath(name).encode("utf-8", ESCAPE_ERRORS).decode("utf-8")


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words: "a FIFO", "a directory", ..."""
    for test, word in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "not a regular file"


@contextmanager
def open_regular(path: str | Path) -> Iterator[BinaryIO]:
    """``path`` opened for binary reading if it is a regular file (after symlinks); else
    ``OddFile`` naming what it is. Never blocks on the open; OSError as ``open`` gives it."""
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):  # not even opened: opening a device can have effects
        raise OddFile(file_kind(before.st_mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # replaced between the stat and the open
            raise OddFile(file_kind(mode))
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes; else
    ``OddFile`` (or OSError as ``open`` gives it)."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise OddFile(f"{size:,} bytes, more than the {limit:,} such a file may hold")
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise OddFile(f"more than the {limit:,} bytes such a file may hold")
    return data


STALE_TEMPORARY_S = 600.0  # a temporary file untouched this long belongs to a killed write


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the ``.*.tmp`` files in ``folder`` untouched for ``STALE_TEMPORARY_S``: writes
    that were killed (a live write keeps its file fresh)."""
    for stale in folder.glob(".*.tmp"):
        try:
            if time.time() - stale.lstat().st_mtime > STALE_TEMPORARY_S:
                stale.unlink()
        except OSError:
            pass
