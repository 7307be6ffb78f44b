"""The one mini-batch training loop behind ``eventsim.train.fit`` (LIF, EventProp),
``eventsim.egru.fit`` and ``eventsim.ntt.train_sparse``.

The loop owns what every trainer shares: one permutation of the training set per epoch (the last,
partial batch kept), the optimiser step (``eventsim.optim``) with optional clipping of the joint
gradient norm, a refusal of non-finite losses, the history, an optional tqdm bar, a hook after
every epoch (checkpoints) and the callbacks. What differs between models is a ``TrainTask``
object with four methods: ``batch`` (loss and gradients of one mini-batch), ``after_step``
(anything to do to the parameters after an optimiser step: clamp thresholds, re-apply masks),
``evaluate`` (validation after an epoch) and ``begin_epoch``.

History (``HISTORY_KEYS``; one float per epoch, in this order of filling):

``lr``         learning rate of the epoch's first step (``Optimizer.current_lr``)
``loss``       mean training loss over the epoch's samples (each batch's mean weighted by its size;
               the weights change during the epoch)
``acc``        fraction of training samples classified correctly, the same way (NaN when the task
               does not classify)
``grad_norm``  mean over the epoch's batches of the joint L2 norm of the gradient, before clipping
``val_loss``, ``val_acc``  from ``TrainTask.evaluate`` (lists stay empty without validation)
``epoch_s``    wall time of the epoch (s), validation included

A task may add its own per-epoch figures: ``BatchResult.means`` (sample-weighted means over the
epoch), ``BatchResult.totals`` (sums over the epoch) and further keys of ``evaluate``'s dict.

This module sits below the trainers: it imports ``eventsim.optim`` and NumPy only (tqdm on
demand), never ``eventsim.train``, ``eventsim.egru`` or ``eventsim.ntt``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from .optim import Optimizer, clip_grad_norm

History = Dict[str, List[float]]
Callback = Callable[[int, History], Optional[bool]]
Shuffle = Union[np.random.Generator, Callable[[int], np.random.Generator]]
HISTORY_KEYS = ("loss", "acc", "val_loss", "val_acc", "lr", "epoch_s", "grad_norm")


@dataclass
class BatchResult:
    """Loss and gradients of one mini-batch, as ``TrainTask.batch`` returns them.

    ``loss``: mean loss over the batch's samples (a float); ``grads``: one array per optimised
    parameter (the optimiser's keys and shapes; the loop may scale them in place to clip them);
    ``correct``: number of samples classified correctly (None: not a classification);
    ``means``: further figures per batch (means over its samples), averaged over the epoch with
    the batch sizes as weights; ``totals``: further counts per batch, summed over the epoch.
    """

    loss: float
    grads: Dict[str, np.ndarray]
    correct: Optional[float] = None
    means: Mapping[str, float] = field(default_factory=dict)
    totals: Mapping[str, float] = field(default_factory=dict)


class TrainTask:
    """The model-specific part of training. Subclass it and implement ``batch``; the other methods
    default to doing nothing."""

    def begin_epoch(self, epoch: int) -> None:
        """Called before the first batch of ``epoch`` (0-based)."""

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> BatchResult:  # pragma: no cover - abstract
        """Loss and gradients on the training samples ``idx``. ``rng`` is the epoch's shuffling
        generator (for augmentation that must stay reproducible)."""
        raise NotImplementedError

    def after_step(self, step: int) -> None:
        """Called after every optimiser step; ``step`` is the optimiser's step count (1-based)."""

    def evaluate(self, epoch: int) -> Optional[Mapping[str, float]]:
        """Validation after ``epoch``: a dict such as ``{"val_loss": ..., "val_acc": ...}`` whose
        entries are appended to the history, or None (no validation)."""
        return None


def train_epochs(task: TrainTask, optimizer: Optimizer, n_samples: int, *, epochs: int, batch_size: int,
                 shuffle: Shuffle, start_epoch: int = 0, history: Optional[History] = None,
                 grad_clip: Optional[float] = None, callbacks: Sequence[Callback] = (),
                 on_epoch_end: Optional[Callable[[int, History], None]] = None,
                 progress: bool = False, desc: str = "train") -> History:
    """Train with ``task`` and ``optimizer`` from epoch ``start_epoch`` up to ``epochs``; return the history.

    Per epoch: ``task.begin_epoch``; the learning rate is recorded; the order of the
    ``n_samples`` training samples is ``rng.permutation(n_samples)``, where ``rng`` is ``shuffle``
    (one generator carried across epochs, so its state can be checkpointed) or ``shuffle(epoch)``
    (a generator per epoch); batches of ``batch_size`` (the last one partial) go through
    ``task.batch``, the loop checks that the loss is finite (FloatingPointError otherwise),
    clips the gradients to ``grad_clip`` (``clip_grad_norm``) and steps the optimiser, then calls
    ``task.after_step``. After the epoch: ``task.evaluate``, ``epoch_s``, ``on_epoch_end(epoch,
    history)`` (e.g. write a checkpoint) and the callbacks ``cb(epoch, history)``, in order; one
    returning True stops training after this epoch. ``history``: the history so far (a resumed
    run), extended in place. ``progress``: a tqdm bar over the batches.
    """
    hist: History = history if history is not None else {}
    for k in HISTORY_KEYS:
        hist.setdefault(k, [])
    n = int(n_samples)
    steps_per_epoch = (n + batch_size - 1) // batch_size
    bar = None
    if progress and epochs > start_epoch:
        from tqdm.auto import tqdm

        bar = tqdm(total=(epochs - start_epoch) * steps_per_epoch, desc=desc, unit="batch", dynamic_ncols=True)
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            task.begin_epoch(epoch)
            hist["lr"].append(optimizer.current_lr())
            rng = shuffle if isinstance(shuffle, np.random.Generator) else shuffle(epoch)
            order = rng.permutation(n)
            tot = norm_sum = 0.0
            correct: Optional[float] = 0.0
            seen = n_batches = 0
            means: Dict[str, float] = {}
            totals: Dict[str, float] = {}
            for a in range(0, n, batch_size):
                idx = order[a:a + batch_size]
                r = task.batch(idx, rng)
                loss = float(r.loss)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss} at epoch {epoch}, batch {a // batch_size}")
                if grad_clip is not None:
                    norm = clip_grad_norm(r.grads, grad_clip)
                else:
                    norm = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in r.grads.values())))
                optimizer.step(r.grads)
                task.after_step(optimizer.step_count)
                m = idx.size
                seen += m
                n_batches += 1
                tot += loss * m
                norm_sum += norm
                if r.correct is None or correct is None:
                    correct = None
                else:
                    correct += float(r.correct)
                for k, v in r.means.items():
                    means[k] = means.get(k, 0.0) + float(v) * m
                for k, v in r.totals.items():
                    totals[k] = totals.get(k, 0.0) + float(v)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"epoch {epoch + 1}/{epochs} loss {tot / seen:.4f}"
                                        + (f" acc {correct / seen:.4f}" if correct is not None else "")
                                        + (f" val {hist['val_acc'][-1]:.4f}" if hist["val_acc"] else ""),
                                        refresh=False)  # drawn at tqdm's own pace, not once per batch
            hist["loss"].append(tot / n)
            hist["acc"].append(correct / n if correct is not None else math.nan)
            hist["grad_norm"].append(norm_sum / max(1, n_batches))
            for k, v in means.items():
                hist.setdefault(k, []).append(v / n)
            for k, v in totals.items():
                hist.setdefault(k, []).append(v)
            ev = task.evaluate(epoch)
            if ev is not None:
                for k, v in ev.items():
                    hist.setdefault(k, []).append(float(v))
            hist["epoch_s"].append(time.perf_counter() - t0)
            if on_epoch_end is not None:
                on_epoch_end(epoch, hist)
            stop = False
            for cb in callbacks:
                stop = bool(cb(epoch, hist)) or stop
            if stop:
                break
    finally:
        if bar is not None:
            bar.close()
    return hist
