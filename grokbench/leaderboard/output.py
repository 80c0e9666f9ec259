"""The leaderboard's output folder: written whole or not at all, and only the files it owns.

A page and its figures are written into a staging folder inside OUTDIR
(``.grokbench-staging-*``, removed afterwards whatever happens), then moved into OUTDIR by
``publish``. OUTDIR may hold other things (a user's files, results folders, another page
in a subfolder): grokbench touches only the files it wrote there, listed in
``OUTDIR/.grokbench-leaderboard.json`` (the manifest of the last page). A file it would
write that is there but not its own (a user's README.md, a figure of the same name) is
refused before anything is moved (UserError, exit 2, naming it). A page written before
manifests existed is recognised by its first line (``# grokbench leaderboard``), and the
figures it links are its own.

Files may lie in folders inside OUTDIR (the per-cell pages, ``cells/<task>/<method>.md``):
the manifest names them by their path (plain components joined by ``/``); a folder of such
a path that is a link or not a folder is refused like a foreign file, and folders that the
removal of an old page's files leaves empty are removed.

``publish`` moves each file with one rename (a reader sees the old file or the new one,
never a truncated PNG), the page last, then deletes the files of the last page the new
one no longer has; a SIGINT or SIGTERM arriving meanwhile waits until it is done
(``signals_deferred``). An interrupt before then leaves OUTDIR as it was; a kill in the
midst of it (SIGKILL, power loss) leaves whole files, every one the old or new page links
still there, and a manifest naming all of them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError, signals_deferred
from ..store import atomic_write_text

MANIFEST = ".grokbench-leaderboard.json"
FORMAT = "grokbench-leaderboard-files/1"
PAGE = "README.md"
PAGE_TITLE = "# grokbench leaderboard"
STAGING_PREFIX = ".grokbench-staging-"
STALE_STAGING_S = 3600.0  # a staging folder older than this was left by a killed writer
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # one component of a path inside OUTDIR


def plain_path(name: str) -> bool:
    """Whether ``name`` is a path inside OUTDIR the manifest may hold: plain components
    joined by ``/`` (``README.md``, ``cells/task/method.md``), nothing above OUTDIR."""
    return isinstance(name, str) and all(_PLAIN_NAME.fullmatch(part) for part in name.split("/"))


def printable(text: str) -> str:
    """``text`` as valid UTF-8: bytes that were not UTF-8 (a path given as ``out\\xff``,
    which Python carries as lone surrogates) are written as ``\\xff``."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that stand for no byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


@contextmanager
def staging(outdir: Path) -> Iterator[Path]:
    """A new, empty folder inside ``outdir`` (created if needed) to write a page into;
    removed when the block ends, published or not."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=outdir))
    except OSError as exc:
        raise UserError(f"cannot write the leaderboard folder {outdir}: {exc.strerror or exc}") from None
    _remove_stale_staging(outdir, keep=folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_stale_staging(outdir: Path, keep: Path) -> None:
    for old in outdir.glob(f"{STAGING_PREFIX}*"):
        try:
            if old != keep and old.is_dir() and not old.is_symlink() \
                    and time.time() - old.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def owned_files(outdir: Path) -> set[str]:
    """Names of the files grokbench wrote into ``outdir`` for its last page: its manifest's
    (plain names only; an unreadable manifest names none), or, without a manifest, the
    page when its first line is a leaderboard's and the figures it links."""
    try:
        data = json.loads((outdir / MANIFEST).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return _legacy_files(outdir)
    except (OSError, ValueError):
        return set()
    files = data.get("files") if isinstance(data, dict) and data.get("format") == FORMAT else None
    return {f for f in files if plain_path(f)} if isinstance(files, list) else set()


def _legacy_files(outdir: Path) -> set[str]:
    """The files a page written before the manifest owns: its README.md (when it starts
    with the page's title) and the figures it links. Needed to regenerate the committed
    ``leaderboard/`` in place (written by grokbench 0.1, it has no manifest); it goes when
    that page is regenerated, which writes one."""
    try:
        text = (outdir / PAGE).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return set()
    if not text.startswith(PAGE_TITLE + "\n"):
        return set()
    linked = re.findall(r"\]\(([^)\s/]+\.png)\)", text)
    return {PAGE, *(name for name in linked if _PLAIN_NAME.fullmatch(name))}


def refuse_foreign(outdir: Path, names: Iterable[str]) -> None:
    """UserError naming the first of ``names`` that ``outdir`` holds and grokbench did not
    write, or whose folder inside ``outdir`` is a link or not a folder (nothing is written
    through a link out of OUTDIR)."""
    owned = owned_files(outdir)
    for name in names:
        path = outdir / name
        _refuse_odd_folders(outdir, name)
        if (path.exists() or path.is_symlink()) and name not in owned:
            raise UserError(f"{path} was not written by grokbench leaderboard (it is not in {outdir / MANIFEST}); "
                            f"it is left alone: move it away, or write the leaderboard with -o to another folder")


def _refuse_odd_folders(outdir: Path, name: str) -> None:
    folder = outdir
    for part in name.split("/")[:-1]:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise UserError(f"{folder} is in the way of the leaderboard's {name} (a link or not a folder); "
                            f"it is left alone: move it away, or write the leaderboard with -o to another folder")


def publish(staged: Path, outdir: Path, names: list[str]) -> None:
    """Move ``names`` (plain file names, the page ``PAGE`` among them) from ``staged`` into
    ``outdir``, refusing first any that ``outdir`` holds and grokbench did not write (see
    the module docstring for the order and what an interrupt leaves)."""
    refuse_foreign(outdir, names)
    old = owned_files(outdir)
    for name in names:
        _fsync_file(staged / name)
    try:
        with signals_deferred():
            _write_manifest(outdir, sorted(old | set(names)))  # covers every state until the last step
            for name in sorted(names, key=lambda n: n == PAGE):  # the page last
                (outdir / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged / name, outdir / name)
            for name in sorted(old - set(names)):
                _remove_file(outdir / name)
                _remove_empty_folders(outdir, name)
            _write_manifest(outdir, sorted(names))
    except OSError as exc:
        raise UserError(f"cannot write the leaderboard into {outdir}: {exc.strerror or exc}") from None


def _write_manifest(outdir: Path, names: list[str]) -> None:
    atomic_write_text(outdir / MANIFEST, json.dumps({"format": FORMAT, "files": names}, indent=1) + "\n")


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _remove_empty_folders(outdir: Path, name: str) -> None:
    """Remove the folders of ``name`` inside ``outdir`` that its removal left empty."""
    parts = name.split("/")[:-1]
    for depth in range(len(parts), 0, -1):
        try:
            (outdir / "/".join(parts[:depth])).rmdir()
        except OSError:  # not empty (or not there): nor are the folders above it
            return


def _remove_file(path: Path) -> None:
    """Remove a file of the last page (a folder or anything else of that name is left)."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
    except OSError:
        pass
