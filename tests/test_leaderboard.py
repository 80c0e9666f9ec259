"""The leaderboard: header, one table per task, figures that exist; the markdown renderer
writes nothing; a given analysis is used as is, and one command analyses once."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import run_cli

from grokbench import leaderboard as lb
from grokbench import stats as st
from grokbench.leaderboard.runtime import (
    duration_text,
    elapsed_seconds,
    invocation_intervals,
    logged_intervals,
    run_time_row,
)
from grokbench.leaderboard.summary import task_finding
from grokbench.store import Store

RUN_COMMAND = "grokbench run --tasks sparse_parity --methods sgd,adamw --seeds 3"
# Tiny and fast; the lowered target makes some seeds solve and others not (censored).
SMALL = [
    "--tasks", "sparse_parity", "--methods", "sgd,adamw", "--seeds", "3",
    "--set", "sparse_parity.max_epochs=8", "--set", "sparse_parity.n_train=200",
    "--set", "sparse_parity.n_test=100", "--set", "sparse_parity.target=0.55",
]
BUDGET_STEPS, STEPS_PER_EPOCH, EVAL_EVERY = 80, 2, 10
SOLVE_STEPS = {"sgd": [30, 40, None], "adamw": [20, 30, 30]}  # None: unsolved


def _record(method: str, seed: int, solve: int | None) -> dict:
    """One finished trial as written to records/: accuracy ramps up to the target at
    ``solve`` (or never), evaluated every EVAL_EVERY steps."""
    last = solve if solve is not None else BUDGET_STEPS
    steps = list(range(0, last + 1, EVAL_EVERY))
    ramp = [min(1.0, s / last) for s in steps]
    return {
        "key": f"{method}-{seed}", "status": "solved" if solve is not None else "unsolved",
        "identity": {
            "task": "sparse_parity", "preset": None, "method": method, "seed": seed,
            "task_params": {"n": 10}, "optimizer": {"name": method, "params": {"lr": 0.1}},
            "transforms": [], "base": "sgd", "parts": [], "baseline": "sgd",
        },
        "environment": {"device": "cpu", "device_name": "test cpu", "torch": "2.x", "threads": 1,
                        "host": "testhost"},
        "metrics": {"solve_step": solve, "plateau_steps": solve and solve // 2,
                    "train_time_s": last * 0.01, "time_to_target_s": solve and solve * 0.01},
        "budget": {"budget_steps": BUDGET_STEPS, "budget_epochs": BUDGET_STEPS / STEPS_PER_EPOCH,
                   "steps_per_epoch": STEPS_PER_EPOCH, "target": 0.9},
        "curve": {"step": steps, "train_acc": [min(1.0, 2 * a) for a in ramp], "test_acc": ramp},
        "started_at": f"2026-01-01T00:00:{seed:02d}+00:00", "finished_at": f"2026-01-01T00:01:{seed:02d}+00:00",
        "grokbench_version": "0.1.0",
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A results folder of synthetic records: sgd (baseline) 2/3 solved, adamw 3/3."""
    root = tmp_path_factory.mktemp("lb") / "results"
    (root / "records").mkdir(parents=True)
    for method, solves in SOLVE_STEPS.items():
        for seed, solve in enumerate(solves):
            (root / "records" / f"{method}-{seed}.json").write_text(json.dumps(_record(method, seed, solve)))
    (root / "runs.jsonl").write_text(json.dumps({"command": RUN_COMMAND, "time": "2026-01-01T00:00:00+00:00"}) + "\n")
    return root


@pytest.fixture(scope="module")
def folder_frame(folder):
    return lb.load_leaderboard_frame(folder)


