"""Seeds derived from names, never from the method: the heart of the paired design.

Every random stream of a trial comes from ``derive_seed("grokbench", task, seed, stream)``.
The task's name (not its full parameters) is part of the key so that changing a budget or
an optimizer setting leaves the data, secret and initialization of a seed unchanged;
parameters that change shapes (n, k, p) change the draws anyway. The method's name enters
only the ``method`` stream, which the method alone consumes.
"""

from __future__ import annotations

import hashlib

import torch

BENCHMARK = "grokbench"

# Streams a trial draws from. Each is an independent torch.Generator.
DATA, INIT, ORDER, HOLDOUT, METHOD = "data", "init", "order", "holdout", "method"


def derive_seed(*parts: object) -> int:
    """A 63-bit integer seed from the parts' string forms (stable across runs and hosts)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(task: str, seed: int, stream: str, *extra: object) -> torch.Generator:
    """A CPU generator for one (task, seed index, stream) triple."""
    g = torch.Generator(device="cpu")
    g.manual_seed(derive_seed(BENCHMARK, task, seed, stream, *extra))
    return g
