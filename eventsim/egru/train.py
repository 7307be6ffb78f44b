"""Training loop for EGRU sequence models (classification or regression), NumPy + Numba.

``fit`` runs mini-batch BPTT with the shared optimisers (``eventsim.optim``): each epoch shuffles
the training set with ``numpy.random.default_rng([seed, epoch])``; per batch it computes loss and
gradients (``EGRUClassifier.loss_and_grad``), clips the joint gradient norm (``clip_grad_norm``),
takes an Adam step and clamps the thresholds to [0, 1]. After each epoch it evaluates on the
optional validation set. The returned history has one entry per epoch:

``epoch``, ``train_loss`` (mean over batches, regulariser included), ``train_acc``,
``train_activity`` (mean fraction of units emitting per step), ``back_fraction`` (mean fraction
of units whose error is propagated through R), ``grad_norm`` (mean, before clipping), ``lr``,
``val_loss``, ``val_acc``, ``val_activity``, ``time`` (s since start), plus ``fwd_macs`` /
``fwd_macs_dense`` / ``bwd_macs`` / ``bwd_macs_dense`` summed over the epoch.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Union

import numpy as np

from ..optim import Adam, Optimizer, Schedule, clip_grad_norm
from .model import EGRUClassifier
from .params import check_size


def fit(model: EGRUClassifier, X: np.ndarray, y: np.ndarray, *, epochs: int = 10, batch_size: int = 64,
        lr: Schedule = 1e-3, clip: Optional[float] = 1.0, X_val: Optional[np.ndarray] = None,
        y_val: Optional[np.ndarray] = None, activity_reg: float = 0.0, activity_target: float = 0.0,
        seed: int = 0, optimizer: Optional[Optimizer] = None, train_thresholds: bool = True, weight_decay: float = 0.0,
        progress: bool = False, augment: Optional[Callable[[np.ndarray, np.random.Generator], np.ndarray]] = None,
        callback: Optional[Callable[[int, Dict[str, List[float]]], None]] = None) -> Dict[str, List[float]]:
    """Train ``model`` in place on (X (n, T, I), y (n,) labels or targets); returns the history.

    ``lr``: float or schedule (e.g. ``optim.ExponentialDecay``) for the default Adam, or pass your
    own ``optimizer`` over ``model.params``. ``clip``: max joint gradient L2 norm (None: no clipping).
    ``activity_reg``/``activity_target``: see ``EGRUClassifier.loss_and_grad``.
    ``train_thresholds=False`` keeps the thresholds at their initial values (as EvNN's language
    models, whose threshold learning rate is 0). ``weight_decay``: decoupled weight decay (AdamW style:
    ``p *= 1 - lr * weight_decay`` before each optimiser step) of weights and biases, not thresholds.
    ``augment(X_batch, rng) -> X_batch`` (same shape) is applied to every training mini-batch, with
    one generator per epoch seeded from ``(seed, epoch)``, so augmented runs are reproducible;
    validation data is never augmented. ``callback(epoch,
    history)`` runs after every epoch. ``progress``: print one line per epoch.
    """
    if not isinstance(model, EGRUClassifier):
        raise ValueError(f"model must be an EGRUClassifier, got {type(model).__name__}")
    epochs = check_size("epochs", epochs)
    batch_size = check_size("batch_size", batch_size)
    if clip is not None and not (np.isfinite(clip) and clip > 0):
        raise ValueError(f"clip must be positive or None, got {clip!r}")
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val or neither")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a callable (X_batch, rng) -> X_batch, got {type(augment).__name__}")
    if not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be >= 0 and finite, got {weight_decay!r}")
    params = {k: v for k, v in model.params.items() if train_thresholds or not k.endswith(".thr")}
    decayed = [v for k, v in params.items() if not k.endswith(".thr")]
    opt = optimizer if optimizer is not None else Adam(params, lr=lr)
    keys = ["epoch", "train_loss", "train_acc", "train_activity", "back_fraction", "grad_norm", "lr",
            "val_loss", "val_acc", "val_activity", "time", "fwd_macs", "fwd_macs_dense", "bwd_macs", "bwd_macs_dense"]
    hist: Dict[str, List[float]] = {k: [] for k in keys}
    t0 = time.perf_counter()
    n = len(X)
    for ep in range(epochs):
        order = np.random.default_rng([seed, ep]).permutation(n)
        aug_rng = np.random.default_rng([seed, ep, 1])
        s_loss = s_acc = s_act = s_back = s_gn = 0.0
        nb = 0
        macs = {"fwd_macs": 0, "fwd_macs_dense": 0, "bwd_macs": 0, "bwd_macs_dense": 0}
        lr_now = opt.current_lr()
        for a in range(0, n, batch_size):
            idx = order[a:a + batch_size]
            xb = X[idx]
            if augment is not None:
                shape = xb.shape
                xb = np.asarray(augment(xb, aug_rng))
                if xb.shape != shape:
                    raise ValueError(f"augment must keep the batch shape {shape}, got {xb.shape}")
            loss, grads, info = model.loss_and_grad(xb, y[idx], activity_reg=activity_reg,
                                                    activity_target=activity_target)
            grads = {k: grads[k] for k in params}
            gn = clip_grad_norm(grads, clip) if clip is not None else float(
                np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
            if weight_decay > 0:
                f = 1.0 - opt.current_lr() * weight_decay
                for v in decayed:
                    v *= f
            opt.step(grads)
            model.clamp_thresholds()
            s_loss += loss
            s_acc += info.get("accuracy", np.nan)
            s_act += info["mean_activity"]
            s_back += info["back_fraction"]
            s_gn += gn
            nb += 1
            macs["fwd_macs"] += info["fwd_macs"]["total"]
            macs["fwd_macs_dense"] += info["fwd_macs"]["total_dense"]
            macs["bwd_macs"] += info["bwd_macs"]["total"]
            macs["bwd_macs_dense"] += info["bwd_macs"]["total_dense"]
        hist["epoch"].append(ep + 1)
        hist["train_loss"].append(s_loss / nb)
        hist["train_acc"].append(s_acc / nb)
        hist["train_activity"].append(s_act / nb)
        hist["back_fraction"].append(s_back / nb)
        hist["grad_norm"].append(s_gn / nb)
        hist["lr"].append(lr_now)
        for k, v in macs.items():
            hist[k].append(float(v))
        if X_val is not None:
            ev = model.evaluate(X_val, y_val)
            hist["val_loss"].append(ev["loss"])
            hist["val_acc"].append(ev.get("accuracy", np.nan))
            hist["val_activity"].append(ev["activity"])
        else:
            for k in ("val_loss", "val_acc", "val_activity"):
                hist[k].append(np.nan)
        hist["time"].append(time.perf_counter() - t0)
        if progress:
            ce = model.loss == "ce"
            acc = f"  train acc {hist['train_acc'][-1]:.4f}" if ce else ""
            val = "" if X_val is None else (f"  val loss {hist['val_loss'][-1]:.4f}"
                                            + (f"  val acc {hist['val_acc'][-1]:.4f}" if ce else "")
                                            + f"  val act {hist['val_activity'][-1]:.3f}")
            print(f"epoch {ep + 1:3d}  loss {hist['train_loss'][-1]:.4f}{acc}  act {hist['train_activity'][-1]:.3f}"
                  f"{val}  lr {lr_now:.2e}  {hist['time'][-1]:.1f}s", flush=True)
        if callback is not None:
            callback(ep, hist)
    return hist
