"""Training loop for EventProp: mini-batches, Adam/SGD, learning-rate schedule, checkpoints, progress.

``fit(net, inputs, labels, loss, t_max, ...)`` trains ``net`` in place:

- every epoch the training set is shuffled with one ``numpy.random.Generator`` (PCG64) built from
  ``seed`` and carried across epochs; the last, partial mini-batch is kept;
- a mini-batch is simulated and back-propagated as one batch by ``eventsim.eventprop.value_and_grad``
  (samples run in parallel inside the Numba kernels), optionally clipped to a global gradient norm
  (``eventsim.optim.clip_grad_norm``), and applied by the optimiser (``eventsim.optim.Adam`` or
  ``SGD``); the learning rate is ``lr * lr_decay ** epoch`` (``ExponentialDecay``, stepped per batch);
- after every epoch the optional validation set is evaluated, a checkpoint is written (HDF5,
  atomically) and the callbacks run.

The epochs, batches, optimiser steps, clipping, history and callbacks are the shared loop of
``eventsim.training_loop`` (also used by ``eventsim.egru.fit`` and ``eventsim.ntt.train_sparse``);
this module adds what is specific to spiking networks (``EventPropTask``), checkpoints and
provenance.

Checkpoint file (format ``eventsim.checkpoint``, version 1)::

    attrs    epoch (epochs completed), optimizer ('Adam'|'SGD'), config (JSON, below),
             rng_state (JSON of the PCG64 state), best_val_acc, best_epoch
    /network     the network (``eventsim.io.write_network_group``)
    /optimizer   the optimiser's ``state_dict()`` (step count, Adam moments / SGD momentum)
    /history     one float64 dataset per history key
    /best        weights of the best validation epoch (only with ``restore_best``)

``config`` records what the run was made with (its provenance, ``PROVENANCE_KEYS``):
``data_sha256`` (``data_fingerprint`` of the training inputs and labels), ``n_samples``,
``val_sha256`` (the same for ``val``, or null; compared only when both runs have ``val``),
``batch_size``, ``seed``, ``t_max`` (ms), ``loss`` (class and settings of every loss),
``optimizer`` (class, betas/eps/weight decay or momentum; for an optimiser object also its
learning-rate schedule), ``lr`` and ``lr_decay`` (null for an optimiser object), ``grad_clip``, ``augment`` (the augmentation function's qualified name, or null),
plus ``resumed_with_mismatch``: every resume that was allowed to differ (epoch, and per field the
checkpoint's and the new value).

Resuming (``resume=True``) restores all of it, so training 2 epochs equals training 1 epoch,
resuming and training 1 more, bit for bit (tests/test_train.py). It first compares the recorded
provenance with the run's and refuses any difference with a ValueError naming each differing field
with both values, unless ``allow_mismatch=True`` (then a ``CheckpointWarning`` lists them and the
new checkpoint records them). Checkpoints written before the provenance was recorded have only
lr, lr_decay, batch_size, seed, grad_clip, t_max and n_samples: those are compared, and the
missing fields are reported by a ``CheckpointWarning``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .checks import in_interval, nonnegative_int, positive_int, positive_number
from .files import atomic_h5, check_backed, count_attr, number_attr, open_h5, reading, text_attr
from .io import read_network_group, write_network_group
from .losses import LossSpec, as_list, check_labels
from .network import Network
from .optim import SGD, Adam, ExponentialDecay, Optimizer
from .params import positive_ms
from .simulate import simulate
from .spikes import SpikeBatch
from .training_loop import HISTORY_KEYS, BatchResult, Callback, History, TrainTask, train_epochs


PROVENANCE_KEYS = ("data_sha256", "n_samples", "val_sha256", "batch_size", "seed", "t_max", "loss", "optimizer",
                   "lr", "lr_decay", "grad_clip", "augment")


class CheckpointWarning(UserWarning):
    """Resuming from a checkpoint whose provenance could not be checked in full (it was written
    before checkpoints recorded it) or differs from the run's and was allowed (``allow_mismatch``)."""


def _n_classes(net: Network, losses) -> Optional[int]:
    """The smallest population size among the losses that read labels (None if none does)."""
    sizes = [net.population(l.population).size for l in losses if getattr(l, "uses_labels", True)]
    return min(sizes) if sizes else None


