"""Measuring step costs: live seed batches stepped by the engine's timed unit, warmed up,
then interleaved round-robin until every median is stable.

A ``Runner`` holds one step structure's ``SeedBatch`` (``configs``) and steps it with
``grokbench.trial.train_step`` (forward, backward, transforms, meta steps, optimizer),
timed by the same ``environment.PeriodClock`` as the training loop. Steps continue the
configuration's real training from its real initialization.

Blocks. A runner is timed over blocks of consecutive steps: a whole number of *units*,
where a unit is its method's cost period (the least common multiple of the chain parts'
optional ``cost_period`` attributes, default 1: NeuralGrok's meta step every T steps is
one) and, when an epoch is short, whole epochs too (each epoch reshuffles the data). All
runners' blocks last about the same time (the longer of ``Settings.block_s`` and the
longest unit, at most ``Settings.max_block_s``; a unit longer than that is one block), so
that every configuration is exposed alike to the machine's interruptions: a block twice
as long is twice as likely to be preempted.
Warm-up runs at least the chain's ``cost_warmup`` steps (optional attribute, default 0: a
filter that fills a window of w steps has w) and ``Settings.warmup_s`` seconds.

Rounds. Each round runs one block of every runner; the starting runner moves one place per
round, so every configuration meets the machine's conditions in every position. Block
lengths are re-set before each round from the medians so far. After
``min_rounds`` the rounds stop once the relative standard error of every median (from the
interquartile range, 0.93 x IQR / median / sqrt(n)) is at most ``rel_tol``, or after
``max_rounds``, or once ``max_seconds`` have passed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import environment
from ..plan import Cell
from ..seedbatch import SeedBatch
from ..trial import build_chain, train_step
from .configs import CalibrationConfig

MAX_UNIT_STEPS = 4096  # a longer period-and-epoch unit is cut back to the period alone


@dataclass(frozen=True)
class Settings:
    """How hard to measure (see the module docstring). ``mode`` names the preset."""

    min_rounds: int = 10
    max_rounds: int = 100
    rel_tol: float = 0.01
    block_s: float = 0.02
    max_block_s: float = 1.0
    warmup_s: float = 0.2
    max_seconds: float = 120.0
    mode: str = "full"


FULL = Settings()
# What `grokbench run` does at its end: a short warm-up and five blocks of each configuration.
QUICK = Settings(min_rounds=5, max_rounds=5, block_s=0.005, max_block_s=0.1, warmup_s=0.02, max_seconds=30.0,
                 mode="quick")


def chain_cost_period(chain: Any) -> int:
    """Steps after which the chain's per-step cost repeats: lcm of its parts' ``cost_period``."""
    period = 1
    for part in [*chain.transforms, chain.optimizer]:
        period = math.lcm(period, max(1, int(getattr(part, "cost_period", 1) or 1)))
    return period


def chain_cost_warmup(chain: Any) -> int:
    """Steps before the chain's per-step cost settles: the largest ``cost_warmup`` of its parts."""
    return max(int(getattr(part, "cost_warmup", 0) or 0) for part in [*chain.transforms, chain.optimizer])


class Runner:
    """One step structure's live seed batch, its configurations side by side as trained. ``setup_s``: the method's one-time setup (the
    chain's ``init`` for the whole batch), timed."""

    def __init__(self, config: CalibrationConfig, clock: Callable[[torch.device], Any] = environment.PeriodClock):
        device = environment.resolve_device(config.device)
        self.config = config
        self.task = config.task.build()
        cell = Cell(config.task, config.method, config.seeds, device=config.device, variants=config.variants)
        self.chain, settings = build_chain(cell)
        self.batch = SeedBatch.build(self.task, config.task.name, config.method.stream_label, config.seeds,
                                     self.chain, device, len(cell.configs), settings)
        self.schedule = self.task.schedule(self.batch.n_train)
        self.clock = clock(device)
        self.clock.start()
        state = self.chain.init(self.batch.params, self.batch.ctx)
        self.setup_s = self.clock.stop().wall_s
        self.batch.state = state
        self.period = chain_cost_period(self.chain)
        self.warmup_steps = chain_cost_warmup(self.chain)
        self.step = 0

    def run(self, steps: int) -> environment.Period:
        """Time ``steps`` training steps of the whole batch."""
        self.clock.start()
        for _ in range(steps):
            losses = train_step(self.task, self.chain, self.batch, self.step, self.schedule)
            self.step += 1
        period = self.clock.stop()
        self._zero_diverged(losses)
        return period

    def _zero_diverged(self, losses: torch.Tensor) -> None:
        """As the training loop does (untimed): a seed whose loss is non-finite is zeroed and
        gradients are sanitized from then on."""
        bad = ~torch.isfinite(losses.detach())
        if bool(bad.any()):
            self.batch.sanitize = True
            with torch.no_grad():
                for p in self.batch.params.values():
                    p[bad.to(p.device)] = 0.0


