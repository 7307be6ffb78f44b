"""scikit-learn digits with EventProp: 64-H-10, LIF hidden layer, leaky-integrator read-outs.

Recipe (after the EventProp paper's MNIST setup): pixel intensity x in [0, 1] -> one spike at
20 (1 - x) ms (bright pixels early; blank pixels, x <= 0.05, stay silent); hidden LIF layer
(tau_mem 20 ms, tau_syn 5 ms); 10 non-spiking read-outs (v_th = inf) trained with the max-voltage
cross-entropy (MaxVoltageCE); Adam lr 5e-3 x0.95 per epoch, batch 32; 40 ms per sample. Data: the
fixed split of ``eventsim.data.digits_arrays`` (1438 train / 359 test); 10 % of the training set
(fixed, seed 0) is held out for model selection, the test set only reports.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

import eventsim as es
from eventsim.data import digits_arrays, latency_encode
from eventsim.losses import MaxVoltageCE

T_MAX = 40.0
HIDDEN = 100


def build(seed: int = 0, hidden: int = HIDDEN, init=((0.25, 0.15), (0.0, 0.3))) -> es.Network:
    """The untrained 64-hidden-10 network (LIF hidden, leaky-integrator read-outs)."""
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    ro = es.LIFParams.readout(tau_mem=20.0, tau_syn=5.0)
    rng = np.random.default_rng(seed)
    net = es.Network()
    net.add_input("in", 64)
    net.add_population("hidden", hidden, p)
    net.add_population("out", 10, ro)
    net.connect("in", "hidden", rng.normal(init[0][0], init[0][1], (hidden, 64)))
    net.connect("hidden", "out", rng.normal(init[1][0], init[1][1], (10, hidden)))
    return net


def encode(X: np.ndarray) -> es.SpikeBatch:
    """Latency code: pixel x -> spike at 20 (1 - x) ms; x <= 0.05: no spike."""
    return latency_encode(X, t_max=20.0, invert=True, threshold=0.05)


def loss() -> MaxVoltageCE:
    return MaxVoltageCE(population="out")


def _split(seed_val: int = 0):
    X, y = digits_arrays("train")
    perm = np.random.default_rng(seed_val).permutation(len(y))
    n_val = len(y) // 10
    return (X[perm[n_val:]], y[perm[n_val:]]), (X[perm[:n_val]], y[perm[:n_val]])


def train(seed: int = 0, epochs: int = 40, out_dir: Optional[str] = None, progress: bool = True,
          lr: float = 5e-3, batch_size: int = 32, hidden: int = HIDDEN) -> Dict:
    """Train one seed; returns metrics. With ``out_dir``: network, curves and raster PNGs."""
    (X, y), (Xv, yv) = _split()
    Xt, yt = digits_arrays("test")
    tr, va, te = encode(X), encode(Xv), encode(Xt)
    net = build(seed, hidden)
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hist = es.train.fit(net, tr, y, loss(), T_MAX, epochs=epochs, batch_size=batch_size, lr=lr, lr_decay=0.95,
                        seed=seed, val=(va, yv), progress=progress, restore_best=True,
                        checkpoint=str(out / "checkpoint.h5") if out else None)
    wall = time.perf_counter() - t0
    test_loss, test_acc = es.train.evaluate(net, te, yt, loss(), T_MAX)
    metrics = {"seed": seed, "epochs": epochs, "hidden": hidden, "test_acc": test_acc, "test_loss": test_loss,
               "best_val_acc": max(hist["val_acc"]) if epochs else None,
               "best_epoch": int(hist["best_epoch"][0]) + 1 if epochs else 0, "wall_s": wall}
    if out:
        net.save(out / "digits_net.h5")
        from eventsim.plots import raster, training_curves

        training_curves(hist, out / "digits_curves.png", f"digits 64-{hidden}-10, EventProp (seed {seed})")
        res = es.simulate(net, te.subset([0]), T_MAX)
        raster(res, ["hidden"], out / "digits_raster.png", 0, f"test digit 0 (label {int(yt[0])})")
        (out / "digits_metrics.json").write_text(json.dumps({**metrics, "history": hist}, indent=1))
    return metrics


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--hidden", type=int, default=HIDDEN)
    p.add_argument("--out", default="results/digits", help="output folder")
    p.add_argument("--no-progress", action="store_true")


def cli_train(args: argparse.Namespace) -> int:
    m = train(seed=args.seed, epochs=args.epochs, out_dir=args.out, progress=not args.no_progress, hidden=args.hidden)
    print(json.dumps(m))
    return 0