def _check(readme: Path, study: bool = True) -> str:
    """The page's shape; ``study``: its folder has a study file (else: the logged commands
    stand in for it, with a note)."""
    text = readme.read_text()
    assert text.startswith("# grokbench leaderboard")
    for field in ("| study |", "| grokbench |", "| git commit |", "| torch |", "| device |", "| seeds |"):
        assert field in text, field
    if study:
        assert "study.toml` part 1: 1 task(s) x 2 method label(s), 6 trials; compare: baseline" in text
        assert re.search(r"Regenerate with `grokbench run \S*study.toml`, then `grokbench leaderboard ", text)
        assert "| command |" not in text  # the study file, not the logged commands
    else:
        assert "| study | none in this folder" in text and f"| command | `{RUN_COMMAND}`" in text
    assert "**Steps to target**" in text and "**Tests**" in text and "not adjusted for multiplicity" in text
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections == ["## Summary", "## Across tasks", "## How to read this page", "## Provenance",
                        "## sparse_parity"]
    assert "### sparse_parity: verdicts at each threshold" in text
    assert not re.search(r"\[[^\]]*(∞|\binf\b|unbounded)[^\]]*\]", text)  # no infinite interval ends
    header = "| " + " | ".join(lb.MAIN_COLUMNS) + " |"
    assert text.count(header) == 1
    table = text.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    assert {line.split(" | ")[1] for line in table} == {"sgd", "adamw"}
    assert not re.search(r"\bnan\b", text, re.I)
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) == 4  # profiles, heat map, and the task's two
    for image in images:
        assert not Path(image).is_absolute()
        assert (readme.parent / image).is_file(), image
    return text


def _body(text: str) -> list[str]:
    """All but the lines with time stamps or the output folder."""
    return [line for line in text.splitlines()
            if "Generated" not in line and "| generated |" not in line and "-o " not in line]


def test_run_writes_leaderboard_next_to_results(tmp_path, capsys):
    out = tmp_path / "results"
    assert run_cli("run", *SMALL, "--out", str(out), "--quiet") == 0
    _check(out / "leaderboard" / "README.md")


def test_leaderboard_command(folder, tmp_path, capsys):
    out = tmp_path / "board"
    assert run_cli("leaderboard", str(folder), "-o", str(out)) == 0
    printed = capsys.readouterr().out
    assert "sparse_parity" in printed and "baseline: sgd" in printed
    text = _check(out / "README.md", study=False)
    assert "### sparse_parity: wall time" in text
    assert "| seeds | 0–2 (3 seeds) |" in text
    assert "| trials | 6, run 2026-01-01T00:00:00+00:00 to 2026-01-01T00:01:02+00:00 |" in text
    assert "| device | test cpu (cpu; 1 threads; host testhost) |" in text


