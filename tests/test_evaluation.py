"""The evaluation's per-seed columns (grokbench.evaluation.measure)."""

import pytest
import torch

from grokbench import evaluation
from grokbench.seedbatch import SeedBatch
from grokbench.spec import parse_overrides, resolve_method, resolve_task

U32 = 2.0 ** -24


class _LogitShaped:
    """The parity task with outputs of shape (S, B, 1): not the labels' shape, so
    ``measure`` scores them chunk by chunk (the path logits take)."""

    def __init__(self, task):
        self.task = task

    def forward(self, params, x):
        return self.task.forward(params, x).unsqueeze(-1)

    def loss(self, out, y):
        return self.task.loss(out.squeeze(-1), y)

    def correct(self, out, y):
        return self.task.correct(out.squeeze(-1), y)


def _parity_batch(seeds: int):
    spec = resolve_task("sparse_parity", parse_overrides(["sparse_parity.hidden=16", "sparse_parity.n_train=60",
                                                          "sparse_parity.n_test=40"]))
    method = resolve_method("sgd", spec, {})
    task = spec.build()
    batch = SeedBatch.build(task, "sparse_parity", method.stream_label, tuple(range(seeds)), method.build(),
                            torch.device("cpu"))
    with torch.no_grad():  # perturbed, so that losses are not trivially those of the init
        for v in batch.params.values():
            v.add_(0.3 * torch.randn(v.shape, generator=torch.Generator().manual_seed(2)))
    return task, batch


def _chunk_by_chunk(task, batch, chunk: int) -> dict[str, list[float]]:
    """The reference: every chunk's forward scored on its own."""
    cols = {k: [] for k in evaluation.COLUMNS}
    with torch.no_grad():
        for lo in range(0, len(batch.seeds), chunk):
            params = {k: v[lo:lo + chunk] for k, v in batch.params.items()}
            for part in ("train", "test"):
                x, y = batch.data[f"x_{part}"][lo:lo + chunk], batch.data[f"y_{part}"][lo:lo + chunk]
                out = task.forward(params, x)
                cols[f"{part}_loss"] += task.loss(out, y).double().tolist()
                cols[f"{part}_acc"] += (task.correct(out, y).sum(dim=1).double() / y.shape[1]).tolist()
    return cols


@pytest.mark.parametrize("logit_shaped", [False, True])
def test_measure_equals_scoring_every_chunk_on_its_own(monkeypatch, logit_shaped):
    """Seven seeds in chunks of two (the last one partial). Accuracies are counts of the same
    outputs: equal exactly. A loss is a mean of n non-negative float32 terms, the same terms
    either way, so any two summation orders differ by at most 2 gamma(n) times the sum."""
    task, batch = _parity_batch(7)
    if logit_shaped:
        task = _LogitShaped(task)
    monkeypatch.setattr(evaluation, "EVAL_CHUNK_EXAMPLES", 2 * (60 + 40))
    got, want = evaluation.measure(task, batch), _chunk_by_chunk(task, batch, 2)
    assert set(got) == set(evaluation.COLUMNS)
    for part, n in (("train", 60), ("test", 40)):
        assert got[f"{part}_acc"] == want[f"{part}_acc"]
        assert len(set(want[f"{part}_loss"])) > 1  # the seeds differ
        tol = 2 * n * U32 / (1 - n * U32)
        for a, b in zip(got[f"{part}_loss"], want[f"{part}_loss"], strict=True):
            assert abs(a - b) <= tol * abs(b)