def _check_data(inputs, labels, name: str = "inputs", labels_name: str = "labels",
                n_classes: Optional[int] = None) -> np.ndarray:
    """ValueError unless ``inputs`` is a SpikeBatch and ``labels`` one class index in
    [0, n_classes) per sample (``eventsim.losses.check_labels``); the labels as int64."""
    if not isinstance(inputs, SpikeBatch):
        raise ValueError(f"{name} must be a SpikeBatch (see eventsim.data.latency_encode), "
                         f"got {type(inputs).__name__}")
    return check_labels(labels, inputs.n_samples, n_classes, name=labels_name)


def data_fingerprint(inputs: SpikeBatch, labels) -> str:
    """SHA-256 (hex) of a data set: the spike arrays of ``inputs`` (offsets, ids, times; sample and
    neuron counts) and the labels as int64, little-endian. Equal for equal data whatever the
    arrays' dtypes; any changed spike time, neuron, sample order or label changes it."""
    h = hashlib.sha256(b"eventsim.data/1")
    h.update(np.asarray([inputs.n_samples, inputs.n_neurons], dtype="<i8").tobytes())
    y = np.asarray(labels) if labels is not None else np.zeros(0)
    for arr, dt in ((inputs.offsets, "<i8"), (inputs.ids, "<i8"), (inputs.times, "<f8"), (y, "<i8")):
        a = np.ascontiguousarray(arr, dtype=dt)
        h.update(np.asarray([a.size], dtype="<i8").tobytes())
        h.update(a.tobytes())
    return h.hexdigest()


def _jsonable(x):
    return json.loads(json.dumps(x, default=lambda v: v.item() if hasattr(v, "item") else repr(v)))


def _loss_settings(losses) -> List[Dict]:
    out = []
    for l in losses:
        d = {"class": type(l).__name__}
        if dataclasses.is_dataclass(l):
            d.update({f.name: getattr(l, f.name) for f in dataclasses.fields(l)})
        out.append(d)
    return _jsonable(out)


def _schedule_settings(lr):
    if isinstance(lr, ExponentialDecay):
        return {"ExponentialDecay": {"lr0": float(lr.lr0), "gamma": float(lr.gamma), "every": int(lr.every)}}
    if callable(lr):
        return "callable " + getattr(lr, "__qualname__", type(lr).__name__)
    return float(lr)


def _optimizer_settings(opt: Optimizer, schedule: bool = True) -> Dict:
    """Class and hyper-parameters of ``opt``; its learning-rate schedule too with ``schedule``
    (an optimiser that ``fit`` builds from ``lr``/``lr_decay`` records those instead)."""
    d = {"class": type(opt).__name__}
    if schedule:
        d["lr"] = _schedule_settings(opt.lr)
    for k in ("b1", "b2", "eps", "weight_decay", "momentum"):
        if hasattr(opt, k):
            d[k] = float(getattr(opt, k))
    if getattr(opt, "masked", False):
        d["decayed"] = sorted(opt.decayed)
    if getattr(opt, "lr_scale", None):
        d["lr_scale"] = dict(sorted(opt.lr_scale.items()))
    return _jsonable(d)


def _callable_name(fn) -> Optional[str]:
    if fn is None:
        return None
    return f"{getattr(fn, '__module__', None) or ''}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def provenance_mismatches(recorded: Dict, current: Dict) -> Dict[str, Tuple]:
    """``{field: (recorded, current)}`` for every field of ``PROVENANCE_KEYS`` that ``recorded`` (a
    checkpoint's config) holds and that differs in ``current``. ``lr``/``lr_decay`` are compared
    only when both runs set them (an optimiser object carries its schedule in ``optimizer``), and
    ``val_sha256`` only when both runs have validation data (validation never changes the weights;
    a resume may leave it out)."""
    current = _jsonable(current)
    out = {}
    for k in PROVENANCE_KEYS:
        if k not in recorded:
            continue
        a, b = recorded[k], current.get(k)
        if k in ("lr", "lr_decay", "val_sha256") and (a is None or b is None):
            continue
        if a != b:
            out[k] = (a, b)
    return out


def _short(v) -> str:
    return json.dumps(v, default=str)


def _check_t_max(t_max) -> float:
    return positive_ms("t_max", t_max)


