"""NTT connectomes for spiking networks trained with EventProp: NTT against pruning baselines at low density.

    python benchmarks/ntt_lif.py --task digits [--densities 0.05,0.1] [--seeds 0,1,2] [--methods ntt,random,magnitude,snip]
    python benchmarks/ntt_lif.py --task yinyang [...]
    python benchmarks/ntt_lif.py --task T [...] --summary     # the table of what that command runs, from the rows

Every training is one row of ``benchmarks/results/ntt_lif.jsonl``, written as soon as it ends (``--results DIR``
for another folder); a configuration run again replaces its rows. ``--summary`` runs nothing: it prints, for
the trainings the same command would run, the test accuracy after ``--epochs`` and after ``--short`` epochs,
mean ± sample std over the seeds found in the table, one line per method and column per density.

Protocol (docs/ntt.md):

1. Twin: a bias-free ReLU MLP with the connectome shapes of the task's LIF recipe. ``digits``
   (``eventsim.models.digits``): 65-300-10, 64 pixels + the bias neuron -> 300 LIF -> 10 leaky-integrator
   read-outs; twin inputs = the pixel intensities v in [0, 1] (a pixel spikes at 20 (1 - v) ms,
   bright = early = strong) and 1 for the bias neuron. ``yinyang`` (``eventsim.models.yinyang``): 5-200-3,
   LIF hidden and LIF output neurons (first-spike loss); twin inputs = 1 - v for the four
   coordinates (a coordinate spikes at 30 v ms: small = early = strong) and 1 for the bias spike.
2. Mask and initial weights per method at density d per pruned projection: NTT (``run_ntt``,
   defaults, unlabelled training inputs; method ``ntt_active``: the same with the student-NTK variant
   'active', only the kept weights), random, magnitude, SNIP (labelled, 128 samples), all from the same
   twin initialisation; "dense" is the LIF recipe's own initialisation (no twin). Yin-Yang keeps its
   input projection dense (``--keep-dense``, default for that task): with 5 inputs, 5 % of 5 x 200
   synapses would leave about 80 % of the hidden neurons without any input; rows hold the overall
   density too.
3. LIF operating point (the same rule for every method): the hidden projection is multiplied by the
   gain that gives the same mean hidden spike count per sample as the dense recipe network on 200
   training samples (bisection on a log scale); spiking outputs (Yin-Yang): the output projection by
   the gain at which some output neuron fires on as many calibration samples as in the
   dense network, at most 95 % (matching the dense output spike count is out of reach: the twin's
   weights are zero-mean, the recipe's output weights all positive); non-spiking read-outs
   (digits): the gain that matches the dense network's RMS summed input weight per read-out (the rows'
   ``out_gain`` is ``"rms"``). ``--out-gain capped`` (spiking outputs): the answering gain, but never above
   the gain that matches the dense network's RMS summed input weight per output neuron (the digits rule),
   for every method alike; rows hold both candidates (``gain_out_answered``, ``gain_out_rms``).
   ``--out-gain neuron``: one gain per output neuron, at which it fires on as many calibration samples as
   the dense network's neuron of the same index (at most 95 %), each capped the same way; rows hold
   ``gain_out`` (the median) and ``gain_out_per_neuron``.
4. Training: the task's recipe optimiser and loss (``--silent phantom``: Yin-Yang's first-spike loss
   with the phantom-spike remedy for silent label neurons, for every method) for ``--epochs`` epochs.
   Digits: AdamW 2e-2, decayed per epoch by 0.95^(30/epochs) (x0.95 per epoch at the default 30),
   weight decay 0.05 (``--weight-decay``), best-of-validation weights, no augmentation: pinned here so
   that later changes of the digits recipe do not move this protocol.
   Yin-Yang: Adam 5e-3 x0.97, last-epoch weights. Only the kept synapses exist and are trained.
   Test accuracy on the task's test split; also after ``--short`` epochs (NTT's "faster learning"
   claim).

``--hidden N`` widens the hidden layer for every method, dense included (same protocol otherwise).

``--bias-synapses``: the twin has biases (64-H-10 on the pixels, ``MLPTwin(bias=True)``) instead of taking
the bias neuron as a 65th input; its biases become the bias neuron's synapses
(``NTTResult.to_connectomes(bias_neuron=True)``: one into every hidden neuron, one into every read-out
through an in->out projection), never pruned, as the biases of an ANN, for every method alike. The
pruned density d is then that of the pixel and hidden->out weights; the overall density counts the
bias synapses. ``--gain neuron``: one hidden gain per neuron instead of one per layer (each neuron
matching the dense network's mean spike count per neuron).

``--revive S``: training adds ``SilentPeakReg("hidden", strength=S)`` to the loss, for every method and
dense alike: hidden neurons silent on the whole batch get the exact gradient of their peak voltage, which
pulls their input weights up until they fire (EventProp gives them nothing otherwise; 78 % of an NTT
network's hidden neurons at 5 % start silent). Rows also hold the fraction of hidden neurons active after
training. ``--revive-epochs E``: the term acts during the first E epochs only.

``--ntt-freeze in->hidden``: NTT leaves that projection (with ``--bias-synapses`` its bias too) at the twin's
initialisation and trains only the others (``run_ntt(frozen=...)``); the baselines are unaffected (they
never train it).

``--methods dense`` trains only the dense network (e.g. one process for dense, one for the sparse methods
with ``--no-dense``).

Rows (``ROW_KEY`` are the key columns; options that do not apply to a row's method are None there: NTT's
options on a baseline's row, the twin and calibration options on the dense network's): ``test_acc``,
``test_acc_short``, ``val_acc``, ``best_epoch`` (0-based epoch whose weights were kept; None: the last),
``val_acc_curve`` (validation accuracy after every epoch), ``train_s``; for sparse networks also ``init_s``
(seconds to build the mask), ``overall_density``, ``synapses``, ``gain_hidden``, ``gain_out`` and the
candidates above, ``hidden_spikes_per_sample`` and its ``hidden_spikes_target``, ``active_hidden_fraction``
before and after training (``..._trained``); for NTT the run's provenance (``ntt_common.ntt_record``: variant,
λ_K, λ_2, ``ntt_lr``, ``ntt_frozen``, evaluation distances before and after).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ntt_common import (NTT_VARIANTS, ntt_record, parse_list, parse_methods, parse_names,  # noqa: E402
                        print_summary, select_configs, write_row)

STUDY = "ntt_lif"
#: the key columns of a row: the configuration of one training
ROW_KEY = ("task", "hidden", "method", "density", "seed", "epochs", "short", "weight_decay", "silent", "revive",
           "revive_epochs", "bias_synapses", "gain", "out_gain", "keep_dense", "ntt_freeze", "ntt_steps")
PROJECTIONS = ("in->hidden", "hidden->out")
KEEP_DENSE = {"digits": (), "yinyang": ("in->hidden",)}
ORDER = {"dense": 0, "ntt": 1, "ntt_active": 2, "random": 3, "magnitude": 4, "snip": 5}


DIGITS_LR, DIGITS_LR_DECAY, DIGITS_WEIGHT_DECAY = 2e-2, 0.95, 0.05


class Task:
    """What the experiment needs from a recipe: data, twin inputs, network shapes, training."""

    def __init__(self, name: str, hidden: int | None = None, bias_synapses: bool = False):
        import eventsim as es
        from eventsim.optim import Adam, ExponentialDecay

        self.name = name
        if name == "digits":
            from eventsim.data import digits_arrays
            from eventsim.models import digits as rec

            X, self.y_twin = digits_arrays("train")
            self.X_twin = np.concatenate([X, np.ones((len(X), 1))], axis=1)
            self.sizes = [rec.N_IN, rec.HIDDEN, 10]
            self.out_params = es.LIFParams.readout(tau_mem=20.0, tau_syn=5.0)
            self.keep_dense = KEEP_DENSE[name]
            self.select_best = True
            # pinned to the digits recipe as it was when this protocol was fixed (AdamW 2e-2 x0.95,
            # decay 0.05, no augmentation), so results at every density stay comparable
            self.make_opt = lambda net, n, epochs=30, wd=DIGITS_WEIGHT_DECAY: Adam(  # noqa: E731
                net.parameters(), lr=ExponentialDecay(DIGITS_LR, DIGITS_LR_DECAY ** (30 / epochs), every=-(-n // rec.BATCH)),
                weight_decay=wd)
        elif name == "yinyang":
            from eventsim.data import yin_yang
            from eventsim.models import yinyang as rec

            X, self.y_twin = yin_yang("train")
            self.X_twin = np.concatenate([1.0 - X, np.ones((len(X), 1))], axis=1)
            self.sizes = [5, rec.HIDDEN, 3]
            self.out_params = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
            self.keep_dense = KEEP_DENSE[name]
            self.select_best = rec.SELECT == "best"
            self.make_opt = lambda net, n, epochs=None, wd=0.0: Adam(net.parameters(), lr=ExponentialDecay(  # noqa: E731
                rec.LR, rec.LR_DECAY, every=-(-n // rec.BATCH)), weight_decay=wd)
        else:
            raise ValueError(f"task must be 'digits' or 'yinyang', got {name!r}")
        if hidden is not None:
            if hidden < 1:
                raise ValueError(f"hidden must be a positive number of neurons, got {hidden!r}")
            self.sizes[1] = int(hidden)
        self.rec = rec
        self.splits = rec.data()
        self.bias_synapses = bool(bias_synapses)
        if self.bias_synapses:  # the bias neuron is the twin's bias; the twin sees the data inputs only
            self.X_twin = self.X_twin[:, :-1]

    def twin(self):
        """The twin: bias-free with the bias neuron as its last input, or (``bias_synapses``) with biases
        that become the bias neuron's synapses (never pruned, as the biases of an ANN)."""
        from eventsim.ntt import MLPTwin

        if self.bias_synapses:
            return MLPTwin([self.sizes[0] - 1] + self.sizes[1:], names=["in", "hidden", "out"], bias=True)
        return MLPTwin(self.sizes, names=["in", "hidden", "out"], bias=False)

    def dense(self, seed: int):
        return self.rec.build(seed, hidden=self.sizes[1])

    def build_sparse(self, result, s_h, s_o):
        """The recipe's network with ``result``'s connectomes, projections scaled by (s_h, s_o): each a
        float (one gain per projection) or an array with one gain per postsynaptic neuron."""
        import eventsim as es

        net = es.Network()
        net.add_input("in", self.sizes[0])
        net.add_population("hidden", self.sizes[1], es.LIFParams(tau_mem=20.0, tau_syn=5.0))
        net.add_population("out", self.sizes[2], self.out_params)
        # bias_synapses: the twin's biases are the bias neuron's synapses (into the hidden layer as the
        # last column of in->hidden, into the outputs as the projection in->out), scaled with their layer
        for name, c in result.to_connectomes(bias_neuron=self.bias_synapses).items():
            src, dst = name.split("->")
            g = s_h if dst == "hidden" else s_o
            net.connect(src, dst, c.to_dense() * np.reshape(g, (-1, 1)), mask=c.mask())
        return net