def test_leaderboard_is_reproducible(folder, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("leaderboard", str(folder), "-o", str(a)) == 0
    assert run_cli("leaderboard", str(folder), "-o", str(b)) == 0
    assert _body((a / "README.md").read_text()) == _body((b / "README.md").read_text())


def test_leaderboard_on_missing_folder_is_a_user_error(tmp_path, capsys):
    assert run_cli("leaderboard", str(tmp_path / "nope")) == 2
    assert "not a grokbench results folder" in capsys.readouterr().err


def _files(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_markdown_renderer_is_pure(folder, folder_frame, tmp_path, monkeypatch):
    analysis = st.analyze(folder_frame, n_boot=100)
    runs = Store(folder).runs()
    monkeypatch.chdir(tmp_path)

    def no_subprocess(*args, **kwargs):
        raise AssertionError("the renderer ran a subprocess")

    monkeypatch.setattr("subprocess.run", no_subprocess)
    before = _files(tmp_path), _files(folder)
    outdir = tmp_path / "never_created"
    texts = [lb.render_markdown(folder_frame, analysis, runs, results_dir=folder, outdir=outdir,
                                commit="abc123", generated="2026-01-02 03:04 UTC") for _ in range(2)]
    assert (_files(tmp_path), _files(folder)) == before and not outdir.exists()
    assert isinstance(texts[0], str) and texts[0] == texts[1]
    assert "| git commit | abc123 |" in texts[0] and "| generated | 2026-01-02 03:04 UTC |" in texts[0]
    assert "## sparse_parity" in texts[0] and "![" not in texts[0]  # no figures were given


def test_given_analysis_is_used_as_is(folder, folder_frame, tmp_path, monkeypatch):
    computed = lb.write_leaderboard(folder, tmp_path / "computed", figures=False).read_text()
    analysis = st.analyze(folder_frame)

    def no_analysis(*args, **kwargs):
        raise AssertionError("analysed again")

    monkeypatch.setattr(st, "analyze", no_analysis)
    given = lb.write_leaderboard(folder, tmp_path / "given", figures=False, show=True,
                                 frame=folder_frame, analysis=analysis).read_text()
    assert _body(given) == _body(computed)


@pytest.fixture
def count_analyses(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = st.analyze

    def counting(frame, *args, **kwargs):
        calls.append(len(frame))
        return real(frame, *args, n_boot=100)

    monkeypatch.setattr(st, "analyze", counting)
    return calls


def test_one_command_analyses_once(folder, tmp_path, capsys, count_analyses):
    lb.write_leaderboard(folder, tmp_path / "board", figures=False, show=True)
    assert "baseline: sgd" in capsys.readouterr().out
    assert count_analyses == [6]


def test_run_covering_the_folder_shares_one_analysis(folder_frame, count_analyses):
    run, page = lb.run_and_folder_analyses(folder_frame, set(folder_frame["key"]))
    assert run is page and count_analyses == [6]


def test_run_of_a_subset_gets_its_own_analysis(folder_frame, count_analyses):
    keys = {k for k in folder_frame["key"] if not k.endswith("-2")}
    run, page = lb.run_and_folder_analyses(folder_frame, keys)
    assert sorted(count_analyses) == [4, 6]
    assert run["sparse_parity"].methods["sgd"].sample.n == 2
    assert page["sparse_parity"].methods["sgd"].sample.n == 3


def test_failed_figures_keep_the_tables_and_stale_figures_go(folder, tmp_path, monkeypatch):
    out = tmp_path / "board"
    out.mkdir()
    (out / "gone_task_curves.png").write_bytes(b"")  # a figure of the last page (its manifest says so)
    (out / "mine_curves.png").write_bytes(b"")  # a user's file: never touched
    (out / ".grokbench-leaderboard.json").write_text(json.dumps(
        {"format": "grokbench-leaderboard-files/1", "files": ["README.md", "gone_task_curves.png"]}))

    def broken(*args, **kwargs):
        raise RuntimeError("no canvas")

    monkeypatch.setattr(lb.figures, "plot_curves", broken)
    monkeypatch.setattr(lb.overview, "plot_heatmap", broken)
    text = lb.write_leaderboard(folder, out).read_text()
    assert text.count("_figures failed: RuntimeError: no canvas_") == 2 and "![" not in text
    assert "### sparse_parity: wall time" in text and "| method | sparse_parity |" in text  # the heat map's table
    assert not (out / "gone_task_curves.png").exists() and (out / "mine_curves.png").exists()


def _write_folder(root: Path, solves: dict[str, list[int | None]], command: str) -> Path:
    (root / "records").mkdir(parents=True)
    for method, steps in solves.items():
        for seed, solve in enumerate(steps):
            (root / "records" / f"{method}-{seed}.json").write_text(json.dumps(_record(method, seed, solve)))
    (root / "runs.jsonl").write_text(json.dumps({"command": command, "time": "2026-01-01T00:00:00+00:00"}) + "\n")
    return root


def test_requested_pairs_of_a_folder_without_a_study_file_read_from_the_logged_commands():
    runs = [{"command": "grokbench run --methods egd,adamw --compare all-pairs"},
            {"command": "grokbench run --methods grokfast"},
            {"command": "grokbench run --methods all --compare=all-pairs --nonsense-flag"},
            {"command": "grokbench run --compare all-pairs --methods all"},
            {"command": "grokbench tune --compare all-pairs --methods lion"}]  # not a run
    assert lb.requested_pairs(None, runs) == {"egd", "adamw", st.ALL_PAIRS}
    assert lb.requested_pairs(None, runs[1:2]) == set()
    assert lb.requested_pairs([], runs) == set()  # a study file (here of no parts) is read instead
    variants = [{"command": "grokbench run --methods egd[lr=0.014,weight_decay=2.75],sgd[lr=0.1,0.2] "
                            "--compare all-pairs"},
                {"command": "grokbench run --methods sgd[lr=abc --compare all-pairs"}]  # refused by the grammar
    assert lb.requested_pairs(None, variants) == {"egd[lr=0.014,weight_decay=2.75]", "sgd[lr=0.1]", "sgd[lr=0.2]"}


def test_all_pairs_family_on_the_page(tmp_path):
    solves = {"sgd": [40, 50, 60, 70], "adamw": [10, 10, 20, 20], "fast": [20, 30, 30, 40], "other": [30, 40, 50, 60]}
    folder = _write_folder(tmp_path / "results", solves,
                           "grokbench run --methods adamw,fast --compare all-pairs --seeds 4")
    text = lb.write_leaderboard(folder, tmp_path / "board", figures=False).read_text()
    assert "### sparse_parity: named methods against each other" in text
    table = text.split("named methods against each other", 1)[1].split("###", 1)[0]
    assert "| adamw | fast | 4 |" in table and "| other |" not in table  # only the named ones, not the baseline
    analysis = st.analyze(lb.load_leaderboard_frame(folder), pair_labels={st.ALL_PAIRS}, n_boot=100)
    pairs = {(c.method, c.reference) for c in analysis["sparse_parity"].pairs}
    assert pairs == {("adamw", "fast"), ("adamw", "other"), ("fast", "other")}
    adamw_vs_fast = next(c for c in analysis["sparse_parity"].pairs if c.reference == "fast")
    assert (adamw_vs_fast.sign.wins, adamw_vs_fast.sign.losses) == (4, 0)


def test_summary_is_written_from_the_verdicts(folder_frame):
    analysis = st.analyze(folder_frame, n_boot=100)
    lines = lb.findings(analysis)
    # one task: no ranking across tasks is claimed
    assert lines[0].startswith("**One task**") and "no ranking across tasks" in lines[0] and "`adamw`" in lines[0]
    assert lines[1].startswith("**sparse_parity** (baseline `sgd`, 3 paired seeds)")
    assert "With 3 paired seeds no difference can be significant here." in lines[1]
    ts = analysis["sparse_parity"]
    verdict = ts.vs_baseline["adamw"].verdict
    assert (verdict == st.FASTER) == ("in steps: `adamw`" in lines[1])


def test_disagreements_between_default_and_tuned(folder_frame):
    default = st.analyze(folder_frame, n_boot=100)
    tuned = st.analyze(folder_frame, n_boot=100)
    assert lb.disagreements(default, tuned) == []
    tuned["sparse_parity"].vs_baseline["adamw"].verdict = st.FASTER
    default["sparse_parity"].vs_baseline["adamw"].verdict = st.NO_DIFF
    assert lb.disagreements(default, tuned) == [
        f"`sparse_parity` / `adamw` (steps): default settings {st.NO_DIFF}, tuned {st.FASTER}"]


def test_a_tuned_page_keeps_the_default_settings_as_its_last_section(folder, tmp_path, capsys):
    solves = {"sgd": [30, 40, 50], "adamw": [60, 70, None]}  # adamw slower than sgd here
    defaults = _write_folder(tmp_path / "defaults-results", solves, "grokbench run --methods adamw --seeds 3")
    out = tmp_path / "board"
    assert run_cli("leaderboard", str(folder), "-o", str(out), "--defaults", str(defaults)) == 0
    text = (out / "README.md").read_text()
    assert "--defaults " in text.split("\n", 3)[2]  # in the regenerate command
    main, second = text.split("\n## Default settings\n", 1)
    assert "## sparse_parity" in main and "## sparse_parity" not in second.replace("### sparse_parity", "")
    assert "### sparse_parity at default settings" in second and "[defaults/README.md](defaults/README.md)" in second
    assert "differ from those above: none." in second  # 3 seeds: no verdict is significant on either side
    page = (out / "defaults" / "README.md").read_text()
    assert page.startswith("# grokbench leaderboard") and str(defaults.name) in page
    assert (out / "defaults" / "sparse_parity_curves.png").is_file()
    run_time = next(line for line in main.splitlines() if line.startswith("| run time |"))
    assert "report runs" in run_time and "default settings" in run_time and "; total " in run_time


def test_defaults_folder_that_is_not_a_results_folder_is_a_user_error(folder, tmp_path, capsys):
    assert run_cli("leaderboard", str(folder), "-o", str(tmp_path / "b"), "--defaults", str(tmp_path / "nope")) == 2
    assert "not a grokbench results folder" in capsys.readouterr().err
    assert not (tmp_path / "b" / "README.md").exists()


def _seconds(intervals):
    return [(end - start).total_seconds() for start, end in intervals]


def test_run_time_counts_each_invocation_to_its_logged_end_else_the_last_trial_it_finished(tmp_path):
    starts = ["2026-01-01T10:00:00+00:00", "2026-01-01T12:00:00+00:00", "2026-01-01T13:00:00+00:00"]
    finishes = ["2026-01-01T10:30:00+00:00", "2026-01-01T11:15:00+00:00",  # the first invocation's last: 11:15
                "2026-01-01T12:20:00+00:00", "not a time"]  # the third finished nothing
    assert _seconds(invocation_intervals(starts[::-1], finishes)) == [75 * 60.0, 20 * 60.0, 0.0]
    ended = [None, "2026-01-01T12:50:00+00:00", "2026-01-01T13:05:00+00:00"]  # logged ends win
    assert _seconds(invocation_intervals(starts, finishes, ended)) == [75 * 60.0, 50 * 60.0, 5 * 60.0]
    lines = [{"command": "c", "time": starts[0], "run_id": "a"}, {"command": "c", "time": starts[1], "run_id": "b"},
             {"command": "logged before run ids", "time": starts[2]},
             {"ended": "2026-01-01T12:50:00+00:00", "run_id": "b"},
             {"ended": "2026-01-01T12:59:00+00:00", "run_id": "c"},  # another invocation's
             {"ended": "2026-01-01T13:30:00+00:00", "run_id": None}]  # matches no start without an id
    (tmp_path / "records").mkdir()
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert sum(_seconds(logged_intervals(Store(tmp_path).runs(), finishes))) == (75 + 50 + 0) * 60.0
    assert duration_text(95 * 60) == "1 h 35 min" and duration_text(29.4 * 60) == "29 min"
    at = [datetime(2026, 1, 1, 10, minute, tzinfo=timezone.utc) for minute in (0, 10, 20, 50)]
    tuning, report = [(at[0], at[1]), (at[2], at[3])], [(at[3], at[3] + timedelta(minutes=10))]
    field, text = run_time_row([("report runs", "R", report), ("tuning", "T", tuning), ("tuning", "U", None)])
    assert field == "run time" and "report runs 10 min (`R`); tuning 40 min (`T`); total 50 min" in text
    assert "unknown for `U`" in text and "overlapped" not in text and run_time_row([("tuning", "U", None)]) is None
    concurrent = [(at[0] + timedelta(minutes=5), at[3])]  # ran beside both tuning invocations
    _, text = run_time_row([("report runs", "R", concurrent), ("tuning", "T", tuning)])
    assert "total 1 h 25 min" in text and "overlapped" in text and "50 min elapsed while any ran" in text
    assert elapsed_seconds([(at[0], at[2]), (at[1], at[1]), (at[1], at[3])]) == 50 * 60.0


def test_the_page_writes_every_comparison_to_a_csv_and_states_what_its_seeds_detect(folder, tmp_path):
    import csv

    from grokbench.leaderboard.comparisons import COLUMNS

    text = lb.write_leaderboard(folder, tmp_path / "board", figures=False).read_text()
    with open(tmp_path / "board" / lb.COMPARISONS_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0]) == list(COLUMNS)
    vs = [r for r in rows if r["family"].endswith("vs baseline / target")]
    assert {r["threshold"] for r in rows} >= {"target"} and {r["measure"] for r in vs} == {"steps"}
    for r in rows:
        if r["p_raw"]:
            assert float(r["p_adjusted"]) == min(1.0, int(r["family_size"]) * float(r["p_raw"]))
        assert int(r["wins"]) + int(r["losses"]) + int(r["ties"]) == int(r["n"])
    n = max(int(r["n"]) for r in vs)
    assert f"{n} paired seeds" in text and ("detectable" in text)


@pytest.mark.parametrize("n, words", [(3, "no effect is detectable"), (64, "at least 75% of seeds")])
def test_detectable_effect_in_words(n, words):
    from grokbench.leaderboard.markdown import detectable_text

    assert words in detectable_text(n, st.FAMILY_SIZE)


def test_the_across_tasks_line_names_methods_that_ran_on_fewer_tasks():
    from grokbench.leaderboard.summary import profile_finding

    steps = {"a": st.Profile("a", {"t1": 1.0, "t2": 1.0}), "b": st.Profile("b", {"t1": 2.0})}
    line = profile_finding(steps, steps, [])
    assert line.startswith("**Across tasks**") and "Ran on fewer of the 2 tasks" in line and "`b` (1)" in line
    one = {"a": st.Profile("a", {"t1": 1.0})}
    assert profile_finding(one, one, []).startswith("**One task**")


def _tuned_record(method: str, seed: int, solve: int, *, lr: float, transforms: list, control: str | None = None,
                  tuned: bool = False) -> dict:
    record = _record(method, seed, solve)
    record["key"] = f"{method}-{seed}"
    record["identity"].update({"optimizer": {"name": "sgd", "params": {"lr": lr}}, "transforms": transforms})
    if control:
        record["identity"]["control"] = control
    if tuned:
        record["identity"]["tuned"] = {"config": f"{method}[lr={lr}]", "index": 0, "trials": 4, "tune_seeds": [1000]}
    return record


def _controls_folder(root: Path, seeds: int = 12) -> Path:
    """sgd the tuned baseline; egd faster than it, but the base at egd's settings is as fast
    (the gain is the settings); grokfast faster than the baseline and than the base at its
    settings, and on the tuned base faster than the baseline too (its gain survives both)."""
    parts = {"egd": [{"name": "egd", "params": {"r": 1}}], "grokfast": [{"name": "grokfast", "params": {"lamb": 2}}]}
    egd, grokfast = "egd", "grokfast"
    trials = {
        ("sgd", 0.1, "", None, True): [70] * seeds,
        ("egd", 0.5, egd, None, True): [20] * seeds,
        ("sgd[lr=0.5]", 0.5, "", st.BASE_AT_ITS_SETTINGS, False): [10, 30] * (seeds // 2),
        ("egd[lr=0.1,r=1]", 0.1, egd, st.ON_THE_TUNED_BASE, False): [40] * seeds,
        ("grokfast", 0.3, grokfast, None, True): [10] * seeds,
        ("sgd[lr=0.3]", 0.3, "", st.BASE_AT_ITS_SETTINGS, False): [50] * seeds,
        ("grokfast[lamb=2,lr=0.1]", 0.1, grokfast, st.ON_THE_TUNED_BASE, False): [30] * seeds,
    }
    (root / "records").mkdir(parents=True)
    for (method, lr, transforms, control, tuned), steps in trials.items():
        for seed, solve in enumerate(steps):
            record = _tuned_record(method, seed, solve, lr=lr, transforms=parts.get(transforms, []), control=control,
                                   tuned=tuned)
            (root / "records" / f"{record['key']}.json").write_text(json.dumps(record))
    (root / "runs.jsonl").write_text(json.dumps({"command": "grokbench run --tuned T", "time": "2026-01-01"}) + "\n")
    return root


def test_the_controls_are_matched_compared_and_on_the_page(tmp_path):
    folder = _controls_folder(tmp_path / "results")
    analysis = st.analyze(lb.load_leaderboard_frame(folder), n_boot=100)
    ts = analysis["sparse_parity"]
    alone, on_base = ts.controls[st.BASE_AT_ITS_SETTINGS], ts.controls[st.ON_THE_TUNED_BASE]
    assert {m: c.reference for m, c in alone.items()} == {"egd": "sgd[lr=0.5]", "grokfast": "sgd[lr=0.3]"}
    assert {m: c.reference for m, c in on_base.items()} == {"egd": "egd[lr=0.1,r=1]",
                                                           "grokfast": "grokfast[lamb=2,lr=0.1]"}
    assert alone["egd"].verdict == st.NO_DIFF and alone["grokfast"].verdict == st.FASTER
    assert alone["egd"].family == "sparse_parity / base at its settings / target"
    text = lb.write_leaderboard(folder, tmp_path / "board", figures=False).read_text()
    section = text.split("### sparse_parity: the controls", 1)[1].split("\n### ", 1)[0]
    header = next(line for line in section.splitlines() if line.startswith("| accelerator"))
    assert "| vs the tuned baseline | base at its settings | on the tuned base |" in header
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    assert {row.split("|")[1].strip() for row in rows} == {"egd", "grokfast"}
    with open(tmp_path / "board" / "comparisons.csv", newline="") as f:
        families = {(r["method"], r["baseline"], r["measure"]): r["family"] for r in csv.DictReader(f)}
    assert families[("egd", "sgd[lr=0.5]", "steps")] == "sparse_parity / base at its settings / target"
    assert families[("grokfast", "grokfast[lamb=2,lr=0.1]", "steps")] == "sparse_parity / on the tuned base / target"


def test_the_summary_calls_faster_only_what_survives_both_controls(tmp_path):
    analysis = st.analyze(lb.load_leaderboard_frame(_controls_folder(tmp_path / "results")), n_boot=100)
    ts = analysis["sparse_parity"]
    assert ts.vs_baseline["egd"].verdict == ts.vs_baseline["grokfast"].verdict == st.FASTER
    finding = task_finding("sparse_parity", ts)
    faster = finding.split("in steps:", 1)[1].split(";", 1)[0]
    assert "`grokfast`" in faster and "`egd`" not in faster
    assert ("`egd`: its gain over the baseline is its drawn settings: the base at those settings (`sgd[lr=0.5]`) "
            "is as fast") in finding
    ts.vs_baseline["grokfast[lamb=2,lr=0.1]"].verdict = st.NO_DIFF  # on the tuned base: no gain left
    finding = task_finding("sparse_parity", ts)
    assert "`grokfast`" not in finding.split("in steps:", 1)[1].split(";", 1)[0]
    assert "on the tuned base (`grokfast[lamb=2,lr=0.1]`) it is not faster than the baseline (n.s.)" in finding


def test_page_figures_are_palette_pngs_smaller_than_rgba(tmp_path):
    import io

    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from grokbench.leaderboard.png import COLOURS, save_figure

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for k in range(12):
        ax.plot(np.linspace(0, 1, 200) ** (1 + k / 4), label=str(k))
    ax.legend()
    rgba = io.BytesIO()
    fig.savefig(rgba, format="png")
    save_figure(fig, tmp_path / "f.png")
    plt.close(fig)
    with Image.open(tmp_path / "f.png") as image:
        assert image.mode == "P" and len(image.getcolors(COLOURS + 1)) <= COLOURS
        assert image.size == Image.open(io.BytesIO(rgba.getvalue())).size
    assert (tmp_path / "f.png").stat().st_size < len(rgba.getvalue())


def test_task_curves_figure_leaves_controls_to_their_cell_pages(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from grokbench.leaderboard import figures

    drawn = []
    monkeypatch.setattr(figures, "_draw_accuracy",
                        lambda ax, curves, column, color, label, faint: drawn.append(label) or True)
    sample = SimpleNamespace(sample=SimpleNamespace(steps_per_epoch=32))
    ts = SimpleNamespace(label="t", ranked=lambda: ["sgd", "egd", "sgd[lr=0.5]"],
                         methods={m: sample for m in ("sgd", "egd", "sgd[lr=0.5]")})
    rows = {"sgd": [{"status": "solved", "control": float("nan")}], "egd": [{"status": "solved", "control": None}],
            "sgd[lr=0.5]": [{"status": "solved", "control": "base_at_settings"}]}
    assert figures.plot_curves(ts, rows, tmp_path / "c.png", 1.0)
    assert sorted(set(drawn)) == ["egd", "sgd"] and (tmp_path / "c.png").exists()


def test_a_results_folder_notes_are_shown_on_its_page(folder, tmp_path, capsys):
    notes = folder / "NOTES.md"
    notes.write_text("Left out: the S5 task (cost).\n", encoding="utf-8")
    out = tmp_path / "board"
    try:
        assert run_cli("leaderboard", str(folder), "-o", str(out)) == 0
        text = (out / "README.md").read_text()
        assert "## Notes\n\nFrom `" in text and "NOTES.md`, the results folder's own notes.\n\nLeft out: the S5" in text
        capsys.readouterr()
        for bad in (b"  \n", b"\xff\xfe bad"):
            notes.write_bytes(bad)
            assert run_cli("leaderboard", str(folder), "-o", str(tmp_path / "c")) == 2
            err = capsys.readouterr().err
            assert "NOTES.md" in err and "Traceback" not in err
        assert not (tmp_path / "c").exists()
    finally:
        notes.unlink()


def test_controls_are_no_competitors_in_the_summary_and_the_profiles(tmp_path):
    from grokbench.leaderboard.rows import method_order

    analysis = st.analyze(lb.load_leaderboard_frame(_controls_folder(tmp_path / "results")), n_boot=100)
    ts = analysis["sparse_parity"]
    controls = {"sgd[lr=0.5]", "sgd[lr=0.3]", "egd[lr=0.1,r=1]", "grokfast[lamb=2,lr=0.1]"}
    assert ts.control_labels() == controls and ts.named() == ["grokfast", "egd", "sgd"]
    assert ts.vs_baseline["sgd[lr=0.5]"].verdict == st.FASTER  # a control faster than the baseline ...
    finding = task_finding("sparse_parity", ts)
    lists = finding.replace("the base at those settings (`sgd[lr=0.5]`)", "")  # egd's story names its control
    assert not any(f"`{c}`" in lists for c in controls)  # ... is not called faster in the summary
    assert "The 4 control labels are left to the controls table." in finding
    steps, _ = st.performance_profiles(analysis, "steps")
    assert set(steps) == {"grokfast", "egd", "sgd"} and steps["grokfast"].ratios == {"sparse_parity": 1.0}
    assert method_order(analysis, steps) == ["grokfast", "egd", "sgd"]
