"""``grokbench check``: the plugin contract, rule by rule, on tiny trials (benchopt's ``test``).

Every task and method a plugin file registers is checked against the rules below; each
finding names the plugin and the rule, and a failure says why the rule matters
(docs/plugin-check.md). The rules:

- ``required-settings``: ``defaults`` declares what the engine reads (``Plugin.required_settings``:
  an Optimizer's ``lr``, a Task's budget and schedule).
- ``settings``: the defaults pass their own checks; each default written as a user would write
  it (``--set NAME.PARAM=TEXT``) comes back as the same value; every preset's values pass.
- ``runs``: a tiny trial trains to finite parameters. The rules after it train copies of it.
- ``determinism``: the same trial twice gives bit-identical parameters.
- ``own-streams``: the trial touches no global generator (torch's, Python's ``random``,
  NumPy's) and its result does not change when they are reseeded.
- ``seed-batch``: each seed's parameters trained in a stack of seeds equal those trained alone,
  within ``seed_batch_tolerance`` (see there).
- ``checkpoint`` (methods): saved and resumed mid-run through ``grokbench.checkpoint``, the
  trial ends bit-identical to the uninterrupted one.
- ``test-split``: training never sees test data. Tasks: no test input also appears among a
  seed's training inputs. Both: the trained parameters are bit-identical when the test split
  is replaced by another seed's (nothing training reads, the method's ``StepContext``
  included, carries test data).
- ``cost`` (information, never pass or fail): wall milliseconds per training step, timed as
  ``trial.train_step`` is timed.

The tiny trial (``Probe``): a method trains on ``PROBE_TASK`` with ``PROBE_TASK_SETTINGS``
(a task on its own defaults, with ``PROBE_METHOD``), ``--set`` overrides applied on top, for
``SEEDS`` seeds and a few steps (``probe_steps``), on the CPU. Data flows one way: this
module uses the engine (spec, seedbatch, trial, checkpoint); only the CLI imports it.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import checkpoint, environment, registry, seeding
from .errors import UserError, one_line
from .method import Method
from .plan import Cell, CheckpointPolicy
from .plugin import Plugin
from .seedbatch import SeedBatch
from .spec import MethodSpec, Overrides, TaskSpec, resolve_method, resolve_task
from .task import Split, Task
from .trial import CellRun, train_step

PROBE_TASK = "sparse_parity"
PROBE_TASK_SETTINGS = {"n_train": "64", "n_test": "32", "hidden": "32", "batch_size": "32"}
PROBE_METHOD = "sgd"
SEEDS = (0, 1, 2)
MIN_STEPS, MAX_STEPS = 6, 256
# A few ulps of rounding per step (seed_batch_tolerance): the largest ratio measured on the
# built-ins was below 1 (docs/plugin-check.md gives the command); 16 leaves room for other
# BLAS libraries and still lies orders of magnitude below what a method mixing seeds does.
ULPS = 16
OTHER_DATA_SEED = 10**9  # the seed whose test split replaces a probe seed's (test-split rule)

OK, FAIL, INFO = "ok", "FAIL", "info"


@dataclass(frozen=True)
class Rule:
    name: str
    why: str  # why it matters, in one sentence


REQUIRED = Rule("required-settings", "the engine reads these settings at every step: without one, every trial "
                                     "of the plugin ends in an error at run time")
SETTINGS = Rule("settings", "settings arrive as text (--set, NAME[k=v], a logged command, a tuned configuration) "
                            "and must come back as the values they were")
RUNS = Rule("runs", "a plugin that cannot train a tiny trial fails every trial it is in")
DETERMINISM = Rule("determinism", "a seed must name one trial: paired comparisons, resuming and reproducing a page "
                                  "all rerun it and expect the same numbers")
OWN_STREAMS = Rule("own-streams", "a global generator's state depends on whatever ran before in the process "
                                  "(the executor, the batch, other plugins), so results drawn from it cannot be "
                                  "reproduced; draw from ctx.generators / ctx.randn, or the generator make_data gets")
SEED_BATCH = Rule("seed-batch", "seeds train stacked in one batch: a plugin that mixes them gives each seed a result "
                                "that depends on the other seeds and on --batch-seeds; act on each seed's slice "
                                "(norms over the last dimensions, never over the leading seed axis)")
CHECKPOINT = Rule("checkpoint", "an interrupted run resumes from its checkpoint: a state that does not round-trip "
                                "(tensors without the leading seed axis, objects that do not pickle) changes the "
                                "resumed trials' results")
TEST_SPLIT = Rule("test-split", "test accuracy measures generalization only if training never sees the test data")
COST = Rule("cost", "information only")


@dataclass(frozen=True)
class Finding:
    """One rule's outcome for one plugin: ``status`` is OK, FAIL or INFO."""

    plugin: str
    rule: Rule
    status: str
    detail: str

    def line(self) -> str:
        """One line; a failure's ends with why the rule matters."""
        why = f" (why it matters: {self.rule.why})" if self.status == FAIL else ""
        return f"{self.status:<4} {self.plugin} {self.rule.name}: {self.detail}{why}"


