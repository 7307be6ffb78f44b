"""Handwritten 8x8 digits with EventProp: 65-H-10, a LIF hidden layer and leaky-integrator read-outs.

Recipe (after the EventProp paper's MNIST set-up, scaled to 8x8 digits; chosen on validation
hold-outs of the training set, see docs/training.md for the sweeps):

- data: the fixed split of ``eventsim.data.digits_arrays`` (1438 train / 359 test); 10 % of the
  training set (fixed, ``numpy.random.default_rng(0)``) is held out (its accuracy is recorded
  every epoch), the test set is evaluated once at the end; latency code: pixel v in [0, 1] -> one
  spike at ``20 (1 - v)`` ms (bright pixels early), pixels v <= 0.05 silent, plus a bias neuron
  (input 64) firing at 0 ms in every sample (without it a hidden neuron has no input-independent
  drive, like a ReLU without bias);
- network: 65 inputs -> ``HIDDEN`` LIF (tau_mem 20 ms, tau_syn 5 ms, threshold 1, reset 0) -> 10
  non-spiking leaky integrators (same time constants, v_th = inf); weights N(INIT);
- loss: ``VoltageIntegralCE`` (cross-entropy of the read-outs' time-averaged voltage over
  [0, T_MAX]); prediction = read-out with the largest voltage integral (``READOUT``);
- augmentation: every training image is distorted anew in every epoch by a small random affine
  map (rotation up to 10 degrees, scale 1 +- 0.1, shift up to 0.5 pixel, bilinear;
  ``AUGMENT``, ``augmenter``): the pixels are decoded from the spike times, distorted and encoded
  again;
- optimiser: Adam with decoupled weight decay ``WEIGHT_DECAY`` (AdamW), lr ``LR`` x``LR_DECAY`` per
  epoch, batch ``BATCH``, ``EPOCHS`` epochs; the last epoch's weights are kept (``SELECT``).

``eventsim train digits --seed S --epochs E --out DIR`` runs ``train``.
"""
from __future__ import annotations

import argparse
import json
from typing import Dict, Optional

import numpy as np

import eventsim as es
from eventsim.data import digits_arrays, latency_decode, latency_encode, random_affine_images
from eventsim.losses import VoltageIntegralCE
from eventsim.optim import Adam, ExponentialDecay

from .eventprop_run import run

T_MAX = 40.0             # simulated time per sample (ms); inputs end at 20 ms
N_IN = 65                # 64 pixels + the bias neuron
HIDDEN = 300
INIT = [(0.25, 0.15), (0.0, 0.3)]
LR, LR_DECAY, BATCH = 2e-2, 0.95 ** 0.25, 32   # per epoch; over 120 epochs the total decay of 0.95/epoch over 30
WEIGHT_DECAY = 0.01
EPOCHS = 120
QUICK_EPOCHS = 10
VAL_FRACTION = 0.1
AUGMENT = (10.0, 0.1, 0.5)  # training-image distortion (max rotation deg, max scale, max shift px); None: off
SELECT = "last"          # keep the last epoch's weights ("best": the best-validation epoch's)
READOUT = "integral"     # how the read-outs predict; stored in the network (Network.readout)


def build(seed: int = 0, hidden: int = HIDDEN, init=INIT) -> es.Network:
    """The untrained 65-hidden-10 network (LIF hidden layer, leaky-integrator read-outs)."""
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    ro = es.LIFParams.readout(tau_mem=20.0, tau_syn=5.0)
    rng = np.random.default_rng(seed)
    net = es.Network(readout=READOUT)
    net.add_input("in", N_IN)
    net.add_population("hidden", hidden, p)
    net.add_population("out", 10, ro)
    net.connect("in", "hidden", rng.normal(init[0][0], init[0][1], (hidden, N_IN)))
    net.connect("hidden", "out", rng.normal(init[1][0], init[1][1], (10, hidden)))
    return net


def augmenter(amplitudes=AUGMENT):
    """``augment(batch, rng)`` for ``eventsim.train.fit``: decode the latency-coded pixels, distort
    each image by a small random affine map (``eventsim.data.random_affine_images`` with
    ``amplitudes`` = (max rotation in degrees, max relative scale, max shift in pixels)) and encode
    again; None (no augmentation) if ``amplitudes`` is None or False."""
    if amplitudes is None or amplitudes is False:
        return None
    rot, sc, sh = (float(a) for a in amplitudes)

    def augment(batch: es.SpikeBatch, rng: np.random.Generator) -> es.SpikeBatch:
        X = latency_decode(batch, 64, t_max=20.0, invert=True)
        return encode(random_affine_images(X, (8, 8), rng, rot, sc, sh))

    return augment