def predict(net: Network, inputs: SpikeBatch, loss: LossSpec, t_max: float, batch_size: int = 1000) -> np.ndarray:
    """Predicted class per sample (the first loss's ``predict``; -1 where it cannot decide)."""
    first = as_list(loss)[0]
    if not isinstance(inputs, SpikeBatch):
        raise ValueError(f"inputs must be a SpikeBatch (see eventsim.data.latency_encode), got {type(inputs).__name__}")
    t_max = _check_t_max(t_max)
    batch_size = positive_int("batch_size", batch_size)
    out = []
    for a in range(0, inputs.n_samples, batch_size):
        idx = np.arange(a, min(inputs.n_samples, a + batch_size))
        out.append(first.predict(simulate(net, inputs.subset(idx), t_max, progress=False)))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def evaluate(net: Network, inputs: SpikeBatch, labels, loss: LossSpec, t_max: float,
             batch_size: int = 1000) -> Tuple[float, float]:
    """(mean loss, accuracy in [0, 1]) of ``net`` on a data set; the first loss predicts.

    The loss is the sum of the losses in ``loss`` (as in training), averaged over the samples.
    ``labels``: one integer class index per sample, in [0, size of the loss's population); anything
    else raises ValueError naming ``labels`` (``eventsim.losses.check_labels``). ``t_max`` in ms.
    """
    losses = as_list(loss)
    if not isinstance(net, Network):
        raise ValueError(f"net must be a Network, got {type(net).__name__}")
    for l in losses:
        l.check(net)
    labels = _check_data(inputs, labels, n_classes=_n_classes(net, losses))
    t_max = _check_t_max(t_max)
    batch_size = positive_int("batch_size", batch_size)
    n = inputs.n_samples
    if n == 0:
        raise ValueError("inputs has no samples (evaluate needs at least one)")
    tot_l, correct = 0.0, 0
    for a in range(0, n, int(batch_size)):
        idx = np.arange(a, min(n, a + int(batch_size)))
        res = simulate(net, inputs.subset(idx), t_max, progress=False)
        for l in losses:
            v, _ = l.value_and_parts(res, labels[idx])
            tot_l += float(v) * idx.size
        correct += int(np.sum(losses[0].predict(res) == labels[idx]))
    return tot_l / n, correct / n


def accuracy(net: Network, inputs: SpikeBatch, labels, loss: LossSpec, t_max: float) -> float:
    """Fraction of samples the first loss's ``predict`` gets right (labels checked as in ``evaluate``)."""
    return evaluate(net, inputs, labels, loss, t_max)[1]


# ----------------------------------------------------------------------------------- checkpoints
def save_checkpoint(path, net: Network, opt: Optimizer, epoch: int, history: History, *,
                    rng: Optional[np.random.Generator] = None, config: Optional[Dict] = None,
                    best: Optional[Tuple[float, int, Dict[str, np.ndarray]]] = None) -> None:
    """Write network, optimiser state, RNG state, epoch and history (format ``eventsim.checkpoint``)."""
    with atomic_h5(path, "eventsim.checkpoint") as f:
        f.attrs["epoch"] = int(epoch)
        f.attrs["optimizer"] = type(opt).__name__
        f.attrs["config"] = json.dumps(config or {})
        if rng is not None:
            f.attrs["rng_state"] = json.dumps(rng.bit_generator.state)
        write_network_group(f.create_group("network"), net)
        g = f.create_group("optimizer")
        for k, v in opt.state_dict().items():
            g.create_dataset(k, data=v)
        h = f.create_group("history")
        for k, v in history.items():
            h.create_dataset(k, data=np.asarray(v, dtype=np.float64))
        if best is not None and best[2] is not None:
            f.attrs["best_val_acc"] = float(best[0])
            f.attrs["best_epoch"] = int(best[1])
            b = f.create_group("best")
            for k, v in best[2].items():
                b.create_dataset(k, data=v)


