"""The untimed evaluation of sparse-parity seed batches: grokbench.evaluation.measure against
the previous one (issue #28's third round, kept here as ``previous_measure``), interleaved in
one process.

    OMP_NUM_THREADS=1 python benchmarks/eval_cost.py [--slots 64,256] [--rounds 9]

S seeds of the reference preset (1000 train / 500 test examples, initial parameters with
perturbed biases), both parts scored as the engine does after every epoch. Printed: whether
the two give the same columns exactly, the medians over rounds of microseconds per
seed-evaluation by wall clock and by this thread's CPU time, and the median of the per-round
ratios previous / current.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _against_previous import print_against_previous  # noqa: E402
from _machine import machine_line  # noqa: E402

from grokbench import evaluation  # noqa: E402
from grokbench.plan import build_plan  # noqa: E402
from grokbench.seedbatch import SeedBatch  # noqa: E402
from grokbench.spec import parse_overrides  # noqa: E402
from grokbench.trial import build_chain  # noqa: E402


def previous_measure(task, batch) -> dict[str, list[float]]:
    """grokbench/evaluation.py's measure before issue #28's third round (commit cbc5c29):
    every chunk's outputs scored on their own."""
    n_examples = batch.n_train + batch.data["x_test"].shape[1]
    chunk = max(1, evaluation.EVAL_CHUNK_EXAMPLES // n_examples)
    pieces: dict[str, list] = {k: [] for k in evaluation.COLUMNS}
    with torch.inference_mode():
        for lo in range(0, len(batch.seeds), chunk):
            params = {k: v[lo:lo + chunk] for k, v in batch.params.items()}
            for part in ("train", "test"):
                x, y = batch.data[f"x_{part}"][lo:lo + chunk], batch.data[f"y_{part}"][lo:lo + chunk]
                out = task.forward(params, x)
                pieces[f"{part}_loss"].append(task.loss(out, y))
                pieces[f"{part}_acc"].append(task.correct(out, y).sum(dim=1).double() / y.shape[1])
        return {k: torch.cat(v).double().cpu().tolist() for k, v in pieces.items()}


def seed_batch(slots: int):
    cell = build_plan("sparse_parity", "sgd", str(slots), parse_overrides([])).cells(set(), slots)[0]
    task = cell.task.build()
    batch = SeedBatch.build(task, "sparse_parity", cell.method.stream_label, cell.seeds, build_chain(cell)[0],
                            torch.device("cpu"))
    with torch.no_grad():
        batch.params["b1"].add_(0.1 * torch.randn(batch.params["b1"].shape, generator=torch.Generator().manual_seed(1)))
    return task, batch


def compare(slots: int, rounds: int) -> None:
    task, batch = seed_batch(slots)
    variants = {"previous": previous_measure, "current": evaluation.measure}
    print(f"S={slots}: columns of previous and current equal exactly: "
          f"{previous_measure(task, batch) == evaluation.measure(task, batch)}")
    reps = max(1, 512 // slots)
    seen: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            w0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(reps):
                fn(task, batch)
            seen[name].append((time.perf_counter() - w0, time.thread_time() - c0))
    per = slots * reps / 1e6
    print_against_previous(seen, per, slots, "seed-evaluation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", default="64,256")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    print(machine_line(), flush=True)
    for slots in [int(s) for s in args.slots.split(",")]:
        compare(slots, args.rounds)
    print(machine_line(load_only=True))


if __name__ == "__main__":
    main()
