"""grokbench check: the plugin contract holds for every built-in, and each plugin in
tests/plugins/ that breaks one rule fails that rule, named, with why it matters."""

import textwrap
from pathlib import Path

import pytest
import torch
from helpers import run_cli

from grokbench import registry
from grokbench.method import Method
from grokbench.plugincheck import CHECKPOINT, FAIL, INFO, OK, check_plugin
from grokbench.spec import parse_overrides

PLUGINS = Path(__file__).parent / "plugins"
# Tiny sizes so that every task's checks take a fraction of a second; methods are checked
# on plugincheck's own tiny sparse_parity.
TINY = {
    "sparse_parity": ["sparse_parity.n_train=64", "sparse_parity.n_test=32", "sparse_parity.hidden=32"],
    "sparse_sum": ["sparse_sum.n_train=64", "sparse_sum.n_test=32", "sparse_sum.hidden=32"],
    **{name: [f"{name}.p=7", f"{name}.d_model=16", f"{name}.n_heads=2", f"{name}.d_mlp=32"]
       for name in ("modular_addition", "power_ops")},
}
TRAINING_RULES = {"runs", "determinism", "own-streams", "seed-batch", "test-split"}
BUILTINS = sorted(name for name in {**registry.tasks(), **registry.methods()}
                  if registry.source(name) == registry.BUILTIN)


@pytest.fixture(autouse=True)
def _isolated(isolated_registry):
    """The plugins a test loads are gone after it (a later test's `--methods all` must not
    meet them): conftest's ``isolated_registry`` for every test here."""
    yield


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_keeps_the_contract(name):
    cls = {**registry.tasks(), **registry.methods()}[name]
    rng = torch.get_rng_state()
    findings = check_plugin(cls, parse_overrides(TINY.get(name, [])))
    assert torch.equal(torch.get_rng_state(), rng)  # the rules reseed it, and put it back
    assert [f.line() for f in findings if f.status == FAIL] == []
    passed = {f.rule.name for f in findings if f.status == OK}
    expected = {"required-settings", "settings", *TRAINING_RULES}
    expected |= {CHECKPOINT.name} if issubclass(cls, Method) else set()
    assert passed == expected
    assert [f.rule.name for f in findings if f.status == INFO] == ["cost"]


# plugin file, plugin -> the rule it breaks, and the rules a fault of that kind may break
# besides (noise from the global generator also differs between a stack of seeds and one alone)
BROKEN = [
    ("mixes_seeds.py", "mixes_seeds_check", "seed-batch", set()),
    ("global_rng.py", "global_noise_check", "own-streams", {"seed-batch"}),
    ("no_lr.py", "no_lr_check", "required-settings", set()),
    ("state_in_self.py", "state_in_self_check", "checkpoint", set()),
    ("bad_tasks.py", "trains_on_test_check", "test-split", set()),
    ("bad_tasks.py", "mixes_seeds_task_check", "seed-batch", set()),
]


def _failed_rules(lines: list[str], plugin: str) -> dict[str, str]:
    """rule -> its line, for the FAIL lines of ``plugin``."""
    return {line.split()[2].rstrip(":"): line for line in lines if line.startswith(f"FAIL {plugin} ")}


@pytest.mark.parametrize("file, plugin, rule, also", BROKEN)
def test_check_fails_a_plugin_that_breaks_a_rule_and_names_it(file, plugin, rule, also, capsys):
    assert run_cli("check", str(PLUGINS / file)) == 1
    out = capsys.readouterr().out.splitlines()
    failed = _failed_rules(out, plugin)
    assert rule in failed and set(failed) <= {rule, *also}, out
    assert "why it matters:" in failed[rule]
    assert "rule(s) failed" in out[-1]


def test_a_plugin_file_that_keeps_the_contract_passes_with_a_summary(capsys):
    assert run_cli("check", str(PLUGINS / "linear_task.py")) == 0
    out = capsys.readouterr().out.splitlines()
    assert not [line for line in out if line.startswith("FAIL")]
    assert {line.split()[1] for line in out if line.startswith("ok ")} == {"linear_sign_check", "seed_noise_check"}
    assert out[-1].startswith("2 plugin(s) checked: all ")
    assert sum(" cost: " in line and " ms/step " in line for line in out) == 2


def test_a_builtin_is_checked_by_name(capsys):
    assert run_cli("check", "sgd") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 plugin(s) checked: all ")


def test_settings_that_do_not_come_back_from_text_or_fail_their_checks(tmp_path, capsys):
    plugin = tmp_path / "bad_settings.py"
    plugin.write_text(textwrap.dedent('''
        from grokbench import Transform, register
        from grokbench.params import positive

        @register
        class ListDefault(Transform):
            name = "list_default_check"
            defaults = {"widths": [4, 4]}  # a list: --set can only give it a string
            def update(self, grads, params, state, ctx):
                return grads

        @register
        class OutOfBounds(Transform):
            name = "out_of_bounds_check"
            defaults = {"alpha": 0.0}
            constraints = {"alpha": positive}
            def update(self, grads, params, state, ctx):
                return grads
    '''))
    assert run_cli("check", str(plugin)) == 1
    out = capsys.readouterr().out
    assert "FAIL list_default_check settings: widths=[4, 4] written as '[4, 4]' comes back as '[4, 4]'" in out
    assert "FAIL out_of_bounds_check settings: the defaults fail their own checks: out_of_bounds_check.alpha" in out


@pytest.mark.parametrize("args, words", [
    (["check", "no_such_plugin.py"], "does not exist"),
    (["check", "{empty}"], "registers no task or method"),
    (["check", "sgd", "--set", "nothing_such.lr=1"], "no task or method"),
    (["check", "sgd", "--set", "lr=1"], "malformed"),
])
def test_user_errors_are_one_line_and_exit_2(args, words, tmp_path, capsys):
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert run_cli(*[a.format(empty=empty) for a in args]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_an_optimizer_without_lr_fails_at_plan_time_not_in_every_trial(tmp_path, capsys):
    """Before: each trial ended with AttributeError 'lr' at run time, status error."""
    rc = run_cli("run", "--plugin", str(PLUGINS / "no_lr.py"), "--methods", "no_lr_check",
                 "--seeds", "1", "--out", str(tmp_path / "out"), "--quiet", "--no-calibrate")
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines() == [
        "error: method 'no_lr_check': no_lr_check.defaults must declare 'lr' "
        "(every Optimizer needs it: the engine reads it)"]
    assert not (tmp_path / "out" / "records").exists()
