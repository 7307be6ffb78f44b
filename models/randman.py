"""Randman (and SHD) with EventProp: a recurrent LIF hidden layer and max-over-time read-outs.

Recipe (defaults of ``Settings``):

- data: ``eventsim.data.randman`` with ``n_classes`` = 10 manifolds of dimension 1 (smoothness
  alpha 2) in ``n_in`` = 20 input neurons, ``samples_per_class`` = 200, one spike per input neuron
  and sample in [0, 50) ms, generator seed ``data_seed``; divided 80/10/10 into training,
  validation and test sets by ``eventsim.data.train_val_test_split`` (stratified, seed
  ``data_seed``). With ``data="shd:PATH"`` the Spiking Heidelberg Digits instead (700 inputs, 20
  classes, read by ``eventsim.data.load_heidelberg``; ``PATH`` is a folder holding
  ``shd_train.h5`` and ``shd_test.h5``: 10 % of the training file is held out for validation,
  stratified; or one file, divided 80/10/10); spikes after ``t_max`` are dropped;
- network: ``n_in`` inputs -> ``hidden`` = 64 LIF (tau_mem 20 ms, tau_syn 5 ms, threshold 1,
  reset 0), all-to-all recurrent within the hidden layer (no self-connections) -> ``n_classes``
  non-spiking leaky integrators (same time constants, v_th = inf); weights drawn from
  normal distributions scaled by the PSP peak ``p`` of a unit weight (``eventsim.psp_peak``):
  input N(``w_in[0]``/p/n_in, ``w_in[1]``/p/sqrt(n_in)), recurrent N(0, ``w_rec``/p/sqrt(hidden)),
  read-out N(0, ``w_out``/p/sqrt(hidden)); the input and recurrent synapses have delays drawn
  uniformly from [0, ``delay_max``) ms (0: no delays), the read-out synapses none;
- loss: ``MaxVoltageCE`` (cross-entropy of the read-outs' maximum voltage over [0, ``t_max``]);
  the class is the read-out with the largest maximum (``Network.readout = "max"``);
- optimiser: Adam, lr ``lr`` x ``lr_decay`` per epoch, batch ``batch_size``, ``epochs`` epochs;
  with ``learn_delays`` every delay is trained too, with its exact EventProp gradient and the
  learning rate ``delay_lr`` (ms per step, same decay; ``eventsim.train.fit(learn_delays=True)``);
  the best-validation epoch's weights and delays are kept; the test set is evaluated once at the end.

``train(Settings(...), out_dir)`` runs it and writes, as the other recipes, ``randman_net.h5``,
``checkpoint.h5`` (every epoch), ``randman_curves.png``, ``randman_raster.png`` and
``randman_metrics.json``. ``eventsim train randman --seed S --epochs E --out DIR [--data shd:PATH]``
calls it; ``--quick`` is a small run (fewer samples and epochs) for a first look.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

import eventsim as es
from eventsim.checks import nonnegative_int, nonnegative_number, positive_int, positive_number
from eventsim.data import randman, train_val_test_split
from eventsim.losses import MaxVoltageCE
from eventsim.spikes import SpikeBatch

from .eventprop_run import run

READOUT = "max"          # the class is the read-out with the largest maximum voltage
SELECT = "best"          # weights kept at the end: the best-validation epoch's
FRACTIONS = (0.8, 0.1, 0.1)
SHD_VAL_FRACTION = 0.1
SHD_T_MAX = 1000.0       # ms; SHD samples last up to about 1 s


@dataclass(frozen=True)
class Settings:
    """Everything a run is made of (times in ms).

    Attributes:
        n_classes: Randman classes (manifolds).
        n_in: input neurons (the embedding dimension).
        samples_per_class: Randman samples per class (before the 80/10/10 split).
        dim_manifold: intrinsic dimension of each manifold.
        alpha: smoothness of the manifolds.
        duration: the input spikes lie in [0, duration) ms.
        t_max: simulated time per sample (ms); the read-outs' maximum is taken over [0, t_max].
        hidden: recurrent LIF neurons.
        tau_mem, tau_syn: time constants of every LIF and read-out neuron (ms).
        w_in: (mean, spread) of the input weights, in units of threshold / PSP peak (see the module docstring).
        w_rec: spread of the recurrent weights (same units; 0: no recurrent projection).
        w_out: spread of the read-out weights (same units).
        delay_max: initial delays of the input and recurrent synapses uniform in [0, delay_max) ms.
        learn_delays: train the delays as well as the weights.
        delay_lr: Adam learning rate of the delays (ms per step).
        epochs, batch_size, lr, lr_decay: Adam training (lr x lr_decay per epoch).
        seed: initial weights and shuffling.
        data_seed: the Randman generator and the split.
    """

    n_classes: int = 10
    n_in: int = 20
    samples_per_class: int = 200
    dim_manifold: int = 1
    alpha: float = 2.0
    duration: float = 50.0
    t_max: float = 60.0
    hidden: int = 64
    tau_mem: float = 20.0
    tau_syn: float = 5.0
    w_in: Tuple[float, float] = (2.0, 2.0)
    w_rec: float = 0.5
    w_out: float = 1.0
    delay_max: float = 5.0
    learn_delays: bool = True
    delay_lr: float = 0.1
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-2
    lr_decay: float = 0.97
    seed: int = 0
    data_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_classes", "n_in", "samples_per_class", "dim_manifold", "hidden", "epochs", "batch_size"):
            positive_int(name, getattr(self, name))
        for name in ("alpha", "duration", "t_max", "tau_mem", "tau_syn", "lr", "w_out", "delay_lr"):
            positive_number(name, getattr(self, name))
        nonnegative_number("w_rec", self.w_rec)
        nonnegative_number("delay_max", self.delay_max)
        if not isinstance(self.learn_delays, bool):
            raise ValueError(f"learn_delays must be True or False, got {self.learn_delays!r}")
        nonnegative_int("seed", self.seed)
        nonnegative_int("data_seed", self.data_seed)
        if not (isinstance(self.w_in, tuple) and len(self.w_in) == 2):
            raise ValueError(f"w_in must be a pair (mean, spread), got {self.w_in!r}")
        nonnegative_number("w_in[1]", self.w_in[1])
        if not 0.0 < self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay!r}")


#: the small run of ``--quick`` (and of the tests): 60 samples per class, 6 epochs
QUICK = dict(samples_per_class=60, epochs=6)

Split = Tuple[SpikeBatch, np.ndarray]


def build(s: Settings) -> es.Network:
    """The untrained ``n_in``-``hidden``(recurrent)-``n_classes`` network (weights, then delays,
    drawn from ``s.seed``)."""
    p = es.LIFParams(tau_mem=s.tau_mem, tau_syn=s.tau_syn)
    ro = es.LIFParams.readout(tau_mem=s.tau_mem, tau_syn=s.tau_syn)
    peak = es.psp_peak(s.tau_mem, s.tau_syn)
    rng = np.random.default_rng(s.seed)
    net = es.Network(readout=READOUT)
    net.add_input("in", s.n_in)
    net.add_population("hidden", s.hidden, p)
    net.add_population("out", s.n_classes, ro)
    w_in = rng.normal(s.w_in[0] / (peak * s.n_in), s.w_in[1] / (peak * math.sqrt(s.n_in)), (s.hidden, s.n_in))
    net.connect("in", "hidden", w_in)
    if s.w_rec > 0:
        w_rec = rng.normal(0.0, s.w_rec / (peak * math.sqrt(s.hidden)), (s.hidden, s.hidden))
        net.connect("hidden", "hidden", w_rec, mask=~np.eye(s.hidden, dtype=bool))
    net.connect("hidden", "out", rng.normal(0.0, s.w_out / (peak * math.sqrt(s.hidden)), (s.n_classes, s.hidden)))
    if s.delay_max > 0:
        for name in ("in->hidden", "hidden->hidden"):
            if name in net.projections:
                proj = net.projections[name]
                proj.delays = rng.uniform(0.0, s.delay_max, proj.n_synapses)
    return net


def loss() -> MaxVoltageCE:
    """Cross-entropy of the read-outs' maximum voltage over the simulated time."""
    return MaxVoltageCE(population="out")


