"""Configured variants in the method grammar: ``sgd[lr=0.2]``, grids, routing, errors."""

import pytest
from helpers import read_records, run_cli

from grokbench.plan import build_plan
from grokbench.spec import (
    expand_methods,
    parse_overrides,
    resolve_method,
    resolve_task,
    trial_identity,
)
from grokbench.variants import expand_label, format_value, split_top_level, strip_settings


@pytest.fixture
def parity():
    return resolve_task("sparse_parity", {})


def test_commas_inside_brackets_and_parentheses_belong_to_the_label():
    text = "sgd[lr=0.1,0.2],adamw[betas=(0.9,0.98)],egd"
    assert split_top_level(text, ",") == ["sgd[lr=0.1,0.2]", "adamw[betas=(0.9,0.98)]", "egd"]
    assert expand_methods(text) == ["sgd[lr=0.1]", "sgd[lr=0.2]", "adamw[betas=(0.9,0.98)]", "egd"]


def test_lists_expand_to_the_cartesian_product_in_written_order():
    labels = expand_label("adamw[lr=1e-3,1e-2,weight_decay=0,0.1,1]")
    assert len(labels) == 6
    assert labels[:3] == ["adamw[lr=1e-3,weight_decay=0]", "adamw[lr=1e-3,weight_decay=0.1]",
                          "adamw[lr=1e-3,weight_decay=1]"]
    stacked = expand_label("grokfast[lamb=1,5]+egd@sgd[lr=0.1,0.2]")
    assert stacked == ["grokfast[lamb=1]+egd@sgd[lr=0.1]", "grokfast[lamb=1]+egd@sgd[lr=0.2]",
                       "grokfast[lamb=5]+egd@sgd[lr=0.1]", "grokfast[lamb=5]+egd@sgd[lr=0.2]"]
    assert expand_label("adamw[betas=(0.9,0.98),(0.9,0.999)]") == [
        "adamw[betas=(0.9,0.98)]", "adamw[betas=(0.9,0.999)]"]


def test_a_setting_goes_to_its_part_else_to_the_base(parity):
    egd = resolve_method("egd[lr=0.05]@adamw", parity, {})
    assert egd.optimizer.params["lr"] == 0.05 and egd.base == "adamw"
    own = resolve_method("egd[eps=1e-6]@adamw", parity, {})  # both have eps: the part it is written on
    assert own.transforms[0].params["eps"] == 1e-6 and own.optimizer.params["eps"] == 1e-8
    base = resolve_method("egd[adamw.eps=1e-6]@adamw", parity, {})
    assert base.optimizer.params["eps"] == 1e-6 and base.transforms[0].params["eps"] == 1e-8
    after = resolve_method("egd@adamw[weight_decay=0]", parity, {})
    assert after.optimizer.params["weight_decay"] == 0.0 and after.label == "egd@adamw[weight_decay=0]"


def test_presets_stacks_and_tuples_take_settings(parity):
    paper = resolve_method("grokfast:paper[lamb=5]", parity, {})
    assert paper.base == "adam" and paper.optimizer.params["weight_decay"] == 0.005
    assert paper.transforms[0].params == {"alpha": 0.98, "lamb": 5.0}
    stack = resolve_method("grokfast[lamb=5]+egd", parity, {})
    assert stack.parts == ("grokfast[lamb=5]", "egd")
    assert stack.transforms[0].params["lamb"] == 5.0
    betas = resolve_method("adamw[betas=(0.9,0.98)]", parity, {})
    assert betas.optimizer.params["betas"] == (0.9, 0.98)


def test_the_label_is_canonical_and_the_baseline_stays_plain(parity):
    a = resolve_method("sgd[weight_decay=0.0,lr=.2]", parity, {})
    b = resolve_method("sgd[lr=0.2, weight_decay=0]", parity, {})
    assert a.label == b.label == "sgd[lr=0.2,weight_decay=0]"
    assert a.baseline == "sgd" and a.stream_label == "sgd"
    assert resolve_method("egd[sgd.lr=0.3]", parity, {}).label == "egd[lr=0.3]"  # prefix not needed
    assert resolve_method("egd[adamw.eps=1e-6]@adamw", parity, {}).label == "egd[adamw.eps=1e-6]@adamw"
    plan = build_plan("sparse_parity", "sgd[lr=.2],sgd[lr=0.2]", "1", {})
    assert [m.label for _, m in plan.pairs] == ["sgd[lr=0.2]"]