def _spikes_per_sample(res, population: str) -> float:
    return float(res.counts(population).sum()) / res.n_samples


def _answered(res, population: str) -> float:
    """Fraction of samples in which at least one neuron of ``population`` fires (makes a prediction)."""
    return float(np.mean(res.counts(population).sum(axis=1) > 0))


def _match_gain(build, calib, t_max: float, measure, target, lo: float = -3.0, hi: float = 4.0):
    """Gain at which ``measure(result)`` reaches ``target`` (bisection on log10 in [lo, hi], 22 halvings;
    the bracket's midpoint). Vectorised: with an array ``target`` (one per neuron, ``measure`` returning
    one value per neuron, neurons independent of each other's gains) every neuron is bisected at once."""
    import eventsim as es

    lo = np.full(np.shape(target), lo)
    hi = np.full(np.shape(target), hi)
    for _ in range(22):
        mid = 0.5 * (lo + hi)
        below = measure(es.simulate(build(10 ** mid), calib, t_max, progress=False)) < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    g = 10 ** (0.5 * (lo + hi))
    return float(g) if np.ndim(g) == 0 else g


def _rms_summed_input(W: np.ndarray) -> float:
    """RMS over postsynaptic neurons (rows of ``W``) of the norm of their input weights."""
    return float(np.sqrt(np.mean(np.sum(W ** 2, axis=1))))