def encode(X: np.ndarray) -> es.SpikeBatch:
    """Latency code: pixel v -> spike at 20 (1 - v) ms; v <= 0.05: no spike (as ``eventsim.data.digits``),
    plus the bias neuron 64 at 0 ms."""
    return latency_encode(X, t_max=20.0, invert=True, threshold=0.05, bias_time=0.0)


def loss() -> VoltageIntegralCE:
    return VoltageIntegralCE(population="out")


def data():
    """Encoded (train, val, test), each ``(SpikeBatch, labels)``; val = fixed 10 % of the training split."""
    X, y = digits_arrays("train")
    Xt, yt = digits_arrays("test")
    perm = np.random.default_rng(0).permutation(len(y))
    n_val = int(round(VAL_FRACTION * len(y)))
    v, t = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return (encode(X[t]), y[t]), (encode(X[v]), y[v]), (encode(Xt), yt)


def train(seed: int = 0, epochs: Optional[int] = None, out_dir: Optional[str] = None, quick: bool = False,
          progress: bool = True, lr: float = LR, lr_decay: float = LR_DECAY, batch_size: int = BATCH, hidden: int = HIDDEN,
          weight_decay: float = WEIGHT_DECAY, augment=AUGMENT, resume: bool = False, log=None,
          allow_mismatch: bool = False) -> Dict:
    """Train one seed; returns metrics. With ``out_dir``: network, checkpoint, curves and raster PNGs, JSON.

    ``augment``: (max rotation deg, max relative scale, max shift px) of the training-image
    distortion (see ``augmenter``), or None for none.
    """
    if epochs is None:
        epochs = QUICK_EPOCHS if quick else EPOCHS
    net = build(seed, hidden)
    splits = data()
    opt = Adam(net.parameters(), lr=ExponentialDecay(lr, lr_decay, every=-(-len(splits[0][1]) // batch_size)),
               weight_decay=weight_decay)
    return run("digits", net, splits, loss(), T_MAX, epochs=epochs, seed=seed, batch_size=batch_size, optimizer=opt,
               out_dir=out_dir, progress=progress, resume=resume,
               allow_mismatch=allow_mismatch, log=log, select=SELECT, augment=augmenter(augment),
               title=f"digits 65-{hidden}-10, EventProp (seed {seed})", raster_populations=("hidden",),
               metrics={"hidden": hidden, "quick": bool(quick), "lr": lr, "lr_decay": lr_decay,
                        "weight_decay": weight_decay, "batch_size": batch_size,
                        "augment": [float(a) for a in augment] if augment else None, "select": SELECT})


def augment_arg(text: str):
    """``--augment`` (also of ``eventsim.models.egru_digits``): 'none' -> False (off, overriding a recipe
    default), 'ROT,SCALE,SHIFT' -> a tuple of three numbers >= 0."""
    if text.strip().lower() == "none":
        return False
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 3 or not all(np.isfinite(v) and v >= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected 'none' or three numbers >= 0 as ROT,SCALE,SHIFT, got {text!r}")
    return vals


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="weights and shuffling seed (default 0)")
    p.add_argument("--epochs", type=int, default=None, help=f"default {EPOCHS} ({QUICK_EPOCHS} with --quick)")
    p.add_argument("--quick", action="store_true", help="a short run")
    p.add_argument("--hidden", type=int, default=HIDDEN, help=f"hidden LIF neurons (default {HIDDEN})")
    p.add_argument("--lr", type=float, default=LR, help=f"Adam learning rate (default {LR}), x{LR_DECAY:.4g}/epoch")
    p.add_argument("--lr-decay", type=float, default=LR_DECAY, help=f"learning-rate factor per epoch (default {LR_DECAY:.4g})")
    p.add_argument("--batch-size", type=int, default=BATCH, help="samples per mini-batch")
    p.add_argument("--weight-decay", type=float, default=WEIGHT_DECAY, help=f"AdamW decay (default {WEIGHT_DECAY})")
    p.add_argument("--augment", type=augment_arg, default=AUGMENT, metavar="ROT,SCALE,SHIFT",
                   help=f"training-image distortion: max rotation (deg), relative scale, shift (px), or 'none' "
                        f"(default {','.join(str(a) for a in AUGMENT) if AUGMENT else 'none'})")
    p.add_argument("--out", default="results/digits", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.h5")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="with --resume: continue even if the checkpoint was made with other data or settings")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")


def _print_flush(*a) -> None:
    print(*a, flush=True)


def cli_train(args: argparse.Namespace) -> int:
    m = train(seed=args.seed, epochs=args.epochs, out_dir=args.out, quick=args.quick, progress=not args.no_progress,
              lr=args.lr, lr_decay=args.lr_decay, batch_size=args.batch_size, hidden=args.hidden,
              weight_decay=args.weight_decay, augment=args.augment, resume=args.resume,
              allow_mismatch=args.allow_mismatch, log=_print_flush if args.no_progress else None)
    print(json.dumps(m))
    return 0
