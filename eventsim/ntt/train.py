"""Supervised training of a sparse twin with a fixed mask (the "exploit" phase of NTT).

The network always sees W~ = m * W, so dL/dW = m * dL/dW~ is exactly 0 at pruned positions; after
every Adam step the pruned entries are additionally set to 0 (``W *= m``), so they stay exactly 0
whatever the optimiser does. Loss: mean softmax cross-entropy of the logits; Adam (torch defaults
betas (0.9, 0.999), eps 1e-8), no weight decay; mini-batches from a fresh permutation per epoch drawn
by ``numpy.random.default_rng([seed, 4])`` (last incomplete batch kept).
"""
from __future__ import annotations

import time
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from .core import _check_nonneg, _check_positive_int, check_inputs
from .result import NTTResult
from .twins import Twin, _check_seed, torch_dtype


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


def train_sparse(init: NTTResult, X, y, X_test, y_test, *, epochs: int = 100, batch_size: int = 64,
                 lr: float = 1e-3, seed: int = 0, eval_steps: Sequence[int] = (100,), dtype: str = "float32",
                 progress: bool = False) -> Dict[str, object]:
    """Train the sparse network ``init`` (masks fixed) with cross-entropy; return accuracies and parameters.

    ``X`` (n, *input_shape), ``y`` (n,) int labels; ``X_test``, ``y_test`` likewise. ``eval_steps``:
    Adam steps after which the test accuracy is also recorded (the "short budget"). Returns a dict
    with ``test_acc`` (final), ``train_acc`` (final), ``test_acc_at`` {step: acc}, ``epoch_loss``
    (mean training loss per epoch), ``steps``, ``wall_time_s``, ``params`` (numpy, final),
    ``masks`` (unchanged) and ``max_abs_pruned`` (max |W| at pruned positions; exactly 0).
    """
    if not isinstance(init, NTTResult):
        raise ValueError(f"init must be an NTTResult, got {type(init).__name__}")
    twin = init.twin()
    Xa = check_inputs(twin, X, "X")
    ya = _check_labels(y, Xa.shape[0], twin.n_out, "y")
    Xta = check_inputs(twin, X_test, "X_test")
    yta = _check_labels(y_test, Xta.shape[0], twin.n_out, "y_test")
    epochs = _check_positive_int("epochs", epochs)
    batch_size = _check_positive_int("batch_size", batch_size)
    lr = _check_nonneg("lr", lr, positive=True)
    seed = _check_seed(seed)
    eval_steps = sorted({_check_positive_int("eval_steps", s) for s in eval_steps})
    td = torch_dtype(dtype)

    t0 = time.perf_counter()
    trainable = twin.trainable_names
    P = {k: torch.as_tensor(v, dtype=td).clone().requires_grad_(k in trainable) for k, v in init.params.items()}
    M = {k: torch.as_tensor(m, dtype=td) for k, m in init.masks.items()}
    opt = torch.optim.Adam([P[k] for k in trainable], lr=lr)
    Xt, yt = torch.as_tensor(Xa, dtype=td), torch.as_tensor(ya)
    Xtt, ytt = torch.as_tensor(Xta, dtype=td), torch.as_tensor(yta)
    rng = np.random.default_rng([seed, 4])
    n = Xa.shape[0]
    step = 0
    acc_at: Dict[int, float] = {}
    epoch_loss = []
    from tqdm.auto import tqdm

    for _ in tqdm(range(epochs), disable=not progress, leave=False, desc="train"):
        perm = rng.permutation(n)
        tot, cnt = 0.0, 0
        for j in range(0, n, batch_size):
            idx = perm[j:j + batch_size]
            eff = {k: (P[k] * M[k] if k in M else P[k]) for k in P}
            loss = torch.nn.functional.cross_entropy(twin.apply(eff, Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for k in M:
                    P[k].mul_(M[k])
            step += 1
            tot += loss.item() * len(idx)
            cnt += len(idx)
            if step in eval_steps:
                acc_at[step] = accuracy(twin, P, Xtt, ytt)
        epoch_loss.append(tot / cnt)
    with torch.no_grad():
        max_pruned = max([float(P[k][M[k] == 0].abs().max()) if bool((M[k] == 0).any()) else 0.0 for k in M] + [0.0])
    return {
        "test_acc": accuracy(twin, P, Xtt, ytt),
        "train_acc": accuracy(twin, P, Xt, yt),
        "test_acc_at": acc_at,
        "epoch_loss": np.asarray(epoch_loss),
        "steps": step,
        "wall_time_s": time.perf_counter() - t0,
        "params": {k: v.detach().numpy().astype(np.float64) for k, v in P.items()},
        "masks": {k: m.copy() for k, m in init.masks.items()},
        "max_abs_pruned": max_pruned,
    }
