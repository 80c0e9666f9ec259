"""grokbench's command line: run | list | report | export | leaderboard | calibrate | tune | reproduce |
check | pack.

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
    """--executor's spec -> an executor enforcing its trial timeout (``executor.timeout``,
    which resume uses too)."""
    from .executors import LocalExecutor, ProcessExecutor
    from .timeout import TimeoutPolicy

    spec = args.executor
    timeout = TimeoutPolicy(spec.timeout)
    if spec.kind == "process":
        return ProcessExecutor(workers=spec.workers, timeout=timeout)
    if spec.kind == "ray":
        from .executors.ray_executor import RayExecutor

        return RayExecutor(address=spec.address, cpus_per_trial=spec.cpus, gpus_per_trial=spec.gpus, timeout=timeout)
    return LocalExecutor(timeout=timeout)


def _run_device(args: argparse.Namespace) -> str:
    """--device for the executor: Ray workers, not this driver, must have the GPU."""
    spec = args.executor
    if spec.kind != "ray":
        return device_name(args.device)
    if args.device == "auto":
        return "cuda" if spec.gpus > 0 else "cpu"
    if args.device.startswith("cuda") and spec.gpus <= 0:
        raise UserError(f"--device {args.device} with --executor ray needs gpus > 0 (ray,gpus=G)")
    if args.device != "cpu" and not args.device.startswith("cuda"):
        raise UserError(f"--device {args.device!r} is not one of auto, cpu, cuda[:N]")
    return args.device


# What a study file fixes: with STUDY.toml, these flags must stay at their defaults.
STUDY_FLAGS = ("tasks", "methods", "seeds", "set", "plugin", "compare", "tuned")


def _plans(args: argparse.Namespace, device: str) -> tuple[list, object]:
    """The plans to run and the results folder: from --tasks/--methods/... (one plan, added
    to the folder's study.toml) or from a study file (one plan per part, nothing resolved
    again)."""
    from . import api
    from .cli_args import DEFAULT_OUT

    if args.study is None:
        out = DEFAULT_OUT if args.out is None else args.out
        plan, store = api.prepare(args.tasks, args.methods, args.seeds, out, overrides=args.set, device=device,
                                  plugins=args.plugin, tuned=args.tuned, compare=args.compare)
        return [plan], store
    defaults = build_parser().parse_args(["run"])
    for name in STUDY_FLAGS:
        if getattr(args, name) != getattr(defaults, name):
            raise UserError(f"--{name.replace('_', '-')} is fixed by the study file {args.study}; "
                            f"edit it there (docs/study.md)")
    return api.prepare_studies(args.study, args.out, device=None if args.device == "auto" else device)


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from . import api

    api.check_flags(batch_seeds=args.batch_seeds)
    device = _run_device(args)
    executor = _make_executor(args)
    plans, store = _plans(args, device)
    batch = args.batch_seeds
    done = store.done_keys(executor.timeout)
    n_cells = sum(len(plan.cells(done, batch)) for plan in plans)
    workers = getattr(executor, "workers", 1)
    if 0 < n_cells < workers and not args.quiet:
        print(f"note: {n_cells} cell(s) of seeds for {workers} workers; a smaller --batch-seeds spreads "
              f"the seeds over more workers", file=sys.stderr)
    for plan in plans:
        failed = _execute(plan, store, executor, store.done_keys(executor.timeout), batch, args.quiet, argv)
        if failed is not None:
            return failed
    if not args.no_calibrate:
        _calibrate_after_run(store, args.quiet)
    _end_of_run(store, set().union(*(plan.keys() for plan in plans)))
    print(f"results: {store.root}", file=sys.stderr)
    return 0


def _progress(quiet: bool, total: int, skipped: int, eta=None):
    from .progress import PlainProgress, make_progress

    return PlainProgress(total, skipped, stream=io.StringIO(), eta=eta) if quiet else make_progress(total, skipped, eta)


def _execute(plan, store, executor, done: set[str], batch: int, quiet: bool, argv: Sequence[str],
             prepare=None, later=(), eta=None) -> int | None:
    """Run the plan's trials not in ``done``, with progress. None when it completed, else the
    exit status (1: a record could not be written; 130: interrupted), said in one line.
    ``later``: cells this command runs afterwards (a tuning study's configurations after its
    defaults), counted in the ETA; ``eta``: an ``EtaTracker`` whose measured costs carry over
    from the plans before."""
    from . import api

    progress = _progress(quiet, plan.n_trials, len(plan.keys() & done), eta)
    progress.eta.forget_cells()
    progress.on_cells(list(later), later=True)
    try:
        completed = api.execute(plan, store, executor, done, batch_seeds=batch, progress=progress,
                                command=["grokbench", *argv], prepare=prepare)
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
    from .eta import EtaTracker
    from .tuning.driver import conclude
    from .tuning.racing import done_keys, race

    api.check_flags(trials=args.trials, batch_seeds=args.batch_seeds)
    device = _run_device(args)
    executor = _make_executor(args)
    study, store = api.prepare_tuning(args.tasks, args.methods, args.trials, args.tune_seeds, args.out,
                                      overrides=args.set, device=device, plugins=args.plugin)
    failed: list[int] = []

    eta = EtaTracker()

    def run_plan(plan, prepare) -> bool:
        done = done_keys(store, executor.timeout, True)
        later = [] if plan is study.plan else study.plan.cells(done | plan.keys(), args.batch_seeds)  # for the ETA
        code = _execute(plan, store, executor, done, args.batch_seeds, args.quiet, argv, prepare, later, eta)
        failed.extend([code] if code is not None else [])
        return code is None

    if not race(study, store, run_plan, capping=True):
        return failed[0]
    data = conclude(study, store)
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
    files = [n for n in args.names if n.endswith(".json")]
    args.names = [n for n in args.names if not n.endswith(".json")]
    claims = reproduce.load_claims(files)
    if not args.names and not args.page_only:
        for claim in claims.values():
            print(f"{claim.name}: {claim.title} ({claim.reference})")
        print("run: grokbench reproduce NAME [NAME ...] | all", file=sys.stderr)
        return 0
    for flag, value in (("--max-steps", args.max_steps), ("--batch-seeds", args.batch_seeds)):
        if value is not None and value < 1:
            raise UserError(f"{flag} must be >= 1")
    if args.plan:
        from .reproduce.planning import plan_claims

        caps = reproduce.Caps(args.max_steps, args.seeds)
        plan_claims(reproduce.select(claims, args.names), args.budget, caps, args.batch_seeds,
                    note=(lambda _: None) if args.quiet else _note)
        return 0
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
    caps = reproduce.Caps(args.max_steps, args.seeds)
    executor, device = _make_executor(args), _run_device(args)

    def execute(plan, store, label: str) -> bool:
        done = store.done_keys(executor.timeout)
        skipped = len(plan.keys() & done)
        if not args.quiet:
            print(f"reproduce {label}: {plan.n_trials} trial(s), {skipped} already done", file=sys.stderr)
        progress = _progress(args.quiet, plan.n_trials, skipped)
        return api.execute(plan, store, executor, done, batch_seeds=args.batch_seeds, progress=progress,
                           command=command)

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


def _end_of_run(store, run_keys: set[str]) -> None:
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
        run_analysis, folder_analysis = run_and_folder_analyses(folder, run_keys)
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


def cmd_export(args: argparse.Namespace) -> int:
    from .export import csv_text, load_export_frame, write_export

    flat = load_export_frame(args.dir)
    if args.out is None:
        _emit(csv_text(flat).rstrip("\n"))
        return 0
    path = write_export(flat, args.out)
    print(f"export: {len(flat)} trials, {len(flat.columns)} columns -> {_shown(path)}", file=sys.stderr)
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .leaderboard import write_leaderboard
    from .leaderboard.markdown import read_folder_notes
    from .store import Store, ensure_writable_dir

    out = Path(args.out) if args.out is not None else Path(args.dir) / "leaderboard"
    Store(args.dir)  # refuses a folder that is not a results folder before anything is written
    if args.defaults is not None:
        Store(args.defaults)
    read_folder_notes(args.dir)  # a bad NOTES.md is refused before the folder is made
    ensure_writable_dir(out, f"leaderboard folder {out}")

    readme = write_leaderboard(args.dir, args.out, show=True, defaults=args.defaults)
    print(f"leaderboard: {_shown(readme)}", file=sys.stderr)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibrate import FULL, calibrate_folder

    load_plugins(args.plugin)
    done = calibrate_folder(args.dir, FULL, log=_note)
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


def cmd_pack(args: argparse.Namespace) -> int:
    from .pack import pack_folder

    print(pack_folder(args.dir).line())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """The plugin contract on every plugin of a file: one line per rule, a summary; exit 1 if
    a rule fails (``grokbench.plugincheck``)."""
    from . import plugincheck
    from .spec import check_override_names, parse_overrides

    overrides = parse_overrides(args.set)
    found = plugincheck.plugins_to_check(args.plugin)
    check_override_names(overrides)
    findings = []
    for cls in found:
        for finding in plugincheck.check_plugin(cls, overrides):
            print(finding.line(), flush=True)
            findings.append(finding)
    print(plugincheck.summary(findings))
    return 1 if any(f.status == plugincheck.FAIL for f in findings) else 0


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
    commands = {"run": lambda a: cmd_run(a, argv), "list": cmd_list, "report": cmd_report, "export": cmd_export,
                "leaderboard": cmd_leaderboard, "calibrate": cmd_calibrate, "tune": lambda a: cmd_tune(a, argv),
                "reproduce": lambda a: cmd_reproduce(a, argv), "check": cmd_check,
                "pack": cmd_pack}
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
