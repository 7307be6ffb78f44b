"""Training of EGRU sequence models (classification or regression), NumPy + Numba.

``fit`` runs mini-batch BPTT in the shared loop (``eventsim.training_loop``) with the shared
optimisers (``eventsim.optim``): each epoch shuffles the training set with
``numpy.random.default_rng([seed, epoch])``; per batch it computes loss and gradients
(``EGRUClassifier.loss_and_grad``, in ``EGRUTask``), clips the joint gradient norm
(``clip_grad_norm``), takes an Adam step (AdamW with ``weight_decay``, thresholds masked out of
the decay) and clamps the thresholds to [0, 1]. After each epoch it evaluates on the optional
validation set. The returned history has one entry per epoch, the shared loop's keys
(``eventsim.training_loop.HISTORY_KEYS``):

``loss``, ``acc`` (means over the epoch's samples; ``acc`` NaN for regression), ``grad_norm``
(mean over batches, before clipping), ``lr``, ``val_loss``, ``val_acc`` (empty without
validation data), ``epoch_s`` (wall time of the epoch, s);

plus the EGRU figures ``train_activity`` (mean fraction of units emitting per step),
``back_fraction`` (mean fraction of units whose error is propagated through R), ``val_activity``,
``fwd_macs`` / ``fwd_macs_dense`` / ``bwd_macs`` / ``bwd_macs_dense`` (summed over the epoch), and
the earlier names ``epoch`` (1-based), ``train_loss`` (= ``loss``), ``train_acc`` (= ``acc``) and
``time`` (s since the start of ``fit``).
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

import numpy as np

from ..checks import nonnegative_int, nonnegative_number, positive_int, positive_number
from ..optim import Adam, Optimizer, Schedule
from ..training_loop import BatchResult, History, TrainTask, train_epochs
from .model import EGRUClassifier


def _not_threshold(name: str) -> bool:
    """Weight decay mask of EGRU models: weights and biases decay, thresholds (``*.thr``) do not."""
    return not name.endswith(".thr")


class EGRUTask(TrainTask):
    """The EGRU part of training for the shared loop: loss and sparse-BPTT gradients of a batch
    (restricted to the optimised ``keys``), threshold clamping after every step, validation."""

    def __init__(self, model: EGRUClassifier, X: np.ndarray, y: np.ndarray, keys, *, seed: int = 0,
                 activity_reg: float = 0.0, activity_target: float = 0.0,
                 augment: Optional[Callable[[np.ndarray, np.random.Generator], np.ndarray]] = None,
                 X_val: Optional[np.ndarray] = None, y_val: Optional[np.ndarray] = None):
        self.model, self.X, self.y, self.keys = model, X, y, list(keys)
        self.seed, self.activity_reg, self.activity_target = seed, activity_reg, activity_target
        self.augment, self.X_val, self.y_val = augment, X_val, y_val
        self.aug_rng: Optional[np.random.Generator] = None

    def begin_epoch(self, epoch: int) -> None:
        # augmentation draws from its own stream, so an identity augmentation changes nothing
        self.aug_rng = np.random.default_rng([self.seed, epoch, 1])

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> BatchResult:
        xb = self.X[idx]
        if self.augment is not None:
            shape = xb.shape
            xb = np.asarray(self.augment(xb, self.aug_rng))
            if xb.shape != shape:
                raise ValueError(f"augment must keep the batch shape {shape}, got {xb.shape}")
        loss, grads, info = self.model.loss_and_grad(xb, self.y[idx], activity_reg=self.activity_reg,
                                                     activity_target=self.activity_target)
        return BatchResult(
            loss=loss, grads={k: grads[k] for k in self.keys},
            correct=info["accuracy"] * idx.size if "accuracy" in info else None,
            means={"train_activity": info["mean_activity"], "back_fraction": info["back_fraction"]},
            totals={"fwd_macs": info["fwd_macs"]["total"], "fwd_macs_dense": info["fwd_macs"]["total_dense"],
                    "bwd_macs": info["bwd_macs"]["total"], "bwd_macs_dense": info["bwd_macs"]["total_dense"]})

    def after_step(self, step: int) -> None:
        self.model.clamp_thresholds()

    def evaluate(self, epoch: int) -> Optional[Dict[str, float]]:
        if self.X_val is None:
            return None
        ev = self.model.evaluate(self.X_val, self.y_val)
        return {"val_loss": ev["loss"], "val_acc": ev.get("accuracy", np.nan), "val_activity": ev["activity"]}


def fit(model: EGRUClassifier, X: np.ndarray, y: np.ndarray, *, epochs: int = 10, batch_size: int = 64,
        lr: Schedule = 1e-3, clip: Optional[float] = 1.0, X_val: Optional[np.ndarray] = None,
        y_val: Optional[np.ndarray] = None, activity_reg: float = 0.0, activity_target: float = 0.0,
        seed: int = 0, optimizer: Optional[Optimizer] = None, train_thresholds: bool = True, weight_decay: float = 0.0,
        progress: bool = False, augment: Optional[Callable[[np.ndarray, np.random.Generator], np.ndarray]] = None,
        callback: Optional[Callable[[int, Dict[str, List[float]]], Optional[bool]]] = None) -> History:
    """Train ``model`` in place on (X (n, T, I), y (n,) labels or targets); returns the history.

    ``lr``: float or schedule (e.g. ``optim.ExponentialDecay``) for the default Adam, or pass your
    own ``optimizer`` over ``model.params``. ``clip``: max joint gradient L2 norm (None: no clipping).
    ``activity_reg``/``activity_target``: see ``EGRUClassifier.loss_and_grad``.
    ``train_thresholds=False`` keeps the thresholds at their initial values (as EvNN's language
    models, whose threshold learning rate is 0). ``weight_decay``: decoupled weight decay of the
    default Adam (``eventsim.optim.Adam(weight_decay=..., mask=...)``: ``p *= 1 - lr * weight_decay``
    before each step) of weights and biases, not thresholds; a custom ``optimizer`` carries its own
    (passing both is a ValueError).
    ``augment(X_batch, rng) -> X_batch`` (same shape) is applied to every training mini-batch, with
    one generator per epoch seeded from ``(seed, epoch)``, so augmented runs are reproducible;
    validation data is never augmented. ``callback(epoch, history)`` runs after every epoch (returning
    True stops training). ``progress``: print one line per epoch. History keys: see the module docstring.
    """
    if not isinstance(model, EGRUClassifier):
        raise ValueError(f"model must be an EGRUClassifier, got {type(model).__name__}")
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    seed = nonnegative_int("seed", seed)
    clip = positive_number("clip", clip, allow_none=True)
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if len(X) == 0:
        raise ValueError("X has no samples (training needs at least one)")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val or neither")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a callable (X_batch, rng) -> X_batch, got {type(augment).__name__}")
    weight_decay = nonnegative_number("weight_decay", weight_decay)
    if optimizer is not None and weight_decay > 0:
        raise ValueError("weight_decay applies to the default Adam; give your optimizer its own "
                         "(eventsim.optim.Adam(params, weight_decay=..., mask=...))")
    params = {k: v for k, v in model.params.items() if train_thresholds or _not_threshold(k)}
    opt = optimizer if optimizer is not None else Adam(params, lr=lr, weight_decay=weight_decay, mask=_not_threshold)
    task = EGRUTask(model, X, y, opt.params.keys(), seed=seed, activity_reg=activity_reg,
                    activity_target=activity_target, augment=augment, X_val=X_val, y_val=y_val)
    hist: History = {k: [] for k in ("epoch", "loss", "acc", "train_activity", "back_fraction", "grad_norm", "lr",
                                     "val_loss", "val_acc", "val_activity", "time", "fwd_macs", "fwd_macs_dense",
                                     "bwd_macs", "bwd_macs_dense", "epoch_s")}
    hist["train_loss"] = hist["loss"]  # earlier names, the same lists
    hist["train_acc"] = hist["acc"]
    t0 = time.perf_counter()

    def legacy_and_progress(ep: int, h: History) -> None:
        h["epoch"].append(ep + 1)
        h["time"].append(time.perf_counter() - t0)
        if progress:
            ce = model.loss == "ce"
            acc = f"  train acc {h['acc'][-1]:.4f}" if ce else ""
            val = "" if X_val is None else (f"  val loss {h['val_loss'][-1]:.4f}"
                                            + (f"  val acc {h['val_acc'][-1]:.4f}" if ce else "")
                                            + f"  val act {h['val_activity'][-1]:.3f}")
            print(f"epoch {ep + 1:3d}  loss {h['loss'][-1]:.4f}{acc}  act {h['train_activity'][-1]:.3f}"
                  f"{val}  lr {h['lr'][-1]:.2e}  {h['time'][-1]:.1f}s", flush=True)

    callbacks = [legacy_and_progress] + ([callback] if callback is not None else [])
    return train_epochs(task, opt, len(X), epochs=epochs, batch_size=batch_size,
                        shuffle=lambda ep: np.random.default_rng([seed, ep]), history=hist, grad_clip=clip,
                        callbacks=callbacks)
