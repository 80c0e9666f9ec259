"""Old-format records (plain JSON) -> compact records (gzip'd JSON): sizes, and proof that
every reader sees the same frame.

    python benchmarks/record_sizes.py leaderboard/tuned /tmp/tuned-compact

Reads every record of SRC (either format), writes each with ``Store.write`` (the compact
format) into DST/records/ (which must not hold records yet), and prints the bytes on disk
of both and ``load_frame`` of both compared column by column (the ``record_file`` column
aside, which names the file). SRC is only read.
"""

from __future__ import annotations

import sys


def main(src: str, dst: str) -> int:
    from grokbench.store import Store, load_frame

    source = Store(src)
    target = Store(dst, create=True)
    if target.record_files():
        print(f"{dst}/records already holds records: give an empty folder", file=sys.stderr)
        return 2
    for record in source.records():
        target.write(record)
    before = sum(p.stat().st_size for p in source.record_files())
    after = sum(p.stat().st_size for p in target.record_files())
    n_before, n_after = len(source.record_files()), len(target.record_files())
    print(f"{src}: {n_before} record files, {before:,} bytes ({before / n_before / 1024:.1f} KiB each)")
    print(f"{dst}: {n_after} record files, {after:,} bytes ({after / n_after / 1024:.1f} KiB each)")
    print(f"compact / old: {after / before:.3f} ({before / after:.1f}x smaller)")
    old = load_frame(src, with_curves=True).drop(columns="record_file")
    new = load_frame(dst, with_curves=True).drop(columns="record_file")
    same = old.astype(str).equals(new.astype(str))
    print(f"load_frame of both (with curves): {'identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
