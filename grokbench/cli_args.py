"""The command line's grammar: every command, flag, default and help text (argparse), and
nothing that runs. Apart from ``grokbench.cli`` (which acts on the parsed arguments), the
leaderboard reads it to interpret the commands logged in runs.jsonl; it imports nothing
above the plan, so no module reaches up to the CLI for it."""

from __future__ import annotations

import argparse

from . import __version__
from .errors import UserError
from .limits import MAX_TRIALS
from .plan import DEFAULT_CHECKPOINT_S

DEFAULT_OUT = "results"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``grokbench`` command (one line and exit 2 on bad input: UserError)."""
    parser = _Parser(prog="grokbench", description="Benchmark harness for grokking accelerators.")
    parser.add_argument("--version", action="version", version=f"grokbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="train every task x method x seed and record the results")
    _add_plan_options(run, "'all' or METHOD[,...]; METHOD = BASE | ACC[+ACC][@BASE]",
                      "override a task or method parameter (repeatable)")
    run.add_argument("--seeds", default="auto",
                     help="N (seeds 0..N-1), A-B (inclusive), A,B,C, or auto (default): each task's own count, "
                          "sized so its page detects a method faster on >= 75%% of seeds (sparse tasks: 64) or as "
                          "near as its cost allows (modular_addition: 20)")
    run.add_argument("--out", default=DEFAULT_OUT, help=f"results folder (default: ./{DEFAULT_OUT})")
    run.add_argument("--after-solve", type=int, default=0, metavar="N",
                     help="keep training N more evaluations after solving (default 0)")
    run.add_argument("--no-batch", action="store_true", help="train one seed at a time (same as --batch-seeds 1)")
    run.add_argument("--no-baseline", action="store_true",
                     help="do not add each task's baseline (its base optimizer alone) to --methods")
    run.add_argument("--compare", choices=("baseline", "all-pairs"), default="baseline",
                     help="baseline: each method against its task's baseline (default); all-pairs: also the named "
                          "methods against each other, in a family of their own (on the leaderboard page)")
    run.add_argument("--tuned", default=None, metavar="DIR",
                     help="run the configuration `grokbench tune` selected in DIR for each (task, method), and "
                          "each tuned accelerator's two controls: the base at its settings, and it on the tuned base")
    run.add_argument("--no-controls", action="store_true",
                     help="with --tuned: do not run the controls (the page then cannot tell a gain of the "
                          "accelerator from a gain of the settings it drew)")
    run.add_argument("--no-calibrate", action="store_true",
                     help="skip the quick step-cost calibration at the end (grokbench calibrate DIR does a full one)")
    _add_engine_options(run)

    lst = sub.add_parser("list", help="tasks (presets, defaults) and methods (defaults)")
    lst.add_argument("--plugin", action="append", default=[], metavar="FILE")

    rep = sub.add_parser("report", help="one row per trial of a results folder")
    rep.add_argument("dir", help="results folder")
    rep.add_argument("--format", choices=("table", "json", "csv"), default="table")

    lb = sub.add_parser("leaderboard", help="significance tests, tables and figures of a results folder -> markdown")
    lb.add_argument("dir", help="results folder")
    lb.add_argument("-o", "--out", default=None, metavar="OUTDIR",
                    help="where README.md and its figures go (default: DIR/leaderboard)")
    lb.add_argument("--defaults", metavar="DIR2",
                    help="a results folder of the same methods at their default settings (DIR being tuned): "
                         "its summary and main tables become the page's last section, its full page OUT/defaults/")
    lb.add_argument("--no-figures", action="store_true", help="tables only")
    lb.add_argument("--quiet", action="store_true", help="do not print the tables")
    _add_calibrate_parser(sub)
    _add_tune_parser(sub)
    _add_reproduce_parser(sub)
    return parser


def _add_calibrate_parser(sub) -> None:
    """``grokbench calibrate``: the step cost of every configuration of a results folder."""
    cal = sub.add_parser("calibrate", help="measure the cost of one training step of every configuration "
                                           "in a results folder -> DIR/calibration.json")
    cal.add_argument("dir", help="results folder")
    cal.add_argument("--quick", action="store_true", help="a short warm-up and 5 blocks each (what `run` does)")
    cal.add_argument("--threads", type=int, default=None, metavar="N",
                     help="torch threads (default: those most of the records ran with)")
    cal.add_argument("--max-seconds", type=float, default=None, metavar="S",
                     help="time limit of the measuring rounds (default 120)")
    cal.add_argument("--plugin", action="append", default=[], metavar="FILE",
                     help="load plugins the records used from a file")


def _add_tune_parser(sub) -> None:
    """``grokbench tune``: K quasi-random configurations per (task, method) on tuning seeds."""
    tune = sub.add_parser("tune", help="tune every task x method (and each task's baseline) on tuning "
                                       "seeds -> DIR/tuned.json (then: grokbench run --tuned DIR)")
    _add_plan_options(tune, "'all' or METHOD[,...], as for run",
                      "override a task or method parameter (repeatable; give the same to run --tuned), or "
                      "search a setting over another range: METHOD.PARAM=LO..HI (tune only; the same folder keeps its "
                      "records; docs/tuning.md)")
    tune.add_argument("--trials", type=_trials, default="auto", metavar="K",
                      help="quasi-random configurations per (task, method), the same K for every method, "
                           "each method's defaults tried besides; auto (default): the largest of the tasks' own "
                           "(sparse tasks 32, modular_addition and power_ops 16)")
    tune.add_argument("--tune-seeds", default="1000-1004", metavar="SEEDS",
                      help="seeds every configuration runs on, apart from the report seeds: N (seeds 1000..999+N), "
                           "A-B or A,B,C (default 1000-1004)")
    tune.add_argument("--no-capping", action="store_true",
                      help="train every configuration to its end: without this, a configuration stops (status "
                           "'capped') once it can no longer beat or tie its study's best median, which selects "
                           "the same configurations with less training")
    tune.add_argument("--give-up", type=float, default=None, metavar="FRACTION",
                      help="in a study where no trial has solved (nor, still training, reached the target) by "
                           "FRACTION of the budget, stop the rest there (status 'capped', rule 'give-up'; not "
                           "exact: a configuration that would solve later is missed; default: never)")
    tune.add_argument("--out", default="tuning", help="tuning folder (default: ./tuning)")
    _add_engine_options(tune)


def _trials(text: str) -> int | str:
    """``--trials``: a whole number, or auto (each task plugin's ``tuning_trials``)."""
    if text == "auto":
        return text
    if not text.strip().isdigit():
        raise UserError(f"--trials must be a whole number >= 1 or auto; got {text!r}")
    return int(text)


def _add_plan_options(parser, methods_help: str, set_help: str) -> None:
    """What to train: tasks, methods, parameter overrides and plugins (run and tune)."""
    parser.add_argument("--tasks", default="sparse_parity",
                        help="'all' or NAME[:PRESET][,...] (default: sparse_parity)")
    parser.add_argument("--methods", default="sgd,adamw", help=methods_help)
    parser.add_argument("--set", action="append", default=[], metavar="NAME.PARAM=VALUE", help=set_help)
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE", help="load plugins from a file")
    parser.add_argument("--max-trials", type=int, default=MAX_TRIALS, metavar="N",
                        help=f"refuse a plan of more than N trials, grids counted before they are expanded "
                             f"(default {MAX_TRIALS:,})")


def _add_engine_options(parser) -> None:
    """How to train: device, batching, progress and the executor (every command that trains)."""
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda[:N]")
    parser.add_argument("--batch-seeds", type=int, default=64, metavar="S",
                        help="train up to S trials (seeds, times configurations that differ only in "
                             "base-optimizer scalars) in one batched model (default 64)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--checkpoint-every", type=float, default=DEFAULT_CHECKPOINT_S, metavar="SECONDS",
                        help="save each cell's training state at an evaluation at most every SECONDS (default "
                             f"{DEFAULT_CHECKPOINT_S:g}; 0: never): an interrupted run's trials go on from there "
                             "when the same command runs again")
    ex = parser.add_argument_group("executors (docs/parallel.md)")
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
                    help="end a trial after SECONDS of wall time (x the trials trained together in one cell) "
                         "with status 'timeout'")


