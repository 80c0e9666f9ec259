"""The transformer's training step on a CPU: every seed in one forward/backward vs seed chunks.

    OMP_NUM_THREADS=1 python benchmarks/gradient_chunks.py [--tasks modular_addition:cpu_add,power_ops:cpu_div]
        [--seeds 20] [--steps 60] [--rounds 3] [--chunks 0,1] [--gradient-only]

For each task, one cell of ``--seeds`` AdamW seeds trained ``--steps`` steps (evaluations
included, as the engine runs them) with the task's ``cpu_gradient_seeds`` set to each of
``--chunks`` in turn (0: every seed at once, the code before; 1: one seed at a time),
``--rounds`` times; prints the median process-CPU milliseconds per seed-step of each, their
ratio to the first, and whether every record's curve (losses and accuracies, the clock
left out) equals the first chunking's bit for bit. ``--gradient-only``: instead of a cell,
``grokbench.trial.autograd_step`` alone on the seeds' full training sets (thread CPU ms per
step, median of rounds of 10 steps), and whether its losses and gradients equal the first
chunking's bit for bit (``torch.equal``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _machine import machine_line  # noqa: E402

from grokbench import registry  # noqa: E402
from grokbench.plan import build_plan  # noqa: E402
from grokbench.spec import parse_overrides, split_task_label  # noqa: E402
from grokbench.trial import autograd_step, run_cell  # noqa: E402


def run(task: str, seeds: int, steps: int, chunk: int) -> tuple[float, list[dict]]:
    """(process-CPU ms per seed-step, the records' curves without the clock) of one cell."""
    name = split_task_label(task)[0]
    cell = build_plan(task, "adamw", str(seeds), parse_overrides([f"{name}.max_epochs={steps}"])).cells(set(), seeds)[0]
    registry.get_task(name).cpu_gradient_seeds = chunk  # the class attribute the engine reads
    t0 = time.process_time()
    records = list(run_cell(cell))
    ms = (time.process_time() - t0) / steps / seeds * 1e3
    return ms, [{k: v for k, v in r.curve.items() if k != "train_time_s"} for r in records]


def gradient(task: str, seeds: int, chunks: list[int], rounds: int) -> None:
    """Time ``autograd_step`` at each chunking and compare its output with the first's."""
    spec = build_plan(task, "adamw", str(seeds), {}).cells(set(), seeds)[0].task
    instance = spec.build()
    splits = [instance.make_data(torch.Generator().manual_seed(s)) for s in range(seeds)]
    x, y = torch.stack([s.x_train for s in splits]), torch.stack([s.y_train for s in splits])
    per_seed = [instance.init_params(torch.Generator().manual_seed(s)) for s in range(seeds)]
    params = {k: torch.stack([p[k] for p in per_seed]).requires_grad_() for k in per_seed[0]}
    outputs, times = {}, {c: [] for c in chunks}
    for _ in range(rounds):
        for chunk in chunks:
            instance.cpu_gradient_seeds = chunk
            t0 = time.thread_time()
            for _ in range(10):
                outputs[chunk] = autograd_step(instance, params, x, y)
            times[chunk].append((time.thread_time() - t0) / 10 * 1e3)
    ref_losses, ref_grads = outputs[chunks[0]]
    for chunk in chunks:
        losses, grads = outputs[chunk]
        same = torch.equal(losses.detach(), ref_losses.detach()) and all(torch.equal(grads[k], ref_grads[k]) for k in grads)
        print(f"{task}, {seeds} seeds, cpu_gradient_seeds={chunk}: gradient {statistics.median(times[chunk]):.1f} ms "
              f"thread CPU per step; equal to cpu_gradient_seeds={chunks[0]} bit for bit: {'yes' if same else 'NO'}",
              flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default="modular_addition:cpu_add,power_ops:cpu_div")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--chunks", default="0,1", help="cpu_gradient_seeds values, the first the reference")
    p.add_argument("--gradient-only", action="store_true", help="time autograd_step alone (module docstring)")
    args = p.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    print(machine_line(), flush=True)
    for task in args.tasks.split(","):
        if args.gradient_only:
            gradient(task, args.seeds, chunks, args.rounds)
            continue
        times: dict[int, list[float]] = {c: [] for c in chunks}
        curves: dict[int, list[dict]] = {}
        for _ in range(args.rounds):
            for chunk in chunks:
                ms, curves[chunk] = run(task, args.seeds, args.steps, chunk)
                times[chunk].append(ms)
        first = statistics.median(times[chunks[0]])
        for chunk in chunks:
            ms = statistics.median(times[chunk])
            same = "yes" if curves[chunk] == curves[chunks[0]] else "NO"
            print(f"{task}, {args.seeds} seeds, cpu_gradient_seeds={chunk}: {ms:.3f} ms CPU per seed-step "
                  f"(rounds: {', '.join(f'{t:.3f}' for t in times[chunk])}), x{first / ms:.2f}; "
                  f"curves equal to cpu_gradient_seeds={chunks[0]}: {same}", flush=True)
    print(machine_line(load_only=True))


if __name__ == "__main__":
    main()
