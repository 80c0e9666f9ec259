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
import numbers
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import __version__, registry, study
from .errors import UserError, signals_deferred
from .limits import MAX_TRIALS, check_memory
from .plan import CheckpointPolicy, Plan, build_plan
from .progress import PlainProgress
from .schema import Kind, any_of, boolean, integer, null, number, one_of, text
from .spec import expand_methods, parse_overrides
from .store import Store, load_frame


def _strings(value: Any) -> str | None:
    ok = isinstance(value, str) or isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return None if ok else "a string or a list of strings"


def _path(value: Any) -> str | None:
    """A str or path (an empty one is refused later, with the message the CLI gives)."""
    return None if isinstance(value, (str, os.PathLike)) else "a folder (a string or path)"


def _seed_values(value: Any) -> str | None:
    wording = "N (>= 1), a string 'A-B' or 'A,B,C', or a list of whole numbers >= 0"
    if isinstance(value, str):
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return None if value >= 1 else wording
    if isinstance(value, (str, bytes, dict, set)) or not isinstance(value, Iterable):
        return wording
    items = list(value)
    ok = items and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in items)
    return None if ok else wording


# What each argument of the functions below must be (grokbench.schema kinds): the same
# checks the CLI's parser and flags make, so a wrong type is one UserError line, never a
# TypeError from deep inside.
ARGUMENTS: dict[str, Kind] = {
    "tasks": _strings, "methods": _strings, "seeds": _seed_values, "tune_seeds": _seed_values,
    "out": _path, "results_dir": _path, "tuned": any_of(_path, null), "overrides": _strings, "plugins": _strings,
    "device": text, "after_solve": integer(lo=0), "batch_seeds": integer(lo=1),
    "trials": any_of(integer(lo=1), one_of("auto")),
    "max_trials": integer(lo=1), "baseline": boolean, "controls": boolean, "checkpoint_every_s": number(lo=0),
    "with_curves": boolean, "figures": boolean, "capping": boolean, "give_up": any_of(number(lo=0), null), "compare": one_of("baseline", "all-pairs"),
}


def check_arguments(function: str, **values: Any) -> None:
    """Raise one UserError line naming ``function`` and the first argument that is not what
    ``ARGUMENTS`` says it must be."""
    _check(values, lambda name: f"{function}: {name}")


def check_flags(**values: Any) -> None:
    """``check_arguments`` for the CLI: the error names the flag (``after_solve`` is
    ``--after-solve``), the way the user typed it."""
    _check(values, lambda name: "--" + name.replace("_", "-"))


def _check(values: dict[str, Any], named: Callable[[str], str]) -> None:
    for name, value in values.items():
        why = ARGUMENTS[name](value)
        if why:
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise UserError(f"{named(name)} must be {why}; got {shown}")


def _joined(value: str | Sequence[str]) -> str:
    """A name list as the CLI writes it: 'a,b' (a string stays as it is)."""
    return value if isinstance(value, str) else ",".join(value)


def _listed(value: str | Sequence[str]) -> list[str]:
    """A list of strings; one string is a list of one (not of its characters)."""
    return [value] if isinstance(value, str) else list(value)


def _seed_text(seeds: str | int | Iterable[int]) -> str:
    if isinstance(seeds, str):
        return seeds
    if isinstance(seeds, numbers.Integral):
        return str(int(seeds))
    return ",".join(str(int(s)) for s in seeds) + ","


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