def _add_reproduce_parser(sub) -> None:
    """``grokbench reproduce``: the papers' claims (grokbench/reproduce/claims) run and judged."""
    rp = sub.add_parser("reproduce", help="run papers' claims through the engine and write a page with the "
                                          "published numbers next to ours and a verdict")
    rp.add_argument("names", nargs="*", metavar="NAME", help="claims to run, or 'all' (none: list them)")
    rp.add_argument("--out", default="reproductions-results", metavar="DIR",
                    help="results root: DIR/<claim>/<experiment>/ (default: ./reproductions-results)")
    rp.add_argument("--page", default="leaderboard/REPRODUCTIONS.md", metavar="PATH",
                    help="the page to write (default: leaderboard/REPRODUCTIONS.md)")
    rp.add_argument("--page-only", action="store_true", help="rebuild the page from DIR without training")
    rp.add_argument("--budget", choices=("cpu", "paper"), default="cpu",
                    help="cpu: each claim's caps for a 2-core CPU (default); paper: the papers' budgets (a GPU)")
    rp.add_argument("--max-steps", type=int, default=None, metavar="N", help="cap step budgets at N steps")
    rp.add_argument("--max-epochs", type=int, default=None, metavar="N", help="cap epoch budgets at N epochs")
    rp.add_argument("--seeds", default=None, help="replace each claim's seeds (N, A-B or A,B,C)")
    rp.add_argument("--claim-file", action="append", default=[], metavar="FILE",
                    help="add a claim file (JSON, the format of grokbench/reproduce/claims.py)")
    _add_engine_options(rp)
