"""Yin-Yang with EventProp (Wunderlich & Pehle 2021): a 5-200-3 LIF network and the first-spike loss.

Recipe (the paper's, [EP] ``paper/figure3.py``):

- data: the reference splits of Kriener et al. (train 5000 / validation 1000 / test 1000, seeds
  42/41/40); inputs x, y, 1-x, 1-y as one spike each at ``30 v`` ms, plus a bias spike at 0 ms;
- network: 5 inputs -> 200 LIF -> 3 LIF, tau_mem 20 ms, tau_syn 5 ms, threshold 1, reset 0, no
  refractory period; weights N(1.5, 0.78) (input->hidden) and N(0.93, 0.1) (hidden->output);
- loss: ``FirstSpikeCE`` (tau0 = 0.5 ms, tau1 = 6.4 ms, alpha = 3e-3), prediction = earliest
  output neuron; each sample is simulated for ``T_MAX`` ms;
- optimiser: Adam, lr 5e-3, batch 32, 100 epochs; learning rate x0.97 per epoch (the paper uses
  x0.95; over 5 seeds 0.97 gave 98.5 % best validation accuracy against 98.1 %; see
  docs/training.md for the test figures);
- weights kept: the last epoch's (``SELECT``). The validation split is evaluated every epoch for
  the record. Chosen on a second, independent validation split (5000 samples, generator seed 43,
  never used otherwise; ``python -m eventsim.models.yinyang_select DIR...``): over the five seeds of
  docs/training.md the last-epoch weights scored
  97.98 % there against 97.84 % for the best-validation-epoch weights, whose pick is dominated by
  the noise of a 1000-sample split. The test set is evaluated once, at the end.
- ``make demo`` (``quick``): the first ``QUICK_EPOCHS`` = 60 epochs of the same run (the schedule is
  per epoch, so they are the full run's first 60), keeping the best-validation weights
  (``QUICK_SELECT``: the learning rate is still high there). Seed 0: 98.0 % test.

``train(seed, epochs, out_dir, quick=False)`` runs it (``quick``: the ``make demo`` budget: fewer
epochs), writes the network, a checkpoint, training curves and an output raster (PNG) and a
metrics JSON, and returns the metrics. ``eventsim train yinyang --seed S --epochs E --out DIR``
calls it (``--resume`` continues from DIR/checkpoint.h5).
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Dict, Optional

import numpy as np

import eventsim as es
from eventsim.data import latency_encode, yin_yang
from eventsim.losses import FirstSpikeCE

from .eventprop_run import run

T_MAX = 100.0            # simulated time per sample (ms); inputs end at 30 ms
HIDDEN = 200
INIT = [(1.5, 0.78), (0.93, 0.1)]
LR, LR_DECAY, BATCH = 5e-3, 0.97, 32   # decay 0.97 beat the paper's 0.95 on validation (docs/training.md)
EPOCHS = 100             # as the paper
SELECT = "last"          # weights kept at the end of a full run (see the docstring)
QUICK_SELECT = "best"    # make demo: best-validation weights
QUICK_EPOCHS = 60        # ``make demo``: about 1 minute on 2 cores after the compile
READOUT = "first_spike"  # the class is the output neuron that fires first; stored in the network


def build(seed: int = 0, hidden: int = HIDDEN) -> es.Network:
    """The untrained 5-hidden-3 network (weights drawn from ``seed``)."""
    net = es.Network.feedforward([5, hidden, 3], params=es.LIFParams(tau_mem=20.0, tau_syn=5.0), seed=seed,
                                 init=INIT)
    net.readout = READOUT
    return net


def encode(X: np.ndarray) -> es.SpikeBatch:
    """Latency code: value v -> spike at 30 v ms (neurons 0-3), plus a bias spike at 0 ms (neuron 4)."""
    return latency_encode(X, t_max=30.0, bias_time=0.0)


def loss() -> FirstSpikeCE:
    """The paper's first-spike cross-entropy (tau0 0.5 ms, tau1 6.4 ms, alpha 3e-3)."""
    return FirstSpikeCE(population="out", tau0=0.5, tau1=6.4, alpha=3e-3)


