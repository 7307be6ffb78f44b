"""Yin-Yang with EventProp (Wunderlich & Pehle 2021): 5-200-3 LIF network, first-spike-time loss.

Recipe (the paper's): inputs x, y, 1-x, 1-y as spike times 30 ms * value plus a bias spike at 0 ms;
tau_mem 20 ms, tau_syn 5 ms, threshold 1, reset 0; weights N(1.5, 0.78) (input->hidden) and
N(0.93, 0.1) (hidden->output); FirstSpikeCE with tau0 = 0.5 ms, tau1 = 6.4 ms, alpha = 3e-3;
Adam lr 5e-3 decayed x0.95 per epoch, batch 32; simulated time 100 ms per sample. Data: the
reference splits (train 5000 / validation 1000 / test 1000); the weights of the epoch with the best
validation accuracy are kept, the test set is used only for the final report. ``make demo`` runs
20 epochs.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

import eventsim as es
from eventsim.data import latency_encode, yin_yang
from eventsim.losses import FirstSpikeCE

T_MAX = 100.0
LAYERS = [5, 200, 3]
INIT = [(1.5, 0.78), (0.93, 0.1)]


def build(seed: int = 0) -> es.Network:
    """The untrained 5-200-3 network."""
    return es.Network.feedforward(LAYERS, params=es.LIFParams(tau_mem=20.0, tau_syn=5.0), seed=seed, init=INIT)


def encode(X: np.ndarray) -> es.SpikeBatch:
    """Latency code: value v -> spike at 30 v ms, plus a bias spike at 0 ms (neuron 4)."""
    return latency_encode(X, t_max=30.0, bias_time=0.0)


def loss() -> FirstSpikeCE:
    return FirstSpikeCE(population="out", tau0=0.5, tau1=6.4, alpha=3e-3)


def train(seed: int = 0, epochs: int = 60, out_dir: Optional[str] = None, progress: bool = True,
          lr: float = 5e-3, batch_size: int = 32) -> Dict:
    """Train one seed; returns metrics. With ``out_dir``: network, checkpoint, curves and raster PNGs."""
    X, y = yin_yang("train")
    Xv, yv = yin_yang("val")
    Xt, yt = yin_yang("test")
    tr, va, te = encode(X), encode(Xv), encode(Xt)
    net = build(seed)
    out = Path(out_dir) if out_dir else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hist = es.train.fit(net, tr, y, loss(), T_MAX, epochs=epochs, batch_size=batch_size, lr=lr, lr_decay=0.95,
                        seed=seed, val=(va, yv), progress=progress, restore_best=True,
                        checkpoint=str(out / "checkpoint.h5") if out else None)
    wall = time.perf_counter() - t0
    test_loss, test_acc = es.train.evaluate(net, te, yt, loss(), T_MAX)
    metrics = {"seed": seed, "epochs": epochs, "test_acc": test_acc, "test_loss": test_loss,
               "train_acc": hist["acc"][-1], "best_val_acc": max(hist["val_acc"]) if epochs else None,
               "best_epoch": int(hist["best_epoch"][0]) + 1 if epochs else 0, "wall_s": wall,
               "train_samples_per_s": len(y) * epochs / sum(hist["epoch_s"]) if epochs else 0.0}
    if out:
        net.save(out / "yinyang_net.h5")
        from eventsim.plots import raster, training_curves

        training_curves(hist, out / "yinyang_curves.png", f"Yin-Yang 5-200-3, EventProp (seed {seed})")
        res = es.simulate(net, te.subset([0]), T_MAX)
        raster(res, ["hidden", "out"], out / "yinyang_raster.png", 0,
               f"test sample 0 (label {int(yt[0])})", label=int(yt[0]))
        (out / "yinyang_metrics.json").write_text(json.dumps({**metrics, "history": hist}, indent=1))
    return metrics


def demo(out_dir) -> int:
    """``make demo``: quick training (20 epochs), saving the network and the PNGs."""
    m = train(seed=0, epochs=20, out_dir=out_dir)
    print(f"Yin-Yang test accuracy {100 * m['test_acc']:.1f} % after {m['epochs']} epochs in {m['wall_s']:.0f} s "
          f"({m['train_samples_per_s']:.0f} training samples/s); wrote {out_dir}/yinyang_net.h5, "
          f"yinyang_curves.png, yinyang_raster.png")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--out", default="results/yinyang", help="output folder")
    p.add_argument("--no-progress", action="store_true")


def cli_train(args: argparse.Namespace) -> int:
    m = train(seed=args.seed, epochs=args.epochs, out_dir=args.out, progress=not args.no_progress)
    print(json.dumps(m))
    return 0
