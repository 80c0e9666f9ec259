"""grokbench from Python (a notebook, a script): the same code paths as the CLI.

    import grokbench
    frame = grokbench.run(tasks="sparse_parity", methods="sgd,egd", seeds=5, out="results")
    frame.groupby("method")["solve_epoch"].median()
    grokbench.write_leaderboard("results", out="results/leaderboard")

``run`` resolves every name first (a bad one raises ``UserError`` before anything trains),
skips the trials already in ``out`` and returns this run's trials, one row per trial (the
columns of ``grokbench.store.load_frame``). The CLI's ``grokbench run`` is ``prepare`` +
``execute`` + the end-of-run tables.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import __version__, registry
from .errors import UserError, signals_deferred
from .plan import DEFAULT_CHECKPOINT_S, CheckpointPolicy, Plan, build_plan
from .progress import PlainProgress
from .spec import expand_methods, parse_overrides
from .store import Store, load_frame


def device_name(name: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda[:N]`` only where CUDA is."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: CUDA is not available on this machine; use cpu or auto")
        return name
    raise UserError(f"--device {name!r} is not one of auto, cpu, cuda[:N]")


def load_plugins(files: Iterable[str]) -> None:
    """The built-in plugins, then each plugin file."""
    registry.load_builtins()
    for path in files:
        registry.load_plugin_file(path)


def prepare(tasks: str, methods: str, seeds: str | int | Sequence[int], out: str | Path, *,
            overrides: Sequence[str] = (), device: str = "cpu", after_solve: int = 0,
            plugins: Sequence[str] = (), tuned: str | Path | None = None,
            baseline: bool = True) -> tuple[Plan, Store]:
    """Resolve the plan and open (create) the results folder; nothing trains yet. ``tuned``:
    a tuning folder whose selected configurations to run (``grokbench.tuning.tuned``).
    ``baseline``: add each task's baseline to the methods where they do not name it (one
    line on stderr says so), so that every comparison has its reference."""
    from .tuning.tuned import apply_tuned, check_folder

    if not str(out).strip():
        raise UserError("--out is empty; name a results folder (default: ./results)")
    load_plugins(plugins)
    if not isinstance(seeds, (str, int)):
        seeds = ",".join(str(int(s)) for s in seeds) + ","
    parsed = parse_overrides(list(overrides))
    plan = build_plan(tasks, methods, str(seeds), parsed, after_solve=after_solve,
                      device=device, plugin_files=tuple(registry.plugin_files()), baseline=baseline)
    _note_added_baselines(plan, methods)
    if tuned is not None:
        plan = apply_tuned(plan, tuned, parsed)
    store = Store(out, create=True)
    check_folder(plan, store)
    check_plan_fits_folder(plan, store)
    return plan, store


def check_plan_fits_folder(plan: Plan, store: Store) -> None:
    """Refuse (UserError, before anything trains) a plan that would add another
    configuration of a (task, method) ``store`` holds (``grokbench.consistency``)."""
    from .consistency import check_addition
    from .spec import trial_identity

    identities = [trial_identity(task, method, plan.seeds[0], plan.after_solve) for task, method in plan.pairs]
    check_addition(identities, store.records(), store.root)


def _note_added_baselines(plan: Plan, methods: str) -> None:
    """One line on stderr naming the baselines the plan trains that ``methods`` did not name."""
    named = set(expand_methods(methods))
    added: dict[str, list[str]] = {}
    for task, method in plan.pairs:
        if method.label == method.baseline and method.label not in named:
            added.setdefault(method.label, []).append(task.label)
    if added:
        listed = "; ".join(f"{m} on {', '.join(t)}" for m, t in added.items())
        print(f"note: added each task's baseline to compare against: {listed} (--no-baseline leaves it out)",
              file=sys.stderr)


def prepare_tuning(tasks: str, methods: str, trials: int, tune_seeds: str, out: str | Path, *,
                   overrides: Sequence[str] = (), device: str = "cpu", after_solve: int = 0,
                   plugins: Sequence[str] = ()):
    """Resolve a tuning study (``grokbench.tuning.driver.Study``) and open its folder."""
    from .tuning.driver import build_study

    if not str(out).strip():
        raise UserError("--out is empty; name a tuning folder")
    load_plugins(plugins)
    study = build_study(tasks, methods, trials, str(tune_seeds), parse_overrides(list(overrides)),
                        tuple(overrides), after_solve=after_solve, device=device,
                        plugin_files=tuple(registry.plugin_files()))
    store = Store(out, create=True)
    check_plan_fits_folder(study.plan, store)
    return study, store


def tune(tasks: str = "sparse_parity", methods: str = "sgd,adamw", trials: int = 8,
         tune_seeds: str = "1000-1002", out: str | Path = "tuning", *, overrides: Sequence[str] = (),
         device: str = "auto", batch_seeds: int = 64, plugins: Sequence[str] = (), executor: Any = None,
         progress: Any = None) -> dict[str, Any] | None:
    """Run a tuning study into ``out`` (resuming what is there) and return the content of
    ``out/tuned.json``; None when interrupted. Run the selections with
    ``run(..., tuned=out)`` on seeds disjoint from ``tune_seeds``."""
    from .executors import LocalExecutor
    from .tuning.driver import conclude

    study, store = prepare_tuning(tasks, methods, trials, tune_seeds, out, overrides=overrides,
                                  device=device_name(device), plugins=plugins)
    if not execute(study.plan, store, executor or LocalExecutor(), store.done_keys(), batch_seeds=batch_seeds,
                   progress=progress, command=["grokbench.tune"]):
        return None
    return conclude(study, store)


class RecordWriteError(Exception):
    """A record could not be written mid-run (a full disk, say); the message says what was kept."""


def execute(plan: Plan, store: Store, executor: Any, done: set[str], *, batch_seeds: int = 64,
            progress: Any = None, command: Sequence[str] = (),
            checkpoint_every_s: float = DEFAULT_CHECKPOINT_S) -> bool:
    """Run the plan's trials not in ``done`` on ``executor``, writing each record as it
    arrives. Trials another live run has claimed are skipped (with a note). Returns False
    when interrupted (Ctrl-C): finished records are kept, and trials still training go on
    from their last checkpoint (``store.checkpoints_dir``, saved at most every
    ``checkpoint_every_s`` seconds; 0: never) when the same command runs again."""
    if batch_seeds < 1:
        raise UserError("--batch-seeds must be >= 1")
    if not checkpoint_every_s >= 0:
        raise UserError("--checkpoint-every must be >= 0 seconds")
    todo = {key for cell in plan.cells(done, batch_seeds) for key in cell.keys()}
    started = store.log_run(list(command) or ["grokbench.run"],
                            {"version": __version__, "trials": plan.n_trials, "to_run": len(todo)})
    claimed, held = store.claim(todo)
    if held:
        print(f"note: {len(held)} trial(s) are being run by {sorted(set(held.values()))[0]} into this folder; "
              f"skipping them (re-run afterwards to pick up any it leaves)", file=sys.stderr)
    cells = plan.cells(done | set(held), batch_seeds)
    if checkpoint_every_s > 0:
        policy = CheckpointPolicy(str(store.checkpoints_dir), checkpoint_every_s)
        cells = [replace(cell, checkpoint=policy) for cell in cells]
    status = "failed"
    try:
        completed = _run_cells(cells, store, executor, progress)
        status = "completed" if completed else "interrupted"
    finally:
        store.release(claimed)
        store.log_end(started, status)
    if completed and any(store.checkpoints_dir.glob("*")):  # reading every record only when there is something to clean
        from .checkpoint import remove_finished

        remove_finished(store.checkpoints_dir, store.done_keys(getattr(executor, "timeout", None)))
    return completed


def _run_cells(cells: list, store: Store, executor: Any, progress: Any) -> bool:
    if progress is None:
        progress = PlainProgress(0, 0, stream=io.StringIO())
    records = executor.run(cells, progress.on_eval)
    written = 0
    try:
        for record in records:
            try:
                with signals_deferred():  # a Ctrl-C or SIGTERM mid-write must not lose this record
                    store.write(record)
            except OSError as exc:
                raise RecordWriteError(f"cannot write a record to {store.records_dir}: {exc.strerror or exc}; "
                                       f"the {written} record(s) written before are kept") from None
            written += 1
            progress.on_record(record)
    except KeyboardInterrupt:
        return False
    finally:
        records.close()  # stops the executor's workers
        progress.close()
    return True


def plan_frame(plan: Plan, store: Store, with_curves: bool = True):
    """The records of ``store`` that belong to ``plan``, as a DataFrame."""
    frame = load_frame(store.root, with_curves=with_curves)
    return frame[frame["key"].isin(plan.keys())].reset_index(drop=True) if not frame.empty else frame


def run(tasks: str = "sparse_parity", methods: str = "sgd,adamw", seeds: str | int | Sequence[int] = 10,
        out: str | Path = "results", *, overrides: Sequence[str] = (), device: str = "auto",
        after_solve: int = 0, batch_seeds: int = 64, plugins: Sequence[str] = (),
        executor: Any = None, progress: Any = None, tuned: str | Path | None = None):
    """Train every task x method x seed not yet in ``out``; return this run's trials as a
    DataFrame. ``overrides`` are ``--set`` strings (``"sgd.lr=0.05"``); ``executor`` is a
    ``grokbench.executors`` object (default: in this process); ``tuned`` a tuning folder
    whose selected configurations to run."""
    from .executors import LocalExecutor

    plan, store = prepare(tasks, methods, seeds, out, overrides=overrides, device=device_name(device),
                          after_solve=after_solve, plugins=plugins, tuned=tuned)
    execute(plan, store, executor or LocalExecutor(), store.done_keys(), batch_seeds=batch_seeds,
            progress=progress)
    return plan_frame(plan, store)


def load(results_dir: str | Path, with_curves: bool = False):
    """Every trial of a results folder, one row each."""
    return load_frame(results_dir, with_curves=with_curves)


def write_leaderboard(results_dir: str | Path, out: str | Path | None = None, figures: bool = True) -> Path:
    """Write the markdown leaderboard of a results folder (default ``DIR/leaderboard``)."""
    from . import leaderboard

    return leaderboard.write_leaderboard(results_dir, out, figures=figures, show=False)