class Broken(Exception):
    """A rule's check found the plugin breaking it; the message says how."""


# ------------------------------------------------------------------------ what to check


def plugins_to_check(target: str) -> list[type[Plugin]]:
    """``grokbench check TARGET``: the plugins a file registers, or the plugin registered
    under the name ``target`` (a built-in, say). UserError when it is neither."""
    registry.load_builtins()
    known = {**registry.tasks(), **registry.methods()}
    if target in known and not Path(target).exists():
        return [known[target]]
    return plugins_in_file(target)


def plugins_in_file(path: str | Path) -> list[type[Plugin]]:
    """Load a plugin file (``registry.load_plugin_file``: UserError when it is missing or
    fails to import) and return the tasks and methods it registers (UserError if none)."""
    module = registry.load_plugin_file(path)
    found = registered_in(module)
    if not found:
        raise UserError(f"plugin file {path} registers no task or method (decorate a Task or Method "
                        f"subclass with @register)")
    return found


def registered_in(module: ModuleType) -> list[type[Plugin]]:
    """The registered tasks and methods defined in ``module``, tasks first."""
    classes = [*registry.tasks().values(), *registry.methods().values()]
    return [cls for cls in classes if cls.__module__ == module.__name__]


def check_plugin(cls: type[Plugin], overrides: Overrides | None = None) -> list[Finding]:
    """Every rule that applies to ``cls`` (a registered Task or Method), in order; a rule that
    needs a trial is not run when the plugin cannot train one (its ``runs`` finding fails).
    The global generators, which the rules reseed, are put back as they were."""
    with _global_generators_kept():
        return _check(cls, overrides or {})


def _check(cls: type[Plugin], overrides: Overrides) -> list[Finding]:
    name = cls.name
    findings = [_judge(name, REQUIRED, lambda: _required(cls))]
    if findings[0].status == FAIL:
        return findings
    findings.append(_judge(name, SETTINGS, lambda: _settings(cls)))
    try:
        probe = probe_for(cls, overrides)
        ref = train(probe)
    except (Exception, SystemExit) as exc:
        return [*findings, _failed(name, RUNS, exc)]
    findings.append(Finding(name, RUNS, OK, f"{probe.describe()}: finite parameters"))
    rules: list[tuple[Rule, Callable[[], str]]] = [
        (DETERMINISM, lambda: _determinism(probe, ref)),
        (OWN_STREAMS, lambda: _own_streams(probe, ref)),
        (SEED_BATCH, lambda: _seed_batch(probe, ref)),
    ]
    if issubclass(cls, Method):
        rules.append((CHECKPOINT, lambda: _checkpoint(probe, ref)))
    rules.append((TEST_SPLIT, lambda: _test_split(probe, ref, issubclass(cls, Task))))
    findings += [_judge(name, rule, check) for rule, check in rules]
    findings.append(Finding(name, COST, INFO, _cost(probe, ref)))
    return findings


def _judge(plugin: str, rule: Rule, check: Callable[[], str]) -> Finding:
    """Run ``check``: its text on a pass; else ``_failed``."""
    try:
        return Finding(plugin, rule, OK, check())
    except (Exception, SystemExit) as exc:
        return _failed(plugin, rule, exc)


def _failed(plugin: str, rule: Rule, exc: BaseException) -> Finding:
    """A failure of ``rule``: what ``Broken`` says, or what the plugin raised (its own checks'
    UserError and a ``sys.exit`` included: in a run, the trial would end with an error)."""
    detail = str(exc) if isinstance(exc, Broken) else f"raised {one_line(exc)}"
    return Finding(plugin, rule, FAIL, detail)


# ------------------------------------------------------------------------ settings rules