def block_unit(period: int, steps_per_epoch: int) -> int:
    """Steps of one unit: lcm(period, steps_per_epoch), or ``period`` alone when that
    exceeds MAX_UNIT_STEPS."""
    unit = math.lcm(period, steps_per_epoch)
    return period if unit > MAX_UNIT_STEPS else unit


def equal_blocks(units: Sequence[int], step_s: Sequence[float], block_s: float, max_block_s: float) -> list[int]:
    """Steps per block of each runner (``units[i]`` steps per unit, ``step_s[i]`` seconds
    per step): whole units, every block about ``max(block_s, longest unit)`` seconds long,
    at most ``max_block_s`` and never less than one unit."""
    unit_s = [u * max(s, 1e-12) for u, s in zip(units, step_s)]
    target = min(max([block_s, *unit_s]), max_block_s)
    return [u * max(1, round(target / us)) for u, us in zip(units, unit_s)]


def warm_up(runner: Runner, settings: Settings) -> float:
    """Step ``runner`` past its cost warm-up and ``settings.warmup_s``; returns the last
    estimate of one step's seconds."""
    runner.run(1)  # the first step allocates
    n, spent = 1, 0.0
    while True:
        period = runner.run(n)
        spent += period.wall_s
        if runner.step >= runner.warmup_steps and spent >= settings.warmup_s:
            return period.wall_s / n
        n *= 2


def relative_standard_error(values: Sequence[float]) -> float:
    """Standard error of the median over the median, from the interquartile range
    (normal approximation: 1.2533 x IQR / 1.349 / sqrt(n)); inf for fewer than 2 values."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return math.inf
    median = float(np.median(v))
    q1, q3 = np.percentile(v, [25, 75])
    return 0.929 * float(q3 - q1) / median / math.sqrt(len(v)) if median > 0 else math.inf


def interleave(runners: Sequence[Any], units: Sequence[int], step_s: Sequence[float], settings: Settings,
               now: Callable[[], float] = time.perf_counter) -> list[list[tuple[environment.Period, int]]]:
    """Round-robin over ``runners`` (objects with ``run(steps) -> Period``): each round one
    block of every runner, the first runner rotating. Block lengths (``equal_blocks`` of
    ``units``) are set before every round from each runner's median seconds per step so
    far (``step_s``, the warm-up's estimate, before the first). Returns each runner's
    (period, steps) in order; see the module docstring for when it stops."""
    n = len(runners)
    done: list[list[tuple[environment.Period, int]]] = [[] for _ in runners]
    estimate = list(step_s)
    deadline = now() + settings.max_seconds
    for r in range(settings.max_rounds if n else 0):
        blocks = equal_blocks(units, estimate, settings.block_s, settings.max_block_s)
        for i in [*range(r % n, n), *range(r % n)]:
            done[i].append((runners[i].run(blocks[i]), blocks[i]))
        per_step = [[p.wall_s / steps for p, steps in blocks_of] for blocks_of in done]
        estimate = [float(np.median(c)) for c in per_step]
        if r + 1 < settings.min_rounds:
            continue
        if all(relative_standard_error(c) <= settings.rel_tol for c in per_step) or now() > deadline:
            break
    return done
