"""Transformer training cost with attention written out (``short_attention``) vs torch's fused kernel.

    OMP_NUM_THREADS=1 python benchmarks/short_attention.py [--tasks modular_addition:cpu_add,power_ops:cpu_div]
        [--seeds 20] [--steps 60] [--rounds 4]

For each task, one cell of ``--seeds`` AdamW seeds trained ``--steps`` steps (evaluations
included, as the engine runs them), alternately with ``tasks.transformer.attention`` as it
is (the written-out path for <= SHORT_SEQUENCE positions) and with every attention through
``F.scaled_dot_product_attention`` (the code before), ``--rounds`` times; prints the median
process-CPU milliseconds per seed-step of each and their ratio, with the machine and load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_line  # noqa: E402
from grokbench.tasks import transformer as T  # noqa: E402

from grokbench.plan import build_plan  # noqa: E402
from grokbench.spec import parse_overrides, split_task_label  # noqa: E402
from grokbench.trial import run_cell  # noqa: E402

WRITTEN_OUT = T.attention


def fused_attention(q, k, v, n_heads, causal):
    """Every attention through the fused kernel (the forward before short_attention)."""
    qh, kh, vh = (T._heads(x, n_heads) for x in (q, k, v))
    return T._merge(F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal and q.shape[2] > 1), q.shape[0])


def cpu_ms_per_seed_step(task: str, seeds: int, steps: int) -> float:
    name = split_task_label(task)[0]
    cell = build_plan(task, "adamw", str(seeds), parse_overrides([f"{name}.max_epochs={steps}"])).cells(set(), seeds)[0]
    t0 = time.process_time()
    list(run_cell(cell))
    return (time.process_time() - t0) / steps / seeds * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default="modular_addition:cpu_add,power_ops:cpu_div")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    print(machine_line(), flush=True)
    for task in args.tasks.split(","):
        seen: dict[str, list[float]] = {"fused": [], "written out": []}
        for _ in range(args.rounds):
            for label, fn in (("fused", fused_attention), ("written out", WRITTEN_OUT)):
                T.attention = fn
                seen[label].append(cpu_ms_per_seed_step(task, args.seeds, args.steps))
        T.attention = WRITTEN_OUT
        fused, written = (statistics.median(seen[k]) for k in ("fused", "written out"))
        print(f"{task}, {args.seeds} seeds: fused {fused:.3f} ms, written out {written:.3f} ms CPU per seed-step; "
              f"x{fused / written:.2f}", flush=True)
    print(machine_line(load_only=True))


if __name__ == "__main__":
    main()