def test_brackets_win_over_set(parity):
    spec = resolve_method("sgd[lr=0.3]", parity, parse_overrides(["sgd.lr=0.05", "sgd.weight_decay=0.5"]))
    assert spec.optimizer.params["lr"] == 0.3 and spec.optimizer.params["weight_decay"] == 0.5


@pytest.mark.parametrize("value, text", [(0.2, "0.2"), (1e-6, "1e-6"), (1e20, "1e20"),
                                         (1.5e20, "1.5e20"), (0.0, "0"), (3, "3"), (True, "true"),
                                         (None, "none"), ((0.9, 0.98), "(0.9,0.98)")])
def test_values_have_one_canonical_text(value, text):
    assert format_value(value) == text


BAD_LABELS = [
    ("sgd[lr=abc]", "expected a number"),
    ("sgd[lr=-1]", "sgd.lr must be in (0, 1e+06]"),
    ("sgd[foo=1]", "no parameter 'foo'"),
    ("egd[foo=1]", "is no parameter of egd"),
    ("egd[adam.eps=1]@adamw", "neither 'egd' nor its base 'adamw'"),
    ("sgd[lr=0.1,lr=0.2]", "sets sgd.lr twice"),
    ("sgd[lr=0.1", "unclosed"),
    ("sgd]lr=0.1", "unmatched"),
    ("sgd[]", "empty brackets"),
    ("sgd[0.1]", "has no 'param='"),
    ("sgd[lr=0.1]x", "after ']'"),
    ("egd@sgd:x", "takes no preset"),
]


@pytest.mark.parametrize("label, message", BAD_LABELS)
def test_bad_variants_exit_2_with_one_line_before_anything_runs(tmp_path, capsys, label, message):
    out = tmp_path / "out"
    rc = run_cli("run", "--methods", label, "--out", str(out), "--quiet")
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (out / "records").exists()


def test_variants_share_the_method_random_stream():
    import torch

    from grokbench.seedbatch import SeedBatch

    assert strip_settings("grokfast[lamb=5]+egd[eps=1e-6]@adamw[lr=0.1]") == "grokfast+egd@adamw"
    task_spec = resolve_task("sparse_parity", parse_overrides(["sparse_parity.n_train=64", "sparse_parity.n_test=32"]))
    draws = {}
    for label in ("sgd", "sgd[lr=0.3]", "adamw"):
        method = resolve_method(label, task_spec, {})
        batch = SeedBatch.build(task_spec.build(), "sparse_parity", method.stream_label, (0, 1), method.build(),
                                torch.device("cpu"))
        draws[label] = batch.ctx.randn(4)
    assert torch.equal(draws["sgd"], draws["sgd[lr=0.3]"])
    assert not torch.equal(draws["sgd"], draws["adamw"])


def test_untuned_identities_keep_their_keys(parity):
    identity = trial_identity(parity, resolve_method("sgd[lr=0.2]", parity, {}), 0, 0)
    assert "tuned" not in identity and identity["method"] == "sgd[lr=0.2]"
    assert identity["optimizer"]["params"]["lr"] == 0.2


def test_a_grid_runs_as_labelled_variants(tmp_path, tiny_parity):
    out = tmp_path / "out"
    rc = run_cli("run", "--methods", "sgd[lr=0.1,0.4]", "--seeds", "1", "--out", str(out), "--quiet",
                 "--no-calibrate", *tiny_parity)
    assert rc == 0
    records = read_records(out)
    labels = {r["identity"]["method"] for r in records}
    assert {"sgd[lr=0.1]", "sgd[lr=0.4]"} <= labels
    lrs = {r["identity"]["method"]: r["identity"]["optimizer"]["params"]["lr"] for r in records}
    assert lrs["sgd[lr=0.1]"] == 0.1 and lrs["sgd[lr=0.4]"] == 0.4
