"""One calibration session over a results folder: rebuild every configuration, warm each
up, measure them interleaved, write DIR/calibration.json."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from .. import __version__, environment
from ..errors import UserError
from ..store import Store
from .configs import CalibrationConfig, configs_of, records_threads
from .costs import StepCost, load_costs, write_calibration
from .measure import (
    FULL,
    Runner,
    Settings,
    block_unit,
    interleave,
    relative_standard_error,
    warm_up,
)


@dataclass
class Calibration:
    """What a session wrote: the file, the costs, the configurations it could not measure."""

    path: Path
    costs: list[StepCost]
    skipped: list[dict[str, str]]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch uses ``n`` threads inside the block, its previous count after it."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _skip(config: CalibrationConfig, reason: str) -> list[dict[str, str]]:
    """Every configuration of the structure, as not measured for ``reason``."""
    labels = [label for _, label in config.members] or [config.method_label]
    return [{"task": config.task_label, "method": label, "reason": reason} for label in labels]


def build_runners(configs: list[CalibrationConfig], settings: Settings) -> tuple[list[Runner], list[float],
                                                                                list[dict[str, str]]]:
    """(a warmed-up runner per configuration this machine can build and step, each one's
    estimated seconds per step, the others with the reason)."""
    runners, step_s, skipped = [], [], []
    for config in configs:
        if config.device.startswith("cuda") and not torch.cuda.is_available():
            skipped.extend(_skip(config, "its records ran on CUDA, which this machine does not have"))
            continue
        try:
            runner = Runner(config)
            step_s.append(warm_up(runner, settings))
            runners.append(runner)
        except Exception as exc:  # a plugin that is not loaded, or fails to build or step
            skipped.extend(_skip(config, f"{type(exc).__name__}: {exc}"))
    return runners, step_s, skipped


def step_cost(runner: Runner, blocks: list[tuple[environment.Period, int]], warmup_steps: int,
              threads: int, settings: Settings) -> StepCost:
    """A runner's measured (period, steps) blocks -> its StepCost."""
    per_step = np.array([p.wall_s / steps for p, steps in blocks])
    median = float(np.median(per_step))
    cpu = float(np.median([p.cpu_s / steps for p, steps in blocks])) if runner.config.device == "cpu" else None
    q1, q3 = np.percentile(per_step, [25, 75])
    wall = sum(p.wall_s for p, _ in blocks)
    rel_se = relative_standard_error(per_step)
    c = runner.config
    return StepCost(
        key=c.key, task_label=c.task_label, method=c.method_label, device=c.device, layout=c.layout,
        threads=threads, step_cost_s=median, iqr_over_median=float(q3 - q1) / median if median > 0 else float("inf"),
        rel_se=rel_se, stable=rel_se <= settings.rel_tol, rounds=len(blocks), block_steps=blocks[-1][1],
        warmup_steps=warmup_steps, cost_period=runner.period, setup_s=runner.setup_s, cpu_step_cost_s=cpu,
        cpu_per_wall=sum(p.cpu_s for p, _ in blocks) / wall if wall > 0 else None, mode=settings.mode,
    )


def for_members(cost: StepCost, config: CalibrationConfig) -> list[StepCost]:
    """A step structure's measured cost, once for each configuration sharing it
    (``configs``: same tensors and kernels, scalars only)."""
    members = config.members or ((config.key, config.method_label),)
    return [replace(cost, key=key, method=label, measured_as=config.key) for key, label in members]


def measure(runners: list[Runner], step_s: list[float], settings: Settings, threads: int) -> list[StepCost]:
    """Interleave warmed-up runners (``measure.interleave``) in blocks of about equal
    duration; one cost per configuration, each step structure measured once."""
    warmed = [runner.step for runner in runners]
    units = [block_unit(r.period, r.schedule.steps_per_epoch) for r in runners]
    blocks = interleave(runners, units, step_s, settings)
    return [c for r, b, w in zip(runners, blocks, warmed)
            for c in for_members(step_cost(r, b, w, threads, settings), r.config)]


def calibrate_folder(results_dir: str | Path, settings: Settings = FULL, *, threads: int | None = None,
                     only_missing: bool = False, log: Callable[[str], None] = _stderr) -> Calibration | None:
    """Measure the step cost of every configuration of a results folder in one session and
    replace DIR/calibration.json. ``threads``: torch threads (default: those most of the
    records ran with). ``only_missing``: do nothing (None) when the folder's calibration
    already covers every configuration. Raises UserError for a folder with nothing to
    calibrate."""
    records = Store(results_dir).records()
    configs, skipped = configs_of(records)
    if not configs:
        raise UserError(f"{results_dir} holds no finished trial to calibrate")
    keys = {k for c in configs for k, _ in c.members}
    if only_missing and keys <= set(load_costs(results_dir)):
        return None
    threads = threads or records_threads(records) or torch.get_num_threads()
    log(f"calibrating {len(keys)} configuration(s) of {results_dir} in {len(configs)} step structure(s)"
        f" ({settings.mode}, {threads} thread(s))")
    started, load_before = time.perf_counter(), environment.load_average()
    with torch_threads(threads):
        runners, step_s, unbuilt = build_runners(configs, settings)
        costs = measure(runners, step_s, settings, threads)
        devices = {r.batch.ctx.device for r in runners} | {torch.device("cpu")}
        env = {str(d): environment.describe(d) for d in sorted(devices, key=str)}
    info = {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "grokbench_version": __version__,
        "mode": settings.mode, "settings": asdict(settings), "threads": threads, "environment": env,
        "load1_before": load_before, "load1_after": environment.load_average(),
        "duration_s": round(time.perf_counter() - started, 2),
    }
    path = write_calibration(results_dir, costs, skipped + unbuilt, info)
    return Calibration(path, costs, skipped + unbuilt)
