import textwrap

import pytest
from helpers import read_records, run_cli

from grokbench import registry
from grokbench.errors import UserError
from grokbench.method import Optimizer, Transform
from grokbench.spec import (
    expand_methods,
    expand_tasks,
    parse_overrides,
    resolve_method,
    resolve_task,
)

PLUGIN = textwrap.dedent(
    '''
    from grokbench import Transform, register

    @register
    class SignDescent(Transform):
        """Replace every gradient entry by its sign, times a scale."""
        name = "signgd_test"
        defaults = {"scale": 0.01}

        def update(self, grads, params, state, ctx):
            return {k: self.scale * g.sign() for k, g in grads.items()}
    '''
)


def test_builtins_are_discovered():
    assert "sparse_parity" in registry.tasks()
    methods = registry.methods()
    assert issubclass(methods["sgd"], Optimizer) and issubclass(methods["adamw"], Optimizer)


def test_all_includes_every_leaderboard_variant():
    labels = expand_tasks("all")
    assert "sparse_parity" in labels and "sparse_parity:k5" in labels
    assert set(expand_methods("all")) == set(registry.methods())


def test_preset_and_overrides_resolve_with_types():
    spec = resolve_task("sparse_parity:k5", parse_overrides(["sparse_parity.hidden=50"]))
    assert spec.params["k"] == 5 and spec.params["hidden"] == 50 and spec.params["max_epochs"] >= 1000
    assert spec.label == "sparse_parity:k5"


def test_method_grammar_resolves_base_and_task_settings():
    task = resolve_task("sparse_parity", {})
    sgd = resolve_method("sgd", task, {})
    assert sgd.transforms == () and sgd.optimizer.name == "sgd"
    assert sgd.optimizer.params["lr"] == 0.1 and sgd.optimizer.params["weight_decay"] == 0.01
    tuned = resolve_method("sgd", task, parse_overrides(["sgd.lr=0.05"]))
    assert tuned.optimizer.params["lr"] == 0.05
    with pytest.raises(UserError, match="is a base optimizer; write it after '@'"):
        resolve_method("sgd@adamw", task, {})
    with pytest.raises(UserError, match="malformed"):
        resolve_method("+sgd", task, {})


def test_plugin_file_registers_and_runs_a_benchmark(tmp_path, tiny_parity):
    plugin = tmp_path / "signgd.py"
    plugin.write_text(PLUGIN)
    out = tmp_path / "out"
    rc = run_cli("run", "--plugin", str(plugin), "--methods", "signgd_test,signgd_test@adamw",
                 "--seeds", "2", "--out", str(out), "--quiet", *tiny_parity)
    assert rc == 0
    records = read_records(out)
    assert sorted(r["identity"]["method"] for r in records) == ["signgd_test"] * 2 + ["signgd_test@adamw"] * 2
    assert all(r["status"] in {"solved", "unsolved"} for r in records)
    assert issubclass(registry.get_method("signgd_test"), Transform)


def test_entry_point_plugins_are_loaded(monkeypatch):
    from grokbench.task import Task

    class EPTask(Task):
        name = "entry_point_task_test"

    class FakeEntryPoint:
        name, value = "ep", "pkg:EPTask"

        def load(self):
            return EPTask

    monkeypatch.setattr(registry, "entry_points", lambda group: [FakeEntryPoint()] if group == "grokbench.tasks" else [])
    registry._load_entry_points("grokbench.tasks")
    assert registry.tasks()["entry_point_task_test"] is EPTask
    del registry._TASKS["entry_point_task_test"]


def test_method_presets_and_all_with_extras():
    task = resolve_task("sparse_parity", {})
    first = resolve_method("egd:first", task, parse_overrides(["egd.eps=1e-6"]))
    assert first.label == "egd:first" and first.transforms[0].name == "egd"
    assert first.transforms[0].params["scope"] == "first" and first.transforms[0].params["eps"] == 1e-6
    only_preset = resolve_method("egd:first", task, parse_overrides(["egd:first.scope=all"]))
    assert only_preset.transforms[0].params["scope"] == "all"
    plain = resolve_method("egd", task, parse_overrides(["egd:first.scope=all"]))
    assert plain.transforms[0].params["scope"] == "all"
    with pytest.raises(UserError, match="no preset 'nope'"):
        resolve_method("egd:nope", task, {})
    labels = expand_methods("all,grokfast+egd,egd:first")
    assert labels[-2:] == ["grokfast+egd", "egd:first"] and "sgd" in labels and "egd" in labels
