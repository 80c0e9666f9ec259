"""grokbench's command line: run | list | report | leaderboard | calibrate.

Every user mistake becomes one line on stderr and exit status 2 (UserError); results
already on disk are never touched by a failed command.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import registry
from .api import device_name, load_plugins
from .cli_args import build_parser
from .errors import UserError, stop_signals

if TYPE_CHECKING:
    from .executors import Executor

def _make_executor(args: argparse.Namespace) -> Executor:
    """--executor and its options -> an executor enforcing the --trial-timeout policy
    (``executor.timeout``, which resume uses too); options of another executor are errors."""
    from .executors import LocalExecutor, ProcessExecutor
    from .timeout import TimeoutPolicy

    if args.trial_timeout is not None and not args.trial_timeout > 0:
        raise UserError("--trial-timeout must be > 0 seconds")
    own = {"process": ["jobs"], "ray": ["ray_address", "cpus_per_trial", "gpus_per_trial"]}
    for name, options in own.items():
        for option in options:
            if getattr(args, option) is not None and args.executor != name:
                flag = "-j" if option == "jobs" else "--" + option.replace("_", "-")
                raise UserError(f"{flag} applies to --executor {name}, not --executor {args.executor}")
    timeout = TimeoutPolicy(args.trial_timeout)
    if args.executor == "process":
        if args.jobs is not None and args.jobs < 1:
            raise UserError("-j must be >= 1")
        return ProcessExecutor(workers=args.jobs, timeout=timeout)
    if args.executor == "ray":
        from .executors.ray_executor import RayExecutor

        return RayExecutor(
            address=args.ray_address,
            cpus_per_trial=1.0 if args.cpus_per_trial is None else args.cpus_per_trial,
            gpus_per_trial=0.0 if args.gpus_per_trial is None else args.gpus_per_trial,
            timeout=timeout,
        )
    return LocalExecutor(timeout=timeout)


def _run_device(args: argparse.Namespace) -> str:
    """--device for the executor: Ray workers, not this driver, must have the GPU."""
    if args.executor != "ray":
        return device_name(args.device)
    gpus = args.gpus_per_trial or 0
    if args.device == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if args.device.startswith("cuda") and gpus <= 0:
        raise UserError(f"--device {args.device} with --executor ray needs --gpus-per-trial > 0")
    if args.device != "cpu" and not args.device.startswith("cuda"):
        raise UserError(f"--device {args.device!r} is not one of auto, cpu, cuda[:N]")
    return args.device


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from . import api

    api.check_flags(after_solve=args.after_solve, batch_seeds=args.batch_seeds, max_trials=args.max_trials,
                    checkpoint_every=args.checkpoint_every)
    device = _run_device(args)
    executor = _make_executor(args)
    plan, store = api.prepare(args.tasks, args.methods, args.seeds, args.out, overrides=args.set,
                              device=device, after_solve=args.after_solve, plugins=args.plugin, tuned=args.tuned,
                              baseline=not args.no_baseline, max_trials=args.max_trials,
                              controls=not args.no_controls)
    batch = 1 if args.no_batch else args.batch_seeds
    done = store.done_keys(executor.timeout)
    n_cells = len(plan.cells(done, batch))
    workers = getattr(executor, "workers", 1)
    if 0 < n_cells < workers and not args.quiet:
        print(f"note: {n_cells} cell(s) of seeds for {workers} workers; a smaller --batch-seeds spreads "
              f"the seeds over more workers", file=sys.stderr)
    failed = _execute(plan, store, executor, done, batch, args.quiet, argv, args.checkpoint_every)
    if failed is not None:
        return failed
    if not args.no_calibrate:
        _calibrate_after_run(store, args.quiet)
    _end_of_run(store, plan)
    print(f"results: {store.root}", file=sys.stderr)
    return 0


def _progress(quiet: bool, total: int, skipped: int):
    from .progress import PlainProgress, make_progress

    return PlainProgress(total, skipped, stream=io.StringIO()) if quiet else make_progress(total, skipped)


def _execute(plan, store, executor, done: set[str], batch: int, quiet: bool, argv: Sequence[str],
             checkpoint_every_s: float, prepare=None) -> int | None:
    """Run the plan's trials not in ``done``, with progress. None when it completed, else the
    exit status (1: a record could not be written; 130: interrupted), said in one line."""
    from . import api

    progress = _progress(quiet, plan.n_trials, len(plan.keys() & done))
    try:
        completed = api.execute(plan, store, executor, done, batch_seeds=batch, progress=progress,
                                command=["grokbench", *argv], checkpoint_every_s=checkpoint_every_s,
                                prepare=prepare)
    except api.RecordWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if completed:
        return None
    print(f"interrupted: finished trials are kept in {store.root}; re-run the same command to resume",
          file=sys.stderr)
    return 130


def cmd_tune(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Train every proposal on the tuning seeds (resuming), then select and write DIR/tuned.json."""
    from . import api
    from .tuning.driver import conclude
    from .tuning.racing import done_keys, race, wave_width

    api.check_flags(trials=args.trials, batch_seeds=args.batch_seeds, max_trials=args.max_trials,
                    checkpoint_every=args.checkpoint_every)
    device = _run_device(args)
    executor = _make_executor(args)
    study, store = api.prepare_tuning(args.tasks, args.methods, args.trials, args.tune_seeds, args.out,
                                      overrides=args.set, device=device, plugins=args.plugin,
                                      max_trials=args.max_trials)
    capping = not args.no_capping
    if args.give_up is not None and not (0 < args.give_up <= 1 and capping):
        raise UserError("--give-up must be a fraction in (0, 1] of the budget, and needs capping (not --no-capping)")
    failed: list[int] = []

    def run_plan(plan, prepare) -> bool:
        code = _execute(plan, store, executor, done_keys(store, executor.timeout, capping), args.batch_seeds,
                        args.quiet, argv, args.checkpoint_every, prepare)
        failed.extend([code] if code is not None else [])
        return code is None

    if not race(study, store, run_plan, batch_seeds=args.batch_seeds, width=wave_width(executor),
                capping=capping, timeout=executor.timeout, give_up=args.give_up):
        return failed[0]
    data = conclude(study, store, capping=capping, give_up=args.give_up)
    for entry in data["selected"]:
        edge = (f"; at the edge of its range: {', '.join(entry['edge'])} (to search further, re-run with "
                f"--set METHOD.PARAM=LO..HI)") if entry.get("edge") else ""
        print(f"{entry['task']} / {entry['method']}: {entry['config']} (configuration {entry['index']}, "
              f"{entry['solved']}/{entry['seeds']} solved{edge})")
    print(f"tuned: {store.root / 'tuned.json'} (every configuration: {store.root / 'tuning.md'}); "
          f"run it with `grokbench run --tuned {store.root} ...` on other seeds", file=sys.stderr)
    return 0