def load_checkpoint(path) -> Dict:
    """Contents of a checkpoint as a dict: ``network`` (Network), ``optimizer_state``, ``optimizer``
    (class name), ``epoch``, ``history``, ``rng_state`` (dict or None), ``config`` (dict) and ``best``
    ((val_acc, epoch, weights) or None)."""
    with open_h5(path, "eventsim.checkpoint") as f, reading(path):
        net = read_network_group(f["network"])
        state: Dict[str, np.ndarray] = {}

        def read_state(k, v):
            if hasattr(v, "shape"):
                check_backed(v, f"optimiser state {k!r}")
                state[k] = v[()]
        f["optimizer"].visititems(read_state)
        history = {}
        for k, v in f["history"].items():
            check_backed(v, f"history {k!r}")
            if v.dtype.kind not in "iuf" or len(v.shape) != 1:
                raise ValueError(f"history {k!r} must be a 1-D array of numbers, got {v.dtype} {v.shape}")
            history[k] = [float(x) for x in v[()]]
        rng_state = json.loads(text_attr(f, "rng_state", "checkpoint")) if "rng_state" in f.attrs else None
        best = None
        if "best" in f:
            best_w = {}
            for k, v in f["best"].items():
                check_backed(v, f"best weights {k!r}")
                best_w[k] = v[()]
            best = (number_attr(f, "best_val_acc", "checkpoint"), count_attr(f, "best_epoch", "checkpoint"), best_w)
        config = json.loads(text_attr(f, "config", "checkpoint")) if "config" in f.attrs else {}
        if not isinstance(config, dict):
            raise ValueError(f"checkpoint: attribute 'config' must hold a JSON object, got {type(config).__name__}")
        return {"network": net, "optimizer_state": state, "optimizer": text_attr(f, "optimizer", "checkpoint"),
                "epoch": count_attr(f, "epoch", "checkpoint"), "history": history, "rng_state": rng_state,
                "config": config, "best": best}


# ------------------------------------------------------------------------------------- training
class EventPropTask(TrainTask):
    """The spiking-network part of ``fit`` for the shared loop (``eventsim.training_loop``): a batch is
    simulated and back-propagated by ``eventsim.eventprop.value_and_grad``; ``evaluate`` runs the
    validation set (and keeps the weights of the best epoch with ``restore_best``).

    ``best``: (val_acc, epoch, weights or None) of the best epoch so far (from a checkpoint)."""

    def __init__(self, net: Network, inputs: SpikeBatch, labels: np.ndarray, losses: List, t_max: float, *,
                 augment=None, val: Optional[Tuple[SpikeBatch, np.ndarray]] = None, eval_batch_size: int = 1000,
                 restore_best: bool = False,
                 best: Tuple[float, int, Optional[Dict[str, np.ndarray]]] = (-1.0, -1, None),
                 value_and_grad: Optional[Callable] = None, delays: Optional[Dict[str, np.ndarray]] = None):
        self.net, self.inputs, self.labels, self.losses, self.t_max = net, inputs, labels, losses, t_max
        self.value_and_grad = value_and_grad  # None: eventsim.eventprop.value_and_grad
        self.augment, self.val, self.eval_batch_size = augment, val, eval_batch_size
        self.restore_best, self.best = restore_best, best
        self.delays = dict(delays or {})  # "delay:src->dst" -> the trained delays (ms), updated by the optimiser
        self.params = {**net.parameters(), **self.delays}
        self.install_delays()

    def install_delays(self) -> None:
        """Clip the trained delays at 0 ms and give each projection a copy (a new array: the network
        rebuilds its kernel layout, which is sorted by delay)."""
        for k, d in self.delays.items():
            np.maximum(d, 0.0, out=d)
            proj = self.net.projections[k[len("delay:"):]]
            if not np.array_equal(proj.delay_array(), d):
                proj.delays = d.copy()

    def after_step(self, step: int) -> None:
        self.install_delays()

    def batch(self, idx: np.ndarray, rng: np.random.Generator) -> BatchResult:
        from .eventprop import value_and_grad

        value_and_grad = self.value_and_grad or value_and_grad
        batch = self.inputs.subset(idx)
        if self.augment is not None:
            batch = self.augment(batch, rng)
            if not isinstance(batch, SpikeBatch) or batch.n_samples != idx.size:
                raise ValueError("augment must return a SpikeBatch with the same number of samples")
        y = self.labels[idx]
        kw = {"wants_delays": True} if self.delays else {}
        L, grads, res = value_and_grad(self.net, batch, y, self.losses, self.t_max, return_result=True, **kw)
        return BatchResult(loss=L, grads=grads, correct=int(np.sum(self.losses[0].predict(res) == y)))

    def evaluate(self, epoch: int) -> Optional[Dict[str, float]]:
        if self.val is None:
            return None
        vl, va = evaluate(self.net, self.val[0], self.val[1], self.losses, self.t_max,
                          batch_size=self.eval_batch_size)
        if self.restore_best and va > self.best[0]:
            self.best = (va, epoch, {k: v.copy() for k, v in self.params.items()})
        return {"val_loss": vl, "val_acc": va}


