"""Exact capping of tuning studies: the rule, and a capped study's selection equal to the
uncapped study's on a small study where capping fires."""

import json
import math

import pytest
from helpers import read_records, run_cli

from grokbench import api
from grokbench.capping import Capper, CapPolicy, beyond, median_bound, over_half
from grokbench.errors import UserError
from grokbench.tuning.selection import Outcome, select

INF = math.inf
# Sparse parity made easy enough that some configurations solve within 20 epochs.
EASY_PARITY = ["--set", "sparse_parity.n=10", "--set", "sparse_parity.n_train=300",
               "--set", "sparse_parity.n_test=100", "--set", "sparse_parity.max_epochs=20",
               "--set", "sparse_parity.target=0.9"]


def test_median_bound_counts_undecided_seeds_as_unsolved():
    assert median_bound([100, 200], 3) == 200  # the third seed can only lower the median
    assert median_bound([100], 3) == INF and median_bound([], 3) == INF
    assert median_bound([100, 300, 200], 3) == 200
    assert median_bound([100, 200], 4) == INF and median_bound([100, 200, 300], 4) == 250


def test_a_seed_is_beyond_the_bound_only_once_evaluated_past_it_without_reaching_the_target():
    steps, acc = [0, 10, 20, 30], [0.5, 0.6, 0.7, 0.8]
    assert beyond(steps, acc, 0.9, 20) and beyond(steps, acc, 0.9, 30)
    assert not beyond(steps, acc, 0.9, 31)  # not yet evaluated at 31: may still solve there
    crossed = [0.5, 0.95, 0.7, 0.8]  # reached the target at 10 and fell back: that crossing may yet count
    assert not beyond(steps, crossed, 0.9, 20) and beyond(steps, crossed, 0.9, 5)
    assert not beyond([], [], 0.9, 0)


def test_more_than_half_of_the_seeds():
    assert [over_half(n, 3) for n in range(4)] == [False, False, True, True]
    assert [over_half(n, 4) for n in range(5)] == [False, False, False, True, True]


def test_capper_caps_only_configurations_that_cannot_beat_or_tie_the_incumbent():
    policy = CapPolicy(3, ("s", "s", "s", None), ((), (), (), ()), {})
    capper = Capper(policy)
    for step in (40, 50):
        capper.note(0, "solved", step)  # configuration 0: median at most 50
    far = ([0, 50, 60], [0.1, 0.2, 0.3])
    near = ([0, 50, 60], [0.1, 0.95, 0.3])  # reached the target at 50: may tie
    live = {1: [far, far, near], 2: [far, near, near], 3: [far, far, far]}
    assert capper.to_cap(live, 0.9) == {1: (50.0, "exact")}  # 2 of 3 beyond 50; 2 has one; 3 has no study
    capper.note(2, "unsolved", None)
    assert capper.to_cap({2: [far, near]}, 0.9) == {2: (50.0, "exact")}
    with_outside = Capper(CapPolicy(3, ("s",), ((INF,),), {"s": 45.0}))
    early = ([0, 40, 60], [0.1, 0.95, 0.3])  # reached the target at 40 <= 45
    assert with_outside.to_cap({0: [early, early]}, 0.9) == {}  # 1 of 3 beyond: the unsolved one outside
    assert with_outside.to_cap({0: [far, early]}, 0.9) == {0: (45.0, "exact")}  # and one live: 2 of 3
    assert with_outside.to_cap({0: [near, early]}, 0.9) == {0: (45.0, "exact")}  # near reached it only at 50 > 45
    unknown_outside = Capper(CapPolicy(3, ("s",), ((),), {"s": 45.0}))  # its third seed runs elsewhere
    assert unknown_outside.to_cap({0: [far, early]}, 0.9) == {}


def test_a_capped_configuration_is_never_selected():
    capped = Outcome(0, "a", (10.0, INF, INF), ("solved", "capped", "capped"), 20.0)
    done = Outcome(1, "b", (INF, INF, INF), ("unsolved",) * 3)
    assert capped.capped and select([capped, done]).index == 1


def _tune(folder, *extra, **options):
    """The study through the CLI, or with ``options`` (capping, give_up: no flags) through the API."""
    if options:
        return api.tune("sparse_parity", "sgd", 6, "3", folder, overrides=[v for v in EASY_PARITY if v != "--set"],
                        device="cpu", **options)
    assert run_cli("tune", "--methods", "sgd", "--trials", "6", "--tune-seeds", "3", "--out", str(folder),
                   "--quiet", *EASY_PARITY, *extra) == 0
    return json.loads((folder / "tuned.json").read_text())


def _rows(folder):
    """configuration -> its tuning.csv row, for every configuration tried."""
    lines = (folder / "tuning.csv").read_text().strip().splitlines()
    header = lines[0].split(",")
    return {row["configuration"]: row for row in (dict(zip(header, line.split(","))) for line in lines[1:])}