OUT_GAIN_RULES = ("answered", "capped", "neuron")


def calibrate(task: Task, result, dense_net, calib, t_max: float, per_neuron: bool = False,
              out_gain: str = "answered"):
    """(s_h, s_o, target, info): hidden gain matching the dense network's hidden spike count (``per_neuron``:
    one gain per hidden neuron, each matching the dense network's mean count per neuron; neurons that
    do not reach half of it at the bisection's end, e.g. without excitatory input, get the median gain
    of those that do); output gain:
    spiking outputs (Yin-Yang): the one at which the outputs answer (some output neuron fires)
    on as many calibration samples as the dense network's, at most 95 % (``out_gain="answered"``), or
    that gain but never above the RMS-match gain below (``"capped"``), or (``"neuron"``)
    one gain per output neuron, at which it fires on as many calibration samples as the
    dense network's neuron of the same index (at most 95 %), each capped at the RMS-match gain;
    non-spiking read-outs (digits): the RMS-match gain, which matches the dense network's RMS summed
    input weight per output neuron. ``info``: the candidate output gains before any cap
    (``gain_out_answered``: None for non-spiking read-outs, one per neuron for ``"neuron"``) and the
    RMS-match gain (``gain_out_rms``)."""
    import eventsim as es

    if out_gain not in OUT_GAIN_RULES:
        raise ValueError(f"out_gain must be one of {OUT_GAIN_RULES}, got {out_gain!r}")
    dense_res = es.simulate(dense_net, calib, t_max, progress=False)
    target = _spikes_per_sample(dense_res, "hidden")
    if per_neuron:
        n_h = task.sizes[1]
        per = lambda r: r.counts("hidden").mean(axis=0)  # noqa: E731
        s_h = _match_gain(lambda g: task.build_sparse(result, g, 1.0), calib, t_max, per, np.full(n_h, target / n_h))
        reached = per(es.simulate(task.build_sparse(result, s_h, 1.0), calib, t_max, progress=False)) >= 0.5 * target / n_h
        s_h = np.where(reached, s_h, np.median(s_h[reached]) if reached.any() else 1.0)
    else:
        s_h = _match_gain(lambda g: task.build_sparse(result, g, 1.0), calib, t_max,
                          lambda r: _spikes_per_sample(r, "hidden"), target)
    g_rms = (_rms_summed_input(dense_net.projections["hidden->out"].to_dense())
             / max(_rms_summed_input(result.params["W1"]), 1e-12))
    g_answered = None
    if np.isfinite(task.out_params.v_th) and out_gain == "neuron":
        fires = lambda r: (r.counts("out") > 0).mean(axis=0)  # noqa: E731  (fraction of samples, per neuron)
        g_answered = _match_gain(lambda g: task.build_sparse(result, s_h, g), calib, t_max, fires,
                                 np.minimum(0.95, fires(dense_res)))
        s_o = np.minimum(g_answered, g_rms)
        g_answered = [float(g) for g in g_answered]
    elif np.isfinite(task.out_params.v_th):
        goal = min(0.95, _answered(dense_res, "out"))
        g_answered = _match_gain(lambda g: task.build_sparse(result, s_h, g), calib, t_max,
                                 lambda r: _answered(r, "out"), goal)
        s_o = g_answered if out_gain == "answered" else min(g_answered, g_rms)
    else:
        s_o = g_rms
    return s_h, s_o, target, {"gain_out_answered": g_answered, "gain_out_rms": g_rms}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=["digits", "yinyang"], default="digits")
    ap.add_argument("--densities", default="0.05,0.1")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="ntt,random,magnitude,snip",
                    help="sparse methods: ntt, ntt_active (NTT with the 'active' student NTK), random, magnitude, "
                         "snip (the dense network is trained too unless --no-dense); 'dense': only it")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--short", type=int, default=3, help="also report the test accuracy after this many epochs")
    ap.add_argument("--hidden", type=int, default=None,
                    help="hidden LIF neurons, for every method and dense alike (default: the recipe's)")
    ap.add_argument("--ntt-steps", type=int, default=2000)
    ap.add_argument("--weight-decay", type=float, default=None,
                    help="AdamW decay for every method (default: the protocol's, digits 0.05, Yin-Yang 0)")
    ap.add_argument("--keep-dense", default=None,
                    help="comma-separated projections not pruned (default: the task's; '' for none)")
    ap.add_argument("--ntt-freeze", default="",
                    help="comma-separated projections NTT leaves at the twin's initialisation (e.g. in->hidden; "
                         "default: none); the other methods are unaffected")
    ap.add_argument("--silent", choices=["none", "phantom"], default="none",
                    help="first-spike loss (Yin-Yang): the silent-label-neuron policy of FirstSpikeCE, for every "
                         "method alike (default: the recipe's, none)")
    ap.add_argument("--bias-synapses", action="store_true",
                    help="the twin has biases, mapped to the bias neuron's synapses (one per hidden and output neuron, "
                         "never pruned, not counted in the pruned density; the overall density counts them)")
    ap.add_argument("--gain", choices=["layer", "neuron"], default="layer",
                    help="LIF operating point of the hidden layer: one gain for the layer (matching the dense network's "
                         "spike count) or one per hidden neuron (each matching its mean count per neuron)")
    ap.add_argument("--out-gain", choices=list(OUT_GAIN_RULES), default="answered",
                    help="spiking outputs (Yin-Yang): the output gain at which the outputs answer on as many calibration "
                         "samples as the dense network's (at most 95 %%), or that gain capped at the one matching the dense "
                         "network's RMS summed input weight per output neuron ('capped'), or one gain per output neuron, "
                         "each firing on as many samples as the dense network's neuron, capped the same way ('neuron'); "
                         "digits read-outs always take the RMS-match gain (only the default is accepted there)")
    ap.add_argument("--revive", type=float, default=0.0,
                    help="strength of SilentPeakReg on the hidden layer during training, for every method and dense "
                         "alike (pulls up the peak V of hidden neurons silent on the whole batch; default 0: off)")
    ap.add_argument("--revive-epochs", type=int, default=None,
                    help="with --revive: the term acts during this many first epochs only (default: all)")
    ap.add_argument("--no-dense", action="store_true",
                    help="do not train the dense network (it is still built: its spike count sets the operating point)")
    ap.add_argument("--results", default=None, help="folder of the results table (default benchmarks/results)")
    ap.add_argument("--summary", action="store_true",
                    help="run nothing: print the table (mean ± std over seeds) of the rows this command would write")
    return ap