def _required(cls: type[Plugin]) -> str:
    missing = cls.missing_settings()
    if missing:
        raise Broken(f"defaults must declare {', '.join(map(repr, missing))}: every {cls.kind_name()} needs "
                     f"{'it' if len(missing) == 1 else 'them'}")
    declared = ", ".join(cls.required_settings) or "none asked of a " + cls.kind_name()
    return f"declared ({declared})"


def as_text(value: Any) -> str:
    """A default as a user writes it on the command line (``params.coerce`` reads it back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(as_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _settings(cls: type[Plugin]) -> str:
    try:
        cls()
    except UserError as exc:
        raise Broken(f"the defaults fail their own checks: {exc}") from None
    for key, default in cls.defaults.items():
        text = as_text(default)
        try:
            back = cls(**{key: text}).params[key]
        except UserError as exc:
            raise Broken(f"{key}={default!r} written as {text!r} is refused: {exc}") from None
        if repr(back) != repr(default):
            raise Broken(f"{key}={default!r} written as {text!r} comes back as {back!r} (use a bool, int, float, "
                         f"str, None or a tuple of them)")
    for preset_name, preset in getattr(cls, "presets", {}).items():
        try:
            cls(**preset.params)
        except UserError as exc:
            raise Broken(f"preset {preset_name!r} fails the checks: {exc}") from None
    return f"{len(cls.defaults)} defaults pass their checks and come back from text"


# ------------------------------------------------------------------------ the tiny trial


@dataclass(frozen=True)
class Probe:
    """A tiny cell: a task, a method, the seeds trained together and the steps, on the CPU."""

    task: TaskSpec
    method: MethodSpec
    steps: int
    seeds: tuple[int, ...] = SEEDS
    device: str = "cpu"

    def describe(self) -> str:
        return (f"{self.method.label} on {self.task.label}, {len(self.seeds)} seeds x {self.steps} steps "
                f"({self.device})")


def probe_for(cls: type[Plugin], overrides: Overrides) -> Probe:
    """The tiny trial of a task (``PROBE_METHOD`` on it) or a method (on ``PROBE_TASK``)."""
    if issubclass(cls, Task):
        task = resolve_task(cls.name, overrides)
        method = resolve_method(PROBE_METHOD, task, overrides)
    else:
        own = {**PROBE_TASK_SETTINGS, **overrides.get(PROBE_TASK, {})}
        task = resolve_task(PROBE_TASK, {**overrides, PROBE_TASK: own})
        method = resolve_method(cls.name, task, overrides)
    return Probe(task, method, probe_steps(method.build()))


def probe_steps(chain: Any) -> int:
    """Enough steps for every part's warm-up (a filter's window) and two of its periods (a
    meta step every T), within [MIN_STEPS, MAX_STEPS]."""
    parts = [*chain.transforms, chain.optimizer]
    need = max(int(p.cost_warmup) for p in parts) + 2 * max(int(p.cost_period) for p in parts)
    return min(MAX_STEPS, max(MIN_STEPS, need))


@dataclass
class Trained:
    """A probe's parameters before and after training (detached CPU copies, leading seed
    axis), the wall seconds per step after the first (timed as ``trial`` times), and the
    global generators whose state the training changed."""

    initial: dict[str, Tensor]
    final: dict[str, Tensor]
    step_s: float = 0.0
    touched: tuple[str, ...] = ()


def _copy(params: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in params.items()}


def _setup(probe: Probe, seeds: tuple[int, ...], other_test: bool = False):
    """Task, chain, batch and schedule of ``probe`` on ``seeds``, as ``trial._train`` builds them;
    ``other_test``: every seed's test split replaced by another seed's."""
    task = probe.task.build()
    if other_test:
        task.make_data = _other_test_split(task.make_data, probe.task.name)
    chain = probe.method.build()
    batch = SeedBatch.build(task, probe.task.name, probe.method.label, seeds, chain, torch.device(probe.device))
    return task, chain, batch, task.schedule(batch.n_train)


def train(probe: Probe, seeds: tuple[int, ...] | None = None, other_test: bool = False,
          global_seed: int = 0) -> Trained:
    """Train ``probe`` (on ``seeds``, default its own) for its steps, the global generators
    seeded with ``global_seed`` first (so that only the own-streams rule varies them); Broken
    if a parameter ends non-finite (the rules compare finite numbers)."""
    _reseed_globals(global_seed)
    before = _global_states()
    task, chain, batch, schedule = _setup(probe, seeds or probe.seeds, other_test)
    initial = _copy(batch.params)
    train_step(task, chain, batch, 0, schedule)
    clock = environment.PeriodClock(torch.device(probe.device))
    clock.start()
    for step in range(1, probe.steps):
        train_step(task, chain, batch, step, schedule)
    wall = clock.stop().wall_s
    touched = tuple(name for name, state in _global_states().items() if state != before[name])
    final = _copy(batch.params)
    if not all(torch.isfinite(v).all() for v in final.values()):
        raise Broken(f"{probe.describe()}: the parameters went non-finite; choose settings that train "
                     f"with --set NAME.PARAM=VALUE")
    return Trained(initial, final, wall / max(1, probe.steps - 1), touched)


def _other_test_split(make_data: Callable[[torch.Generator], Split], task_name: str):
    """``make_data`` with each seed's test split replaced by that of seed OTHER_DATA_SEED (rows
    reversed when that one is the same), training split unchanged."""
    def make(gen: torch.Generator) -> Split:
        split = make_data(gen)
        other = make_data(seeding.generator(task_name, OTHER_DATA_SEED, seeding.DATA))
        x, y = other.x_test, other.y_test
        if x.shape == split.x_test.shape and torch.equal(x, split.x_test) and torch.equal(y, split.y_test):
            x, y = x.flip(0), y.flip(0)
        return Split(split.x_train, split.y_train, x, y)
    return make


def _largest_difference(a: dict[str, Tensor], b: dict[str, Tensor]) -> str:
    worst = max(a, key=lambda k: (a[k].double() - b[k].double()).abs().max().item())
    return f"largest difference {(a[worst].double() - b[worst].double()).abs().max().item():.3g} in {worst!r}"


def _identical(a: Trained, b: Trained, what: str) -> None:
    """Broken unless the final parameters are bit-identical."""
    if not all(torch.equal(a.final[k], b.final[k]) for k in a.final):
        raise Broken(f"{what}: {_largest_difference(a.final, b.final)}")


# ------------------------------------------------------------------------ training rules


def _reseed_globals(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


@contextlib.contextmanager
def _global_generators_kept() -> Iterator[None]:
    """The states of torch's, Python's and NumPy's global generators, restored on exit."""
    saved = torch.get_rng_state(), random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        torch.set_rng_state(saved[0])
        random.setstate(saved[1])
        np.random.set_state(saved[2])


