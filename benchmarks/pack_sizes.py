"""A results folder packed (`grokbench pack`): sizes, and proof that the page reads the same.

    python benchmarks/pack_sizes.py leaderboard/tuned /tmp/tuned-packed

Copies SRC to DST (which must not exist), packs DST (``grokbench.pack.pack_folder``) and
prints: the bytes of SRC's record files and, were they compact, of the compact files
(``recordfile.encode_record``, computed in memory); the pack's bytes and the seconds
packing took; whether the leaderboard page of both (tables, no figures) is the same once
the folder names are put alike; and, per column of the export that differs, the largest
difference (the pack's precision: ``grokbench.packfile``). SRC is only read.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path


def _page(root: Path, names: tuple[Path, Path]) -> str:
    """The leaderboard page of ``root`` (no figures), either folder name as ``DIR``."""
    import grokbench

    with tempfile.TemporaryDirectory() as out:
        grokbench.write_leaderboard(root, out, figures=False)
        text = (Path(out) / "README.md").read_text().replace(out, "OUT")
    for name in names:
        text = text.replace(str(name), "DIR")
    return text


def _export_differences(src: Path, dst: Path) -> list[str]:
    """The columns of the two folders' exports that differ (record_file aside), each with
    its largest absolute difference."""
    import numpy as np

    from grokbench.export import load_export_frame

    old, new = load_export_frame(src), load_export_frame(dst)
    out = []
    for column in old.columns.drop("record_file"):
        if old[column].astype(str).equals(new[column].astype(str)):
            continue
        gap = np.nanmax(np.abs(new[column].astype(float).to_numpy() - old[column].astype(float).to_numpy()))
        out.append(f"{column} (at most {gap:.2g})")
    return out


def main(src: str, dst: str) -> int:
    from grokbench.pack import pack_folder
    from grokbench.recordfile import encode_record
    from grokbench.store import Store

    source, target = Path(src), Path(dst)
    if target.exists():
        print(f"{dst} exists: give a new folder", file=sys.stderr)
        return 2
    shutil.copytree(source, target)
    store = Store(source)
    files = sum(p.stat().st_size for p in store.record_files())
    compact = sum(len(encode_record(r)) for r in store.records())
    began = time.perf_counter()
    summary = pack_folder(target)
    seconds = time.perf_counter() - began
    n = summary.records
    print(summary.line())
    print(f"{src}: {n} records: files {files:,} bytes ({files / n / 1024:.2f} KiB each); as compact files "
          f"{compact:,} bytes ({compact / n / 1024:.2f} KiB each)")
    print(f"pack: {summary.bytes_after:,} bytes ({summary.bytes_after / n / 1024:.2f} KiB each; "
          f"{summary.bytes_after / compact:.3f} of compact files), in {seconds:.1f} s")
    same = _page(source, (source, target)) == _page(target, (source, target))
    print(f"leaderboard page (tables): {'identical' if same else 'DIFFERENT'}")
    print("export columns that differ: " + (", ".join(_export_differences(source, target)) or "none"))
    return 0 if same else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