def resolve(args) -> dict:
    """The run's settings from its options, every option checked (ValueError naming it) before any work:
    the hidden width, weight decay and kept-dense projections resolved to the values used."""
    if args.task == "digits":
        from eventsim.models import digits as rec
    else:
        from eventsim.models import yinyang as rec
    hidden = rec.HIDDEN if args.hidden is None else int(args.hidden)
    if hidden < 1:
        raise ValueError(f"--hidden must be a positive number of neurons, got {args.hidden!r}")
    if args.epochs < 1:
        raise ValueError(f"--epochs must be a positive number of epochs, got {args.epochs!r}")
    if not 1 <= args.short <= args.epochs:
        raise ValueError(f"--short must be in [1, --epochs = {args.epochs}], got {args.short!r}")
    if args.ntt_steps < 1:
        raise ValueError(f"--ntt-steps must be positive, got {args.ntt_steps!r}")
    if args.task == "digits" and args.out_gain != "answered":
        raise ValueError(f"--out-gain {args.out_gain} applies to spiking outputs; the digits read-outs do not "
                         "spike and always take the RMS-match gain")
    if args.silent != "none" and args.task != "yinyang":
        raise ValueError(f"--silent applies to first-spike losses (Yin-Yang); the {args.task} recipe's loss has no "
                         "silent-neuron policy")
    keep_dense = (KEEP_DENSE[args.task] if args.keep_dense is None
                  else parse_names(args.keep_dense, "--keep-dense", PROJECTIONS))
    freeze = parse_names(args.ntt_freeze, "--ntt-freeze", PROJECTIONS)
    densities = parse_list(args.densities, "--densities")
    bad = [d for d in densities if not 0 < d <= 1]
    if bad:
        raise ValueError(f"--densities must lie in (0, 1], got {bad}")
    seeds = parse_list(args.seeds, "--seeds", int)
    methods = parse_methods(args.methods)
    if "dense" in methods and args.no_dense:
        raise ValueError("--methods lists dense but --no-dense is set")
    train_dense = not args.no_dense
    methods = [m for m in methods if m != "dense"]  # dense is trained unless --no-dense; '--methods dense': it alone
    if not (np.isfinite(args.revive) and args.revive >= 0):
        raise ValueError(f"--revive must be a finite number >= 0, got {args.revive!r}")
    if args.revive_epochs is not None and args.revive_epochs < 1:
        raise ValueError(f"--revive-epochs must be a positive number of epochs, got {args.revive_epochs!r}")
    if args.revive_epochs is not None and args.revive == 0:
        raise ValueError("--revive-epochs needs --revive S with S > 0 (the term it limits is off)")
    wd = (DIGITS_WEIGHT_DECAY if args.task == "digits" else 0.0) if args.weight_decay is None else args.weight_decay
    if not (np.isfinite(wd) and wd >= 0):
        raise ValueError(f"--weight-decay must be >= 0, got {args.weight_decay!r}")
    return dict(hidden=hidden, weight_decay=float(wd), keep_dense=keep_dense, freeze=freeze, densities=densities,
                seeds=seeds, methods=methods, train_dense=train_dense)