def prepare(tasks: str | Sequence[str], methods: str | Sequence[str], seeds: str | int | Sequence[int],
            out: str | Path, *, overrides: Sequence[str] = (), device: str = "cpu", after_solve: int = 0,
            plugins: Sequence[str] = (), tuned: str | Path | None = None,
            baseline: bool = True, max_trials: int = MAX_TRIALS, controls: bool = True,
            compare: str = "baseline", resolves: study.StudyRequest | None = None) -> tuple[Plan, Store]:
    """Resolve the plan, open (create) the results folder and add the run's study to its
    study.toml (``grokbench.study``); nothing trains yet. ``tuned``:
    a tuning folder whose selected configurations to run (``grokbench.tuning.tuned``).
    ``baseline``: add each task's baseline to the methods where they do not name it (one
    line on stderr says so), so that every comparison has its reference. ``max_trials``:
    the largest plan accepted (``grokbench.limits``). ``controls``: with ``tuned``, also
    run each tuned accelerator's controls (``grokbench.tuning.controls``). ``compare``:
    baseline, or all-pairs (the named methods are also compared with each other on the
    leaderboard page). ``resolves``: the study file's request part this call resolves
    (``prepare_studies``), replaced in the folder's study.toml by the resolved study."""
    from .tuning.controls import add_controls
    from .tuning.tuned import apply_tuned, check_folder

    check_arguments("grokbench.run", tasks=tasks, methods=methods, seeds=seeds, out=out, overrides=overrides,
                    device=device, after_solve=after_solve, plugins=plugins, tuned=tuned, baseline=baseline,
                    max_trials=max_trials, controls=controls, compare=compare)
    if not str(out).strip():
        raise UserError("--out is empty; name a results folder (default: ./results)")
    tasks, methods, overrides = _joined(tasks), _joined(methods), _listed(overrides)
    load_plugins(_listed(plugins))
    parsed = parse_overrides(overrides)
    plan = build_plan(tasks, methods, _seed_text(seeds), parsed, after_solve=after_solve,
                      device=device, plugin_files=tuple(registry.plugin_files()), baseline=baseline,
                      max_trials=max_trials)
    _note_added_baselines(plan, methods)
    if tuned is not None:
        plan = apply_tuned(plan, tuned, parsed)
        if controls:
            plan = add_controls(plan, parsed)
    check_memory([(t, m, 1) for t, m in plan.pairs], plan.device)  # each trial alone; execute checks cells
    request = study.Request(tasks, methods, _seed_text(seeds), tuple(overrides), None if tuned is None else str(tuned))
    run_study = study.from_plan(plan, request, compare=compare, baseline=baseline, controls=controls)
    store = Store(out, create=True)
    check_folder(plan, store)
    check_plan_fits_folder(plan, store)
    study.record(store.root, run_study, resolves)
    return plan, store


def prepare_studies(path: str | Path, out: str | Path | None = None, *,
                    device: str | None = None) -> tuple[list[Plan], Store]:
    """The plans of a study file's parts (``grokbench run study.toml``). A resolved part
    is not resolved again: the same trials, the same keys; a request part
    (``study.StudyRequest``) is resolved now, as ``prepare`` resolves flags. ``out``: the
    results folder (default: the study file's own folder, where a rerun trains nothing
    new); ``device``: another device than the study's (no part of a trial's identity).
    Every part is added to ``out``'s own study.toml, each request as what it resolved to."""
    from .tuning.tuned import check_folder

    check_arguments("grokbench.run", results_dir=path)
    parts = study.read(path)
    if any(isinstance(p, study.Study) and p.kind != "run" for p in parts):
        raise UserError(f"{path}: a part of kind 'tune' reruns with `grokbench tune`, not `grokbench run`")
    out = Path(path).parent if out is None else out
    if not str(out).strip():
        raise UserError("--out is empty; name a results folder")
    load_plugins(dict.fromkeys(f for p in parts for f in p.plugin_files))
    resolved = [p for p in parts if isinstance(p, study.Study)]
    plans = [replace(p.plan, device=device_name(device or p.device)) for p in resolved]
    for plan in plans:
        check_memory([(t, m, 1) for t, m in plan.pairs], plan.device)
    store = Store(out, create=True)
    for plan in plans:
        check_folder(plan, store)
        check_plan_fits_folder(plan, store)
    for part in parts:
        if isinstance(part, study.StudyRequest):
            plans.append(_prepare_request(part, out, device)[0])
    for part in resolved:
        study.record(store.root, part)
    return plans, store


def _prepare_request(part: study.StudyRequest, out: str | Path, device: str | None) -> tuple[Plan, Store]:
    r = part.request
    return prepare(r.tasks, r.methods, r.seeds, out, overrides=r.overrides,
                   device=device_name(device or part.device or "auto"), after_solve=part.after_solve,
                   plugins=part.plugin_files, tuned=r.tuned, baseline=part.baseline,
                   max_trials=part.max_trials or MAX_TRIALS, controls=part.controls, compare=part.compare,
                   resolves=part)


def check_plan_fits_folder(plan: Plan, store: Store) -> None:
    """Refuse (UserError, before anything trains) a plan that would add another
    configuration of a (task, method) ``store`` holds (``grokbench.consistency``)."""
    from .consistency import check_addition
    from .spec import trial_identity

    identities = [trial_identity(task, method, plan.seeds_of(task.label)[0], plan.after_solve)
                  for task, method in plan.pairs]
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
        print(f"note: added each task's baseline to compare against: {listed} (baseline = false in a study file leaves it out: docs/study.md)",
              file=sys.stderr)


