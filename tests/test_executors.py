"""Executors: process pool and Ray give the local executor's records; faults, signals, resume.

Fault plugins (written to a temporary file and loaded with --plugin):
- ``killer``  SIGKILLs its own process at step ``at_step`` (a worker dying mid-trial);
- ``sleeper`` sleeps ``sleep_s`` in every update (an overlong trial);
- ``death``   ends its trial at step 2 in the way its preset names (``death:exit3``, ...).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import read_records, record_paths, run_cli, study_request

from grokbench import api, registry
from grokbench.errors import Terminated, signals_deferred, stop_signals
from grokbench.executors import LocalExecutor, ProcessExecutor
from grokbench.executors.base import describe_exit
from grokbench.plan import build_plan
from grokbench.record import Record
from grokbench.spec import parse_overrides
from grokbench.store import Store
from grokbench.timeout import TimeoutPolicy

# A stuck trial sleeps this long inside one step; being killed is the only way to finish sooner.
STUCK_S = 600

PLUGIN = '''
import os, signal, sys, time
from grokbench import Preset, Transform, register

@register
class Killer(Transform):
    name = "killer"
    description = "test only: SIGKILLs its own process at step at_step"
    defaults = {"at_step": 3}

    def update(self, grads, params, state, ctx):
        if ctx.step >= self.at_step:
            os.kill(os.getpid(), signal.SIGKILL)
        return grads

@register
class Sleeper(Transform):
    name = "sleeper"
    description = "test only: sleeps sleep_s seconds in every update"
    defaults = {"sleep_s": 0.01}

    def update(self, grads, params, state, ctx):
        time.sleep(self.sleep_s)
        return grads

WAYS = ("exit3", "exit0", "sysexit", "interrupt", "sigkill", "sigsegv", "sigterm", "hang")

@register
class Death(Transform):
    name = "death"
    description = "test only: ends its trial at step 2 in the way named by how"
    defaults = {"how": "exit3"}
    choices = {"how": WAYS}
    presets = {w: Preset(f"end by {w}", {"how": w}) for w in WAYS}

    def update(self, grads, params, state, ctx):
        if ctx.step < 2:
            return grads
        if self.how.startswith("exit"):
            os._exit(int(self.how[4:]))
        if self.how == "sysexit":
            sys.exit(3)
        if self.how == "interrupt":
            raise KeyboardInterrupt
        if self.how == "hang":
            time.sleep(1e9)
        os.kill(os.getpid(), getattr(signal, self.how.upper()))
'''

# 7 steps per epoch, 5 epochs; a target of 0.5 so that some trials solve (solve steps to compare).
# The solve at the first crossing (no stability window): these tests are about executors,
# and a target of 0.5 on 100 test examples flickers around its hold level.
FIRST_CROSSING = ["sparse_parity.sustain_evals=0", "sparse_parity.sustain_frac=0", "sparse_parity.hold_band=0",
                  "sparse_parity.tail_frac=0"]
TINY = [
    "--tasks", "sparse_parity",
    "--set", "sparse_parity.n_train=200", "--set", "sparse_parity.n_test=100",
    "--set", "sparse_parity.max_epochs=5", "--set", "sparse_parity.target=0.5",
    *[arg for setting in FIRST_CROSSING for arg in ("--set", setting)],
    "--quiet", "--no-calibrate",
]


@pytest.fixture(autouse=True)
def no_added_baseline(monkeypatch):
    """These runs train exactly the methods they name (a study's ``baseline = false``)."""
    prepare = api.prepare
    monkeypatch.setattr(api, "prepare", lambda *a, **k: prepare(*a, **{**k, "baseline": False}))


@pytest.fixture(autouse=True)
def no_leaderboard(monkeypatch):
    """These tests read records only; skip the end-of-run leaderboard (seconds per run)."""
    from grokbench import cli

    monkeypatch.setattr(cli, "_end_of_run", lambda *a, **k: None, raising=False)


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("plugin") / "faulty.py"
    path.write_text(PLUGIN)
    return str(path)


@pytest.fixture(scope="module")
def local_records(tmp_path_factory) -> dict[str, dict]:
    """The reference: sgd and adamw, seeds 0-2, 2 seeds per cell, run by the local executor."""
    out = tmp_path_factory.mktemp("local")
    assert run_cli("run", *TINY, "--methods", "sgd,adamw", "--seeds", "3", "--batch-seeds", "2", "--out", str(out)) == 0
    return {r["key"]: r for r in read_records(out)}


def assert_same_results(expected: dict[str, dict], got: dict[str, dict]) -> None:
    """Same trials, statuses, step metrics and curves (all but the wall-clock columns)."""
    assert set(got) == set(expected)
    for key, ref in expected.items():
        rec = got[key]
        assert rec["status"] == ref["status"]
        for m in ("fit_step", "t90_step", "solve_step", "plateau_steps"):
            assert rec["metrics"][m] == ref["metrics"][m], (key, m)
        for column, values in ref["curve"].items():
            if column != "train_time_s":
                assert rec["curve"][column] == values, (key, column)
    assert any(r["status"] == "solved" for r in expected.values())  # the comparison has teeth


def by_key(out: Path) -> dict[str, dict]:
    return {r["key"]: r for r in read_records(out)}


def last_run(out: Path) -> dict:
    return Store(out).runs()[-1]


# ---------------------------------------------------------------- process pool


def test_process_workers_share_the_cores_within_omp_num_threads(monkeypatch):
    monkeypatch.setattr("grokbench.executors.process.cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert ProcessExecutor(2).threads == 4 and ProcessExecutor(16).threads == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's cap: never raised to the cores' share
    assert ProcessExecutor(2).threads == 1 and ProcessExecutor(2, threads=3).threads == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert ProcessExecutor(2).threads == 4


def test_process_pool_matches_local(tmp_path, local_records):
    out = tmp_path / "out"
    rc = run_cli("run", *TINY, "--methods", "sgd,adamw", "--seeds", "3", "--batch-seeds", "2",
                 "--executor", "process:2", "--out", str(out))
    assert rc == 0
    got = by_key(out)
    assert_same_results(local_records, got)
    for r in got.values():
        env = r["environment"]
        assert env["executor"] == "process" and env["workers"] == 2
        assert env["threads"] == ProcessExecutor(2).threads
        assert env["host"] and env["pid"] != os.getpid()
    assert {r["environment"]["executor"] for r in local_records.values()} == {"local"}


def test_killed_worker_is_recorded_and_the_plan_completes(tmp_path, plugin):
    out = tmp_path / "out"
    argv = ["run", *TINY, "--plugin", plugin, "--methods", "sgd,killer", "--seeds", "2", "--batch-seeds", "1",
            "--executor", "process:2", "--out", str(out)]
    assert run_cli(*argv) == 0
    records = read_records(out)
    assert len(records) == 4
    status = {(r["identity"]["method"], r["identity"]["seed"]): r for r in records}
    for seed in (0, 1):
        killed = status[("killer", seed)]
        assert killed["status"] == "error"
        assert killed["error"].startswith("worker process was killed by SIGKILL")
        assert killed["environment"]["executor"] == "process"
        assert status[("sgd", seed)]["status"] in ("solved", "unsolved")
    # The next run retries the errors (and only them).
    assert run_cli(*argv) == 0
    assert last_run(out)["to_run"] == 2
    assert len(read_records(out)) == 4


def test_dead_worker_keeps_the_seeds_it_had_finished(tmp_path, plugin):
    """One cell, two seeds trained together: the seed that finishes first (read off a probe
    run of the same trials) is reported before the worker dies at the next step, and only
    the other one becomes an error."""
    probe = tmp_path / "probe"
    assert run_cli("run", *TINY, "--methods", "sgd", "--seeds", "6", "--out", str(probe)) == 0
    ends = {r["identity"]["seed"]: (r["curve"]["step"][-1], r["status"]) for r in read_records(probe)}
    end, high = min((step, seed) for seed, (step, status) in ends.items() if status == "solved")
    low = next(seed for seed, (step, _) in ends.items() if step > end)
    registry.load_plugin_file(plugin)
    overrides = parse_overrides(["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=5",
                                 "sparse_parity.target=0.5", *FIRST_CROSSING, f"killer.at_step={end}"])
    plan = build_plan("sparse_parity", "killer", f"{low},{high}", overrides,
                      plugin_files=(str(Path(plugin).resolve()),))
    (cell,) = plan.cells(set(), 2)
    records = {r.seed: r for r in ProcessExecutor(workers=1).run([cell])}
    assert records[high].status == "solved" and records[high].curve["step"][-1] == end
    assert records[low].status == "error" and "SIGKILL" in records[low].error
    assert records[low].environment["batched_seeds"] == 2
    assert not multiprocessing.active_children()  # every worker was stopped


def test_workers_load_the_plugin_text_the_run_began_with(plugin):
    """The plugin file is broken mid-run (after the first evaluation); the worker started
    after `killer` ends the first one still loads the text the run began with."""
    registry.load_plugin_file(plugin)
    overrides = parse_overrides(["sparse_parity.n_train=200", "sparse_parity.n_test=100",
                                 "sparse_parity.max_epochs=2", "killer.at_step=1"])
    plan = build_plan("sparse_parity", "sgd,killer", "2", overrides, plugin_files=(str(Path(plugin).resolve()),))
    sgd0, sgd1, killer0, killer1 = plan.cells(set(), 1)
    text = Path(plugin).read_text()

    def break_the_file(*_: object) -> None:
        Path(plugin).write_text("this is not python\n")

    try:
        records = list(ProcessExecutor(workers=1).run([sgd0, killer0, sgd1], break_the_file))
    finally:
        Path(plugin).write_text(text)
    status = [(r.identity["method"], r.status) for r in records]
    assert [m for m, _ in status] == ["sgd", "killer", "sgd"]
    assert status[1][1] == "error" and status[2][1] in ("solved", "unsolved")


def test_closing_the_iterator_stops_the_workers(plugin):
    """What Ctrl-C does in `grokbench run`: the records loop ends, the executor shuts down."""
    registry.load_plugin_file(plugin)
    overrides = parse_overrides(["sparse_parity.n_train=200", "sparse_parity.max_epochs=5", "sleeper.sleep_s=0.02"])
    plan = build_plan("sparse_parity", "sleeper", "6", overrides, plugin_files=(str(Path(plugin).resolve()),))
    records = ProcessExecutor(workers=2).run(plan.cells(set(), 1))
    first = next(records)
    assert first.status in ("solved", "unsolved")
    records.close()
    assert not multiprocessing.active_children()


def test_a_pool_draws_each_cell_when_a_worker_is_free():
    """A lazy iterable of cells (a tuning study's capping policies are made as cells are
    drawn): one cell per worker at the start, then one more only after a record arrived."""
    overrides = parse_overrides(["sparse_parity.n_train=200", "sparse_parity.max_epochs=3"])
    cells = build_plan("sparse_parity", "sgd", "4", overrides).cells(set(), 1)
    arrived: list[str] = []
    drawn_after: list[int] = []

    def lazy():
        for cell in cells:
            drawn_after.append(len(arrived))
            yield cell

    for record in ProcessExecutor(workers=2).run(lazy()):
        arrived.append(record.key)
    assert len(arrived) == 4 and drawn_after[:2] == [0, 0]
    assert all(n >= 1 for n in drawn_after[2:]) and drawn_after == sorted(drawn_after)
    assert not list(ProcessExecutor(workers=2).run(iter(())))  # nothing to run: no pool at all


# ---------------------------------------------------------------- how a worker ends, in words


@pytest.mark.parametrize("exitcode, words", [
    (3, "exited with code 3"),
    (0, "exited with code 0"),
    (1, "exited with code 1"),
    (-9, "was killed by SIGKILL (sent by the out-of-memory killer, or by a kill -9), exit code -9"),
    (-11, "was killed by SIGSEGV (a segmentation fault in native code), exit code -11"),
    (-15, "was killed by SIGTERM, exit code -15"),
    (-200, "was killed by signal 200, exit code -200"),
    (None, "ended with no exit code known"),
])
def test_describe_exit_says_only_what_the_code_means(exitcode, words):
    assert describe_exit(exitcode) == words


DEATHS = {  # preset of `death` -> the start of its record's error (status "error" for all)
    "exit3": "worker process exited with code 3",
    "exit0": "worker process exited with code 0",
    "sigkill": "worker process was killed by SIGKILL",
    "sigsegv": "worker process was killed by SIGSEGV",
    "sigterm": "worker process was killed by SIGTERM",
    "interrupt": "the trial raised KeyboardInterrupt in the worker process",
    "sysexit": "SystemExit: 3",
}


@pytest.mark.slow
def test_every_way_a_worker_ends_is_recorded_truthfully(tmp_path, plugin):
    """Each death costs a worker start (seconds), hence slow. The plan goes on after each;
    no message claims a signal the worker did not get; no traceback reaches the terminal."""
    registry.load_plugin_file(plugin)
    overrides = parse_overrides(["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=4"])
    methods = ",".join(["sgd", *(f"death:{way}" for way in DEATHS)])
    plan = build_plan("sparse_parity", methods, "1", overrides, plugin_files=(str(Path(plugin).resolve()),))
    records = {r.identity["method"]: r for r in ProcessExecutor(workers=2).run(plan.cells(set(), 1))}
    assert records.pop("sgd").status in ("solved", "unsolved")
    for way, words in DEATHS.items():
        record = records[f"death:{way}"]
        assert record.status == "error" and record.error.startswith(words), (way, record.error)
        assert record.environment["executor"] == "process"
    assert not multiprocessing.active_children()


def test_system_exit_in_a_plugin_is_an_error_record_and_the_run_goes_on(tmp_path, plugin, capsys):
    out = tmp_path / "out"
    assert run_cli("run", *TINY, "--plugin", plugin, "--methods", "death:sysexit,sgd", "--seeds", "2",
                   "--out", str(out)) == 0
    status = {(r["identity"]["method"], r["identity"]["seed"]): r for r in read_records(out)}
    assert len(status) == 4
    for seed in (0, 1):
        assert status[("death:sysexit", seed)]["status"] == "error"
        assert status[("death:sysexit", seed)]["error"] == "SystemExit: 3"
        assert status[("sgd", seed)]["status"] in ("solved", "unsolved")
    assert "Traceback" not in capsys.readouterr().err


# ---------------------------------------------------------------- timeouts


def test_timeout_status_and_resume_rule(tmp_path, plugin):
    out = tmp_path / "out"
    base = ["run", *TINY, "--plugin", plugin, "--methods", "sleeper", "--set", "sleeper.sleep_s=0.05",
            "--seeds", "1", "--out", str(out)]
    assert run_cli(*base, "--executor", "local,timeout=0.3") == 0
    (rec,) = read_records(out)
    assert rec["status"] == "timeout" and "the trial timeout 0.3s" in rec["error"]
    assert rec["trial_timeout_s"] == 0.3
    assert 1 <= len(rec["curve"]["step"]) < 6  # the curve up to the timeout is kept
    # Final under the same (or a lower) limit ...
    assert run_cli(*base, "--executor", "local,timeout=0.3") == 0
    assert last_run(out)["to_run"] == 0
    # ... retried when the limit is raised.
    assert run_cli(*base, "--executor", "local,timeout=60") == 0
    assert last_run(out)["to_run"] == 1
    (rec,) = read_records(out)
    assert rec["status"] in ("solved", "unsolved")


def test_process_pool_kills_a_trial_stuck_past_its_timeout(plugin):
    """A trial stuck inside one step never reaches the cooperative check: the pool kills it."""
    registry.load_plugin_file(plugin)
    overrides = parse_overrides(["sparse_parity.n_train=200", "sparse_parity.max_epochs=2", f"sleeper.sleep_s={STUCK_S}"])
    plan = build_plan("sparse_parity", "sgd,sleeper", "1", overrides, plugin_files=(str(Path(plugin).resolve()),))
    t0 = time.monotonic()
    records = list(ProcessExecutor(workers=2, timeout=TimeoutPolicy(3, kill_grace_s=0.5)).run(plan.cells(set(), 1)))
    assert time.monotonic() - t0 < STUCK_S / 2  # killed, not waited out (slack for a loaded machine)
    status = {r.identity["method"]: r for r in records}
    assert status["sleeper"].status == "timeout" and "the worker was killed" in status["sleeper"].error
    assert status["sleeper"].trial_timeout_s == 3
    assert status["sgd"].status in ("solved", "unsolved")


def test_local_executor_enforces_the_timeout_on_a_stuck_plugin(plugin):
    """`death:hang` sleeps forever inside one step: the local executor's child process is
    killed past the kill deadline; the cell before it ran in the same child."""
    registry.load_plugin_file(plugin)
    overrides = parse_overrides(["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=2"])
    plan = build_plan("sparse_parity", "sgd,death:hang", "1", overrides, plugin_files=(str(Path(plugin).resolve()),))
    executor = LocalExecutor(timeout=TimeoutPolicy(1.0, kill_grace_s=0.5))
    t0 = time.monotonic()
    records = {r.identity["method"]: r for r in executor.run(plan.cells(set(), 1))}
    assert time.monotonic() - t0 < STUCK_S / 2  # killed, not waited out (slack for a loaded machine)
    hung = records["death:hang"]
    assert hung.status == "timeout" and hung.error == "exceeded the trial timeout 1s; the worker was killed"
    assert records["sgd"].status in ("solved", "unsolved")
    for r in records.values():
        assert r.environment["executor"] == "local" and r.environment["child_process"] is True
        assert r.trial_timeout_s == 1.0
    assert not multiprocessing.active_children()


# ---------------------------------------------------------------- the driver dies


def _said(err: str) -> list[str]:
    """What a command said on stderr, less its notes; a traceback fails the test."""
    assert "Traceback" not in err, err
    return [ln for ln in err.strip().splitlines() if not ln.startswith("note:")]


def _no_baseline(argv: list[str], out: Path) -> list[str]:
    """``run`` flags -> ``run OUT/study.toml`` and the flags that stay: a study request with
    ``baseline = false`` (docs/study.md), for runs in a child process, which the
    ``no_added_baseline`` fixture does not reach."""
    plan: dict[str, str] = {"--tasks": "sparse_parity"}
    sets, plugins, rest = [], [], []
    words = iter(argv[1:])
    for word in words:
        if word in ("--tasks", "--methods", "--seeds", "--out"):
            plan[word] = next(words)
        elif word in ("--set", "--plugin"):
            (sets if word == "--set" else plugins).append(next(words))
        else:
            rest.append(word)
    path = study_request(out, plan["--methods"], plan["--seeds"], sets, tasks=plan["--tasks"], baseline=False,
                         plugin_files=plugins)
    return ["run", path, *rest]


def _grokbench(*argv: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grokbench", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, **kw)


def _wait_for_a_record(proc: subprocess.Popen, out: Path) -> None:
    """Until a record file is in place (renamed there whole; a write's temporary file, which
    a kill can leave behind, does not count)."""
    deadline = time.monotonic() + 120
    while not record_paths(out):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pytest.skip("needs /proc")


def _assert_group_ends(pgid: int) -> None:
    deadline = time.monotonic() + 10
    while _live_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_in_group(pgid) == []  # no worker outlived the driver


def _live_in_group(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies waiting for init to
    reap them, e.g. multiprocessing's resource tracker, do not count)."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


@pytest.mark.slow
def test_resume_after_the_driver_is_killed(tmp_path, plugin):
    out = tmp_path / "out"
    argv = ["run", *TINY, "--plugin", plugin, "--methods", "sleeper", "--set", "sleeper.sleep_s=0.02",
            "--seeds", "6", "--batch-seeds", "1", "--executor", "process:2", "--out", str(out)]
    argv = _no_baseline(argv, out)
    proc = _grokbench(*argv)
    _wait_for_a_record(proc, out)
    proc.kill()  # SIGKILL: no clean-up at all
    proc.wait()
    err = proc.stderr.read()  # returns once every worker (they share the pipe) has exited
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    first = read_records(out)
    assert 1 <= len(first) < 6 and all(r["status"] in ("solved", "unsolved") for r in first)
    assert run_cli(*argv) == 0
    assert last_run(out)["to_run"] == 6 - len(first)
    records = read_records(out)
    assert len(records) == 6 and len({r["key"] for r in records}) == 6
    assert sorted(r["identity"]["seed"] for r in records) == list(range(6))
    assert not list((out / "records").glob(".*.tmp"))


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_finished_records(tmp_path, plugin):
    out = tmp_path / "out"
    argv = ["run", *TINY, "--plugin", plugin, "--methods", "sleeper", "--set", "sleeper.sleep_s=0.02",
            "--seeds", "8", "--batch-seeds", "1", "--executor", "process:2", "--out", str(out)]
    argv = _no_baseline(argv, out)
    proc = _grokbench(*argv, start_new_session=True)
    _wait_for_a_record(proc, out)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    kept = read_records(out)
    assert 1 <= len(kept) <= 8 and all(r["status"] in ("solved", "unsolved") for r in kept)
    _assert_group_ends(proc.pid)


@pytest.mark.parametrize("executor", [
    ["--executor", "local"],
    pytest.param(["--executor", "process:2"], marks=pytest.mark.slow),
])
def test_sigterm_stops_the_run_like_ctrl_c(tmp_path, plugin, executor):
    """SIGTERM to the driver alone: it stops its workers, keeps every record it received
    (all complete and readable), says so in one line and exits 143."""
    out = tmp_path / "out"
    argv = ["run", *TINY, "--plugin", plugin, "--methods", "sleeper", "--set", "sleeper.sleep_s=0.02",
            "--seeds", "8", "--batch-seeds", "1", *executor, "--out", str(out)]
    argv = _no_baseline(argv, out)
    proc = _grokbench(*argv, start_new_session=True)
    _wait_for_a_record(proc, out)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert len(_said(err)) == 1
    kept = [Record.from_json(r) for r in read_records(out)]
    assert 1 <= len(kept) <= 8 and all(r.status in ("solved", "unsolved") for r in kept)
    assert not list((out / "records").glob(".*.tmp"))
    _assert_group_ends(proc.pid)


# A signal at a fixed delay races the machine's speed; these tests send it at a named
# point instead: a sitecustomize (or a wrapper script) sends SIGINT from inside the code
# path under test, so the signal lands there on any CPU, fast or slow.
SIGNAL_ON_TORCH_IMPORT = """
import os, signal, sys
if os.environ.get("GB_SIGNAL_ON_TORCH_IMPORT") and "--multiprocessing-fork" in sys.orig_argv:
    class _SignalOnTorchImport:
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                try:  # only the first worker to get here sends it: one Ctrl-C
                    os.close(os.open(os.environ["GB_SIGNAL_ON_TORCH_IMPORT"], os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    return None
                os.killpg(os.getpgid(0), signal.SIGINT)  # as a terminal's Ctrl-C
            return None
    sys.meta_path.insert(0, _SignalOnTorchImport())
"""


@pytest.mark.slow
def test_ctrl_c_while_workers_import_torch_is_one_line(tmp_path):
    """Ctrl-C to the whole process group at the moment a worker imports torch."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SIGNAL_ON_TORCH_IMPORT)
    env = {**os.environ, "GB_SIGNAL_ON_TORCH_IMPORT": str(tmp_path / "sent"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])}
    proc = _grokbench("run", *TINY, "--methods", "sgd", "--seeds", "2", "--batch-seeds", "1",
                      "--executor", "process:2", "--out", str(tmp_path / "out"),
                      start_new_session=True, env=env)
    _, err = proc.communicate(timeout=120)
    assert (tmp_path / "sent").exists(), err  # the signal was sent from inside a worker's import
    assert proc.returncode == 130, err
    assert len(_said(err)) == 1, err
    _assert_group_ends(proc.pid)


@pytest.mark.parametrize("signum, raised", [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_waits_for_the_deferred_block(signum, raised):
    """What keeps a record being written whole: the signal lands inside the block, the
    block finishes, then the signal's exception is raised."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    finished = []
    with pytest.raises(raised), stop_signals() as state:
        with signals_deferred():
            os.kill(os.getpid(), signum)
            time.sleep(0.05)  # the handler runs here, and must not raise here
            finished.append(True)
    assert finished == [True] and state.terminated == (signum == signal.SIGTERM)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


# The driver under a named point: SIGINT sent to itself (the handler runs at the next
# bytecode, so the signal lands exactly there).
CTRL_C_AT = """
import importlib, os, signal, sys
where = sys.argv.pop(1)
def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)
if where == "torch-import":  # inside the CLI's import of torch
    class _Finder:
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                ctrl_c()
            return None
    sys.meta_path.insert(0, _Finder())
elif where == "command":  # while the command runs
    cli = importlib.import_module("grokbench.cli")
    original = cli.cmd_list
    def cmd_list(args):
        ctrl_c()
        return original(args)
    cli.cmd_list = cmd_list
from grokbench.__main__ import entry
status = entry()
if where == "shutdown":  # the command is done; the interpreter only exits
    ctrl_c()
sys.exit(status)
"""


@pytest.mark.parametrize("where, status, said", [
    ("torch-import", 130, ["interrupted"]),
    ("command", 130, ["interrupted"]),
    ("shutdown", 0, []),
])
def test_ctrl_c_at_any_point_of_a_command_is_one_line_and_a_status(where, status, said):
    """`python -m grokbench` spends its first seconds importing torch: Ctrl-C then, during
    the command, or while the interpreter exits after it ends in a status and at most one
    line, never a traceback or a death by signal (a negative return code)."""
    proc = subprocess.run([sys.executable, "-c", CTRL_C_AT, where, "list"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == status, proc.stderr
    assert _said(proc.stderr) == said


# ---------------------------------------------------------------- options and the missing Ray


def test_missing_ray_is_one_line_with_the_install_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    out = tmp_path / "out"
    rc = run_cli("run", *TINY, "--methods", "sgd", "--seeds", "1", "--executor", "ray", "--out", str(out))
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "pip install 'grokbench[ray]'" in err
    assert not (out / "records").exists()


@pytest.mark.parametrize("args, message", [
    (["--executor", "process:0"], "process:N needs N"),
    (["--executor", "local,gpus=0.5"], "'gpus=0.5' is not an option of local"),
    (["--executor", "process:2,ray=auto"], "'ray=auto' is not an option of process"),
    (["--executor", "local,timeout=0"], "timeout must be a number > 0"),
    (["--device", "cuda", "--executor", "ray"], "needs gpus > 0"),
])
def test_executor_option_errors(tmp_path, capsys, args, message):
    rc = run_cli("run", *TINY, "--methods", "sgd", "--seeds", "1", "--out", str(tmp_path / "o"), *args)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- Ray (one local instance, 2 CPUs)


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        import logging

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def test_ray_matches_local(tmp_path, local_records, ray_instance):
    out = tmp_path / "out"
    rc = run_cli("run", *TINY, "--methods", "sgd,adamw", "--seeds", "3", "--batch-seeds", "2",
                 "--executor", "ray", "--out", str(out))
    assert rc == 0
    got = by_key(out)
    assert_same_results(local_records, got)
    for r in got.values():
        env = r["environment"]
        assert env["executor"] == "ray" and env["threads"] == 1 and env["cpus_per_trial"] == 1.0
    assert ray_instance.is_initialized()  # an instance it did not start is left running


def test_ray_killed_worker_is_recorded_and_the_plan_completes(tmp_path, plugin, ray_instance):
    out = tmp_path / "out"
    rc = run_cli("run", *TINY, "--plugin", plugin, "--methods", "sgd,killer", "--seeds", "2", "--batch-seeds", "1",
                 "--executor", "ray", "--out", str(out))
    assert rc == 0
    records = read_records(out)
    assert len(records) == 4
    for r in records:
        if r["identity"]["method"] == "killer":
            assert r["status"] == "error" and "Ray task failed" in r["error"]
        else:
            assert r["status"] in ("solved", "unsolved")


def test_ray_cancels_a_trial_stuck_past_its_timeout(plugin, ray_instance):
    from grokbench.executors import RayExecutor

    registry.load_plugin_file(plugin)
    overrides = parse_overrides(["sparse_parity.n_train=200", "sparse_parity.max_epochs=2", f"sleeper.sleep_s={STUCK_S}"])
    plan = build_plan("sparse_parity", "sgd,sleeper", "1", overrides, plugin_files=(str(Path(plugin).resolve()),))
    t0 = time.monotonic()
    records = list(RayExecutor(timeout=TimeoutPolicy(3, kill_grace_s=0.5)).run(plan.cells(set(), 1)))
    assert time.monotonic() - t0 < STUCK_S / 2  # killed, not waited out (slack for a loaded machine)
    status = {r.identity["method"]: r for r in records}
    assert status["sleeper"].status == "timeout" and "cancelled" in status["sleeper"].error
    assert status["sgd"].status in ("solved", "unsolved")
