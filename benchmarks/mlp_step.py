"""One seed-batched SGD step of the sparse-parity MLP: the hand-written backward of
tasks/mlp.py against the previous one (issue #28's third round, kept here as
``previous_loss_and_grad``), interleaved in one process; it also prints whether the two give
the same losses and gradients bit for bit on this machine.

    OMP_NUM_THREADS=1 python benchmarks/mlp_step.py [--slots 64,256] [--rounds 9] [--compile]

A step is the task's loss and gradient on one batch of 32 plus the SGD update (lr 0.1,
coupled weight decay 0.01, ``torch._foreach`` as methods/sgd.py), on S seeds' initial
parameters (benchmarks/_parity_batch.py). Each round times a block of steps of each variant,
alternating; printed: the medians over rounds of microseconds per seed-step by wall clock
and by this thread's CPU time, and the median of the per-round ratios previous / current.
``--compile`` also times ``torch.compile`` of the current whole step (loss, gradient, update),
with its compile time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _against_previous import print_against_previous  # noqa: E402
from _machine import machine_line  # noqa: E402
from _parity_batch import parity_batch  # noqa: E402

from grokbench.registry import load_builtins  # noqa: E402


def previous_loss_and_grad(params: dict[str, Tensor], x: Tensor, y: Tensor, loss) -> tuple[Tensor, dict]:
    """tasks/mlp.py's mlp_loss_and_grad before issue #28's third round (commit cbc5c29): dW1
    and db1 from one bmm of the mask with [d x | d] (21 columns), dW1 a strided view."""
    hidden = torch.baddbmm(params["b1"].unsqueeze(2), params["W1"], x.transpose(1, 2)).relu_()
    out = torch.baddbmm(params["b2"].reshape(-1, 1, 1), params["W2"], hidden).squeeze(1)
    losses, d_out = loss(out, y)
    grad_w2 = torch.bmm(d_out.unsqueeze(1), hidden.transpose(1, 2))
    d = d_out.unsqueeze(2)
    both = torch.bmm(hidden.sign_(), torch.cat([x * d, d], dim=2)).mul_(params["W2"].transpose(1, 2))
    return losses, {"W1": both[..., :-1], "b1": both[..., -1], "W2": grad_w2, "b2": d_out.sum(dim=1)}


def sgd_(params: dict[str, Tensor], grads: dict[str, Tensor], lr: float = 0.1, wd: float = 0.01) -> None:
    ps = list(params.values())
    torch._foreach_mul_(ps, 1.0 - lr * wd)
    torch._foreach_add_(ps, [grads[k] for k in params], alpha=-lr)


def block(step, params, x, y, steps: int) -> tuple[float, float]:
    """(wall, thread CPU) seconds of ``steps`` steps."""
    w0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(steps):
        step(params, x, y)
    return time.perf_counter() - w0, time.thread_time() - c0


def compare(slots: int, rounds: int, compile_too: bool) -> None:
    task, params, x, y = parity_batch(slots)
    from grokbench.tasks.mlp import mlp_loss_and_grad  # where the registry loads the built-in tasks

    def current(p, x, y):
        sgd_(p, mlp_loss_and_grad(p, x, y, task.loss_with_grad)[1])

    def previous(p, x, y):
        sgd_(p, previous_loss_and_grad(p, x, y, task.loss_with_grad)[1])

    with torch.no_grad():
        now = mlp_loss_and_grad(params, x, y, task.loss_with_grad)
        before = previous_loss_and_grad(params, x, y, task.loss_with_grad)
    same = torch.equal(now[0], before[0]) and all(torch.equal(now[1][k], before[1][k]) for k in now[1])
    print(f"S={slots}: losses and gradients of previous and current equal bit for bit: {same}")
    variants = {"previous": previous, "current": current}
    if compile_too:
        t0 = time.perf_counter()
        compiled = torch.compile(current, dynamic=False)
        with torch.no_grad():
            compiled({k: v.clone() for k, v in params.items()}, x, y)
        print(f"S={slots}: torch.compile of the current step took {time.perf_counter() - t0:.1f} s")
        variants["compiled"] = compiled
    steps = max(4, 2048 // slots)
    seen: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    with torch.no_grad():
        states = {k: {n: v.clone() for n, v in params.items()} for k in variants}
        for name, fn in variants.items():
            block(fn, states[name], x, y, 2)  # warm-up
        for _ in range(rounds):
            for name, fn in variants.items():
                seen[name].append(block(fn, states[name], x, y, steps))
    per = slots * steps / 1e6
    print_against_previous(seen, per, slots, "seed-step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", default="64,256")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    load_builtins()
    print(machine_line(), flush=True)
    for slots in [int(s) for s in args.slots.split(",")]:
        compare(slots, args.rounds, args.compile)
    print(machine_line(load_only=True))


if __name__ == "__main__":
    main()