def cmd_reproduce(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the named claims one at a time (resuming), then write the page from every claim's results."""
    import shlex
    from pathlib import Path

    from . import reproduce

    load_plugins(())
    reproduce.check_page_path(args.page)  # before anything trains
    claims = reproduce.load_claims(args.claim_file)
    if not args.names and not args.page_only:
        for claim in claims.values():
            print(f"{claim.name}: {claim.title} ({claim.reference})")
        print("run: grokbench reproduce NAME [NAME ...] | all", file=sys.stderr)
        return 0
    for flag, value in (("--max-steps", args.max_steps), ("--max-epochs", args.max_epochs),
                        ("--batch-seeds", args.batch_seeds)):
        if value is not None and value < 1:
            raise UserError(f"{flag} must be >= 1")
    if not args.page_only and not _run_claims(args, reproduce.select(claims, args.names), argv):
        print(f"interrupted: finished trials are kept in {args.out}; re-run the same command to resume",
              file=sys.stderr)
        return 130
    page = reproduce.write_page(list(claims.values()), Path(args.out), args.page, shlex.join(["grokbench", *argv]))
    print(f"reproductions: {_shown(page)}", file=sys.stderr)
    return 0


def _run_claims(args: argparse.Namespace, chosen: list, argv: Sequence[str]) -> bool:
    """Each claim's experiments through ``api.execute``, one claim at a time; False when interrupted."""
    from pathlib import Path

    from . import api, reproduce

    root, command = Path(args.out), ["grokbench", *argv]
    caps = reproduce.Caps(args.max_steps, args.max_epochs, args.seeds)
    executor, device = _make_executor(args), _run_device(args)

    def execute(plan, store, label: str) -> bool:
        done = store.done_keys(executor.timeout)
        skipped = len(plan.keys() & done)
        if not args.quiet:
            print(f"reproduce {label}: {plan.n_trials} trial(s), {skipped} already done", file=sys.stderr)
        progress = _progress(args.quiet, plan.n_trials, skipped)
        return api.execute(plan, store, executor, done, batch_seeds=args.batch_seeds, progress=progress,
                           command=command, checkpoint_every_s=args.checkpoint_every)

    for claim in chosen:
        runs, skipped = reproduce.plan_runs(claim, args.budget, caps)
        reproduce.write_manifest(root, claim, runs, skipped, command)
        if not reproduce.execute_claim(claim, runs, root, device=device, execute=execute):
            return False
    return True


def _calibrate_after_run(store, quiet: bool) -> None:
    """A quick calibration of the folder when it has configurations its calibration lacks;
    a failure is a warning (the records are safe)."""
    from .calibrate import QUICK, calibrate_folder

    try:
        done = calibrate_folder(store.root, QUICK, only_missing=True, log=(lambda _: None) if quiet else _note)
    except Exception as exc:
        print(f"warning: step costs not calibrated: {type(exc).__name__}: {exc}", file=sys.stderr)
    else:
        if done is not None and not quiet:
            print(f"step costs: {done.path} (quick; `grokbench calibrate {store.root}` measures carefully)",
                  file=sys.stderr)


def _shown(path) -> str:
    """A path for a message: bytes that are not UTF-8 as ``\\xNN``."""
    from .leaderboard.output import printable

    return printable(str(path))


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _end_of_run(store, plan) -> None:
    """This run's leaderboard tables in the terminal; the folder's markdown leaderboard
    (exactly what `grokbench leaderboard DIR` writes) in DIR/leaderboard/. The records are
    already safe on disk, so a failure here is a warning, not a failed run."""
    from .leaderboard import (
        load_leaderboard_frame,
        print_tables,
        run_and_folder_analyses,
        write_leaderboard,
    )

    try:
        folder = load_leaderboard_frame(store.root)
        run_analysis, folder_analysis = run_and_folder_analyses(folder, plan.keys())
        print_tables(run_analysis)
        readme = write_leaderboard(store.root, frame=folder, analysis=folder_analysis)
    except Exception as exc:
        print(f"warning: leaderboard not written: {type(exc).__name__}: {exc}", file=sys.stderr)
    else:
        print(f"leaderboard: {_shown(readme)}", file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    from .method import Optimizer

    load_plugins(args.plugin)
    print("TASKS  (--tasks NAME or NAME:PRESET; 'all' = every task's leaderboard variants)\n")
    for name, cls in registry.tasks().items():
        print(f"  {name}: {cls.summary()}")
        print(f"    base optimizer: {cls.base_optimizer} {cls.optimizer_defaults.get(cls.base_optimizer, {})}")
        print(f"    defaults: {_kv(cls.defaults)}")
        for param, values in cls.choices.items():
            print(f"    {param}: {' | '.join(map(str, values))}")
        for preset, p in cls.presets.items():
            print(f"    :{preset}  {p.description}")
        variants = ", ".join(name if v is None else f"{name}:{v}" for v in cls.leaderboard_presets)
        print(f"    in 'all': {variants}\n")
    print("METHODS  (BASE | ACC[+ACC...][@BASE]: 'egd' runs on the task's base optimizer,")
    print("          'egd@adamw' names the base, 'grokfast+egd' applies grokfast then egd,")
    print("          'egd:first' picks a preset; 'all' = every single method below, no")
    print("          combinations or presets; 'all,grokfast+egd' adds to it)\n")
    for kind, title in (("optimizer", "base optimizers"), ("transform", "accelerators")):
        print(f"  {title}:")
        for name, cls in registry.methods().items():
            if (kind == "optimizer") == issubclass(cls, Optimizer):
                print(f"    {name}: {cls.summary()}")
                print(f"      defaults: {_kv(cls.defaults)}")
                for preset, p in cls.presets.items():
                    print(f"      :{preset}  {p.description}")
        print()
    print("Override any parameter with --set NAME.PARAM=VALUE (e.g. --set sgd.lr=0.05).")
    return 0


def _kv(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items()) or "(none)"


def cmd_report(args: argparse.Namespace) -> int:
    from .report import render_report
    from .store import load_frame

    frame = load_frame(args.dir, with_curves=True)
    _emit(render_report(frame, args.format))
    return 0


def _emit(text: str) -> None:
    """Print ``text`` to stdout; an output that cannot take it (a full disk, /dev/full) is
    one line of error, not a traceback at exit."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except OSError as exc:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        if isinstance(exc, BrokenPipeError):  # a reader that stopped early (| head): not an error
            raise
        raise UserError(f"cannot write the report to standard output: {exc.strerror or exc}") from None


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .leaderboard import write_leaderboard
    from .store import Store, ensure_writable_dir

    out = Path(args.out) if args.out is not None else Path(args.dir) / "leaderboard"
    Store(args.dir)  # refuses a folder that is not a results folder before anything is written
    if args.defaults is not None:
        Store(args.defaults)
    ensure_writable_dir(out, f"leaderboard folder {out}")

    readme = write_leaderboard(args.dir, args.out, figures=not args.no_figures, show=not args.quiet,
                               defaults=args.defaults)
    print(f"leaderboard: {_shown(readme)}", file=sys.stderr)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .calibrate import FULL, QUICK, calibrate_folder

    if args.threads is not None and args.threads < 1:
        raise UserError("--threads must be >= 1")
    if args.max_seconds is not None and not args.max_seconds > 0:
        raise UserError("--max-seconds must be > 0")
    load_plugins(args.plugin)
    settings = QUICK if args.quick else FULL
    if args.max_seconds is not None:
        settings = replace(settings, max_seconds=args.max_seconds)
    done = calibrate_folder(args.dir, settings, threads=args.threads, log=_note)
    _emit(_calibration_table(done))
    print(f"step costs: {done.path}", file=sys.stderr)
    return 0


def _calibration_table(done) -> str:
    from tabulate import tabulate

    rows = [[c.task_label, c.method, c.layout, f"{c.step_cost_s * 1e3:.3f}", f"{c.seed_step_cost_s * 1e3:.4f}",
             f"{c.iqr_over_median:.0%}", f"{c.rel_se:.1%}", c.rounds, c.block_steps] for c in done.costs]
    head = ["task", "method", "seeds/batch", "ms/step", "ms/seed-step", "IQR/median", "rel. SE", "rounds", "steps/block"]
    lines = [tabulate(rows, head)]
    lines += [f"not calibrated: {s['task']} / {s['method']}: {s['reason']}" for s in done.skipped]
    return "\n".join(lines)


def _escape_unencodable_output() -> None:
    """Print what the terminal's encoding cannot hold (a non-UTF-8 byte of a path given on
    the command line, say ``--out $'res\\xff'``) as ``\\xNN`` rather than crash."""
    from .safefile import ESCAPE_ERRORS

    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=ESCAPE_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI. Exit status: 0 done, 2 bad input (one line on stderr), 130 Ctrl-C, 143
    SIGTERM (a run stops as on Ctrl-C: workers stopped, finished records kept)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _escape_unencodable_output()
    commands = {"run": lambda a: cmd_run(a, argv), "list": cmd_list, "report": cmd_report,
                "leaderboard": cmd_leaderboard, "calibrate": cmd_calibrate, "tune": lambda a: cmd_tune(a, argv),
                "reproduce": lambda a: cmd_reproduce(a, argv)}
    with stop_signals() as signals:
        try:
            args = build_parser().parse_args(argv)
            status = commands[args.command](args)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            return 0
        except KeyboardInterrupt:
            print("terminated" if signals.terminated else "interrupted", file=sys.stderr)
            status = 130
    return 143 if signals.terminated and status == 130 else status


if __name__ == "__main__":
    sys.exit(main())
