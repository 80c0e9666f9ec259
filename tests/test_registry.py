import hashlib
import subprocess
import sys
import textwrap

import pytest
from helpers import read_records, run_cli, study_request

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
from grokbench.task import Task

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


def test_plugin_file_registers_and_runs_a_benchmark(tmp_path, tiny_parity, monkeypatch):
    from grokbench import cli

    monkeypatch.setattr(cli, "_end_of_run", lambda *a, **k: None)  # records only: skip the leaderboard
    plugin = tmp_path / "signgd.py"
    plugin.write_text(PLUGIN)
    out = tmp_path / "out"
    path = study_request(out, "signgd_test,signgd_test@adamw", "2", tiny_parity, baseline=False,
                         plugin_files=[str(plugin)])
    rc = run_cli("run", path, "--quiet")
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


# ---------------------------------------------------------------- misbehaving plugins


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


HALFWAY = '''
from grokbench import Transform, register

@register
class Halfway(Transform):
    name = "halfway_test"

    def update(self, grads, params, state, ctx):
        return grads

'''

IMPORT_FAILURES = {  # the file's body after HALFWAY -> what the error line says
    "sys_exit": ("import sys\nsys.exit(7)", "SystemExit: 7"),
    "system_exit_text": ("raise SystemExit('bye')", "SystemExit: bye"),
    "keyboard_interrupt": ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    "base_exception": ("class Boom(BaseException):\n    pass\nraise Boom('x')", "Boom: x"),
    "generator_exit": ("raise GeneratorExit", "GeneratorExit"),
    "zero_division": ("1 / 0", "ZeroDivisionError: division by zero"),
    "multi_line_message": ("raise ValueError('first\\nsecond')", "ValueError: first"),
    "syntax": ("def f(:\n    pass", "SyntaxError"),
}


@pytest.mark.parametrize("case", IMPORT_FAILURES)
def test_a_plugin_file_that_fails_at_import_is_one_line(case, tmp_path, capsys, isolated_registry):
    body, words = IMPORT_FAILURES[case]
    plugin = tmp_path / f"{case}.py"
    plugin.write_text(HALFWAY + body + "\n")
    out = tmp_path / "out"
    rc = run_cli("run", "--plugin", str(plugin), "--methods", "sgd", "--seeds", "1", "--out", str(out), "--quiet")
    line = _one_error_line(capsys)
    assert rc == 2 and line.startswith(f"error: plugin file {plugin} failed to import: {words}")
    assert "second" not in line
    assert not out.exists()
    with pytest.raises(UserError, match="unknown method 'halfway_test'"):  # nothing half-registered
        registry.get_method("halfway_test")


def test_a_plugin_file_that_is_not_utf8_is_one_line(tmp_path, capsys, isolated_registry):
    plugin = tmp_path / "latin1.py"
    plugin.write_bytes(b"# caf\xe9\n")
    assert run_cli("list", "--plugin", str(plugin)) == 2
    assert "cannot read plugin file" in _one_error_line(capsys)


@pytest.mark.parametrize("body", ["import sys\nsys.exit(7)", "raise KeyboardInterrupt"])
def test_a_plugin_file_cannot_end_the_process_its_own_way(body, tmp_path):
    """The exit status is grokbench's (2), not the plugin's, also as a real process."""
    plugin = tmp_path / "bad.py"
    plugin.write_text(body + "\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "grokbench", "run", "--plugin", str(plugin), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: plugin file {plugin} failed to import: ")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not out.exists()


def _plugin_class(base: type, name: str, defaults: dict | None = None, class_name: str = "Probe", **attrs) -> type:
    if base is Transform:
        attrs.setdefault("update", lambda self, grads, params, state, ctx: grads)
    return type(class_name, (base,), {"name": name, "defaults": defaults or {}, **attrs})


@pytest.mark.parametrize("base, name, class_name", [
    (Optimizer, "sgd", "SGD"),                  # a built-in's name and class name
    (Optimizer, "sgd", "Probe"),                # a built-in optimizer's name
    (Transform, "egd", "EGD"),                  # a built-in accelerator's name and class name
    (Transform, "sparse_parity", "Probe"),      # a task's name, for a method
    (Task, "adamw", "AdamW"),                   # a method's name, for a task
])
def test_a_plugin_cannot_take_a_name_already_registered(base, name, class_name, isolated_registry):
    builtin = registry.tasks().get(name) or registry.methods()[name]
    with pytest.raises(UserError, match=f"two plugins are named '{name}'.*\\(builtin\\).*rename one"):
        registry.register(_plugin_class(base, name, class_name=class_name))
    assert (registry.tasks().get(name) or registry.methods()[name]) is builtin
    assert registry.source(name) == "builtin"


