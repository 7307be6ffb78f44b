"""Training loop for EventProp: mini-batches, Adam/SGD, learning-rate schedule, checkpoints, progress.

``fit`` shuffles the training set each epoch with ``numpy.random.default_rng([seed, epoch])``, so a
run is reproducible from its seed and a resumed run continues exactly (the checkpoint holds the
network, the optimiser state, the epoch and the history). A mini-batch is simulated and
back-propagated as one batch (samples in parallel inside the kernels).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .eventprop import value_and_grad
from .io import atomic_h5, open_h5, read_network_group, write_network_group
from .losses import LossSpec, as_list
from .network import Network
from .optim import Adam, ExponentialDecay, Optimizer, clip_grad_norm
from .simulate import simulate
from .spikes import SpikeBatch


def evaluate(net: Network, inputs: SpikeBatch, labels: np.ndarray, loss: LossSpec, t_max: float,
             batch_size: int = 1000) -> Tuple[float, float]:
    """(mean loss, accuracy in [0, 1]) of ``net`` on a data set; the first loss predicts."""
    losses = as_list(loss)
    labels = np.asarray(labels)
    n = inputs.n_samples
    tot_l, correct = 0.0, 0
    for a in range(0, n, batch_size):
        idx = np.arange(a, min(n, a + batch_size))
        res = simulate(net, inputs.subset(idx), t_max, progress=False)
        for l in losses:
            v, _ = l.value_and_parts(res, labels[idx])
            tot_l += v * idx.size
        correct += int(np.sum(losses[0].predict(res) == labels[idx]))
    return tot_l / n, correct / n


def save_checkpoint(path, net: Network, opt: Optimizer, epoch: int, history: Dict[str, List[float]],
                    meta: Optional[Dict] = None) -> None:
    """Write network, optimiser state, epoch and history (format ``eventsim.checkpoint``), atomically."""
    with atomic_h5(path, "eventsim.checkpoint") as f:
        f.attrs["epoch"] = int(epoch)
        f.attrs["optimizer"] = type(opt).__name__
        write_network_group(f.create_group("network"), net)
        g = f.create_group("optimizer")
        for k, v in opt.state_dict().items():
            g.create_dataset(k, data=v)
        h = f.create_group("history")
        for k, v in history.items():
            h.create_dataset(k, data=np.asarray(v, dtype=np.float64))
        for k, v in (meta or {}).items():
            f.attrs[f"meta_{k}"] = v


def load_checkpoint(path) -> Tuple[Network, Dict[str, np.ndarray], int, Dict[str, List[float]]]:
    """(network, optimiser state dict, epoch, history) from a checkpoint file."""
    with open_h5(path, "eventsim.checkpoint") as f:
        net = read_network_group(f["network"])
        state = {}
        f["optimizer"].visititems(lambda k, v: state.__setitem__(k, v[()]) if hasattr(v, "shape") else None)
        history = {k: list(v[()]) for k, v in f["history"].items()}
        return net, state, int(f.attrs["epoch"]), history


def fit(net: Network, inputs: SpikeBatch, labels: np.ndarray, loss: LossSpec, t_max: float, *,
        epochs: int = 10, batch_size: int = 32, lr: float = 5e-3, lr_decay: float = 0.95,
        optimizer: str = "adam", seed: int = 0, val: Optional[Tuple[SpikeBatch, np.ndarray]] = None,
        checkpoint: Optional[str] = None, resume: bool = False, grad_clip: Optional[float] = None,
        progress: bool = True, callback: Optional[Callable[[int, Dict], None]] = None,
        restore_best: bool = False) -> Dict[str, List[float]]:
    """Train ``net`` in place with EventProp gradients; returns the history.

    Args:
        net: network to train (its ``parameters()`` are updated in place).
        inputs, labels: training set (SpikeBatch, int labels).
        loss: loss or list of losses (``eventsim.losses``); the first one predicts.
        t_max: simulated time per sample (ms).
        epochs, batch_size: schedule; the last partial batch is kept.
        lr, lr_decay: learning rate and its decay factor per epoch (ExponentialDecay).
        optimizer: ``"adam"`` or ``"sgd"``.
        seed: shuffling seed (per epoch ``default_rng([seed, epoch])``).
        val: optional (inputs, labels) evaluated after every epoch.
        checkpoint: HDF5 path written after every epoch; with ``resume`` training continues from it.
        grad_clip: optional max global gradient norm.
        progress: tqdm bar with loss and accuracy.
        callback: called as ``callback(epoch, history)`` after every epoch.
        restore_best: with ``val``, end with the weights of the epoch of best validation accuracy
            (``history["best_epoch"]`` records it).
    """
    from .optim import SGD

    labels = np.asarray(labels)
    if labels.shape != (inputs.n_samples,):
        raise ValueError(f"labels must have shape ({inputs.n_samples},), got {labels.shape}")
    if int(epochs) < 0 or int(batch_size) < 1:
        raise ValueError(f"epochs must be >= 0 and batch_size >= 1, got {epochs!r}, {batch_size!r}")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    n = inputs.n_samples
    steps_per_epoch = (n + batch_size - 1) // batch_size
    schedule = ExponentialDecay(lr, lr_decay, every=steps_per_epoch)
    params = net.parameters()
    opt = Adam(params, lr=schedule) if optimizer == "adam" else SGD(params, lr=schedule)
    history: Dict[str, List[float]] = {"loss": [], "acc": [], "val_loss": [], "val_acc": [], "epoch_s": []}
    start = 0
    if resume:
        if checkpoint is None or not Path(checkpoint).exists():
            raise ValueError(f"resume needs an existing checkpoint, got {checkpoint!r}")
        cnet, state, start, history = load_checkpoint(checkpoint)
        for k, w in cnet.parameters().items():
            if k not in params or params[k].shape != w.shape:
                raise ValueError(f"checkpoint {checkpoint!r} does not match the network ({k})")
            params[k][...] = w
        opt.load_state_dict(state)
    if restore_best and val is None:
        raise ValueError("restore_best needs val=(inputs, labels)")
    best = (-1.0, None, -1)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=(epochs - start) * steps_per_epoch, desc="train", unit="batch")
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        order = np.random.default_rng([seed, epoch]).permutation(n)
        tot, correct = 0.0, 0
        for a in range(0, n, batch_size):
            idx = order[a:a + batch_size]
            L, grads, res = value_and_grad(net, inputs.subset(idx), labels[idx], loss, t_max, return_result=True)
            if grad_clip is not None:
                clip_grad_norm(grads, grad_clip)
            opt.step(grads)
            tot += L * idx.size
            correct += int(np.sum(as_list(loss)[0].predict(res) == labels[idx]))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{tot / min(n, a + batch_size):.3f}",
                                acc=f"{correct / min(n, a + batch_size):.3f}")
        history["loss"].append(tot / n)
        history["acc"].append(correct / n)
        if val is not None:
            vl, va = evaluate(net, val[0], val[1], loss, t_max)
            history["val_loss"].append(vl)
            history["val_acc"].append(va)
            if restore_best and va > best[0]:
                best = (va, {k: v.copy() for k, v in params.items()}, epoch)
        history["epoch_s"].append(time.perf_counter() - t0)
        if checkpoint is not None:
            save_checkpoint(checkpoint, net, opt, epoch + 1, history)
        if callback is not None:
            callback(epoch, history)
    if bar is not None:
        bar.close()
    if restore_best and best[1] is not None:
        for k, v in best[1].items():
            params[k][...] = v
        history["best_epoch"] = [float(best[2])]
    return history
