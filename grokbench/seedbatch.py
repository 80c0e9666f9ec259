"""The seed batch: everything a cell trains, stacked along a leading seed axis.

One ``SeedBatch`` holds, for the trials still training: their data, parameters, the method
chain's state, their batch-order and method random streams, and the step context the
method sees. ``compact(keep)`` drops finished trials from all of it at once. The leading
axis carries slots (``grokbench.plan.Slot``: a configuration and a seed); a cell of one
configuration has one slot per seed, and "seed axis" elsewhere means this axis.

Pairing: each seed's data, secret, initialization, held-out slice and batch order come
from generators derived from (task name, seed index, stream) only, on the CPU, so they are
identical whatever the method and whatever else is in the batch; the configurations of a
batch get the same copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from . import seeding
from .chain import Chain
from .method import Params, StepContext
from .plan import Slot
from .task import Split, Task


def carve_holdout(split: Split, fraction: float, gen: torch.Generator) -> tuple[Split, tuple[Tensor, Tensor]]:
    """Move a random ``fraction`` of the training set into a held-out slice (order kept)."""
    n = split.x_train.shape[0]
    perm = torch.randperm(n, generator=gen)
    n_hold = max(1, round(fraction * n))
    hold, keep = perm[:n_hold].sort().values, perm[n_hold:].sort().values
    inner = Split(split.x_train[keep], split.y_train[keep], split.x_test, split.y_test)
    return inner, (split.x_train[hold], split.y_train[hold])


def map_tensors(tree: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """``tree`` with ``fn`` applied to every tensor leaf (in nested dicts, lists, tuples and
    named tuples); other leaves are kept as they are."""
    if isinstance(tree, Tensor):
        return fn(tree)
    if isinstance(tree, dict):
        return {k: map_tensors(v, fn) for k, v in tree.items()}
    if isinstance(tree, list):
        return [map_tensors(v, fn) for v in tree]
    if isinstance(tree, tuple):
        items = [map_tensors(v, fn) for v in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
    return tree


def index_state(tree: Any, keep: Tensor) -> Any:
    """``tree`` with every tensor leaf (in nested dicts, lists, tuples) indexed by ``keep``
    along its leading seed axis; other leaves are shared by all seeds and kept as they are."""
    return map_tensors(tree, lambda t: t[keep] if t.dim() > 0 else t)


def take_rows(t: Tensor, perm: Tensor) -> Tensor:
    """``t[s, perm[s]]`` for every seed s: t (S, n, ...) reordered along its second axis by
    perm (S, k) (on the CPU; moved to t's device), as one index_select over the seeds' rows
    laid end to end (a third of advanced indexing's time at S = 256 on a CPU)."""
    S, n = t.shape[:2]
    offsets = torch.arange(S, device=perm.device).unsqueeze(1) * n
    flat = (perm + offsets).reshape(-1).to(t.device)
    return t.reshape(S * n, *t.shape[2:]).index_select(0, flat).view(S, perm.shape[1], *t.shape[2:])


def _stack(tensors: list[Tensor], device: torch.device) -> Tensor:
    return torch.stack(tensors).to(device)


@dataclass
class SeedBatch:
    """The live trials of a cell (``slots[pos]`` is the trial at batch position ``pos``)."""

    slots: list[Slot]
    data: dict[str, Tensor]
    params: Params
    state: list[Any]
    order_gens: list[torch.Generator]
    ctx: StepContext
    epoch_batches: tuple[Tensor, Tensor] | None = None
    sanitize: bool = False  # set once a seed diverged: gradients are cleaned of non-finite values

    @classmethod
    def build(cls, task: Task, task_name: str, stream: str, seeds: tuple[int, ...],
              chain: Chain, device: torch.device, n_configs: int = 1,
              config_settings: dict[str, list[Any]] | None = None) -> SeedBatch:
        """Draw every seed's data and initialization, stack them (``n_configs`` copies,
        configuration-major), and init the chain's state. ``stream``: the method's random
        stream (``MethodSpec.stream_label``: variants of one method share it).
        ``config_settings``: the base optimizer's settings that differ by configuration, one
        value per configuration."""
        slots = [Slot(c, s) for c in range(n_configs) for s in seeds]
        data, params = _stacked_data_and_params(task, task_name, seeds, chain.holdout_fraction, device)
        data = {k: v.repeat((n_configs,) + (1,) * (v.dim() - 1)) for k, v in data.items()}
        params = {k: v.detach().repeat((n_configs,) + (1,) * (v.dim() - 1)).requires_grad_()
                  for k, v in params.items()}
        method_gens = [seeding.generator(task_name, s.seed, seeding.METHOD, stream) for s in slots]
        holdout = (data["x_hold"], data["y_hold"]) if "x_hold" in data else None
        loss_fn = lambda p, x, y: task.loss(task.forward(p, x), y)  # noqa: E731
        ctx = StepContext(0, loss_fn, (data["x_train"], data["y_train"]), holdout, method_gens, device,
                          slot_settings=_per_slot(config_settings or {}, len(seeds), device))
        order_gens = [seeding.generator(task_name, s.seed, seeding.ORDER) for s in slots]
        return cls(slots, data, params, chain.init(params, ctx), order_gens, ctx)

    @property
    def seeds(self) -> list[int]:
        """The seed of each batch position."""
        return [slot.seed for slot in self.slots]

    @property
    def n_train(self) -> int:
        return self.data["x_train"].shape[1]

    def minibatch(self, step: int, batch_size: int, steps_per_epoch: int) -> tuple[Tensor, Tensor]:
        """The (x, y) of ``step``: each epoch reshuffles every seed's training set once (its
        own order stream) and its batches are slices of that, the last one possibly partial."""
        b = step % steps_per_epoch
        if b == 0 or self.epoch_batches is None:
            perm = torch.stack([torch.randperm(self.n_train, generator=g) for g in self.order_gens])
            self.epoch_batches = (take_rows(self.data["x_train"], perm), take_rows(self.data["y_train"], perm))
        x, y = self.epoch_batches
        return x[:, b * batch_size:(b + 1) * batch_size], y[:, b * batch_size:(b + 1) * batch_size]

    def compact(self, keep_pos: list[int]) -> None:
        """Keep only the trials at batch positions ``keep_pos`` in every seed-axis tensor."""
        keep = torch.tensor(keep_pos, device=self.ctx.device)
        self.data = {k: v[keep] for k, v in self.data.items()}
        with torch.no_grad():
            self.params = {k: v[keep].detach().requires_grad_() for k, v in self.params.items()}
        self.state = index_state(self.state, keep)
        if self.epoch_batches is not None:
            self.epoch_batches = (self.epoch_batches[0][keep], self.epoch_batches[1][keep])
        self.order_gens = [self.order_gens[p] for p in keep_pos]
        self.ctx.generators = [self.ctx.generators[p] for p in keep_pos]
        self.ctx.holdout = (self.data["x_hold"], self.data["y_hold"]) if "x_hold" in self.data else None
        self.ctx.slot_settings = {k: v[keep] for k, v in self.ctx.slot_settings.items()}
        self.slots = [self.slots[p] for p in keep_pos]


def _per_slot(config_settings: dict[str, list[Any]], n_seeds: int, device: torch.device) -> dict[str, Tensor]:
    """Each setting's per-configuration values repeated for the seeds: float64 tensors with
    leading axis n_configs x n_seeds (configuration-major)."""
    return {name: torch.tensor(values, dtype=torch.float64).repeat_interleave(n_seeds, dim=0).to(device)
            for name, values in config_settings.items()}


def _stacked_data_and_params(task: Task, name: str, seeds: tuple[int, ...], holdout_fraction: float,
                             device: torch.device) -> tuple[dict[str, Tensor], Params]:
    splits, holdouts, inits = [], [], []
    for seed in seeds:
        split = task.make_data(seeding.generator(name, seed, seeding.DATA))
        if holdout_fraction > 0:
            split, hold = carve_holdout(split, holdout_fraction, seeding.generator(name, seed, seeding.HOLDOUT))
            holdouts.append(hold)
        splits.append(split)
        inits.append(task.init_params(seeding.generator(name, seed, seeding.INIT)))
    data = {f"{xy}_{part}": _stack([getattr(s, f"{xy}_{part}") for s in splits], device)
            for part in ("train", "test") for xy in ("x", "y")}
    if holdouts:
        data["x_hold"] = _stack([h[0] for h in holdouts], device)
        data["y_hold"] = _stack([h[1] for h in holdouts], device)
    params = {k: _stack([p[k] for p in inits], device).requires_grad_() for k in inits[0]}
    return data, params