def _global_states() -> dict[str, bytes]:
    return {"torch": torch.get_rng_state().numpy().tobytes(), "random": pickle.dumps(random.getstate()),
            "numpy": pickle.dumps(np.random.get_state())}


def _determinism(probe: Probe, ref: Trained) -> str:
    again = train(probe)
    _identical(ref, again, "the same trial twice ended with different parameters")
    return f"the same trial twice: bit-identical parameters after {probe.steps} steps"


def _own_streams(probe: Probe, ref: Trained) -> str:
    reseeded = train(probe, global_seed=12345)
    touched = sorted(set(ref.touched) | set(reseeded.touched))
    if touched:
        raise Broken(f"training drew from the global generator of {', '.join(touched)}")
    _identical(ref, reseeded, "reseeding the global generators changed the trained parameters")
    return "no global generator touched; reseeding them changes nothing"


def seed_batch_tolerance(probe: Probe, alone: Trained, dtype: torch.dtype) -> float:
    """How far one seed's parameters (Euclidean norm over all of them) trained in a stack may
    lie from the same seed trained alone: ``ULPS * eps * steps * scale``.

    Why: a stacked kernel may sum in another order than the one-seed kernel, so each step's
    update differs by a few ulps (units of ``eps``, the parameters' machine epsilon) of the
    numbers it combines, and the parameters then round once more when the update is added.
    Those differences add up over the steps; ``scale``, the larger of the seed's parameter
    norms before and after, bounds the size of what is rounded. Over a few steps the
    dynamics barely amplify them (a long run would: the rule stays short). A method that mixes
    seeds (a norm over the whole stack, say) is off by a fraction of its update, orders of
    magnitude above."""
    scale = max(_norm(alone.initial), _norm(alone.final))
    return ULPS * torch.finfo(dtype).eps * probe.steps * scale


def _norm(params: dict[str, Tensor]) -> float:
    return float(torch.sqrt(sum((v.double() ** 2).sum() for v in params.values())))


