"""eventsim.training_loop: the shared loop against a hand-written torch loop (same permutations,
torch autograd gradients and norms, torch.optim.Adam), plus its history,
hooks and callbacks."""
import math

import numpy as np
import pytest

from eventsim.optim import Adam
from eventsim.training_loop import HISTORY_KEYS, BatchResult, TrainTask, train_epochs

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(23, 4))
Y = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * RNG.normal(size=23) > 0).astype(np.int64)


class Logistic(TrainTask):
    """Two-class logistic regression with NumPy gradients (closed form)."""

    def __init__(self, w):
        self.w = w
        self.calls = []

    def begin_epoch(self, epoch):
        self.calls.append(("begin", epoch))

    def batch(self, idx, rng):
        x, y = X[idx], Y[idx]
        z = x @ self.w["w"] + self.w["b"]
        p = 1 / (1 + np.exp(-z))
        loss = float(np.mean(np.logaddexp(0, z) - y * z))
        d = (p - y) / len(idx)
        return BatchResult(loss, {"w": x.T @ d, "b": np.array([d.sum()])},
                           correct=int(np.sum((z > 0) == y)), means={"p_mean": float(p.mean())},
                           totals={"n": len(idx)})

    def after_step(self, step):
        self.calls.append(("step", step))

    def evaluate(self, epoch):
        z = X @ self.w["w"] + self.w["b"]
        return {"val_loss": float(np.mean(np.logaddexp(0, z) - Y * z)), "val_acc": float(np.mean((z > 0) == Y))}


def _torch_reference(w0, b0, epochs, batch_size, seed, clip):
    w = torch.tensor(w0.copy(), requires_grad=True)
    b = torch.tensor(b0.copy(), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.05)
    rng = np.random.default_rng(seed)
    Xt, Yt = torch.tensor(X), torch.tensor(Y, dtype=torch.float64)
    losses, norms = [], []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        tot, ns = 0.0, []
        for a in range(0, len(X), batch_size):
            idx = torch.as_tensor(order[a:a + batch_size])
            z = Xt[idx] @ w + b
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, Yt[idx])
            opt.zero_grad()
            loss.backward()
            norm = torch.linalg.vector_norm(torch.cat([w.grad.ravel(), b.grad.ravel()]))
            ns.append(float(norm))
            if clip is not None and norm > clip:  # clip_grad_norm_ with eventsim's 1e-12 (torch: 1e-6)
                for t in (w, b):
                    t.grad.mul_(clip / (norm + 1e-12))
            opt.step()
            tot += loss.item() * len(idx)
        losses.append(tot / len(X))
        norms.append(float(np.mean(ns)))
    return w.detach().numpy(), b.detach().numpy(), losses, norms


@pytest.mark.parametrize("clip", [None, 0.05])
def test_loop_equals_a_torch_loop(clip):
    w0, b0 = RNG.normal(size=4), np.zeros(1)
    p = {"w": w0.copy(), "b": b0.copy()}
    task = Logistic(p)
    h = train_epochs(task, Adam(p, lr=0.05), len(X), epochs=3, batch_size=5,
                     shuffle=np.random.default_rng(11), grad_clip=clip)
    wt, bt, losses, norms = _torch_reference(w0, b0, 3, 5, 11, clip)
    np.testing.assert_allclose(p["w"], wt, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(p["b"], bt, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h["loss"], losses, rtol=1e-10)
    np.testing.assert_allclose(h["grad_norm"], norms, rtol=1e-10)
    assert set(HISTORY_KEYS) <= set(h) and all(len(h[k]) == 3 for k in HISTORY_KEYS)
    assert h["n"] == [23.0] * 3 and h["lr"] == [0.05] * 3
    assert all(0 <= a <= 1 for a in h["acc"]) and h["val_acc"][-1] == task.evaluate(2)["val_acc"]
    assert task.calls[:6] == [("begin", 0)] + [("step", s) for s in range(1, 6)] and task.calls[6] == ("begin", 1)


def test_per_epoch_generators_hooks_and_stopping():
    p = {"w": np.zeros(4), "b": np.zeros(1)}
    order = []
    h = train_epochs(Logistic(p), Adam(p, lr=0.05), len(X), epochs=5, batch_size=30,
                     shuffle=lambda ep: np.random.default_rng([1, ep]),
                     on_epoch_end=lambda ep, hist: order.append(("end", ep, len(hist["epoch_s"]))),
                     callbacks=[lambda ep, hist: order.append(("cb", ep)), lambda ep, hist: ep == 1])
    assert order == [("end", 0, 1), ("cb", 0), ("end", 1, 2), ("cb", 1)]
    assert len(h["loss"]) == 2  # stopped after epoch 1
    # one batch of all samples: the epoch's loss is the loss at the epoch's starting weights
    q = {"w": np.zeros(4), "b": np.zeros(1)}
    assert h["loss"][0] == pytest.approx(math.log(2))
    assert h["loss"][0] == Logistic(q).batch(np.arange(23), None).loss


def test_a_non_finite_loss_stops_with_floating_point_error():
    class Bad(Logistic):
        def batch(self, idx, rng):
            r = super().batch(idx, rng)
            r.loss = float("nan")
            return r

    p = {"w": np.zeros(4), "b": np.zeros(1)}
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 0, batch 0"):
        train_epochs(Bad(p), Adam(p), len(X), epochs=1, batch_size=4, shuffle=np.random.default_rng(0))


def test_layering_of_the_new_modules():
    """training_loop sits below the trainers (never imports them); checks imports only stdlib and numpy."""
    import ast
    import sys
    from pathlib import Path

    import eventsim

    root = Path(eventsim.__file__).parent

    def imports(name):
        tree = ast.parse((root / name).read_text())
        out = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom):
                out.add("." * n.level + (n.module or ""))
            elif isinstance(n, ast.Import):
                out.update(a.name for a in n.names)
        return out

    loop = imports("training_loop.py")
    assert not any(m.lstrip(".").split(".")[0] in ("train", "egru", "ntt") or m.startswith("eventsim.")
                   for m in loop), loop
    chk = imports("checks.py")
    assert all(m == "numpy" or m == "__future__" or m in sys.stdlib_module_names for m in chk), chk