def prepare_tuning(tasks: str | Sequence[str], methods: str | Sequence[str], trials: int | str,
                   tune_seeds: str | int | Sequence[int], out: str | Path, *, overrides: Sequence[str] = (),
                   device: str = "cpu", after_solve: int = 0, plugins: Sequence[str] = (),
                   max_trials: int = MAX_TRIALS):
    """Resolve a tuning study (``grokbench.tuning.driver.TuningStudy``), open its folder and
    add the study's every proposal to its study.toml (kind "tune": a description, rerun
    by the same ``grokbench tune`` command, since which trials run depends on capping).
    ``trials`` "auto": the largest ``tuning_trials`` of the tasks (``driver.auto_trials``)."""
    from .tuning.driver import auto_trials, build_study

    check_arguments("grokbench.tune", tasks=tasks, methods=methods, trials=trials, tune_seeds=tune_seeds, out=out,
                    overrides=overrides, device=device, after_solve=after_solve, plugins=plugins,
                    max_trials=max_trials)
    if not str(out).strip():
        raise UserError("--out is empty; name a tuning folder")
    overrides = _listed(overrides)
    load_plugins(_listed(plugins))
    if trials == "auto":
        trials = auto_trials(_joined(tasks))
    tuning = build_study(_joined(tasks), _joined(methods), trials, _seed_text(tune_seeds), parse_overrides(overrides),
                         tuple(overrides), after_solve=after_solve, device=device,
                         plugin_files=tuple(registry.plugin_files()), max_trials=max_trials)
    check_memory([(t, m, 1) for t, m in tuning.plan.pairs], tuning.plan.device)
    store = Store(out, create=True)
    check_plan_fits_folder(tuning.plan, store)
    request = study.Request(_joined(tasks), _joined(methods), _seed_text(tune_seeds), tuple(overrides))
    study.record(store.root, study.from_plan(tuning.plan, request, controls=False, kind="tune"))
    return tuning, store


def tune(tasks: str = "sparse_parity", methods: str = "sgd,adamw", trials: int | str = "auto",
         tune_seeds: str = "1000-1004", out: str | Path = "tuning", *, overrides: Sequence[str] = (),
         device: str = "auto", batch_seeds: int = 64, plugins: Sequence[str] = (), executor: Any = None,
         progress: Any = None, capping: bool = True, give_up: float | None = None) -> dict[str, Any] | None:
    """Run a tuning study into ``out`` (resuming what is there) and return the content of
    ``out/tuned.json``; None when interrupted. Run the selections with
    ``run(..., tuned=out)`` on seeds disjoint from ``tune_seeds``. ``capping``: stop a
    configuration once it can no longer beat or tie its study's best (``grokbench.capping``;
    the same selection, less training); ``give_up``: stop a study where nothing solved by
    this fraction of the budget (not exact)."""
    from .executors import LocalExecutor
    from .tuning.driver import conclude
    from .tuning.racing import done_keys, race

    check_arguments("grokbench.tune", device=device, batch_seeds=batch_seeds, capping=capping, give_up=give_up)
    if give_up is not None and not (0 < give_up <= 1 and capping):
        raise UserError(f"grokbench.tune: give_up must be a fraction in (0, 1] of the budget, with capping; "
                        f"got {give_up!r}")
    study, store = prepare_tuning(tasks, methods, trials, tune_seeds, out, overrides=overrides,
                                  device=device_name(device), plugins=plugins)
    executor = executor or LocalExecutor()
    timeout = getattr(executor, "timeout", None)

    def run_plan(plan: Plan, prepare: Any) -> bool:
        return execute(plan, store, executor, done_keys(store, timeout, capping), batch_seeds=batch_seeds,
                       progress=progress, command=["grokbench.tune"], prepare=prepare)

    if not race(study, store, run_plan, capping=capping, give_up=give_up):
        return None
    return conclude(study, store, capping=capping, give_up=give_up)


class RecordWriteError(Exception):
    """A record could not be written mid-run (a full disk, say); the message says what was kept."""


def execute(plan: Plan, store: Store, executor: Any, done: set[str], *, batch_seeds: int = 64,
            progress: Any = None, command: Sequence[str] = (),
            checkpoint_every_s: float | None = None, prepare: Any = None) -> bool:
    """Run the plan's trials not in ``done`` on ``executor``, writing each record as it
    arrives. Trials another live run has claimed are skipped (with a note). Returns False
    when interrupted (Ctrl-C): finished records are kept, and trials still training go on
    from their last checkpoint (``store.checkpoints_dir``, saved at most every
    ``checkpoint_every_s`` seconds; 0: never; None: ``plan.DEFAULT_CHECKPOINT_S``, read
    when called) when the same command runs again.
    ``prepare``: rewrites each cell as the executor takes it to run (a tuning study's
    capping policy, made from the records written by then: ``grokbench.tuning.racing``);
    a process pool takes a cell when a worker is free, the local executor one after the
    other, Ray all at once."""
    from . import plan as plan_module

    if checkpoint_every_s is None:
        checkpoint_every_s = plan_module.DEFAULT_CHECKPOINT_S
    check_arguments("grokbench.execute", batch_seeds=batch_seeds, checkpoint_every_s=checkpoint_every_s)
    cells = plan.cells(done, batch_seeds)
    check_memory([(c.task, c.method, len(c.slots)) for c in cells], plan.device)
    _remove_finished_checkpoints(store)
    todo = {key for cell in cells for key in cell.keys()}
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
        completed = _run_cells(cells, store, executor, progress, prepare)
        status = "completed" if completed else "interrupted"
    finally:
        store.release(claimed)
        store.log_end(started, status)
    if completed:
        _remove_finished_checkpoints(store)
    return completed


