"""Tuning: search spaces, reproducible proposals, the selection rule, tuned runs and their
refusals, and the leaderboard's provenance rows."""

import json
import math

import pytest
from helpers import read_records, run_cli, study_request

from grokbench import registry
from grokbench.errors import UserError
from grokbench.method import Optimizer
from grokbench.plan import build_plan
from grokbench.record import Record
from grokbench.spec import parse_overrides, resolve_task
from grokbench.tuning import Choice, Linear, Log, provenance_rows, selected_rows, study_curves
from grokbench.tuning.driver import FORMAT, build_study
from grokbench.tuning.proposals import propose, tuned_axes
from grokbench.tuning.selection import Outcome, outcome, select
from grokbench.tuning.tuned import apply_tuned

BUILTIN_METHODS = ["sgd", "adam", "adamw", "muon", "lion", "egd", "sketched_egd", "grokfast", "grokfast_ma",
                   "neuralgrok", "perpgrad", "normgrad", "wnclip"]


@pytest.fixture
def parity():
    return resolve_task("sparse_parity", {})


@pytest.mark.parametrize("name", BUILTIN_METHODS)
def test_every_builtin_method_declares_a_search_space_of_its_own_parameters(name):
    cls = registry.get_method(name)
    space = cls.__dict__.get("search_space")
    assert isinstance(space, dict), f"{name} declares no search_space"
    assert set(space) <= set(cls.defaults)
    if issubclass(cls, Optimizer):
        assert {"lr", "weight_decay"} <= set(space)
        assert space["weight_decay"].zero > 0  # exactly 0 is a possible weight decay


def test_dimensions_map_the_unit_interval_into_their_range():
    wd = Log(1e-4, 0.1, zero=0.25)
    assert wd.value(0.0) == 0.0 and wd.value(0.2499) == 0.0
    assert wd.value(0.25) == pytest.approx(1e-4) and wd.value(0.9999) == pytest.approx(0.1, rel=1e-2)
    values = [Log(1e-3, 1.0).value(u / 100) for u in range(100)]
    assert all(1e-3 <= v <= 1.0 for v in values) and values == sorted(values)
    assert Log(10, 200, integer=True).value(0.5) == 45 and isinstance(Log(10, 200, integer=True).value(0.5), int)
    assert Linear(0.8, 0.99).value(0.5) == pytest.approx(0.895)
    assert [Choice((None, 1e-6, 1e-3)).value(u) for u in (0.0, 0.5, 0.999)] == [None, 1e-6, 1e-3]


def test_a_chains_space_is_its_parts_and_its_base_less_what_the_label_fixes(parity):
    stack = {a.name for a in tuned_axes("grokfast+egd", parity, {})}
    assert stack == {"grokfast.alpha", "grokfast.lamb", "egd.rank_rtol", "sgd.lr", "sgd.weight_decay"}
    fixed = {a.name for a in tuned_axes("adamw[weight_decay=0]", parity, {})}
    assert fixed == {"adamw.lr"}


def test_proposals_are_reproducible_and_resolve_like_written_variants(parity):
    first = [p.label for p in propose("egd", parity, {}, 6)]
    again = [p.label for p in propose("egd", parity, {}, 6)]
    assert first == again and len(set(first)) == 7
    assert all(label.startswith("egd[") for label in first[:6]) and first[6] == "egd"  # K points, then its own
    other_task = [p.label for p in propose("egd", resolve_task("sparse_sum", {}), {}, 6)]
    assert other_task != first  # scrambled per (task, method)
    p = propose("grokfast+egd@adamw", parity, {}, 2)[1]
    assert p.spec.optimizer.name == "adamw" and p.spec.optimizer.params["lr"] == p.values["adamw.lr"]
    assert p.spec.transforms[0].params["lamb"] == p.values["grokfast.lamb"]


