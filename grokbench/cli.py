"""grokbench's command line: run | list | report.

Every user mistake becomes one line on stderr and exit status 2 (UserError); results
already on disk are never touched by a failed command.
"""

from __future__ import annotations

import argparse
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

    lst = sub.add_parser("list", help="tasks (presets, defaults) and methods (defaults)")
    lst.add_argument("--plugin", action="append", default=[], metavar="FILE")

    rep = sub.add_parser("report", help="one row per trial of a results folder")
    rep.add_argument("dir", help="results folder")
    rep.add_argument("--format", choices=("table", "json", "csv"), default="table")
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


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .executors import LocalExecutor
    from .plan import build_plan
    from .progress import PlainProgress, make_progress
    from .report import summary_rows
    from .spec import parse_overrides
    from .store import Store, load_frame

    _load_plugins(args.plugin)
    device = _device_name(args.device)
    if args.batch_seeds < 1:
        raise UserError("--batch-seeds must be >= 1")
    plan = build_plan(
        args.tasks, args.methods, args.seeds, parse_overrides(args.set),
        after_solve=args.after_solve, device=device, plugin_files=tuple(registry.plugin_files()),
    )
    store = Store(args.out, create=True)
    done = store.done_keys()
    cells = plan.cells(done, 1 if args.no_batch else args.batch_seeds)
    remaining = sum(len(c.seeds) for c in cells)
    store.log_run(["grokbench", *argv], {"version": __version__, "trials": plan.n_trials, "to_run": remaining})
    progress = PlainProgress(plan.n_trials, plan.n_trials - remaining, stream=open("/dev/null", "w")) if args.quiet \
        else make_progress(plan.n_trials, plan.n_trials - remaining)
    executor = LocalExecutor()
    interrupted = False
    try:
        for record in executor.run(cells, progress.on_eval):
            store.write(record)
            progress.on_record(record)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    if interrupted:
        print(f"interrupted: finished trials are kept in {store.root}; re-run the same command to resume",
              file=sys.stderr)
        return 130
    frame = load_frame(store.root)
    keys = {c.key(s) for t, m in plan.pairs for c in [_probe(plan, t, m)] for s in plan.seeds}
    frame = frame[frame["key"].isin(keys)] if not frame.empty else frame
    _print_summary(summary_rows(frame))
    print(f"results: {store.root}", file=sys.stderr)
    return 0


def _probe(plan, task, method):
    from .trial import Cell

    return Cell(task, method, (), plan.after_solve, plan.device, plan.plugin_files)


def _print_summary(tables: dict[str, list[dict[str, str]]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for task_label, rows in tables.items():
        table = Table(title=task_label, title_justify="left")
        for column in rows[0]:
            table.add_column(column, justify="left" if column in ("method", "other") else "right")
        for row in rows:
            table.add_row(*row.values())
        console.print(table)


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
    print("          'egd@adamw' names the base, 'grokfast+egd' applies grokfast then egd;")
    print("          'all' = every single method below, no combinations)\n")
    for kind, title in (("optimizer", "base optimizers"), ("transform", "accelerators")):
        print(f"  {title}:")
        for name, cls in registry.methods().items():
            if (kind == "optimizer") == issubclass(cls, Optimizer):
                print(f"    {name}: {cls.summary()}")
                print(f"      defaults: {_kv(cls.defaults)}")
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _build_parser().parse_args(argv)
        _load_plugins([]) if args.command != "run" else None
        if args.command == "run":
            return cmd_run(args, argv)
        if args.command == "list":
            return cmd_list(args)
        if args.command == "report":
            return cmd_report(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
