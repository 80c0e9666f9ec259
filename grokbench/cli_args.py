"""The command line's grammar: every command, flag, default and help text (argparse), and
nothing that runs. Only ``grokbench.cli`` (which acts on the parsed arguments) imports it:
what a run asked for is read from its study file (``grokbench.study``), never re-parsed
from logged commands."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from . import __version__
from .errors import UserError

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
    run.add_argument("study", nargs="?", default=None, metavar="STUDY.toml",
                     help="rerun the trials a study file describes (DIR/study.toml, docs/study.md) instead of "
                          "--tasks/--methods/...; into its own folder unless --out names another")
    _add_plan_options(run, "'all' or METHOD[,...]; METHOD = BASE | ACC[+ACC][@BASE]",
                      "override a task or method parameter (repeatable)")
    run.add_argument("--seeds", default="auto",
                     help="N (seeds 0..N-1), A-B (inclusive), A,B,C, or auto (default): each task's own count, "
                          "sized so its page detects a method faster on >= 75%% of seeds (sparse tasks: 64) or as "
                          "near as its cost allows (modular_addition: 20)")
    run.add_argument("--out", default=None, help=f"results folder (default: ./{DEFAULT_OUT}; with STUDY.toml, "
                                                  "the study file's folder)")
    run.add_argument("--compare", choices=("baseline", "all-pairs"), default="baseline",
                     help="baseline: each method against its task's baseline (default); all-pairs: also the named "
                          "methods against each other, in a family of their own (on the leaderboard page)")
    run.add_argument("--tuned", default=None, metavar="DIR",
                     help="run the configuration `grokbench tune` selected in DIR for each (task, method), and "
                          "each tuned accelerator's two controls: the base at its settings, and it on the tuned base "
                          "(without them: a study file with controls = false, docs/study.md)")
    run.add_argument("--no-calibrate", action="store_true",
                     help="skip the quick step-cost calibration at the end (grokbench calibrate DIR does a full one)")
    _add_engine_options(run)

    lst = sub.add_parser("list", help="tasks (presets, defaults) and methods (defaults)")
    lst.add_argument("--plugin", action="append", default=[], metavar="FILE")

    rep = sub.add_parser("report", help="one row per trial of a results folder (CSV: grokbench export)")
    rep.add_argument("dir", help="results folder")
    rep.add_argument("--format", choices=("table", "json"), default="table")
    _add_export_parser(sub)

    lb = sub.add_parser("leaderboard", help="significance tests, tables and figures of a results folder -> markdown")
    lb.add_argument("dir", help="results folder")
    lb.add_argument("-o", "--out", default=None, metavar="OUTDIR",
                    help="where README.md and its figures go (default: DIR/leaderboard)")
    lb.add_argument("--defaults", metavar="DIR2",
                    help="a results folder of the same methods at their default settings (DIR being tuned): "
                         "its summary and main tables become the page's last section, its full page OUT/defaults/")
    _add_calibrate_parser(sub)
    pack = sub.add_parser("pack", help="move a finished results folder's records into one compressed file, "
                                       "DIR/records/packed.jsonl.xz, read like the files (docs/results.md)")
    pack.add_argument("dir", help="results folder")
    _add_tune_parser(sub)
    _add_reproduce_parser(sub)
    _add_check_parser(sub)
    return parser


def _add_export_parser(sub) -> None:
    """``grokbench export``: one row per trial, every metric and setting, as CSV or Parquet."""
    ex = sub.add_parser("export", help="one row per trial with every metric and setting -> CSV or Parquet "
                                       "(docs/results.md)")
    ex.add_argument("dir", help="results folder")
    ex.add_argument("-o", "--out", default=None, metavar="FILE",
                    help="FILE.csv, or FILE.parquet (needs pyarrow); default: CSV on standard output")


def _add_calibrate_parser(sub) -> None:
    """``grokbench calibrate``: the step cost of every configuration of a results folder."""
    cal = sub.add_parser("calibrate", help="measure the cost of one training step of every configuration "
                                           "in a results folder -> DIR/calibration.json")
    cal.add_argument("dir", help="results folder")
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


def _add_engine_options(parser) -> None:
    """How to train: device, batching, progress and the executor (every command that trains)."""
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda[:N]")
    parser.add_argument("--batch-seeds", type=int, default=64, metavar="S",
                        help="train up to S trials (seeds, times configurations that differ only in "
                             "base-optimizer scalars) in one batched model (default 64)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--executor", type=parse_executor, default=ExecutorSpec(), metavar="SPEC",
                        help="where trials run (docs/parallel.md): local (default: this process), process[:N] (N "
                             "worker processes; default: the cores), ray[:ADDRESS] (Ray tasks; pip install "
                             "'grokbench[ray]'), each optionally followed by ,timeout=SECONDS (end a trial after "
                             "SECONDS of wall time x the trials of its cell, status 'timeout'); ray also takes "
                             ",cpus=C ,gpus=G per trial (default 1 and 0). E.g. process:4,timeout=600 or "
                             "ray:auto,gpus=0.25")


EXECUTOR_KINDS = ("local", "process", "ray")
_EXECUTOR_OPTIONS = {"timeout": EXECUTOR_KINDS, "cpus": ("ray",), "gpus": ("ray",)}


@dataclass(frozen=True)
class ExecutorSpec:
    """``--executor``'s value: the kind, its argument (process: workers; ray: the cluster
    address) and options. ``timeout``: seconds of wall time per trial (None: none)."""

    kind: str = "local"
    workers: int | None = None
    address: str | None = None
    cpus: float = 1.0
    gpus: float = 0.0
    timeout: float | None = None


def parse_executor(text: str) -> ExecutorSpec:
    """``KIND[:ARG][,NAME=VALUE...]`` -> ExecutorSpec; a malformed spec is one UserError line."""
    head, *options = text.split(",")
    kind, colon, arg = head.partition(":")
    where = f"--executor {text[:60]!r}"
    if kind not in EXECUTOR_KINDS:
        raise UserError(f"{where}: the kind must be one of {', '.join(EXECUTOR_KINDS)} "
                        f"(local | process[:N] | ray[:ADDRESS], then ,timeout=S ,cpus=C ,gpus=G)")
    values: dict = {"kind": kind}
    if colon and kind == "local":
        raise UserError(f"{where}: local takes no argument after ':'")
    if colon and kind == "process":
        if not arg.isdigit() or int(arg) < 1:
            raise UserError(f"{where}: process:N needs N, the worker processes, a whole number >= 1")
        values["workers"] = int(arg)
    if colon and kind == "ray":
        if not arg:
            raise UserError(f"{where}: ray:ADDRESS needs an address (auto, HOST:PORT or ray://HOST:PORT)")
        values["address"] = arg
    for option in options:
        name, eq, value = option.partition("=")
        if name not in _EXECUTOR_OPTIONS or kind not in _EXECUTOR_OPTIONS[name] or not eq:
            valid = [n for n, kinds in _EXECUTOR_OPTIONS.items() if kind in kinds]
            raise UserError(f"{where}: {option!r} is not an option of {kind} (options: "
                            f"{', '.join(n + '=VALUE' for n in valid)})")
        if name in values:
            raise UserError(f"{where}: {name} is given twice")
        values[name] = _executor_number(where, name, value)
    return ExecutorSpec(**values)


def _executor_number(where: str, name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    ok = math.isfinite(number) and (number >= 0 if name == "gpus" else number > 0)
    if not ok:
        raise UserError(f"{where}: {name} must be a number {'>= 0' if name == 'gpus' else '> 0'}; got {value!r}")
    return number


def _add_check_parser(sub) -> None:
    """``grokbench check``: the plugin contract on tiny trials (docs/plugin-check.md)."""
    chk = sub.add_parser("check", help="check every task and method a plugin file registers against the plugin "
                                       "contract, on tiny trials (exit 1 if a rule fails)")
    chk.add_argument("plugin", metavar="PLUGIN_FILE", help="a plugin file (as for --plugin), or a registered "
                                                           "plugin's name")
    chk.add_argument("--set", action="append", default=[], metavar="NAME.PARAM=VALUE",
                     help="a setting of the tiny trials (repeatable): a task's sizes, say; a method is checked "
                          "on a small sparse_parity")


def _add_reproduce_parser(sub) -> None:
    """``grokbench reproduce``: the papers' claims (grokbench/reproduce/claims) run and judged."""
    rp = sub.add_parser("reproduce", help="run papers' claims through the engine and write a page with the "
                                          "published numbers next to ours and a verdict")
    rp.add_argument("names", nargs="*", metavar="NAME",
                    help="claims to run, or 'all' (none: list them); a NAME ending in .json is a claim file to add "
                         "(the format of grokbench/reproduce/claims.py)")
    rp.add_argument("--out", default="reproductions-results", metavar="DIR",
                    help="results root: DIR/<claim>/<experiment>/ (default: ./reproductions-results)")
    rp.add_argument("--page", default="leaderboard/REPRODUCTIONS.md", metavar="PATH",
                    help="the page to write (default: leaderboard/REPRODUCTIONS.md)")
    rp.add_argument("--page-only", action="store_true", help="rebuild the page from DIR without training")
    rp.add_argument("--budget", choices=("cpu", "paper"), default="cpu",
                    help="cpu: each claim's caps for a 2-core CPU (default); paper: the papers' budgets (a GPU)")
    rp.add_argument("--max-steps", type=int, default=None, metavar="N",
                    help="cap every budget at N training steps (an epoch budget: the whole epochs that fit, at least 1)")
    rp.add_argument("--seeds", default=None, help="replace every experiment's seeds (N, A-B or A,B,C)")
    rp.add_argument("--plan", action="store_true",
                    help="train nothing: print each experiment's task, methods, seeds, budget and trials, with a "
                         "CPU-time estimate from briefly measured step costs (writes nothing)")
    _add_engine_options(rp)