def row_config(args, cfg: dict, method: str, density: float, seed: int) -> dict:
    """The key columns of the row of one training (``ROW_KEY``): the options that shape it, None where an
    option does not apply to ``method``."""
    sparse, ntt = method != "dense", method in NTT_VARIANTS
    out_gain = args.out_gain if args.task == "yinyang" else "rms"
    return {"task": args.task, "hidden": cfg["hidden"], "method": method, "density": float(density), "seed": int(seed),
            "epochs": args.epochs, "short": args.short, "weight_decay": cfg["weight_decay"], "silent": args.silent,
            "revive": float(args.revive), "revive_epochs": args.revive_epochs,
            "bias_synapses": bool(args.bias_synapses) if sparse else None,
            "gain": args.gain if sparse else None, "out_gain": out_gain if sparse else None,
            "keep_dense": list(cfg["keep_dense"]) if sparse else None,
            "ntt_freeze": list(cfg["freeze"]) if ntt else None, "ntt_steps": args.ntt_steps if ntt else None}


def planned(args, cfg: dict) -> list:
    """The key columns of every training the command runs, in the order it runs them."""
    out = []
    for seed in cfg["seeds"]:
        if cfg["train_dense"]:
            out.append(row_config(args, cfg, "dense", 1.0, seed))
        out += [row_config(args, cfg, m, d, seed) for d in cfg["densities"] for m in cfg["methods"]]
    return out


