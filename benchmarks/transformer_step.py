"""Step time of the modular-arithmetic transformer: efficient path vs the reference path.

One training step = forward on the training batch, backward, the method's update (by
default the preset's base optimizer alone, e.g. AdamW; ``--method`` names another, e.g.
``muon`` or ``grokfast``), exactly as the engine takes it: a ``Chain`` whose ``update``
sets ``ctx.lr`` and calls ``optimizer.step(grads, params, state, ctx)`` (seed axis S, full
batch for the ``nanda`` and CPU profiles). For each
preset and each implementation (``impl=fast``: only the answer position is unembedded and
the last block runs query/MLP for that position only, fused SDPA; ``impl=reference``: every
position through every layer, explicit softmax attention) it reports the median wall time
of ``--steps`` steps after ``--warmup`` untimed ones, interleaving the two implementations
in rounds so that a noisy shared machine hurts both alike.

    python benchmarks/transformer_step.py                 # nanda and the CPU profile
    python benchmarks/transformer_step.py --threads 2 --steps 30 --presets default,nanda
    python benchmarks/transformer_step.py --presets default --method muon

Prints a markdown table (ms per step, speedup) and the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from grokbench import StepContext, registry, seeding, spec


def make_step(label: str, impl: str, n_seeds: int, method_label: str = ""):
    """A closure doing one engine-style training step of task ``label`` with ``impl``."""
    name = label.split(":")[0]
    task_spec = spec.resolve_task(label, {name: {"impl": impl}})
    task = task_spec.build()
    cls = registry.get_task(name)
    base = (cls.presets[task_spec.preset].base_optimizer if task_spec.preset else None) or cls.base_optimizer
    chain = spec.resolve_method(method_label or base, task_spec, {}).build()
    splits = [task.make_data(seeding.generator(name, s, seeding.DATA)) for s in range(n_seeds)]
    inits = [task.init_params(seeding.generator(name, s, seeding.INIT)) for s in range(n_seeds)]
    x = torch.stack([s.x_train for s in splits])
    y = torch.stack([s.y_train for s in splits])
    batch = task.schedule(x.shape[1]).batch_size
    x, y = x[:, :batch], y[:, :batch]
    params = {k: torch.stack([p[k] for p in inits]).requires_grad_() for k in inits[0]}
    names, plist = list(params), list(params.values())
    gens = [seeding.generator(name, s, seeding.METHOD, method_label or base) for s in range(n_seeds)]
    loss_fn = lambda p, xb, yb: task.loss(task.forward(p, xb), yb)  # noqa: E731
    ctx = StepContext(0, loss_fn, (x, y), None, gens, torch.device("cpu"))
    state = chain.init(params, ctx)

    def step() -> None:
        losses = task.loss(task.forward(params, x), y)
        grads = dict(zip(names, torch.autograd.grad(losses.sum(), plist)))
        chain.update(grads, params, state, ctx)  # sets ctx.lr = optimizer.lr_at(ctx.step)
        chain.after_step(params, state, ctx)
        ctx.step += 1

    return step, tuple(x.shape)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="default,nanda", help="modular_addition presets; 'default' = the CPU profile")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per implementation")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=4, help="the timed steps are split into this many interleaved rounds")
    ap.add_argument("--seeds", type=int, default=1, help="seed-axis size S")
    ap.add_argument("--method", default="", help="method label (default: the preset's base optimizer)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs visible, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, S={args.seeds}\n")
    print("| preset | batch (S, B, T) | fast ms/step | reference ms/step | speedup |")
    print("|---|---|---|---|---|")
    for preset in args.presets.split(","):
        label = "modular_addition" if preset == "default" else f"modular_addition:{preset}"
        steps = {impl: make_step(label, impl, args.seeds, args.method) for impl in ("fast", "reference")}
        times: dict[str, list[float]] = {impl: [] for impl in steps}
        for step, _ in steps.values():
            for _ in range(args.warmup):
                step()
        per_round = max(1, args.steps // args.rounds)
        for _ in range(args.rounds):
            for impl, (step, _) in steps.items():
                for _ in range(per_round):
                    t0 = time.perf_counter()
                    step()
                    times[impl].append(time.perf_counter() - t0)
        fast, ref = (statistics.median(times[i]) * 1e3 for i in ("fast", "reference"))
        print(f"| {preset} | {steps['fast'][1]} | {fast:.2f} | {ref:.2f} | {ref / fast:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
