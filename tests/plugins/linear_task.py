"""A correct task and a correct method in one file: ``grokbench check`` passes them."""

import torch

from grokbench import Split, Task, Transform, register


@register
class LinearSign(Task):
    name = "linear_sign_check"
    description = "test only: the sign of a random linear function, a linear model, hinge loss"
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
class SeedNoise(Transform):
    name = "seed_noise_check"
    description = "test only: adds noise drawn from each seed's own stream, normalized per seed"
    defaults = {"sigma": 1e-3}

    def update(self, grads, params, state, ctx):
        out = {}
        for k, g in grads.items():
            noise = ctx.randn(*g.shape[1:], dtype=g.dtype)
            out[k] = g + self.sigma * noise / noise.reshape(len(g), -1).norm(dim=1).reshape(-1, *[1] * (g.dim() - 1))
        return out