def _remove_finished_checkpoints(store: Store) -> None:
    """Delete the checkpoints whose trials all have final records (solved, unsolved,
    diverged: a ``timeout`` trial may go on under a longer limit) and temporary files of
    killed saves; a live run's files are kept (``checkpoint.remove_finished``)."""
    try:
        if not any(store.checkpoints_dir.iterdir()):  # the records are read only when there is something to clean
            return
    except OSError:  # missing, or not a folder (saving there warns)
        return
    from .checkpoint import remove_finished

    remove_finished(store.checkpoints_dir, store.final_keys())


def _run_cells(cells: list, store: Store, executor: Any, progress: Any, prepare: Any = None) -> bool:
    if progress is None:
        progress = PlainProgress(0, 0, stream=io.StringIO())
    if hasattr(progress, "on_cells"):  # the cells' budgets make the ETA (grokbench.eta)
        progress.on_cells(cells)
    records = executor.run(cells if prepare is None else map(prepare, cells), progress.on_eval)
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


def run(tasks: str = "sparse_parity", methods: str = "sgd,adamw", seeds: str | int | Sequence[int] = "auto",
        out: str | Path = "results", *, overrides: Sequence[str] = (), device: str = "auto",
        after_solve: int = 0, batch_seeds: int = 64, plugins: Sequence[str] = (),
        executor: Any = None, progress: Any = None, tuned: str | Path | None = None, controls: bool = True,
        compare: str = "baseline"):
    """Train every task x method x seed not yet in ``out``; return this run's trials as a
    DataFrame. ``overrides`` are ``--set`` strings (``"sgd.lr=0.05"``); ``executor`` is a
    ``grokbench.executors`` object (default: in this process); ``tuned`` a tuning folder
    whose selected configurations to run, with their controls unless ``controls`` is False;
    ``compare`` the study's compare mode (baseline or all-pairs). The run's study is added
    to ``out/study.toml`` (``grokbench.study``; ``rerun`` runs it again)."""
    from .executors import LocalExecutor

    check_arguments("grokbench.run", device=device, batch_seeds=batch_seeds)
    plan, store = prepare(tasks, methods, seeds, out, overrides=overrides, device=device_name(device),
                          after_solve=after_solve, plugins=plugins, tuned=tuned, controls=controls, compare=compare)
    execute(plan, store, executor or LocalExecutor(), store.done_keys(), batch_seeds=batch_seeds,
            progress=progress)
    return plan_frame(plan, store)


def rerun(study_file: str | Path, out: str | Path | None = None, *, device: str | None = None,
          batch_seeds: int = 64, executor: Any = None, progress: Any = None):
    """Run the trials a study file describes (``prepare_studies``) not yet in ``out``
    (default: the study file's folder); return them as a DataFrame."""
    from .executors import LocalExecutor

    check_arguments("grokbench.rerun", batch_seeds=batch_seeds)
    plans, store = prepare_studies(study_file, out, device=device)
    for plan in plans:
        execute(plan, store, executor or LocalExecutor(), store.done_keys(), batch_seeds=batch_seeds,
                progress=progress)
    keys = set().union(*(plan.keys() for plan in plans))
    frame = load_frame(store.root, with_curves=True)
    return frame[frame["key"].isin(keys)].reset_index(drop=True) if not frame.empty else frame


def load(results_dir: str | Path, with_curves: bool = False):
    """Every trial of a results folder, one row each."""
    check_arguments("grokbench.load", results_dir=results_dir, with_curves=with_curves)
    return load_frame(results_dir, with_curves=with_curves)


def write_leaderboard(results_dir: str | Path, out: str | Path | None = None, figures: bool = True) -> Path:
    """Write the markdown leaderboard of a results folder (default ``DIR/leaderboard``)."""
    from . import leaderboard

    check_arguments("grokbench.write_leaderboard", results_dir=results_dir, figures=figures)
    if out is not None:
        check_arguments("grokbench.write_leaderboard", out=out)
    return leaderboard.write_leaderboard(results_dir, out, figures=figures, show=False)