def test_the_last_configuration_is_the_method_as_labelled(parity):
    *drawn, own = propose("adamw[weight_decay=0]", parity, {}, 4)
    assert (own.index, own.label) == (4, "adamw[weight_decay=0]") and len(drawn) == 4
    assert own.values == {"adamw.lr": own.spec.optimizer.params["lr"]}  # the label fixes weight_decay
    assert own.space == drawn[0].space


def test_a_method_with_nothing_to_tune_gets_one_configuration(parity, monkeypatch):
    monkeypatch.setattr(registry.get_method("sgd"), "search_space", {})
    proposals = propose("normgrad", parity, {}, 8)
    assert [p.label for p in proposals] == ["normgrad"]


def _outcome(index, steps):
    return Outcome(index, f"c{index}", tuple(steps), ())


def test_selection_is_censoring_aware_then_by_solves_then_defaults_then_index():
    inf = math.inf
    assert select([_outcome(0, [100, 200, inf]), _outcome(1, [150, 150, 150])]).index == 1  # 200 > 150
    assert select([_outcome(0, [100, 120, inf]), _outcome(1, [150, 150, 150])]).index == 0  # 120 < 150
    assert select([_outcome(0, [300, 300, 300]), _outcome(1, [100, inf, inf])]).index == 0  # median inf loses
    assert select([_outcome(0, [inf, inf, inf]), _outcome(1, [500, inf, inf])]).index == 1  # tie inf: solves
    assert select([_outcome(2, [100, 100]), _outcome(1, [100, 100])]).index == 1  # full tie: lower index
    nothing = [_outcome(i, [inf, inf, inf]) for i in range(4)]
    assert select(nothing, default_index=3).index == 3  # full tie: the method's defaults first
    assert select([_outcome(0, [90, 90]), _outcome(1, [100, 100])], default_index=1).index == 0  # only on ties
    assert _outcome(0, [100, inf]).median_steps == inf


def test_outcome_counts_only_solved_records():
    def record(seed, status, step):
        return Record(key=str(seed), identity={"task": "t", "method": "m", "seed": seed}, status=status,
                      metrics={"solve_step": step})
    got = outcome(3, "m", [record(2, "diverged", None), record(1, "solved", 40), record(0, "unsolved", 99)])
    assert got.steps == (math.inf, 40.0, math.inf) and got.solved == 1 and got.median_steps == math.inf


def _tuned_file(folder, seeds=(1000, 1001)):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tuned.json").write_text(json.dumps({"format": FORMAT, "trials": 2, "tune_seeds": list(seeds),
                                                    "selected": []}))


def test_report_seeds_that_overlap_the_tuning_seeds_are_refused(tmp_path):
    _tuned_file(tmp_path / "T")
    plan = build_plan("sparse_parity", "sgd", "999-1000", {})
    with pytest.raises(UserError, match="overlap the tuning seeds"):
        apply_tuned(plan, tmp_path / "T", {})
    with pytest.raises(UserError, match="no configuration for sparse_parity / sgd"):
        apply_tuned(build_plan("sparse_parity", "sgd", "3", {}), tmp_path / "T", {})
    with pytest.raises(UserError, match="no tuned.json"):
        apply_tuned(plan, tmp_path / "nothing", {})


