"""Two tasks that each break one rule: test-split (trains on test rows) and seed-batch (its
forward normalizes over every seed at once)."""

import torch

from grokbench import Split, Task, register


class LinearSign(Task):
    """The sign of a random linear function, a linear model, hinge loss (not registered)."""

    defaults = {"n": 8, "n_train": 32, "n_test": 16, "batch_size": 8, "eval_every": 1.0, "max_epochs": 5,
                "target": 1.0, "fit_threshold": 0.99}

    def make_data(self, gen):
        w = torch.randn(self.n, generator=gen)
        x = torch.randn(self.n_train + self.n_test, self.n, generator=gen)
        y = torch.sign(x @ w)
        return Split(x[:self.n_train], y[:self.n_train], x[self.n_train:], y[self.n_train:])

    def init_params(self, gen):
        return {"w": 0.1 * torch.randn(self.n, generator=gen)}

    def forward(self, params, x):
        return torch.einsum("sbn,sn->sb", x, params["w"])

    def loss(self, out, y):
        return torch.relu(1 - y * out).mean(dim=1)

    def correct(self, out, y):
        return torch.sign(out) == y


@register
class TrainsOnTest(LinearSign):
    name = "trains_on_test_check"
    description = "test only: its training set includes every test example"

    def make_data(self, gen):
        split = super().make_data(gen)
        keep = self.n_train - self.n_test
        x_train = torch.cat([split.x_train[:keep], split.x_test])  # the bug: test rows in training
        y_train = torch.cat([split.y_train[:keep], split.y_test])
        return Split(x_train, y_train, split.x_test, split.y_test)


@register
class MixesSeedsInForward(LinearSign):
    name = "mixes_seeds_task_check"
    description = "test only: outputs scaled by their spread over every seed and example at once"

    def forward(self, params, x):
        out = super().forward(params, x)
        return out / out.std()  # per seed: out.std(dim=1, keepdim=True)