def test_two_plugin_files_cannot_register_one_name(tmp_path, capsys, isolated_registry):
    files = []
    for i in (1, 2):
        files.append(tmp_path / f"p{i}.py")
        files[-1].write_text(PLUGIN.replace("SignDescent", f"SignDescent{i}").replace("signgd_test", "dup_test"))
    registry.load_plugin_file(files[0])
    registry.load_plugin_file(files[0])  # the same file again: a no-op, not a clash
    with pytest.raises(UserError, match=f"two plugins are named 'dup_test': SignDescent1 in {files[0]}"):
        registry.load_plugin_file(files[1])
    assert registry.get_method("dup_test").__name__ == "SignDescent1"


def test_a_name_clash_through_the_cli_is_one_line_and_touches_no_results(tmp_path, capsys, isolated_registry):
    plugin = tmp_path / "clash.py"
    plugin.write_text(PLUGIN.replace('"signgd_test"', '"sgd"'))
    out = tmp_path / "out"
    rc = run_cli("run", "--plugin", str(plugin), "--methods", "sgd", "--seeds", "1", "--out", str(out), "--quiet")
    assert rc == 2 and "two plugins are named 'sgd'" in _one_error_line(capsys)
    assert not out.exists()


def test_registering_the_same_class_again_is_harmless(isolated_registry):
    cls = _plugin_class(Transform, "again_test")
    assert registry.register(cls) is cls and registry.register(cls) is cls
    assert registry.get_method("again_test") is cls


@pytest.mark.parametrize("base, key", [
    (Optimizer, "step"), (Optimizer, "lr_at"), (Transform, "update"), (Transform, "init"),
    (Transform, "after_step"), (Transform, "holdout_fraction"), (Transform, "name"),
    (Transform, "params"), (Transform, "kind"), (Transform, "summary"), (Task, "schedule"),
    (Task, "has_fast_grad"), (Task, "presets"), (Transform, "__class__"), (Transform, "helper"),
])
def test_a_parameter_cannot_hide_an_attribute(base, key, isolated_registry):
    cls = _plugin_class(base, "shadow_test", {key: 1}, helper=lambda self: None)
    with pytest.raises(UserError, match=f"parameter '{key}' would replace the attribute Probe.{key}"):
        registry.register(cls)
    assert "shadow_test" not in registry.methods() and "shadow_test" not in registry.tasks()


def test_a_parameter_may_repeat_a_data_default_of_its_class(isolated_registry):
    cls = _plugin_class(Transform, "data_default_test", {"alpha": 0.5, "beta": 2}, alpha=0.5)
    sub = type("Sub", (cls,), {"name": "data_default_sub_test"})
    assert registry.register(cls) is cls and registry.register(sub) is sub
    assert cls(alpha=0.25).alpha == 0.25


@pytest.mark.parametrize("attrs, words", [
    ({"name": ""}, "needs a name"),
    ({"name": None}, "needs a name"),
    ({"name": "a-b"}, "needs a name"),
    ({"name": "ok_test", "defaults": [("lr", 1)]}, "defaults must be a dict"),
    ({"name": "ok_test", "defaults": {1: 2}}, "defaults must be a dict"),
])
def test_malformed_plugin_declarations_are_errors(attrs, words, isolated_registry):
    cls = _plugin_class(Transform, "placeholder")
    for key, value in attrs.items():
        setattr(cls, key, value)
    with pytest.raises(UserError, match=words):
        registry.register(cls)


# ---------------------------------------------------------------- where a plugin came from


def test_source_names_builtins_files_entry_points_and_modules(tmp_path, monkeypatch, isolated_registry):
    assert registry.source("sgd") == registry.source("sparse_parity") == "builtin"
    plugin = tmp_path / "signgd.py"
    plugin.write_text(PLUGIN.replace("signgd_test", "source_file_test"))
    registry.load_plugin_file(plugin)
    digest = hashlib.sha256(plugin.read_text().encode()).hexdigest()[:12]
    assert registry.source("source_file_test") == f"file:{digest}"

    class Dist:
        name, version = "fakepkg", "1.2"

    class EntryPoint:
        name, value, dist = "ep", "fakepkg.plugins:EPMethod", Dist()

        def load(self):
            return _plugin_class(Transform, "source_ep_test")

    monkeypatch.setattr(registry, "entry_points", lambda group: [EntryPoint()] if group == "grokbench.methods" else [])
    registry._load_entry_points("grokbench.methods")
    assert registry.source("source_ep_test") == "entry_point:fakepkg==1.2"
    registry.register(_plugin_class(Transform, "source_module_test"))
    assert registry.source("source_module_test") == f"module:{__name__}"
    with pytest.raises(UserError, match="unknown plugin 'nope'"):
        registry.source("nope")


def test_a_changed_plugin_file_has_another_source(tmp_path, isolated_registry):
    sources = []
    for i, scale in enumerate(("0.01", "0.02")):
        plugin = tmp_path / f"v{i}" / "signgd.py"
        plugin.parent.mkdir()
        plugin.write_text(PLUGIN.replace("signgd_test", f"version_test_{i}").replace("0.01", scale))
        registry.load_plugin_file(plugin)
        sources.append(registry.source(f"version_test_{i}"))
    assert sources[0] != sources[1] and all(s.startswith("file:") for s in sources)
