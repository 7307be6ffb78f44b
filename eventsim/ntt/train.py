"""Supervised training of a sparse twin with a fixed mask (the "exploit" phase of NTT).

The network always sees W~ = m * W, so dL/dW = m * dL/dW~ is exactly 0 at pruned positions; after
every Adam step the pruned entries are additionally set to 0 (``W *= m``), so they stay exactly 0
whatever the optimiser does. Loss: mean softmax cross-entropy of the logits, gradients by torch
autograd; the epochs and batches are the shared loop of ``eventsim.training_loop``, the steps
``torch.optim.Adam`` (betas (0.9, 0.999), eps 1e-8) behind eventsim's optimiser interface, so that
the float32 arithmetic is the one the recorded NTT results were measured with; no weight decay;
mini-batches from a fresh permutation per epoch drawn by ``numpy.random.default_rng([seed, 4])``
(last incomplete batch kept).
"""
from __future__ import annotations

import time
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from ..checks import nonnegative_int, positive_int, positive_number
from ..optim import Optimizer
from ..training_loop import BatchResult, TrainTask, train_epochs
from .core import check_inputs
from .result import NTTResult
from .twins import Twin, torch_dtype


def _check_labels(y, n: int, n_out: int, name: str = "y") -> np.ndarray:
    ya = np.asarray(y)
    if ya.shape != (n,) or not np.issubdtype(ya.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array of shape ({n},), got shape {ya.shape} dtype {ya.dtype}")
    if n and (ya.min() < 0 or ya.max() >= n_out):
        raise ValueError(f"{name} must be labels in [0, {n_out}), got range [{ya.min()}, {ya.max()}]")
    return ya.astype(np.int64)


def accuracy(twin: Twin, params: Dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of samples whose arg-max logit equals the label."""
    with torch.no_grad():
        return float((twin.apply(params, X).argmax(1) == y).double().mean())


class TorchAdam(Optimizer):
    """``torch.optim.Adam`` (torch defaults but ``lr``) behind ``eventsim.optim.Optimizer``'s
    interface: ``step(grads)`` with NumPy gradients updates the NumPy arrays ``params`` in place
    (the torch tensors share their memory)."""

    def __init__(self, params: Dict[str, np.ndarray], lr: float):
        super().__init__(params, lr)
        self.tensors = {k: torch.from_numpy(v) for k, v in params.items()}
        self.torch = torch.optim.Adam(list(self.tensors.values()), lr=lr)

    def step(self, grads) -> None:
        self._check_grads(grads)
        for k, t in self.tensors.items():
            t.grad = torch.from_numpy(np.ascontiguousarray(grads[k], dtype=self.params[k].dtype))
        self.torch.step()
        self.step_count += 1


class SparseTwinTask(TrainTask):
    """The NTT part of training for the shared loop: cross-entropy of the masked twin and its torch
    autograd gradients on the trainable parameters; after every step the pruned weights are set to
    0 again, and at the steps in ``eval_steps`` the test accuracy is recorded in ``acc_at``.

    ``arrays``: the parameters as NumPy arrays, which the optimiser updates in place; the torch
    tensors in ``P`` share their memory."""

    def __init__(self, twin: Twin, arrays: Dict[str, np.ndarray], masks: Dict[str, np.ndarray], X: torch.Tensor,
                 y: torch.Tensor, *, eval_steps: Sequence[int] = (), X_test: Optional[torch.Tensor] = None,
                 y_test: Optional[torch.Tensor] = None):
        self.twin, self.arrays, self.masks = twin, arrays, masks
        self.P = {k: torch.from_numpy(v) for k, v in arrays.items()}
        self.M = {k: torch.from_numpy(m) for k, m in masks.items()}
        self.trainable = list(twin.trainable_names)
        self.X, self.y, self.X_test, self.y_test = X, y, X_test, y_test
        self.eval_steps = set(eval_steps)
        self.acc_at: Dict[int, float] = {}

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> BatchResult:
        leaves = {k: p.detach().requires_grad_(k in self.trainable) for k, p in self.P.items()}
        eff = {k: (leaves[k] * self.M[k] if k in self.M else leaves[k]) for k in leaves}
        ii = torch.as_tensor(idx)
        loss = torch.nn.functional.cross_entropy(self.twin.apply(eff, self.X[ii]), self.y[ii])
        gs = torch.autograd.grad(loss, [leaves[k] for k in self.trainable])
        return BatchResult(loss=loss.item(), grads={k: g.numpy() for k, g in zip(self.trainable, gs)})

    def after_step(self, step: int) -> None:
        for k, m in self.masks.items():
            self.arrays[k] *= m
        if step in self.eval_steps:
            self.acc_at[step] = accuracy(self.twin, self.P, self.X_test, self.y_test)


def train_sparse(init: NTTResult, X, y, X_test, y_test, *, epochs: int = 100, batch_size: int = 64,
                 lr: float = 1e-3, seed: int = 0, eval_steps: Sequence[int] = (100,), dtype: str = "float32",
                 progress: bool = False) -> Dict[str, object]:
    """Train the sparse network ``init`` (masks fixed) with cross-entropy; return accuracies and parameters.

    ``X`` (n, *input_shape), ``y`` (n,) int labels; ``X_test``, ``y_test`` likewise. ``eval_steps``:
    Adam steps after which the test accuracy is also recorded (the "short budget"). Returns a dict
    with ``test_acc`` (final), ``train_acc`` (final), ``test_acc_at`` {step: acc}, ``epoch_loss``
    (mean training loss per epoch), ``history`` (the shared loop's per-epoch history,
    ``eventsim.training_loop.HISTORY_KEYS``; ``epoch_loss`` is its ``loss``), ``steps``,
    ``wall_time_s``, ``params`` (numpy, final), ``masks`` (unchanged) and ``max_abs_pruned``
    (max |W| at pruned positions; exactly 0).
    """
    if not isinstance(init, NTTResult):
        raise ValueError(f"init must be an NTTResult, got {type(init).__name__}")
    twin = init.twin()
    Xa = check_inputs(twin, X, "X")
    ya = _check_labels(y, Xa.shape[0], twin.n_out, "y")
    Xta = check_inputs(twin, X_test, "X_test")
    yta = _check_labels(y_test, Xta.shape[0], twin.n_out, "y_test")
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    lr = positive_number("lr", lr)
    seed = nonnegative_int("seed", seed)
    eval_steps = sorted({positive_int("eval_steps", s) for s in eval_steps})
    td = torch_dtype(dtype)
    nd = torch.empty(0, dtype=td).numpy().dtype

    t0 = time.perf_counter()
    arrays = {k: np.array(v, dtype=nd) for k, v in init.params.items()}
    masks = {k: np.asarray(m, dtype=nd) for k, m in init.masks.items()}
    Xt, yt = torch.as_tensor(Xa, dtype=td), torch.as_tensor(ya)
    Xtt, ytt = torch.as_tensor(Xta, dtype=td), torch.as_tensor(yta)
    task = SparseTwinTask(twin, arrays, masks, Xt, yt, eval_steps=eval_steps, X_test=Xtt, y_test=ytt)
    opt = TorchAdam({k: arrays[k] for k in task.trainable}, lr=lr)
    hist = train_epochs(task, opt, Xa.shape[0], epochs=epochs, batch_size=batch_size,
                        shuffle=np.random.default_rng([seed, 4]), progress=progress)
    P = task.P
    max_pruned = max([float(np.abs(arrays[k][masks[k] == 0]).max()) if bool((masks[k] == 0).any()) else 0.0
                      for k in masks] + [0.0])
    return {
        "test_acc": accuracy(twin, P, Xtt, ytt),
        "train_acc": accuracy(twin, P, Xt, yt),
        "test_acc_at": dict(task.acc_at),
        "epoch_loss": np.asarray(hist["loss"]),
        "history": hist,
        "steps": opt.step_count,
        "wall_time_s": time.perf_counter() - t0,
        "params": {k: v.astype(np.float64) for k, v in arrays.items()},
        "masks": {k: m.copy() for k, m in init.masks.items()},
        "max_abs_pruned": max_pruned,
    }