def randman_splits(s: Settings) -> Tuple[Split, Split, Split]:
    """(train, val, test) of the Randman task of ``s``, each ``(SpikeBatch, labels)``."""
    spikes, labels = randman(s.n_classes, s.samples_per_class, s.n_in, dim_manifold=s.dim_manifold, alpha=s.alpha,
                             duration=s.duration, seed=s.data_seed)
    return train_val_test_split(spikes, labels, FRACTIONS, seed=s.data_seed)


def shd_splits(path, t_max: float = SHD_T_MAX, seed: int = 0) -> Tuple[Split, Split, Split]:
    """(train, val, test) from local SHD files (nothing is downloaded).

    ``path``: a folder with ``shd_train.h5`` and ``shd_test.h5`` (validation: a stratified
    ``SHD_VAL_FRACTION`` of the training file), or one file in the published layout (divided
    80/10/10, stratified). Spikes after ``t_max`` ms are dropped; ``seed`` draws the held-out samples.
    """
    from eventsim.data import load_heidelberg

    p = Path(path)
    if p.is_dir():
        tr_file, te_file = p / "shd_train.h5", p / "shd_test.h5"
        for f in (tr_file, te_file):
            if not f.exists():
                raise ValueError(f"data: folder {str(p)!r} has no {f.name} (fetch it from https://zenkelab.org/datasets/)")
        tr, y = load_heidelberg(tr_file, t_max=t_max)
        te, yt = load_heidelberg(te_file, t_max=t_max)
        train, val, _ = train_val_test_split(tr, y, (1.0 - SHD_VAL_FRACTION, SHD_VAL_FRACTION, 0.0), seed=seed)
        return train, val, (te, yt)
    if not p.exists():
        raise ValueError(f"data: no SHD file or folder at {str(p)!r}")
    spikes, labels = load_heidelberg(p, t_max=t_max)
    return train_val_test_split(spikes, labels, FRACTIONS, seed=seed)


