"""The training run shared by the EventProp recipes (``models/yinyang.py``, ``models/digits.py``).

A recipe supplies its network, data, loss and optimiser; ``run`` trains, keeps either the
best-of-validation weights or the last epoch's (``select``), evaluates the test set once (and, for
the record, the last epoch's weights), and with an
output folder writes ``<name>_net.h5``, ``checkpoint.h5`` (every epoch), ``<name>_curves.png``,
``<name>_raster.png`` and ``<name>_metrics.json``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

import eventsim as es
from eventsim.files import atomic_write_text
from eventsim.spikes import SpikeBatch

Split = Tuple[SpikeBatch, Any]


def run(name: str, net: es.Network, splits: Tuple[Split, Split, Split], loss, t_max: float, *, epochs: int,
        seed: int, batch_size: int, optimizer="adam", lr: float = 5e-3, lr_decay: float = 0.95,
        out_dir: Optional[str] = None, progress: bool = True, resume: bool = False,
        log: Optional[Callable[[str], None]] = None, title: str = "", raster_populations: Sequence[str] = ("hidden",),
        metrics: Optional[Dict[str, Any]] = None, select: str = "best",
        augment: Optional[Callable[[SpikeBatch, np.random.Generator], SpikeBatch]] = None,
        allow_mismatch: bool = False, learn_delays: bool = False,
        delay_lr: Optional[float] = None) -> Dict[str, Any]:
    """Train ``net`` in place on ``splits = (train, val, test)`` and return the metrics.

    ``optimizer``/``lr``/``lr_decay``: as ``eventsim.train.fit``. ``log``: ``print``-like, one line per
    epoch. ``title``: curve title (the test accuracy is appended). ``metrics``: recipe fields put
    first in the returned dict (``recipe`` = ``name`` is added). ``select``: ``"best"`` finishes with
    the weights of the epoch of best validation accuracy, ``"last"`` with the last epoch's (the
    validation accuracy is recorded either way). ``augment``: as ``eventsim.train.fit`` (training
    mini-batches only). ``resume``/``allow_mismatch``: as ``eventsim.train.fit`` (the checkpoint is
    ``out_dir/checkpoint.h5``; a checkpoint made with other data or settings is refused unless
    ``allow_mismatch``). ``learn_delays``/``delay_lr``: as ``eventsim.train.fit``.
    """
    if select not in ("best", "last"):
        raise ValueError(f"select must be 'best' or 'last', got {select!r}")
    (tr, y), (va, yv), (te, yt) = splits
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    last: Dict[str, float] = {}

    def _log(epoch, h):
        if epoch == epochs - 1:  # the last epoch's weights (before any best-validation ones are restored)
            last["test_loss"], last["test_acc"] = es.train.evaluate(net, te, yt, loss, t_max)
        if log is not None:
            log(f"epoch {epoch + 1:3d}  loss {h['loss'][-1]:.4f}  train {100 * h['acc'][-1]:.2f} %  "
                f"val {100 * h['val_acc'][-1]:.2f} %  ({h['epoch_s'][-1]:.1f} s)")

    t0 = time.perf_counter()
    hist = es.train.fit(net, tr, y, loss, t_max, optimizer=optimizer, epochs=epochs, batch_size=batch_size, lr=lr,
                        lr_decay=lr_decay, seed=seed, val=(va, yv), progress=progress, restore_best=select == "best",
                        callbacks=[_log], checkpoint=(out / "checkpoint.h5") if out else None, resume=resume,
                        augment=augment, allow_mismatch=allow_mismatch, learn_delays=learn_delays,
                        delay_lr=delay_lr if learn_delays else None)
    wall = time.perf_counter() - t0
    test_loss, test_acc = es.train.evaluate(net, te, yt, loss, t_max)
    n_ep = len(hist["loss"])
    m: Dict[str, Any] = {"recipe": name, "seed": seed, "epochs": n_ep, **(metrics or {}),
                         "test_acc": test_acc, "test_loss": test_loss,
                         "test_acc_last_epoch": last.get("test_acc"), "test_loss_last_epoch": last.get("test_loss"),
                         "train_acc_last": hist["acc"][-1] if n_ep else None,
                         "best_val_acc": max(hist["val_acc"]) if n_ep else None,
                         "best_epoch": (int(hist["best_epoch"][0]) if select == "best"
                                        else int(np.argmax(hist["val_acc"]))) + 1 if n_ep else 0,
                         "selected_weights": select, "wall_s": wall,
                         "train_samples_per_s": len(y) * n_ep / sum(hist["epoch_s"]) if n_ep else 0.0}
    if out:
        net.save(out / f"{name}_net.h5")
        from eventsim.plots import raster, training_curves

        training_curves(hist, out / f"{name}_curves.png", f"{title}: test {100 * test_acc:.1f} %")
        res = es.simulate(net, te.subset([0]), t_max)
        raster(res, list(raster_populations), out / f"{name}_raster.png", 0,
               f"test sample 0 (label {int(yt[0])}, predicted {int(loss.predict(res)[0])})", label=int(yt[0]))
        atomic_write_text(out / f"{name}_metrics.json", json.dumps({**m, "history": hist}, indent=1))
    return m