def data():
    """Encoded (train, val, test) splits, each ``(SpikeBatch, labels)``."""
    out = []
    for split in ("train", "val", "test"):
        X, y = yin_yang(split)
        out.append((encode(X), y))
    return tuple(out)


def train(seed: int = 0, epochs: Optional[int] = None, out_dir: Optional[str] = None, quick: bool = False,
          progress: bool = True, lr: float = LR, lr_decay: float = LR_DECAY, batch_size: int = BATCH, hidden: int = HIDDEN,
          t_max: float = T_MAX, resume: bool = False, log=None,
          allow_mismatch: bool = False) -> Dict:
    """Train one seed of the recipe; returns the metrics dict.

    Args:
        seed: initial weights and shuffling.
        epochs: default ``EPOCHS`` (``QUICK_EPOCHS`` with ``quick``).
        out_dir: if given: ``yinyang_net.h5`` (selected weights), ``checkpoint.h5`` (every epoch),
            ``yinyang_curves.png``, ``yinyang_raster.png``, ``yinyang_metrics.json``.
        quick: the ``make demo`` budget (fewer epochs).
        resume: continue from ``out_dir/checkpoint.h5``.
        allow_mismatch: with ``resume``: continue even if the checkpoint was made with other data or
            settings (otherwise refused with a ValueError naming the differing fields).
        log: optional ``print``-like function called once per epoch with a summary line.
    """
    if epochs is None:
        epochs = QUICK_EPOCHS if quick else EPOCHS
    net = build(seed, hidden)
    return run("yinyang", net, data(), loss(), t_max, epochs=epochs, seed=seed, batch_size=batch_size, lr=lr,
               lr_decay=lr_decay, out_dir=out_dir, progress=progress, resume=resume,
               allow_mismatch=allow_mismatch, log=log,
               select=QUICK_SELECT if quick else SELECT,
               title=f"Yin-Yang 5-{hidden}-3, EventProp (seed {seed})", raster_populations=("hidden", "out"),
               metrics={"hidden": hidden, "quick": bool(quick), "lr_decay": lr_decay})


def demo(out_dir) -> int:
    """``make demo``: the quick recipe; saves the network and the PNGs into ``out_dir``."""
    t0 = time.perf_counter()
    m = train(seed=0, out_dir=out_dir, quick=True, log=print)
    print(f"Yin-Yang 5-200-3: test accuracy {100 * m['test_acc']:.1f} % after {m['epochs']} epochs "
          f"(best validation epoch {m['best_epoch']}); {time.perf_counter() - t0:.0f} s in all, "
          f"{m['train_samples_per_s']:.0f} training samples/s; wrote {out_dir}/yinyang_net.h5, "
          f"yinyang_curves.png, yinyang_raster.png")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="weights and shuffling seed (default 0)")
    p.add_argument("--epochs", type=int, default=None, help=f"default {EPOCHS} ({QUICK_EPOCHS} with --quick)")
    p.add_argument("--quick", action="store_true", help=f"the make-demo budget ({QUICK_EPOCHS} epochs, about 1 minute)")
    p.add_argument("--hidden", type=int, default=HIDDEN, help=f"hidden LIF neurons (default {HIDDEN})")
    p.add_argument("--lr", type=float, default=LR, help=f"Adam learning rate (default {LR})")
    p.add_argument("--lr-decay", type=float, default=LR_DECAY, help=f"learning-rate factor per epoch (default {LR_DECAY})")
    p.add_argument("--batch-size", type=int, default=BATCH, help="samples per mini-batch")
    p.add_argument("--out", default="results/yinyang", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.h5")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="with --resume: continue even if the checkpoint was made with other data or settings")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")


def _print_flush(*a) -> None:
    print(*a, flush=True)


def cli_train(args: argparse.Namespace) -> int:
    m = train(seed=args.seed, epochs=args.epochs, out_dir=args.out, quick=args.quick, progress=not args.no_progress,
              lr=args.lr, lr_decay=args.lr_decay, batch_size=args.batch_size, hidden=args.hidden, resume=args.resume,
              allow_mismatch=args.allow_mismatch, log=_print_flush if args.no_progress else None)
    print(json.dumps(m))
    return 0