def delay_parameters(net: Network) -> Dict[str, np.ndarray]:
    """``{"delay:src->dst": copy of the projection's delays (ms, float64, one per synapse)}`` for every
    projection of ``net``: the delay entries of the parameter dict when ``fit`` learns delays."""
    return {"delay:" + k: np.array(p.delay_array(), dtype=np.float64) for k, p in net.projections.items()}


def _make_optimizer(optimizer, params, lr, lr_decay, steps_per_epoch, lr_scale=None) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        for k, p in params.items():
            if optimizer.params.get(k) is not p:
                raise ValueError(f"optimizer must have been built on net.parameters() (key {k!r} differs)")
        return optimizer
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam', 'sgd' or an eventsim.optim.Optimizer, got {optimizer!r}")
    lr_f = positive_number("lr", lr)
    decay_f = in_interval("lr_decay", lr_decay, 0.0, 1.0, low_open=True)
    schedule = ExponentialDecay(lr_f, decay_f, every=steps_per_epoch)
    if optimizer == "adam":
        return Adam(params, lr=schedule, lr_scale=lr_scale)
    return SGD(params, lr=schedule, lr_scale=lr_scale)


def fit(net: Network, inputs: SpikeBatch, labels, loss: LossSpec, t_max: float, *,
        optimizer: Union[str, Optimizer] = "adam", lr: float = 5e-3, lr_decay: float = 0.95,
        epochs: int = 10, batch_size: int = 32, seed: int = 0,
        val: Optional[Tuple[SpikeBatch, np.ndarray]] = None,
        checkpoint: Optional[Union[str, Path]] = None, resume: bool = False,
        grad_clip: Optional[float] = None, progress: bool = True,
        callbacks: Union[None, Callback, Sequence[Callback]] = None,
        restore_best: bool = False, eval_batch_size: int = 1000,
        augment: Optional[Callable[[SpikeBatch, np.random.Generator], SpikeBatch]] = None,
        allow_mismatch: bool = False, value_and_grad: Optional[Callable] = None,
        learn_delays: bool = False, delay_lr: Optional[float] = None) -> History:
    """Train ``net`` in place with exact EventProp gradients; returns the history.

    Args:
        net: network to train (its ``parameters()`` are updated in place).
        inputs: training inputs (SpikeBatch, at least one sample).
        labels: one integer class index per sample, shape (n_samples,), each in [0, size of the
            population each label-reading loss reads); anything else (mixed types, strings, floats,
            NaN, negative or too large values, a wrong length) raises ValueError naming ``labels``.
        loss: loss or list of losses (``eventsim.losses``, summed); the first one predicts.
        t_max: simulated time per sample (ms).
        optimizer: ``"adam"`` (b1 0.9, b2 0.999, eps 1e-8), ``"sgd"``, or an
            ``eventsim.optim.Optimizer`` built on ``net.parameters()`` (then ``lr``/``lr_decay`` are
            ignored: it carries its own schedule), e.g. ``eventsim.optim.AdamW(net.parameters(), lr,
            weight_decay=wd, mask=...)`` (decoupled weight decay of the parameters ``mask`` selects).
        lr: learning rate (positive, finite).
        lr_decay: decay factor of the learning rate per epoch (``ExponentialDecay``), in (0, 1].
        epochs: total number of epochs, >= 1 (a resumed run continues up to this number, which must
            not be below the checkpoint's epoch).
        batch_size: samples per gradient step (>= 1); the last partial batch is kept, and a
            ``batch_size`` above the number of samples gives one batch of all of them per epoch.
        seed: seeds the shuffling generator (PCG64), whose state is checkpointed.
        val: optional ``(inputs, labels)`` evaluated after every epoch (``val_loss``, ``val_acc``).
        checkpoint: HDF5 path written after every epoch (atomic rename).
        resume: continue from ``checkpoint`` (must exist; network shape and optimiser type must match,
            and so must the recorded provenance: training data, batch size, seed, t_max, losses,
            optimiser settings, grad_clip, augmentation, validation data; see ``allow_mismatch``).
        grad_clip: optional maximum global L2 norm of the gradient.
        progress: tqdm bar with the running loss and accuracy of the epoch.
        callbacks: callable(s) ``cb(epoch, history)`` run after every epoch (``epoch`` counted from
            0); one returning ``True`` stops training after that epoch.
        restore_best: with ``val``: finish with the weights of the epoch of best validation accuracy
            (earliest on ties); ``history["best_epoch"]`` holds that epoch (0-based).
        eval_batch_size: samples per simulation call when evaluating ``val``.
        augment: optional ``augment(batch, rng) -> SpikeBatch`` applied to every training mini-batch
            (e.g. ``eventsim.data.drop_spikes``); ``rng`` is the training generator, so augmented
            runs stay deterministic and resume exactly. Validation data is never augmented.
        allow_mismatch: with ``resume``: continue even if the checkpoint was made with other data or
            settings (``PROVENANCE_KEYS``); the differences are reported by a ``CheckpointWarning``
            and recorded in the new checkpoint (``resumed_with_mismatch``). Without it such a resume
            raises ValueError naming every differing field with both values.
        value_and_grad: the function giving each mini-batch's loss and gradients, called as
            ``value_and_grad(net, batch, labels, losses, t_max, return_result=True)`` (default
            ``eventsim.eventprop.value_and_grad``; ``eventsim.distributed.fit`` passes one that runs
            on a Dask cluster).
        learn_delays: also train every projection's synaptic delays (ms) with their exact EventProp
            gradients (``wants_delays``); after each step a delay below 0 is set to 0. The trained
            delays are the projections' ``delays`` arrays (saved with the network and checkpoints).
            Needs ``optimizer="adam"`` or ``"sgd"``.
        delay_lr: learning rate of the delays (ms per step for Adam; default ``lr``), following the
            same per-epoch decay (an ``lr_scale`` of ``delay_lr / lr`` in the optimiser).

    Returns:
        history: dict of per-epoch lists ``loss``/``acc`` (running means over the epoch, while the
        weights change), ``val_loss``/``val_acc`` (after the epoch; empty without ``val``), ``lr``
        (learning rate at the start of the epoch), ``grad_norm`` (mean joint L2 norm of the batch
        gradients, before clipping; NaN for epochs from a checkpoint that did not record it),
        ``epoch_s`` (wall time, s); ``best_epoch``. These are the shared loop's keys
        (``eventsim.training_loop.HISTORY_KEYS``).
    """
    if not isinstance(net, Network):
        raise ValueError(f"net must be a Network, got {type(net).__name__}")
    losses = as_list(loss)
    for l in losses:
        l.check(net)
    n_classes = _n_classes(net, losses)
    if not isinstance(inputs, SpikeBatch):
        raise ValueError(f"inputs must be a SpikeBatch (see eventsim.data.latency_encode), got {type(inputs).__name__}")
    n = inputs.n_samples
    if n == 0:
        raise ValueError("inputs has no samples (training needs at least one)")
    labels = _check_data(inputs, labels, n_classes=n_classes)
    t_max = _check_t_max(t_max)
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    seed = nonnegative_int("seed", seed)
    eval_batch_size = positive_int("eval_batch_size", eval_batch_size)
    grad_clip = positive_number("grad_clip", grad_clip, allow_none=True)
    if val is not None:
        if not (isinstance(val, (tuple, list)) and len(val) == 2):
            raise ValueError("val must be a pair (inputs: SpikeBatch, labels)")
        if isinstance(val[0], SpikeBatch) and val[0].n_samples == 0:
            raise ValueError("val inputs have no samples")
        val = (val[0], _check_data(val[0], val[1], "val inputs", "val labels", n_classes=n_classes))
    if restore_best and val is None:
        raise ValueError("restore_best needs val=(inputs, labels)")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be a callable (batch, rng) -> SpikeBatch, got {type(augment).__name__}")
    if callbacks is None:
        callbacks = []
    elif callable(callbacks):
        callbacks = [callbacks]
    else:
        callbacks = list(callbacks)
        for c in callbacks:
            if not callable(c):
                raise ValueError(f"callbacks must be callables, got {type(c).__name__}")
    if not isinstance(learn_delays, (bool, np.bool_)):
        raise ValueError(f"learn_delays must be True or False, got {learn_delays!r}")
    learn_delays = bool(learn_delays)
    if learn_delays and isinstance(optimizer, Optimizer):
        raise ValueError("learn_delays needs optimizer='adam' or 'sgd' (fit builds the optimiser over the weights "
                         f"and the delays), got an optimizer object ({type(optimizer).__name__})")
    if delay_lr is not None and not learn_delays:
        raise ValueError(f"delay_lr is set ({delay_lr!r}) but learn_delays is False")
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and not ckpt.parent.exists():
        raise ValueError(f"checkpoint: folder {str(ckpt.parent)!r} does not exist")

    steps_per_epoch = (n + batch_size - 1) // batch_size
    params = net.parameters()
    delays = delay_parameters(net) if learn_delays else {}
    lr_scale = None
    if learn_delays:
        lr_f = positive_number("lr", lr)
        d_lr = lr_f if delay_lr is None else positive_number("delay_lr", delay_lr)
        lr_scale = {k: d_lr / lr_f for k in delays}
    opt = _make_optimizer(optimizer, {**params, **delays}, lr, lr_decay, steps_per_epoch, lr_scale)
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    history: History = {k: [] for k in HISTORY_KEYS}
    best: Tuple[float, int, Optional[Dict[str, np.ndarray]]] = (-1.0, -1, None)
    own = not isinstance(optimizer, Optimizer)
    config = _jsonable({
        "data_sha256": data_fingerprint(inputs, labels), "n_samples": int(n),
        "val_sha256": data_fingerprint(val[0], val[1]) if val is not None else None,
        "batch_size": int(batch_size), "seed": int(seed), "t_max": float(t_max), "loss": _loss_settings(losses),
        "optimizer": _optimizer_settings(opt, schedule=not own), "lr": float(lr) if own else None,
        "lr_decay": float(lr_decay) if own else None,
        "grad_clip": float(grad_clip) if grad_clip is not None else None, "augment": _callable_name(augment),
        "learn_delays": learn_delays, "resumed_with_mismatch": []})
    start = 0
    if resume:
        if ckpt is None or not ckpt.exists():
            raise ValueError(f"resume needs an existing checkpoint file, got checkpoint={checkpoint!r}")
        c = load_checkpoint(ckpt)
        if c["epoch"] > epochs:
            raise ValueError(f"epochs is the total number of epochs; the checkpoint {str(ckpt)!r} has completed "
                             f"{c['epoch']} already, got epochs={epochs}")
        rec = c["config"]
        if bool(rec.get("learn_delays", False)) != learn_delays:
            raise ValueError(f"checkpoint {str(ckpt)!r} was made with learn_delays={bool(rec.get('learn_delays', False))}, "
                             f"this run has learn_delays={learn_delays} (the optimiser states differ)")
        diffs = provenance_mismatches(rec, config)
        if diffs and not allow_mismatch:
            raise ValueError(
                f"checkpoint {str(ckpt)!r} was made with other data or settings than this run: "
                + "; ".join(f"{k}: checkpoint {_short(a)}, this run {_short(b)}" for k, (a, b) in diffs.items())
                + ". Resume with the checkpoint's data and settings, or pass allow_mismatch=True "
                  "(--allow-mismatch on the command line) to resume anyway")
        if diffs:
            warnings.warn(CheckpointWarning(
                f"resuming {str(ckpt)!r} with other data or settings (allow_mismatch=True): "
                + "; ".join(f"{k}: checkpoint {_short(a)}, this run {_short(b)}" for k, (a, b) in diffs.items())),
                stacklevel=2)
        missing = [k for k in PROVENANCE_KEYS if k not in rec]
        if missing:
            warnings.warn(CheckpointWarning(
                f"checkpoint {str(ckpt)!r} does not record {', '.join(missing)} (written by an older eventsim): "
                "those cannot be compared with this run's; resuming"), stacklevel=2)
        config["resumed_with_mismatch"] = list(rec.get("resumed_with_mismatch", [])) + (
            [{"epoch": int(c["epoch"]), "fields": {k: [a, b] for k, (a, b) in diffs.items()}}] if diffs else [])
        cparams = c["network"].parameters()
        if set(cparams) != set(params):
            raise ValueError(f"checkpoint {str(ckpt)!r} has projections {sorted(cparams)}, "
                             f"the network has {sorted(params)}")
        for k, w in cparams.items():
            if params[k].shape != w.shape:
                raise ValueError(f"checkpoint {str(ckpt)!r}: projection {k} has shape {w.shape}, "
                                 f"the network has {params[k].shape}")
        if c["optimizer"] != type(opt).__name__:
            raise ValueError(f"checkpoint {str(ckpt)!r} was written with optimizer {c['optimizer']}, "
                             f"resuming with {type(opt).__name__}")
        for k, w in cparams.items():
            params[k][...] = w
        for k, d in delay_parameters(c["network"]).items():
            if k in delays:
                delays[k][...] = d
        opt.load_state_dict(c["optimizer_state"])
        if c["rng_state"] is not None:
            rng.bit_generator.state = c["rng_state"]
        start = c["epoch"]
        history = {k: list(c["history"].get(k, [])) for k in HISTORY_KEYS}
        done = len(history["loss"])
        for k in HISTORY_KEYS:  # keys that older checkpoints did not store (grad_norm): NaN per epoch
            if not history[k] and k not in ("val_loss", "val_acc"):
                history[k] = [math.nan] * done
        if c["best"] is not None:
            best = c["best"]

    task = EventPropTask(net, inputs, labels, losses, t_max, augment=augment, val=val,
                         eval_batch_size=eval_batch_size, restore_best=restore_best, best=best,
                         value_and_grad=value_and_grad, delays=delays)

    def write_checkpoint(epoch: int, hist: History) -> None:
        if ckpt is not None:
            save_checkpoint(ckpt, net, opt, epoch + 1, hist, rng=rng, config=config,
                            best=task.best if restore_best else None)

    history = train_epochs(task, opt, n, epochs=epochs, batch_size=batch_size, shuffle=rng, start_epoch=start,
                           history=history, grad_clip=grad_clip, callbacks=callbacks,
                           on_epoch_end=write_checkpoint, progress=progress)
    best = task.best
    if restore_best and best[2] is not None:
        for k, v in best[2].items():
            task.params[k][...] = v
        task.install_delays()
        history["best_epoch"] = [float(best[1])]
    return history


