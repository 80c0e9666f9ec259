"""Breaks the test-split rule: its training set is drawn from its test data."""

import torch

from grokbench import Split, Task, register


@register
class TrainsOnTest(Task):
    name = "trains_on_test_check"
    description = "test only: linear_sign_check whose training set includes every test example"
    defaults = {"n": 8, "n_train": 32, "n_test": 16, "batch_size": 8, "eval_every": 1.0, "max_epochs": 5,
                "target": 1.0, "fit_threshold": 0.99}

    def make_data(self, gen):
        w = torch.randn(self.n, generator=gen)
        x = torch.randn(self.n_train + self.n_test, self.n, generator=gen)
        y = torch.sign(x @ w)
        x_test, y_test = x[self.n_train:], y[self.n_train:]
        x_train = torch.cat([x[:self.n_train - self.n_test], x_test])  # the bug: test rows in training
        y_train = torch.cat([y[:self.n_train - self.n_test], y_test])
        return Split(x_train, y_train, x_test, y_test)

    def init_params(self, gen):
        return {"w": 0.1 * torch.randn(self.n, generator=gen)}

    def forward(self, params, x):
        return torch.einsum("sbn,sn->sb", x, params["w"])

    def loss(self, out, y):
        return torch.relu(1 - y * out).mean(dim=1)

    def correct(self, out, y):
        return torch.sign(out) == y