def summary(args, cfg: dict, rows=None) -> list:
    """Print the summary tables of the rows the command would write (``--summary``) and return the summary."""
    import results_table

    rows = results_table.read_rows(STUDY, args.results) if rows is None else rows
    chosen = select_configs(rows, planned(args, cfg), ROW_KEY)
    return print_summary(chosen, ROW_KEY, [("test_acc", f"test accuracy (%) after {args.epochs} epochs"),
                                           ("test_acc_short", f"test accuracy (%) after {args.short} epochs")],
                         order=ORDER, study=STUDY)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = resolve(args)
    if args.summary:
        summary(args, cfg)
        return 0

    import torch

    import eventsim as es
    from eventsim.ntt import prune_baseline, run_ntt

    torch.set_num_threads(1)
    task = Task(args.task, cfg["hidden"], bias_synapses=args.bias_synapses)
    keep_weights = tuple(f"W{PROJECTIONS.index(k)}" for k in cfg["keep_dense"])  # the twin's weight names
    # a projection's weights, and with --bias-synapses its bias (the bias neuron's synapses into its targets)
    frozen_weights = tuple(f"{p}{PROJECTIONS.index(k)}" for k in cfg["freeze"]
                           for p in (("W", "b") if args.bias_synapses else ("W",)))
    (tr, y), (va, yv), (te, yt) = task.splits
    loss, t_max = task.rec.loss(), task.rec.T_MAX
    if args.silent != "none":
        import dataclasses

        loss = dataclasses.replace(loss, silent=args.silent)
    calib = tr.subset(np.arange(200))
    machine = {"cpus": os.cpu_count(), "platform": platform.platform()}

    def save(config: dict, figures: dict) -> None:
        write_row(STUDY, {**config, **figures, **machine}, ROW_KEY, args.results)

    def train_eval(net, seed: int) -> dict:
        opt = task.make_opt(net, len(y), args.epochs, cfg["weight_decay"])
        short = {}
        reg = es.losses.SilentPeakReg("hidden", strength=args.revive)
        train_loss = loss if args.revive == 0 else [loss, reg]

        def cb(epoch, h):
            if epoch + 1 == args.short:
                short["acc"] = es.train.evaluate(net, te, yt, loss, t_max)[1]
            if epoch + 1 == args.revive_epochs:
                reg.strength = 0.0  # the term acts during the first --revive-epochs epochs only

        t0 = time.perf_counter()
        hist = es.train.fit(net, tr, y, train_loss, t_max, optimizer=opt, epochs=args.epochs, batch_size=task.rec.BATCH,
                            seed=seed, val=(va, yv), progress=False, restore_best=task.select_best, callbacks=[cb])
        tt = time.perf_counter() - t0
        best = hist.get("best_epoch")  # [0-based epoch whose weights were kept]; absent: last-epoch weights
        return {"test_acc": es.train.evaluate(net, te, yt, loss, t_max)[1], "test_acc_short": short.get("acc"),
                "val_acc": es.train.evaluate(net, va, yv, loss, t_max)[1], "train_s": tt,
                "best_epoch": None if best is None else int(best[0]),
                "val_acc_curve": [round(float(v), 4) for v in hist["val_acc"]]}

    n_all = sum(task.sizes[i] * task.sizes[i + 1] for i in range(len(task.sizes) - 1))
    for seed in cfg["seeds"]:
        dense = task.dense(seed)
        if cfg["train_dense"]:
            r = train_eval(task.dense(seed), seed)
            save(row_config(args, cfg, "dense", 1.0, seed), {**r, "overall_density": 1.0})
            print(f"dense         seed {seed}: test {100 * r['test_acc']:.2f} % (after {args.short} epochs "
                  f"{100 * r['test_acc_short']:.2f} %)  {r['train_s']:.0f} s", flush=True)
        twin = task.twin()
        for d in cfg["densities"]:
            for m in cfg["methods"]:
                t0 = time.perf_counter()
                if m in NTT_VARIANTS:
                    res = run_ntt(twin, task.X_twin, d, seed=seed, steps=args.ntt_steps, progress=False,
                                  keep_dense=keep_weights, frozen=frozen_weights, variant=NTT_VARIANTS[m])
                else:
                    res = prune_baseline(m, twin, d, seed=seed, X=task.X_twin, y=task.y_twin, keep_dense=keep_weights)
                t_init = time.perf_counter() - t0
                s_h, s_o, target, gains = calibrate(task, res, dense, calib, t_max, per_neuron=args.gain == "neuron",
                                                    out_gain=args.out_gain)
                net = task.build_sparse(res, s_h, s_o)
                counts = es.simulate(net, calib, t_max, progress=False).counts("hidden")
                rate = float(counts.sum()) / calib.n_samples
                active = float(np.mean(counts.sum(axis=0) > 0))
                r = train_eval(net, seed)
                active_trained = float(np.mean(es.simulate(net, calib, t_max, progress=False).counts("hidden").sum(axis=0) > 0))
                n_syn = int(sum(p.n_synapses for p in net.projections.values()))
                save(row_config(args, cfg, m, d, seed),
                     {**r, "init_s": t_init, "overall_density": n_syn / n_all, "synapses": n_syn,
                      "gain_hidden": float(np.median(s_h)), "gain_out": float(np.median(s_o)), **gains,
                      "gain_out_per_neuron": [float(g) for g in np.broadcast_to(s_o, (task.sizes[2],))],
                      "active_hidden_fraction": active, "active_hidden_fraction_trained": active_trained,
                      "hidden_spikes_per_sample": rate, "hidden_spikes_target": target,
                      **(ntt_record(res.provenance) if m in NTT_VARIANTS else {})})
                print(f"{m:>10s} d={d:<5g} seed {seed}: test {100 * r['test_acc']:.2f} % (after {args.short} epochs "
                      f"{100 * r['test_acc_short']:.2f} %; val {100 * r['val_acc']:.2f} %), gains {np.median(s_h):.3g}/"
                      f"{np.median(s_o):.3g}, hidden spikes {rate:.1f} ({100 * active:.0f} % of neurons active, "
                      f"{100 * active_trained:.0f} % after training) (target {target:.1f}), init {t_init:.1f} s, "
                      f"train {r['train_s']:.0f} s", flush=True)

    summary(args, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