@pytest.fixture(scope="module")
def uncapped(tmp_path_factory):
    """The study without capping, from scratch: its tuned.json and tuning.csv rows."""
    folder = tmp_path_factory.mktemp("uncapped")
    data = _tune(folder, capping=False)
    assert "capped" not in [r["status"] for r in read_records(folder)] and not data["capping"]
    return data, _rows(folder)


@pytest.mark.parametrize("extra", [  # one cell for every configuration; a cell per configuration; cells
    ["--batch-seeds", "64"], ["--batch-seeds", "3"],  # drawn by a pool's free workers, policies made as drawn
    ["--batch-seeds", "3", "--executor", "process:2"]])
def test_capped_and_uncapped_studies_select_the_same_configuration_with_the_same_medians(tmp_path, extra,
                                                                                         uncapped):
    full, full_rows = uncapped
    capped = _tune(tmp_path / "T", *extra)
    if "--executor" not in extra:  # in a pool, what is decided when a cell is drawn depends on timing
        assert "capped" in [r["status"] for r in read_records(tmp_path / "T")] and capped["capping"]  # it fired
        assert capped["effort"]["steps"] < full["effort"]["steps"]
    (a,), (b,) = capped["selected"], full["selected"]
    assert a["median_steps"] is not None  # a study where something solved
    assert (a["config"], a["index"], a["median_steps"], a["solved"]) == \
           (b["config"], b["index"], b["median_steps"], b["solved"])
    for label, row in _rows(tmp_path / "T").items():
        if row["capped_above"]:  # exact: its uncapped median is above the bound it was capped at
            assert float(full_rows[label]["median_steps"] or INF) > float(row["capped_above"])
        else:
            assert row["median_steps"] == full_rows[label]["median_steps"]


def test_no_capping_trains_a_capped_studys_capped_trials_to_the_end(tmp_path, uncapped):
    _tune(tmp_path / "T")
    again = _tune(tmp_path / "T", capping=False)
    assert "capped" not in [r["status"] for r in read_records(tmp_path / "T")]
    assert _rows(tmp_path / "T") == uncapped[1] and again["effort"]["steps"] == uncapped[0]["effort"]["steps"]


def test_give_up_stops_a_study_where_nothing_reached_the_target_at_its_fraction_of_the_budget():
    flat = ([0, 40, 50], [0.1, 0.2, 0.3])
    touched = ([0, 40, 50], [0.1, 0.95, 0.3])  # reached the target once: it may yet solve
    capper = Capper(CapPolicy(3, ("s", "s", "t"), ((), (), ()), {}, give_up=0.5))
    assert capper.to_cap({0: [flat], 1: [flat]}, 0.9, step=40, max_steps=100) == {}
    assert capper.to_cap({0: [flat], 1: [flat], 2: [flat]}, 0.9, step=50, max_steps=100) == \
        {0: (None, "give-up"), 1: (None, "give-up"), 2: (None, "give-up")}
    assert capper.to_cap({0: [flat], 1: [touched], 2: [flat]}, 0.9, step=50, max_steps=100) == \
        {2: (None, "give-up")}  # study s has a trial at the target
    solved_elsewhere = Capper(CapPolicy(3, ("s",), ((),), {}, give_up=0.5, reached=frozenset({"s"})))
    assert solved_elsewhere.to_cap({0: [flat]}, 0.9, step=50, max_steps=100) == {}
    assert Capper(CapPolicy(3, ("s",), ((),), {})).to_cap({0: [flat]}, 0.9, step=99, max_steps=100) == {}  # off


def test_a_study_where_nothing_solves_gives_up_and_keeps_the_defaults(tmp_path, tiny_parity):
    api.tune("sparse_parity", "sgd", 2, "3", tmp_path / "T", overrides=tiny_parity[1::2], device="cpu", give_up=0.5)
    records = read_records(tmp_path / "T")
    assert all(r["status"] == "capped" and r["metrics"]["capping_give_up"] == 0.5 for r in records)
    assert all(r["curve"]["step"][-1] < r["budget"]["budget_steps"] for r in records)
    data = json.loads((tmp_path / "T" / "tuned.json").read_text())
    assert data["selected"][0]["config"] == "sgd" and data["effort"]["gave_up"] == len(records) == 9
    assert "give-up (`give_up=0.5`, not exact)" in (tmp_path / "T" / "tuning.md").read_text()
    with pytest.raises(UserError, match="give_up must be a fraction"):
        api.tune(out=tmp_path / "U", give_up=2)


def test_a_settled_solve_counts_once_whether_noted_early_or_at_its_end():
    from grokbench.capping import Capper, CapPolicy

    capper = Capper(CapPolicy(n_seeds=3, groups=("study",), known=((),)))
    capper.note_solve(0, seed=7, solve_step=130)  # its window held; its tail still watched
    capper.note(0, "solved", 130, seed=7)  # the same trial ending after its tail
    capper.note(0, "unsolved", None, seed=8)
    assert capper.steps(0) == [130.0, math.inf]
