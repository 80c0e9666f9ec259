"""Same seed, same curve; one seed, same data and initialization whatever the method."""

import textwrap

import torch

from grokbench import registry
from grokbench.plan import build_plan
from grokbench.spec import parse_overrides
from grokbench.trial import run_cell

TINY = ["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=6"]

RECORDER = textwrap.dedent(
    '''
    from grokbench import Transform, register

    SEEN = []

    @register
    class Recorder(Transform):
        """Records the initial parameters and the first batch it sees; changes nothing."""
        name = "recorder_test"

        def update(self, grads, params, state, ctx):
            if ctx.step == 0:
                SEEN.append(({k: v.detach().clone() for k, v in params.items()},
                             [t.clone() for t in ctx.batch]))
            return grads
    '''
)


def _records(methods: str, seeds: str = "2", batch: int = 64, extra=()):
    plan = build_plan("sparse_parity", methods, seeds, parse_overrides([*TINY, *extra]))
    return [r for cell in plan.cells(set(), batch) for r in run_cell(cell)]


def _curves(records):
    return {(r.identity["method"], r.seed): r.curve for r in records}


def test_same_seed_twice_gives_the_same_curve():
    a, b = _curves(_records("sgd,adamw")), _curves(_records("sgd,adamw"))
    for key in a:
        assert {k: v for k, v in a[key].items() if k != "train_time_s"} == \
               {k: v for k, v in b[key].items() if k != "train_time_s"}


def test_methods_meet_identical_data_and_initialization(tmp_path):
    plugin = tmp_path / "recorder.py"
    plugin.write_text(RECORDER)
    module = registry.load_plugin_file(plugin)
    module.SEEN.clear()
    _records("recorder_test@sgd,recorder_test@adamw", seeds="3")
    (params_sgd, batch_sgd), (params_adamw, batch_adamw) = module.SEEN
    for k in params_sgd:
        assert torch.equal(params_sgd[k], params_adamw[k])
    for t_sgd, t_adamw in zip(batch_sgd, batch_adamw):
        assert torch.equal(t_sgd, t_adamw)
    # seeds differ from each other
    assert not torch.equal(params_sgd["W1"][0], params_sgd["W1"][1])


def test_initial_evaluation_is_identical_across_methods():
    curves = _curves(_records("sgd,adamw", seeds="3"))
    for seed in range(3):
        assert curves[("sgd", seed)]["train_loss"][0] == curves[("adamw", seed)]["train_loss"][0]
        assert curves[("sgd", seed)]["test_acc"][0] == curves[("adamw", seed)]["test_acc"][0]
