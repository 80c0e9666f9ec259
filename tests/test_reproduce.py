"""grokbench reproduce: claim files, the verdict rule, the runner and the page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from helpers import run_cli

from grokbench import reproduce, stats
from grokbench.errors import UserError
from grokbench.plan import build_plan
from grokbench.reproduce import verdict as v
from grokbench.reproduce.claims import MethodEntry, parse_claim
from grokbench.reproduce.results import hardware_line
from grokbench.spec import parse_overrides

TINY_CLAIM = {
    "name": "tiny_egd", "title": "Tiny EGD check", "arxiv": "0000.00000",
    "claim": "EGD solves sparse parity before SGD.", "metric": "target", "unit": "epochs",
    "metric_text": "epochs to 100% test accuracy", "seeds": "0-1",
    "experiments": [{
        "id": "parity", "task": "sparse_parity", "set": ["sparse_parity.hidden=64", "sparse_parity.n_train=200", "sparse_parity.n_test=100"],
        "budget": {"cpu": {"max_epochs": 8}, "paper": {"max_epochs": 200}},
        "methods": [{"method": "sgd", "role": "baseline", "published": None},
                    {"method": "egd", "role": "EGD", "published": True}],
        "ordering": [["egd", "sgd"]],
    }],
}


def _measure(median: float, ci=None, k: int = 2, n: int = 2, budget: float = 100.0, steps=None) -> v.Measure:
    """A Measure; ``steps`` (per seed, None = not reached) gives it the sample an ordering tests."""
    sample = None
    if steps is not None:
        rows = [{"seed": i, "status": "solved" if x is not None else "unsolved", "solve_step": x,
                 "budget_steps": budget, "steps_per_epoch": 1} for i, x in enumerate(steps)]
        sample = stats.make_sample(rows, stats.TARGET)
    return v.Measure(n, k, median, ci, budget, 0, sample)


@pytest.mark.parametrize("budget", ["cpu", "paper"])
def test_every_builtin_claim_resolves_to_a_plan(budget):
    claims = reproduce.load_claims()
    assert {"grokfast", "neuralgrok", "egd_sparse", "perpgrad_stablemax", "muon"} <= set(claims)
    for claim in claims.values():
        runs, skipped = reproduce.plan_runs(claim, budget)
        assert runs or skipped
        for run in runs:
            plan = build_plan(run.task, ",".join(run.methods), run.seeds, parse_overrides(list(run.overrides)))
            assert len(plan.pairs) == len(run.methods)  # distinct variants, none added


def test_caps_lower_the_budget_and_never_raise_it():
    claim = reproduce.load_claims()["grokfast"]
    (run,), skipped = reproduce.plan_runs(claim, "cpu", reproduce.Caps(max_steps=50, seeds="0"))
    assert skipped == ["mul_baseline"]  # beyond a CPU: --budget paper only
    assert "modular_addition:grokfast.max_steps=50" in run.overrides and run.seeds == "0"
    (run,), _ = reproduce.plan_runs(claim, "cpu", reproduce.Caps(max_steps=10**9))
    assert "modular_addition:grokfast.max_steps=2000" in run.overrides
    (_, long_run), _ = reproduce.plan_runs(claim, "paper", reproduce.Caps(max_steps=50))
    assert "modular_addition:grokfast.max_steps=50" in long_run.overrides
    (_, long_run), _ = reproduce.plan_runs(claim, "paper", reproduce.Caps(max_steps=10**9))
    assert "modular_addition:grokfast.max_steps=300000" in long_run.overrides
    sparse = reproduce.load_claims()["egd_sparse"]  # budgets in epochs of 32 steps (1,000 / batch 32)
    for cap, epochs in ((100, 3), (5, 1), (10**9, 200)):
        (parity, _), _ = reproduce.plan_runs(sparse, "cpu", reproduce.Caps(max_steps=cap))
        assert parity.overrides[-1] == f"sparse_parity.max_epochs={epochs}"


@pytest.mark.parametrize("broken, message", [
    ({"metric": "t50"}, "metric must be one of"),
    ({"experiments": []}, "experiments must be a list .*at least 1"),
    ({"name": 3}, "name must be a plain name"),
])
def test_malformed_claim_is_a_user_error(broken, message):
    with pytest.raises(UserError, match=message):
        parse_claim({**TINY_CLAIM, **broken}, "x.json")


def _with_second_experiment(**fields) -> dict:
    """TINY_CLAIM with a copy of its experiment (id ``long``) carrying ``fields``."""
    claim = json.loads(json.dumps(TINY_CLAIM))
    claim["experiments"].append({**claim["experiments"][0], "id": "long", **fields})
    return claim


def test_an_experiment_s_own_seeds_override_the_claim_s_and_seeds_flag_replaces_both():
    claim = parse_claim(_with_second_experiment(seeds="0-4"), "x.json")
    assert claim.experiments[0].seeds is None and claim.experiments[1].seeds == "0-4"
    runs, _ = reproduce.plan_runs(claim, "cpu")
    assert [(r.experiment, r.seeds) for r in runs] == [("parity", "0-1"), ("long", "0-4")]
    runs, _ = reproduce.plan_runs(parse_claim(_with_second_experiment(seeds=3), "x.json"), "cpu")
    assert runs[1].seeds == "3"  # N: seeds 0..N-1, as for --seeds
    runs, _ = reproduce.plan_runs(claim, "cpu", reproduce.Caps(seeds="7"))
    assert [r.seeds for r in runs] == ["7", "7"]


@pytest.mark.parametrize("seeds, message", [
    ("3-1", r"x.json: experiments\[1\].seeds '3-1' is malformed"),
    ("a,b", r"experiments\[1\].seeds 'a,b' is malformed"),
    (0, r"experiments\[1\].seeds must be"),
    (True, r"experiments\[1\].seeds must be"),
    (["0", "1"], r"experiments\[1\].seeds must be"),
])
def test_a_malformed_experiment_seeds_is_a_user_error_naming_the_field(seeds, message):
    with pytest.raises(UserError, match=message):
        parse_claim(_with_second_experiment(seeds=seeds), "x.json")


def test_the_manifest_records_each_experiment_s_own_seeds(tmp_path: Path):
    claim = parse_claim(_with_second_experiment(seeds="0-4"), "x.json")
    runs, skipped = reproduce.plan_runs(claim, "cpu")
    reproduce.write_manifest(tmp_path, claim, runs, skipped, ["grokbench", "reproduce"])
    manifest = json.loads((tmp_path / "tiny_egd" / "reproduce.json").read_text())
    assert {k: e["seeds"] for k, e in manifest["experiments"].items()} == {"parity": "0-1", "long": "0-4"}


def test_ordering_must_name_listed_methods():
    bad = json.loads(json.dumps(TINY_CLAIM))
    bad["experiments"][0]["ordering"] = [["egd", "adamw"]]
    with pytest.raises(UserError, match="must name two of its methods"):
        parse_claim(bad, "x.json")


def test_row_rule_for_step_counts():
    entry = MethodEntry("m", "", 900)
    assert v.row_outcome(entry, _measure(1000.0)) == v.AGREES
    assert v.row_outcome(entry, _measure(1350.0)) == v.AGREES and v.row_outcome(entry, _measure(600.0)) == v.AGREES
    assert v.row_outcome(entry, _measure(1400.0)) == v.DISAGREES  # beyond a factor 1.5
    assert v.row_outcome(entry, _measure(590.0)) == v.DISAGREES
    assert v.row_outcome(entry, _measure(1400.0, ci=(850.0, 2500.0))) == v.DISAGREES  # an interval no longer saves it
    assert v.row_outcome(entry, _measure(math.inf, k=0, budget=1300)) == v.CENSORED  # 1.5 x 900 > budget
    assert v.row_outcome(entry, _measure(math.inf, k=0, budget=1350)) == v.DISAGREES
    assert v.row_outcome(entry, _measure(1000.0), comparable=False) == v.SHOWN


def test_row_rule_for_solved_or_not():
    reaches, never = MethodEntry("m", "", True), MethodEntry("m", "", False)
    assert v.row_outcome(reaches, _measure(10.0)) == v.AGREES
    assert v.row_outcome(reaches, _measure(math.inf, k=0)) == v.CENSORED
    assert v.row_outcome(never, _measure(math.inf, k=0)) == v.AGREES
    assert v.row_outcome(never, _measure(math.inf, k=1)) == v.DISAGREES
    assert v.row_outcome(MethodEntry("m", "", None), _measure(10.0)) == v.SHOWN


def test_ordering_and_claim_verdict():
    six_faster = _measure(10.0, n=6, k=6, steps=[10, 9, 11, 10, 12, 8])  # paired p = 2/64 < 0.05
    six_slower = _measure(30.0, n=6, k=6, steps=[30, 29, 31, 30, 32, 28])
    assert v.ordering_outcome(six_faster, six_slower) == v.HOLDS
    two_faster = _measure(10.0, steps=[10, 9])  # ahead on both seeds, but p = 0.5
    assert v.ordering_outcome(two_faster, _measure(30.0, steps=[30, 29])) == v.NOT_SIGNIFICANT
    assert v.ordering_outcome(_measure(10.0), _measure(10.0)) == v.VIOLATED
    assert v.ordering_outcome(_measure(math.inf, k=0), _measure(math.inf, k=0)) == v.CENSORED
    claim = parse_claim(TINY_CLAIM, "x.json")
    assert v.judge(claim, {"parity": {"egd": six_faster, "sgd": six_slower}}, []).verdict == v.REPRODUCED
    assert v.judge(claim, {"parity": {"egd": six_slower, "sgd": six_faster}}, []).verdict == v.NOT_REPRODUCED
    weak = v.judge(claim, {"parity": {"egd": two_faster, "sgd": _measure(30.0, steps=[30, 29])}}, [])
    assert weak.verdict == v.INCONCLUSIVE and "not significant" in weak.reason
    two_seeds = _measure(10.0, n=2, k=2, steps=[10, 9])
    result = v.judge(claim, {"parity": {"egd": two_seeds, "sgd": six_slower}}, [])
    assert result.verdict == v.INCONCLUSIVE and "fewer than 3 seeds" in result.reason
    assert v.judge(claim, {}, []).verdict == v.NOT_RUN


def test_reproduce_runs_resumes_and_rebuilds_the_page(tmp_path: Path):
    claim_file = tmp_path / "tiny.json"
    claim_file.write_text(json.dumps(TINY_CLAIM))
    out, page = tmp_path / "res", tmp_path / "REPRODUCTIONS.md"
    args = ["reproduce", "tiny_egd", str(claim_file), "--out", str(out), "--page", str(page),
            "--quiet", "--device", "cpu"]
    assert run_cli(*args) == 0
    records = sorted((out / "tiny_egd" / "parity" / "records").glob("*.json*"))
    assert len(records) == 4
    manifest = json.loads((out / "tiny_egd" / "reproduce.json").read_text())
    assert manifest["experiments"]["parity"]["set"][-1] == "sparse_parity.max_epochs=8"
    text = page.read_text()
    section = text[text.index("## tiny_egd"):]
    assert "| `egd` | EGD | reaches it |" in section and "/2 |" in section
    assert "Ordering `egd` before `sgd`" in section and "**Verdict: " in section
    assert "Ran on: 4 trials on cpu (" in section
    assert "| grokfast | arXiv 2405.20233 | not run |" in text
    mtimes = [p.stat().st_mtime_ns for p in records]
    assert run_cli(*args) == 0  # resumes: nothing trains again
    assert [p.stat().st_mtime_ns for p in records] == mtimes
    page.unlink()
    assert run_cli("reproduce", "--page-only", str(claim_file), "--out", str(out),
                   "--page", str(page)) == 0
    rebuilt = page.read_text()
    assert rebuilt[rebuilt.index("## tiny_egd"):rebuilt.index("Budget:")] == \
        section[:section.index("Budget:")]


def test_an_experiment_added_after_the_run_keeps_the_claim_from_passing(tmp_path: Path):
    """A claim file that grew since its run: the new experiment shows with no records and
    the verdict cannot be "reproduced" until it runs; one its budget skips is listed as not run."""
    claim = json.loads(json.dumps(TINY_CLAIM))
    claim["experiments"][0]["methods"][0]["published"] = True  # both rows judged: sgd reaches it too
    claim_file, out, page = tmp_path / "tiny.json", tmp_path / "res", tmp_path / "R.md"
    claim_file.write_text(json.dumps(claim))
    args = [str(claim_file), "--out", str(out), "--page", str(page)]
    assert run_cli("reproduce", "tiny_egd", *args, "--quiet", "--device", "cpu") == 0
    later = {**claim["experiments"][0], "id": "later"}
    paper_only = {**claim["experiments"][0], "id": "paper_only", "budget": {"cpu": None, "paper": {}}}
    claim_file.write_text(json.dumps({**claim, "experiments": [*claim["experiments"], later, paper_only]}))
    assert run_cli("reproduce", "--page-only", *args) == 0
    section = page.read_text().split("## tiny_egd", 1)[1]
    assert "**later**" in section and "| `egd` | EGD | reaches it | no records | - | - | no records |" in section
    assert "**Verdict: inconclusive at this budget** (" in section and "no records: later/sgd; later/egd" in section
    assert "Not run at this budget: paper_only" in section


def test_reproduce_bad_input_is_one_line(tmp_path: Path, capsys):
    assert run_cli("reproduce", "nope", "--out", str(tmp_path)) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert run_cli("reproduce", "grokfast", "--max-steps", "0", "--out", str(tmp_path)) == 2


def test_the_hardware_line_counts_devices_and_names_where_resumed_trials_began():
    rows = pd.DataFrame([
        {"device": "cpu", "device_name": "EPYC", "resumed_at_steps": [54000], "resumed_devices": ["cuda (H200)"]},
        {"device": "cpu", "device_name": "EPYC", "resumed_at_steps": [54000], "resumed_devices": None},
        {"device": "cuda", "device_name": "H200", "resumed_at_steps": None, "resumed_devices": None},
    ])
    assert hardware_line(rows) == (
        "2 trials on cpu (EPYC); 1 trial on cuda (H200); "
        "1 resumed from checkpoints: at step 54,000 (trained on a device not recorded until then); "
        "1 resumed from checkpoints: at step 54,000 (trained on cuda (H200) until then)")
    assert hardware_line(rows.iloc[:0]) == hardware_line(None) == ""
