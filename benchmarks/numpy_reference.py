"""A straightforward single-seed NumPy implementation of the sparse-parity reference protocol.

The reference point of benchmarks/sparse_parity_speed.py: the plain loop a researcher would
write (float32 throughout), one seed at a time. Same protocol as grokbench's
``sparse_parity`` task: n=20, k=3, 1000 train / 500 test samples in {-1,+1}^n, a 200-unit
ReLU layer (W1 ~ N(0, 2/n), W2 ~ N(0, 2/h), zero biases), hinge loss, SGD lr 0.1 with
coupled weight decay 0.01, batch 32 (last partial batch kept), reshuffled each epoch,
evaluation after every epoch, stop at test accuracy 1.0, budget 200 epochs.
(Its random draws come from NumPy, so its curves are not grokbench's; its protocol is.)
"""

from __future__ import annotations

import numpy as np


def run(seed: int, n: int = 20, k: int = 3, hidden: int = 200, n_train: int = 1000, n_test: int = 500,
        lr: float = 0.1, wd: float = 0.01, batch: int = 32, max_epochs: int = 200) -> dict:
    """Train one seed; return the epoch it solved at (None if not) and epochs run."""
    rng = np.random.default_rng(seed)
    secret = rng.choice(n, size=k, replace=False)
    x_train = rng.choice([-1.0, 1.0], size=(n_train, n)).astype(np.float32)
    x_test = rng.choice([-1.0, 1.0], size=(n_test, n)).astype(np.float32)
    y_train = x_train[:, secret].prod(axis=1)
    y_test = x_test[:, secret].prod(axis=1)
    w1 = (rng.standard_normal((hidden, n)) * np.sqrt(2.0 / n)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.standard_normal(hidden) * np.sqrt(2.0 / hidden)).astype(np.float32)
    b2 = np.float32(0.0)

    def predict(x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ w1.T + b1, 0.0) @ w2 + b2

    for epoch in range(1, max_epochs + 1):
        order = rng.permutation(n_train)
        for start in range(0, n_train, batch):
            idx = order[start : start + batch]
            x, y = x_train[idx], y_train[idx]
            pre = x @ w1.T + b1
            h = np.maximum(pre, 0.0)
            out = h @ w2 + b2
            # d/d out of mean(max(0, 1 - y*out))
            dout = np.where(y * out < 1.0, -y, 0.0).astype(np.float32) / len(idx)
            dw2 = h.T @ dout
            db2 = dout.sum()
            dpre = np.outer(dout, w2) * (pre > 0)
            dw1 = dpre.T @ x
            db1 = dpre.sum(axis=0)
            w1 -= lr * (dw1 + wd * w1)
            b1 -= lr * (db1 + wd * b1)
            w2 -= lr * (dw2 + wd * w2)
            b2 -= lr * (db2 + wd * b2)
        # evaluation (train accuracy too, as grokbench records it)
        train_acc = np.mean(np.sign(predict(x_train)) == y_train)
        test_acc = np.mean(np.sign(predict(x_test)) == y_test)
        if test_acc >= 1.0:
            return {"solve_epoch": epoch, "epochs": epoch, "train_acc": float(train_acc)}
    return {"solve_epoch": None, "epochs": max_epochs, "train_acc": float(train_acc)}


if __name__ == "__main__":
    import time

    for s in range(5):
        t = time.perf_counter()
        r = run(s)
        print(s, r, f"{time.perf_counter() - t:.3f}s")