def _fmt_setting(d: Dict) -> str:
    d = dict(d)
    name = d.pop("class", "?")
    return f"{name}(" + ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in d.items()) + ")"


def describe_provenance(config: Dict) -> List[str]:
    """Readable lines about what a checkpoint was made with (its ``config``, see ``PROVENANCE_KEYS``)."""
    if not config:
        return ["  provenance: not recorded"]
    lines = []
    if "data_sha256" in config:
        lines.append(f"  training data: {config.get('n_samples')} samples, SHA-256 {config['data_sha256']}")
        v = config.get("val_sha256")
        lines.append(f"  validation data: {'SHA-256 ' + v if v else 'none'}")
    else:
        lines.append(f"  training data: {config.get('n_samples')} samples; no fingerprint, loss or optimiser "
                     "settings recorded (written by an older eventsim)")
    t_max = config.get("t_max")
    lines.append(f"  batch_size {config.get('batch_size')}, seed {config.get('seed')}, t_max "
                 f"{'%g ms' % t_max if isinstance(t_max, (int, float)) else t_max}, grad_clip {config.get('grad_clip')}"
                 + (f", lr {config['lr']}, lr_decay {config['lr_decay']}" if config.get("lr") is not None else ""))
    if "loss" in config:
        lines.append("  loss: " + " + ".join(_fmt_setting(d) for d in config["loss"]))
    if isinstance(config.get("optimizer"), dict):
        lines.append("  optimiser: " + _fmt_setting(config["optimizer"]))
    if "augment" in config:
        lines.append(f"  augment: {config['augment'] or 'none'}")
    for r in config.get("resumed_with_mismatch", []):
        lines.append(f"  resumed at epoch {r['epoch']} with other " + "; ".join(
            f"{k} (was {_short(a)}, now {_short(b)})" for k, (a, b) in r["fields"].items()))
    return lines


