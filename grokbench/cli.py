"""grokbench's command line: run | list | report | leaderboard.

Every user mistake becomes one line on stderr and exit status 2 (UserError); results
already on disk are never touched by a failed command.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence

from . import __version__, registry
from .errors import UserError

DEFAULT_OUT = "results"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        raise UserError(f"{self.prog}: {message}")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grokbench", description="Benchmark harness for grokking accelerators.")
    parser.add_argument("--version", action="version", version=f"grokbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="train every task x method x seed and record the results")
    run.add_argument("--tasks", default="sparse_parity", help="'all' or NAME[:PRESET][,...] (default: sparse_parity)")
    run.add_argument("--methods", default="sgd,adamw", help="'all' or METHOD[,...]; METHOD = BASE | ACC[+ACC][@BASE]")
    run.add_argument("--seeds", default="3", help="N (seeds 0..N-1), A-B (inclusive) or A,B,C (default: 3)")
    run.add_argument("--out", default=DEFAULT_OUT, help=f"results folder (default: ./{DEFAULT_OUT})")
    run.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda[:N]")
    run.add_argument("--set", action="append", default=[], metavar="NAME.PARAM=VALUE",
                     help="override a task or method parameter (repeatable)")
    run.add_argument("--plugin", action="append", default=[], metavar="FILE", help="load plugins from a file")
    run.add_argument("--after-solve", type=int, default=0, metavar="N",
                     help="keep training N more evaluations after solving (default 0)")
    run.add_argument("--batch-seeds", type=int, default=64, metavar="S",
                     help="train up to S seeds of a cell in one batched model (default 64)")
    run.add_argument("--no-batch", action="store_true", help="train one seed at a time (same as --batch-seeds 1)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    ex = run.add_argument_group("executors (docs/parallel.md)")
    ex.add_argument("--executor", choices=("local", "process", "ray"), default="local",
                    help="local: in this process (default); process: a pool of -j worker processes; "
                         "ray: Ray tasks (pip install 'grokbench[ray]')")
    ex.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                    help="worker processes of --executor process (default: the number of cores)")
    ex.add_argument("--ray-address", default=None, metavar="ADDR",
                    help="Ray cluster to join: auto, HOST:PORT or ray://HOST:PORT (default: a local Ray instance)")
    ex.add_argument("--cpus-per-trial", type=float, default=None, metavar="C",
                    help="Ray CPUs per task (default 1); torch uses max(1, floor(C)) threads")
    ex.add_argument("--gpus-per-trial", type=float, default=None, metavar="G",
                    help="Ray GPUs per task, fractions allowed (0.25: four tasks share a GPU; default 0)")
    ex.add_argument("--trial-timeout", type=float, default=None, metavar="SECONDS",
                    help="end a trial after SECONDS of wall time (x the seeds trained together in one cell) "
                         "with status 'timeout'")

    lst = sub.add_parser("list", help="tasks (presets, defaults) and methods (defaults)")
    lst.add_argument("--plugin", action="append", default=[], metavar="FILE")

    rep = sub.add_parser("report", help="one row per trial of a results folder")
    rep.add_argument("dir", help="results folder")
    rep.add_argument("--format", choices=("table", "json", "csv"), default="table")

    lb = sub.add_parser("leaderboard", help="significance tests, tables and figures of a results folder -> markdown")
    lb.add_argument("dir", help="results folder")
    lb.add_argument("-o", "--out", default=None, metavar="OUTDIR",
                    help="where README.md and its figures go (default: DIR/leaderboard)")
    lb.add_argument("--no-figures", action="store_true", help="tables only")
    lb.add_argument("--quiet", action="store_true", help="do not print the tables")
    return parser


def _load_plugins(files: Sequence[str]) -> None:
    registry.load_builtins()
    for path in files:
        registry.load_plugin_file(path)


def _device_name(name: str) -> str:
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


def _make_executor(args: argparse.Namespace):
    """--executor and its options -> an executor; options of another executor are errors."""
    from .executors import LocalExecutor, ProcessExecutor

    if args.trial_timeout is not None and not args.trial_timeout > 0:
        raise UserError("--trial-timeout must be > 0 seconds")
    own = {"process": ["jobs"], "ray": ["ray_address", "cpus_per_trial", "gpus_per_trial"]}
    for name, options in own.items():
        for option in options:
            if getattr(args, option) is not None and args.executor != name:
                flag = "-j" if option == "jobs" else "--" + option.replace("_", "-")
                raise UserError(f"{flag} applies to --executor {name}, not --executor {args.executor}")
    if args.executor == "process":
        if args.jobs is not None and args.jobs < 1:
            raise UserError("-j must be >= 1")
        return ProcessExecutor(workers=args.jobs, timeout_s=args.trial_timeout)
    if args.executor == "ray":
        from .executors.ray_executor import RayExecutor

        return RayExecutor(
            address=args.ray_address,
            cpus_per_trial=1.0 if args.cpus_per_trial is None else args.cpus_per_trial,
            gpus_per_trial=0.0 if args.gpus_per_trial is None else args.gpus_per_trial,
            timeout_s=args.trial_timeout,
        )
    return LocalExecutor(timeout_s=args.trial_timeout)


def _run_device(args: argparse.Namespace) -> str:
    """--device for the executor: Ray workers, not this driver, must have the GPU."""
    if args.executor != "ray":
        return _device_name(args.device)
    gpus = args.gpus_per_trial or 0
    if args.device == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if args.device.startswith("cuda") and gpus <= 0:
        raise UserError(f"--device {args.device} with --executor ray needs --gpus-per-trial > 0")
    if args.device != "cpu" and not args.device.startswith("cuda"):
        raise UserError(f"--device {args.device!r} is not one of auto, cpu, cuda[:N]")
    return args.device


def _resume_keys(store, trial_timeout: float | None) -> set[str]:
    """Trials not to run again: final statuses (store.done_keys), plus ``timeout`` records
    whose limit was at least the current --trial-timeout. A timeout is final for the limit
    it ran under; raising the limit (or dropping it) retries it. ``error`` is always retried."""
    keys = store.done_keys()
    if trial_timeout is not None:
        for r in store.records():
            limit = r.get("trial_timeout_s")
            if r.get("status") == "timeout" and limit is not None and limit >= trial_timeout:
                keys.add(r["key"])
    return keys


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .plan import build_plan
    from .progress import PlainProgress, make_progress
    from .spec import parse_overrides
    from .store import Store, load_frame

    _load_plugins(args.plugin)
    device = _run_device(args)
    if args.batch_seeds < 1:
        raise UserError("--batch-seeds must be >= 1")
    plan = build_plan(
        args.tasks, args.methods, args.seeds, parse_overrides(args.set),
        after_solve=args.after_solve, device=device, plugin_files=tuple(registry.plugin_files()),
    )
    executor = _make_executor(args)
    store = Store(args.out, create=True)
    done = _resume_keys(store, args.trial_timeout)
    cells = plan.cells(done, 1 if args.no_batch else args.batch_seeds)
    remaining = sum(len(c.seeds) for c in cells)
    store.log_run(["grokbench", *argv], {"version": __version__, "trials": plan.n_trials, "to_run": remaining})
    skipped = plan.n_trials - remaining
    progress = PlainProgress(plan.n_trials, skipped, stream=io.StringIO()) if args.quiet \
        else make_progress(plan.n_trials, skipped)
    workers = getattr(executor, "workers", 1)
    if 0 < len(cells) < workers and not args.quiet:
        print(f"note: {len(cells)} cell(s) of seeds for {workers} workers; a smaller --batch-seeds spreads "
              f"the seeds over more workers", file=sys.stderr)
    interrupted = False
    records = executor.run(cells, progress.on_eval)
    try:
        for record in records:
            store.write(record)
            progress.on_record(record)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        records.close()  # stops the executor's workers
        progress.close()
    if interrupted:
        print(f"interrupted: finished trials are kept in {store.root}; re-run the same command to resume",
              file=sys.stderr)
        return 130
    frame = load_frame(store.root, with_curves=True)
    frame = frame[frame["key"].isin(plan.keys())] if not frame.empty else frame
    _end_of_run(store, frame)
    print(f"results: {store.root}", file=sys.stderr)
    return 0


def _end_of_run(store, frame) -> None:
    """This run's leaderboard tables in the terminal; the folder's markdown leaderboard
    (exactly what `grokbench leaderboard DIR` writes) in DIR/leaderboard/. The records are
    already safe on disk, so a failure here is a warning, not a failed run."""
    from .leaderboard import print_tables, write_leaderboard
    from .stats import analyze

    try:
        print_tables(analyze(frame))
        readme = write_leaderboard(store.root)
    except Exception as exc:
        print(f"warning: leaderboard not written: {type(exc).__name__}: {exc}", file=sys.stderr)
    else:
        print(f"leaderboard: {readme}", file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    from .method import Optimizer

    _load_plugins(args.plugin)
    print("TASKS  (--tasks NAME or NAME:PRESET; 'all' = every task's leaderboard variants)\n")
    for name, cls in registry.tasks().items():
        print(f"  {name}: {cls.summary()}")
        print(f"    base optimizer: {cls.base_optimizer} {cls.optimizer_defaults.get(cls.base_optimizer, {})}")
        print(f"    defaults: {_kv(cls.defaults)}")
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
                for preset, (text, _) in cls.presets.items():
                    print(f"      :{preset}  {text}")
        print()
    print("Override any parameter with --set NAME.PARAM=VALUE (e.g. --set sgd.lr=0.05).")
    return 0


def _kv(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items()) or "(none)"


def cmd_report(args: argparse.Namespace) -> int:
    from .report import render_report
    from .store import load_frame

    frame = load_frame(args.dir)
    print(render_report(frame, args.format))
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from .leaderboard import write_leaderboard

    readme = write_leaderboard(args.dir, args.out, figures=not args.no_figures, show=not args.quiet)
    print(f"leaderboard: {readme}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _build_parser().parse_args(argv)
        if args.command == "run":
            return cmd_run(args, argv)
        if args.command == "list":
            return cmd_list(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "leaderboard":
            return cmd_leaderboard(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