def _seed_batch(probe: Probe, ref: Trained) -> str:
    dtype = max((v.dtype for v in ref.final.values() if v.is_floating_point()),
                key=lambda d: torch.finfo(d).eps, default=torch.float32)
    worst = 0.0
    for pos, seed in enumerate(probe.seeds):
        alone = train(probe, (seed,))
        stacked = {k: v[pos:pos + 1] for k, v in ref.final.items()}
        gap = _norm({k: stacked[k].double() - alone.final[k].double() for k in stacked})
        tolerance = seed_batch_tolerance(probe, alone, dtype)
        if gap > tolerance:
            raise Broken(f"seed {seed} trained with {len(probe.seeds) - 1} other seeds ends {gap:.3g} from "
                         f"seed {seed} trained alone (tolerance {tolerance:.3g}: {ULPS} ulps x {probe.steps} steps "
                         f"x the parameters' norm)")
        worst = max(worst, gap / tolerance if tolerance else 0.0)
    return (f"{len(probe.seeds)} seeds stacked equal each alone within tolerance (largest gap "
            f"{worst:.2g} of it)")


def _checkpoint(probe: Probe, ref: Trained) -> str:
    half = probe.steps // 2
    with tempfile.TemporaryDirectory(prefix="grokbench-check-") as folder:
        cell = Cell(probe.task, probe.method, probe.seeds, device=probe.device,
                    checkpoint=CheckpointPolicy(folder, every_s=0))
        _reseed_globals(0)  # as ``train`` does
        task, chain, batch, schedule = _setup(probe, probe.seeds)
        for step in range(half):
            train_step(task, chain, batch, step, schedule)
        warnings = io.StringIO()
        with contextlib.redirect_stderr(warnings):
            saver = checkpoint.Saver(cell, cell.checkpoint)
            saver.save(half, batch, CellRun(cell, batch.ctx.device))
            found = checkpoint.find(cell.checkpoint, cell.keys())
            saved = None if found is None else checkpoint.load(found, cell)
        if saved is None:
            raise Broken(f"the state after step {half} could not be saved or loaded: "
                         f"{warnings.getvalue().strip() or 'no checkpoint written'}")
        task, chain, batch, schedule = _setup(probe, probe.seeds)
        start = checkpoint.restore(saved, cell, batch, CellRun(cell, batch.ctx.device))
        for step in range(start, probe.steps):
            train_step(task, chain, batch, step, schedule)
    resumed = Trained({}, _copy(batch.params))
    _identical(ref, resumed, f"saved after step {half} and resumed, the trial ended elsewhere")
    return f"saved after step {half} of {probe.steps} and resumed: bit-identical parameters"


def _test_split(probe: Probe, ref: Trained, is_task: bool) -> str:
    said = []
    if is_task:
        said.append(_no_test_input_in_train(probe))
    swapped = train(probe, other_test=True)
    _identical(ref, swapped, "replacing the test split changed the trained parameters, so training reads test data")
    said.append("another test split leaves training bit-identical")
    return "; ".join(said)


def _no_test_input_in_train(probe: Probe) -> str:
    task = probe.task.build()
    for seed in probe.seeds:
        split = task.make_data(seeding.generator(probe.task.name, seed, seeding.DATA))
        seen = {row.tobytes() for row in _rows(split.x_train)}
        shared = sum(row.tobytes() in seen for row in _rows(split.x_test))
        if shared:
            raise Broken(f"seed {seed}: {shared} of {len(split.x_test)} test inputs are also training inputs")
    return f"no test input among the training inputs ({len(probe.seeds)} seeds)"


def _rows(x: Tensor) -> np.ndarray:
    return x.detach().reshape(x.shape[0], -1).cpu().contiguous().numpy()


def _cost(probe: Probe, ref: Trained) -> str:
    per_step = ref.step_s * 1e3
    return (f"{per_step:.3f} ms/step for {len(probe.seeds)} seeds ({per_step / len(probe.seeds):.3f} ms per "
            f"seed-step), {probe.describe()}, {torch.get_num_threads()} threads")


def summary(findings: list[Finding]) -> str:
    """One line: how many plugins and rules passed or failed."""
    plugins = list(dict.fromkeys(f.plugin for f in findings))
    failed = [f for f in findings if f.status == FAIL]
    passed = sum(f.status == OK for f in findings)
    if not failed:
        return f"{len(plugins)} plugin(s) checked: all {passed} rules pass"
    bad = list(dict.fromkeys(f.plugin for f in failed))
    return (f"{len(plugins)} plugin(s) checked: {len(failed)} rule(s) failed in {', '.join(bad)}; "
            f"{passed} passed")

