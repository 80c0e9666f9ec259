"""The report of a benchmark that times variants against the code before a change."""

from __future__ import annotations

import statistics


def print_against_previous(seen: dict[str, list[tuple[float, float]]], per: float, slots: int, unit: str) -> None:
    """One line per variant: its median wall and CPU time per ``unit`` (``seen[name]``: one
    (wall s, CPU s) pair per round; ``per``: units per round, in millions, so the times
    print in us), and the median over rounds of ``seen["previous"]`` / it."""
    for name, times in seen.items():
        wall = statistics.median(t[0] for t in times) / per
        cpu = statistics.median(t[1] for t in times) / per
        ratio = [statistics.median(p[i] / c[i] for p, c in zip(seen["previous"], times)) for i in (0, 1)]
        print(f"S={slots} {name:9s} {wall:7.1f} us/{unit} wall, {cpu:7.1f} CPU; previous / this: "
              f"{ratio[0]:.2f} wall, {ratio[1]:.2f} CPU", flush=True)