def test_bad_tuning_input_is_one_line(tmp_path, capsys):
    assert run_cli("tune", "--trials", "0", "--out", str(tmp_path / "T")) == 2
    assert run_cli("tune", "--methods", "sgd[lr=x]", "--out", str(tmp_path / "T")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--trials must be a whole number >= 1" in err[0] and "expected a number" in err[1]


def test_study_includes_the_baseline_with_the_same_budget(parity):
    study = build_study("sparse_parity", "egd", 3, "1000-1001", {})
    assert {m for _, m in study.groups()} == {"sgd", "egd"}
    assert all(len(group) == 4 for group in study.groups().values())  # 3 drawn and its own
    assert study.plan.seeds == (1000, 1001) and study.plan.n_trials == 16


def test_tune_then_run_tuned_carries_the_selected_configuration(tmp_path, tiny_parity, capsys):
    tuning, results = tmp_path / "T", tmp_path / "R"
    rc = run_cli("tune", "--methods", "sgd", "--trials", "2", "--tune-seeds", "1", "--out", str(tuning),
                 "--quiet", *tiny_parity)
    assert rc == 0
    data = json.loads((tuning / "tuned.json").read_text())
    (entry,) = data["selected"]
    assert data["trials"] == 2 and data["tune_seeds"] == [1000] and data["with_default"]
    assert entry["config"].startswith("sgd") and entry["index"] in (0, 1, 2)
    assert "| 2 | `sgd` |" in (tuning / "tuning.md").read_text()
    assert len((tuning / "tuning.csv").read_text().splitlines()) == 4
    assert len(read_records(tuning)) == 3  # ordinary records, one per configuration and seed
    rc = run_cli("run", "--methods", "sgd", "--tuned", str(tuning), "--seeds", "1", "--out", str(results),
                 "--quiet", "--no-calibrate", *tiny_parity)
    assert rc == 0
    (record,) = read_records(results)
    assert record["identity"]["method"] == "sgd"
    tuned = record["identity"]["tuned"]
    assert tuned["config"] == entry["config"] and tuned["index"] == entry["index"]
    assert tuned["trials"] == 2 and tuned["tune_seeds"] == [1000] and "folder" not in tuned
    assert record["provenance"] == {"tuned_from": str(tuning)}  # where it came from, outside the identity
    assert record["identity"]["optimizer"]["params"]["lr"] == entry["optimizer"]["params"]["lr"]
    assert run_cli("leaderboard", str(results), "-o", str(tmp_path / "board")) == 0
    page = (tmp_path / "board" / "README.md").read_text()
    (tune_row,) = [line for line in page.splitlines() if line.startswith("| tuning command |")]
    assert "`grokbench tune --methods sgd --trials 2" in tune_row  # the page names the study's command
    figure = "sparse_parity_tuning_curve.png"  # the study's tuning curve, drawn from its tuned.json
    assert (tmp_path / "board" / figure).stat().st_size > 0
    assert figure in json.loads((tmp_path / "board" / ".grokbench-leaderboard.json").read_text())["files"]
    assert f"### sparse_parity: tuning curve\n\n![sparse_parity: tuning curve]({figure})" in page
    (curve,) = study_curves([{**read_records(results)[0]["identity"], "tuned_from": str(tuning)}]).values()
    assert [p.k for p in curve["sgd"]] == [0, 1, 2]
    last = curve["sgd"][-1]  # after all K draws, every order chooses the study's selection
    assert last.median == last.p10 == last.p90 == (entry["median_steps"] or math.inf)
    capsys.readouterr()
    assert run_cli("run", "--methods", "sgd", "--seeds", "1", "--out", str(results), "--quiet", *tiny_parity) == 2
    assert "another configuration" in capsys.readouterr().err
    assert run_cli("run", "--methods", "sgd", "--tuned", str(tuning), "--seeds", "1", "--out", str(tmp_path / "X"),
                   "--quiet") == 2  # other task settings than the tuning's
    assert "than when it was tuned" in capsys.readouterr().err


def test_provenance_rows_state_the_budget_spaces_and_choices():
    tuned = {"config": "sgd[lr=0.3]", "index": 4, "trials": 8, "tune_seeds": [1000, 1001, 1002],
             "space": {"sgd.lr": "log [0.001, 1]"}}
    other = {**tuned, "config": "sgd", "index": 4, "trials": 4, "with_default": True}
    identities = [{"task": "sparse_parity", "method": "sgd", "tuned": tuned, "tuned_from": "T"},
                  {"task": "sparse_parity", "preset": "k5", "method": "sgd", "tuned": tuned, "tuned_from": "T"},
                  {"task": "modular_addition", "method": "sgd", "tuned": other, "tuned_from": "U"}]
    rows = dict(provenance_rows(identities))
    assert "K = 8" in rows["tuning"] and "1000–1002" in rows["tuning"]
    assert "`T` (sparse_parity, sparse_parity:k5)" in rows["tuning"]
    assert "K = 4 quasi-random configurations per (task, method) and each method's defaults" in rows["tuning"]
    assert "`U` (modular_addition)" in rows["tuning"]
    assert rows["search spaces"] == "sgd.lr log [0.001, 1]"
    assert rows["tuned settings"].startswith("3 (task, method) pairs, 1 of them at the method's defaults")
    assert selected_rows(identities) == [
        {"task": "modular_addition", "method": "`sgd`", "configuration": "`sgd`", "selected": "its defaults"},
        {"task": "sparse_parity", "method": "`sgd`", "configuration": "`sgd[lr=0.3]`",
         "selected": "configuration 4 of 8"},
        {"task": "sparse_parity:k5", "method": "`sgd`", "configuration": "`sgd[lr=0.3]`",
         "selected": "configuration 4 of 8"}]
    assert provenance_rows([{"task": "t", "method": "m"}]) == [] == selected_rows([{"task": "t", "method": "m"}])
    nan = float("nan")  # frame rows of untuned records
    assert provenance_rows([{"task": "t", "preset": nan, "method": "m", "tuned": nan}]) == []


def test_overrides_reach_the_proposals(parity):
    overrides = parse_overrides(["egd.solver=svd"])
    assert all(p.spec.transforms[0].params["solver"] == "svd" for p in propose("egd", parity, overrides, 2))


def test_a_bare_tuning_seed_count_starts_at_1000():
    from grokbench.tuning.driver import parse_tune_seeds

    assert parse_tune_seeds("3") == [1000, 1001, 1002]
    assert parse_tune_seeds("5-6") == [5, 6] and parse_tune_seeds("7,9") == [7, 9]


def test_configuration_i_of_every_method_on_a_task_is_point_i_of_one_sequence(parity):
    from grokbench.tuning.proposals import SHARED_SETTINGS, coordinates, task_points

    k = 6
    sgd, egd, adamw = (propose(m, parity, {}, k)[:k] for m in ("sgd", "egd", "adamw"))
    grokfast = propose("grokfast", parity, {}, k)[:k]
    points = task_points(parity, k)
    sgd_lr, adamw_lr = registry.get_method("sgd").search_space["lr"], registry.get_method("adamw").search_space["lr"]
    for i in range(k):
        assert egd[i].values["sgd.lr"] == sgd[i].values["sgd.lr"]  # the same setting, the same value
        assert egd[i].values["sgd.weight_decay"] == sgd[i].values["sgd.weight_decay"]
        assert grokfast[i].values["sgd.lr"] == sgd[i].values["sgd.lr"]
        # another base's lr: the same coordinate through its own range (values are rounded to 3 digits)
        assert sgd_lr.position(sgd[i].values["sgd.lr"]) == pytest.approx(points[i][0], abs=0.01)
        assert adamw_lr.position(adamw[i].values["adamw.lr"]) == pytest.approx(points[i][0], abs=0.01)
        # a method's own knobs take the coordinates after the shared ones
        alpha = Linear(0.8, 0.99).value(float(points[i][len(SHARED_SETTINGS)]))
        assert grokfast[i].values["grokfast.alpha"] == alpha
    axes = tuned_axes("grokfast+egd@adamw", parity, {})
    assert dict(zip((a.name for a in axes), coordinates(axes))) == {
        "grokfast.alpha": 3, "grokfast.lamb": 4, "egd.rank_rtol": 5, "adamw.lr": 0, "adamw.weight_decay": 1}
    other = task_points(resolve_task("sparse_sum", {}), k)
    assert (other != points).any()  # one sequence per task


def test_selected_values_at_the_edge_of_their_range_are_flagged(parity):
    from grokbench.tuning.driver import edges
    from grokbench.tuning.space import at_edge

    lr = Log(1e-3, 10.0, zero=0.25)
    assert at_edge(lr, 9.0) == "high" and at_edge(lr, 1.2e-3) == "low" and at_edge(lr, 0.1) is None
    assert at_edge(lr, 0.0) is None and at_edge(Choice((None, 1e-6)), 1e-6) is None  # no edge
    assert at_edge(Linear(0.8, 0.99), 0.985) == "high"
    chosen = propose("sgd[lr=9]", parity, {}, 2)[-1]  # the method as labelled: lr fixed, weight decay tuned
    assert edges(chosen) == []
    drawn = propose("sgd", parity, {}, 2)[0]
    drawn = type(drawn)(**{**drawn.__dict__, "values": {"sgd.lr": 9.5, "sgd.weight_decay": 0.0}})
    assert edges(drawn) == ["sgd.lr (high)"]


def test_a_tuning_curve_starts_at_the_defaults_and_ends_at_the_selection():
    from grokbench.tuning.curves import curve_lines, tuning_curve

    inf = math.inf
    outcomes = [_outcome(i, [m, m, m]) for i, m in enumerate([400, inf, 100, 300, 200])]
    outcomes.append(_outcome(5, [500, 500, 500]))  # the defaults
    curve = tuning_curve(outcomes, default_index=5)
    assert [p.k for p in curve] == [0, 1, 2, 4, 5]
    assert curve[0].median == 500 and curve[-1].median == curve[-1].p90 == 100
    assert all(a.median >= b.median for a, b in zip(curve, curve[1:])) and not any(p.bounded for p in curve)
    assert curve[1].p10 == 100 and curve[1].p90 == 500  # one draw: any of them, or none better than the defaults
    capped = Outcome(6, "c6", (inf, inf, inf), ("capped",) * 3, 150.0)
    with_cap = tuning_curve([*outcomes, capped], default_index=5)
    assert with_cap[-1].median == 100 and with_cap[-1].bounded == 0  # at K: exact
    assert any(p.bounded for p in with_cap[1:-1])  # earlier, the capped one (> 150) might have been best
    assert "Tuning curve" in "\n".join(curve_lines(curve, 5))


def _tune_and_run(tmp_path, tiny_parity, *extra: str) -> tuple[dict, list[dict]]:
    tuning, results = tmp_path / "T", tmp_path / "R"
    assert run_cli("tune", "--methods", "grokfast", "--trials", "2", "--tune-seeds", "1", "--out", str(tuning),
                   "--quiet", *tiny_parity) == 0
    assert run_cli("run", "--methods", "grokfast", "--tuned", str(tuning), "--seeds", "1", "--out", str(results),
                   "--quiet", "--no-calibrate", *extra, *tiny_parity) == 0
    data = json.loads((tuning / "tuned.json").read_text())
    return {e["method"]: e for e in data["selected"]}, read_records(results)


def test_a_tuned_run_runs_each_accelerators_two_controls(tmp_path, tiny_parity):
    selected, records = _tune_and_run(tmp_path, tiny_parity)
    by_role = {r["identity"].get("control"): r["identity"] for r in records}
    assert set(by_role) == {None, "base at its settings", "on the tuned base"} and len(records) == 4
    acc, base = selected["grokfast"], selected["sgd"]
    alone = by_role["base at its settings"]
    assert alone["transforms"] == [] and alone["method"].startswith("sgd[") and "tuned" not in alone
    assert alone["optimizer"]["params"] == acc["optimizer"]["params"]  # the accelerator's base settings
    on_base = by_role["on the tuned base"]
    assert on_base["optimizer"]["params"] == base["optimizer"]["params"]  # the tuned baseline's
    assert [t["params"] for t in on_base["transforms"]] == [t["params"] for t in acc["transforms"]]


def test_no_controls_runs_none(tmp_path, tiny_parity):
    tuning, results = tmp_path / "T", tmp_path / "R"
    assert run_cli("tune", "--methods", "grokfast", "--trials", "2", "--tune-seeds", "1", "--out", str(tuning),
                   "--quiet", *tiny_parity) == 0
    path = study_request(results, "grokfast", "1", tiny_parity, tuned=str(tuning), controls=False)
    assert run_cli("run", path, "--quiet", "--no-calibrate") == 0
    records = read_records(results)
    assert len(records) == 2 and not any("control" in r["identity"] for r in records)


def test_trials_auto_takes_the_tasks_own_k_and_a_number_still_works(capsys):
    from grokbench.cli_args import _trials
    from grokbench.tuning.driver import auto_trials

    assert auto_trials("sparse_parity") == auto_trials("sparse_sum") == 32
    assert auto_trials("modular_addition,power_ops") == 16 and auto_trials("modular_addition,sparse_parity") == 32
    assert _trials("auto") == "auto" and _trials("12") == 12
    assert run_cli("tune", "--trials", "abc", "--out", "x") == 2 and "--trials" in capsys.readouterr().err


def test_a_widened_range_keeps_the_declared_points_inside_it_and_covers_the_rest(parity):
    declared = propose("sgd", parity, {}, 8)
    widened = propose("sgd", parity, {}, 8, {"sgd.lr": (1e-7, 10.0)})  # declared: log [0.001, 10]
    assert [p.label for p in widened[:9]] == [p.label for p in declared]  # the same trials: their records stay
    extra = widened[9:]
    assert extra and all(p.index > 8 and p.values["sgd.lr"] < 1e-3 for p in extra)
    assert len({p.label for p in widened}) == len(widened)
    assert all(p.space["sgd.lr"] == "log [1e-07, 10]" for p in widened)
    narrowed = propose("sgd", parity, {}, 8, {"sgd.lr": (0.01, 1.0)})
    assert {p.label for p in narrowed} < {p.label for p in declared}
    assert all(0.01 <= p.values["sgd.lr"] <= 1.0 for p in narrowed if p.index < 8)


def test_a_bad_search_range_is_one_line(parity):
    for setting, message in [("sgd.momentum=1..2", "searches no momentum"), ("sgd.lr=1..x", "malformed"),
                             ("sgd.lr=2..1", "LO < HI"), ("sgd.lr=0..1", "above 0"),
                             ("adamw.lr=1e-4..1", "no method of this study searches adamw.lr")]:
        with pytest.raises(UserError, match=message):
            build_study("sparse_parity", "sgd", 2, "1", parse_overrides([setting]))


def test_a_study_widens_a_range_and_continues_with_every_record(tmp_path, tiny_parity):
    tuning = tmp_path / "T"
    args = ["tune", "--methods", "sgd", "--trials", "2", "--tune-seeds", "2", "--out", str(tuning), "--quiet",
            *tiny_parity]
    assert run_cli(*args) == 0
    before = {r["key"]: r for r in read_records(tuning)}
    assert run_cli(*args, "--set", "sgd.lr=1e-7..10") == 0
    after = {r["key"]: r for r in read_records(tuning)}
    added = [after[k] for k in after.keys() - before.keys()]
    assert all(after[k] == before[k] for k in before)  # kept as they were, not trained again
    task = resolve_task("sparse_parity", parse_overrides([v for v in tiny_parity if v != "--set"]))
    extra = propose("sgd", task, {}, 2, {"sgd.lr": (1e-7, 10.0)})[3:]
    assert extra and len(added) == 2 * len(extra)
    assert {r["identity"]["method"] for r in added} == {p.label for p in extra}
    data = json.loads((tuning / "tuned.json").read_text())
    assert data["ranges"] == {"sgd.lr": "log [1e-07, 10]"} and data["widening"] == max(p.index for p in extra) - 2
    assert data["selected"][0]["effort"]["trials"] == len(after)  # the selection is over all of them
    assert len((tuning / "tuning.csv").read_text().splitlines()) == 1 + 3 + len(extra)