def parse_data(data: str) -> Optional[str]:
    """The SHD path of ``--data shd:PATH``, or None for ``randman``; ValueError otherwise."""
    if data == "randman":
        return None
    if isinstance(data, str) and data.startswith("shd:") and len(data) > 4:
        return data[4:]
    raise ValueError(f"data must be 'randman' or 'shd:PATH', got {data!r}")


def settings_for_shd(s: Settings, splits) -> Settings:
    """``s`` with the sizes of SHD (700 inputs, as many classes as the labels hold, at least 20)."""
    n_in = splits[0][0].n_neurons
    n_classes = max(20, int(max(int(np.max(sp[1])) for sp in splits if sp[1].size)) + 1)
    return dataclasses.replace(s, n_in=n_in, n_classes=n_classes)


def train(s: Settings = Settings(), out_dir: Optional[str] = None, *, data: str = "randman", progress: bool = True,
          resume: bool = False, allow_mismatch: bool = False, log=None) -> Dict:
    """Train one run of the recipe; returns the metrics dict (``eventsim.models.eventprop_run.run``).

    Args:
        s: the settings (sizes, data, training).
        out_dir: if given: ``randman_net.h5`` (the kept weights), ``checkpoint.h5``,
            ``randman_curves.png``, ``randman_raster.png``, ``randman_metrics.json``.
        data: ``"randman"`` or ``"shd:PATH"`` (see ``shd_splits``; then ``t_max`` is the settings'
            unless it is the Randman default, in which case ``SHD_T_MAX``).
        resume, allow_mismatch: as ``eventsim.train.fit`` (from ``out_dir/checkpoint.h5``).
        log: optional ``print``-like function called once per epoch.
    """
    shd = parse_data(data)
    if shd is None:
        splits = randman_splits(s)
        name = "Randman"
    else:
        if s.t_max == Settings.t_max:
            s = dataclasses.replace(s, t_max=SHD_T_MAX)
        splits = shd_splits(shd, s.t_max, s.data_seed)
        s = settings_for_shd(s, splits)
        name = "SHD"
    net = build(s)
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(s).items()}
    return run("randman", net, splits, loss(), s.t_max, epochs=s.epochs, seed=s.seed, batch_size=s.batch_size,
               lr=s.lr, lr_decay=s.lr_decay, out_dir=out_dir, progress=progress, resume=resume,
               allow_mismatch=allow_mismatch, log=log, select=SELECT, learn_delays=s.learn_delays,
               delay_lr=s.delay_lr,
               title=f"{name} {s.n_in}-{s.hidden}(rec)-{s.n_classes}, EventProp (seed {s.seed})",
               raster_populations=("hidden",),
               metrics={"data": data, "settings": settings,
                        "n_train": int(splits[0][1].size), "n_val": int(splits[1][1].size),
                        "n_test": int(splits[2][1].size)})


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = Settings()
    p.add_argument("--data", default="randman", help="'randman' or 'shd:PATH' (a folder with shd_train.h5 and "
                                                     "shd_test.h5, or one SHD file; nothing is downloaded)")
    p.add_argument("--seed", type=int, default=d.seed, help="weights and shuffling seed")
    p.add_argument("--data-seed", type=int, default=d.data_seed, help="Randman generator and split seed")
    p.add_argument("--epochs", type=int, default=None, help=f"default {d.epochs} ({QUICK['epochs']} with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"a small run: {QUICK['samples_per_class']} samples per class, {QUICK['epochs']} epochs")
    p.add_argument("--hidden", type=int, default=d.hidden, help="recurrent LIF neurons")
    p.add_argument("--n-in", type=int, default=d.n_in, help="Randman input neurons")
    p.add_argument("--n-classes", type=int, default=d.n_classes, help="Randman classes")
    p.add_argument("--samples-per-class", type=int, default=None,
                   help=f"Randman samples per class (default {d.samples_per_class}; "
                        f"{QUICK['samples_per_class']} with --quick)")
    p.add_argument("--t-max", type=float, default=None,
                   help=f"simulated time per sample, ms (default {d.t_max}; {SHD_T_MAX} for SHD)")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    p.add_argument("--lr-decay", type=float, default=d.lr_decay, help="learning-rate factor per epoch")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="samples per mini-batch")
    p.add_argument("--delay-max", type=float, default=d.delay_max,
                   help="initial input and recurrent delays uniform in [0, DELAY_MAX) ms (0: none)")
    p.add_argument("--fixed-delays", action="store_true", help="train the weights only, not the delays")
    p.add_argument("--delay-lr", type=float, default=d.delay_lr, help="Adam learning rate of the delays (ms per step)")
    p.add_argument("--out", default="results/randman", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.h5")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="with --resume: continue even if the checkpoint was made with other data or settings")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The ``Settings`` of the command line (``--quick`` sets the small run's sizes unless given)."""
    base = dict(QUICK) if args.quick else {}
    kw = dict(seed=args.seed, data_seed=args.data_seed, hidden=args.hidden, n_in=args.n_in,
              n_classes=args.n_classes, lr=args.lr, lr_decay=args.lr_decay, batch_size=args.batch_size,
              delay_max=args.delay_max, learn_delays=not args.fixed_delays, delay_lr=args.delay_lr)
    for k, v in (("epochs", args.epochs), ("samples_per_class", args.samples_per_class), ("t_max", args.t_max)):
        if v is not None:
            kw[k] = v
    return Settings(**{**base, **kw})


def _print_flush(*a) -> None:
    print(*a, flush=True)


def cli_train(args: argparse.Namespace) -> int:
    m = train(settings_from_args(args), args.out, data=args.data, progress=not args.no_progress, resume=args.resume,
              allow_mismatch=args.allow_mismatch, log=_print_flush if args.no_progress else None)
    print(json.dumps(m))
    return 0