def describe_checkpoint(ck: Dict) -> List[str]:
    """Readable lines about a loaded checkpoint (``load_checkpoint``): epoch, optimiser, the last
    epoch's figures, the best validation epoch, what the run was made with (training and validation
    data fingerprints, batch size, seed, t_max, losses, optimiser settings, augmentation, resumes
    with other settings) and its network."""
    from .io import describe_network

    lines = [f"epoch {ck['epoch']}, optimiser {ck['optimizer']}"
             f"{', RNG state saved' if ck['rng_state'] is not None else ''}"]
    last = {k: v[-1] for k, v in ck["history"].items() if v}
    if last:
        lines.append("  last epoch: " + ", ".join(f"{k} {v:.4g}" for k, v in last.items()))
    if ck["best"] is not None:
        lines.append(f"  best validation accuracy {100 * ck['best'][0]:.2f} % at epoch {ck['best'][1] + 1}")
    lines.extend(describe_provenance(ck["config"]))
    lines.append("  network: " + describe_network(ck["network"])[0])
    lines.extend("  " + line for line in describe_network(ck["network"])[1:])
    return lines


def _register() -> None:
    from .formats import FileFormat, register

    register(FileFormat("eventsim.checkpoint", "training checkpoint", load_checkpoint, describe_checkpoint))


_register()

