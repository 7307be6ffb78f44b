"""NTT connectomes for EGRU networks on sequential digits (row by row): NTT against pruning baselines at low density.

    python benchmarks/ntt_egru.py [--densities 0.01,0.03,0.05,0.1] [--seeds 0,1,2] [--methods ntt,random,magnitude,snip]
    python benchmarks/ntt_egru.py [...] --summary     # the table of what that command runs, from the rows

Every training is one row of ``benchmarks/results/ntt_egru.jsonl``, written as soon as it ends (``--results DIR``
for another folder); a configuration run again replaces its rows. ``--summary`` runs nothing: it prints, for
the trainings the same command would run, the test accuracy after the recipe's epochs and after ``--short``
epochs, mean ± sample std over the seeds found in the table.

Protocol (docs/ntt.md):

1. Network: the row-by-row digits recipe of ``eventsim.models.egru_digits`` (8 steps x 8 inputs, one EGRU
   layer of ``--hidden`` = 512 units, read-out of the output trace at the last step). Twin:
   ``GRUTwin(8, H, 10, 8)`` with the recipe's pseudo-derivative (gamma, half-width), threshold mean
   and trace decay; its forward pass is the EGRU's (tested), so no operating-point calibration is needed.
2. Mask and initial weights per method at density d of W (8 x 3H) and R (H x 3H), the read-out
   (10 x H, 0.6 % of the weights at H = 512) kept dense: NTT (``run_ntt`` on the unlabelled training
   sequences, the closed-form GRU NTK; method ``ntt_active``: the student-NTK variant 'active', only
   the kept weights, with lambda_K balanced for it; ``--ntt-steps`` steps of batch ``--ntt-batch``, mask
   update every ``--mask-every`` steps, Adam step ``--ntt-lr`` (default 5e-4), loss weights from
   ``balanced_lambdas``: the GRU twin's logits are ~100x smaller than the MLP twins', so the default
   weights would leave only the L2 term; ``--lambda-2`` overrides lambda_2, e.g. 0: the L2 term is what
   shrinks R, docs/findings/ntt.md; ``--ntt-freeze W_out,b_out`` leaves the read-out at the twin's
   initialisation and transfers only the recurrent layer), random, magnitude, SNIP (labelled, 128
   samples), all from the same twin initialisation ``seed``. "dense" is the recipe itself (its own
   initialisation); "dense_twin" the unpruned twin initialisation trained the same way (separates the
   twin's initialisation from the pruning).
3. Training: the row recipe unchanged (Adam 1e-2 halved every 8 epochs, 30 epochs, clipping 1,
   activity penalty above 15 %), the masks of W and R fixed (pruned weights stay exactly 0).
   Test accuracy after the last epoch and after ``--short`` epochs (NTT's "faster learning" claim).

Rows (``ROW_KEY`` are the key columns; NTT's options are None on the other methods' rows;
``lambda_2_option`` is ``--lambda-2`` as given, ``"balanced"`` when not given): ``test_acc``,
``test_acc_short``, ``test_activity`` (mean fraction of units emitting an event per step on the test
set), ``train_s``, ``overall_density``; for sparse networks ``init_s``; for NTT the run's provenance
(``ntt_common.ntt_record``: variant, the λ_K and λ_2 used, ``ntt_lr``, ``ntt_frozen``, evaluation distances
before and after) and ``norm_ratio_W``, ``norm_ratio_R``, ``norm_ratio_W_out`` (the norm of each weight
tensor after NTT over that of the magnitude-pruned start: how far the transfer moved it).
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

STUDY = "ntt_egru"
#: the key columns of a row: the configuration of one training
ROW_KEY = ("hidden", "method", "density", "seed", "epochs", "short", "ntt_steps", "ntt_batch", "mask_every", "ntt_lr",
           "lambda_2_option", "ntt_freeze")
ORDER = {"dense": 0, "dense_twin": 1, "ntt": 2, "ntt_active": 3, "random": 4, "magnitude": 5, "snip": 6}
NTT_OPTIONS = ("ntt_steps", "ntt_batch", "mask_every", "ntt_lr", "lambda_2_option", "ntt_freeze")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--densities", default="0.01,0.03,0.05,0.1")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="ntt,random,magnitude,snip")
    ap.add_argument("--hidden", type=int, default=None, help="EGRU units (default: the row recipe's)")
    ap.add_argument("--short", type=int, default=3, help="also report the test accuracy after this many epochs")
    ap.add_argument("--ntt-steps", type=int, default=300)
    ap.add_argument("--ntt-batch", type=int, default=32, help="inputs per NTT step (half on each side of the NTK)")
    ap.add_argument("--mask-every", type=int, default=50)
    ap.add_argument("--ntt-lr", type=float, default=5e-4, help="NTT's Adam learning rate (run_ntt's default)")
    ap.add_argument("--lambda-2", type=float, default=None,
                    help="NTT's L2 weight (default: from balanced_lambdas; 0 switches the L2 term off, which stops the "
                         "transfer from shrinking R, see docs/findings/ntt.md)")
    ap.add_argument("--ntt-freeze", default="",
                    help="comma-separated twin parameters NTT leaves at the twin's initialisation (e.g. W_out,b_out: "
                         "the read-out; default: none); the other methods are unaffected")
    ap.add_argument("--no-dense", action="store_true", help="skip the dense and dense_twin runs")
    ap.add_argument("--results", default=None, help="folder of the results table (default benchmarks/results)")
    ap.add_argument("--summary", action="store_true",
                    help="run nothing: print the table (mean ± std over seeds) of the rows this command would write")
    return ap


def resolve(args) -> dict:
    """The run's settings from its options, every option checked (ValueError naming it) before any work."""
    from eventsim.models import egru_digits
    from eventsim.ntt import GRUTwin
    from eventsim.ntt.core import check_frozen

    rec = egru_digits.recipe("row")
    H = int(rec["hidden"] if args.hidden is None else args.hidden)
    if H < 1:
        raise ValueError(f"--hidden must be a positive number of units, got {args.hidden!r}")
    densities = parse_list(args.densities, "--densities")
    bad = [d for d in densities if not 0 < d <= 1]
    if bad:
        raise ValueError(f"--densities must lie in (0, 1], got {bad}")
    seeds = parse_list(args.seeds, "--seeds", int)
    methods = parse_methods(args.methods)
    if "dense" in methods:
        raise ValueError("--methods: 'dense' is not a pruning method here; the dense networks (dense, dense_twin) "
                         "are trained unless --no-dense")
    if args.lambda_2 is not None and not (np.isfinite(args.lambda_2) and args.lambda_2 >= 0):
        raise ValueError(f"--lambda-2 must be a finite number >= 0, got {args.lambda_2!r}")
    if not (np.isfinite(args.ntt_lr) and args.ntt_lr > 0):
        raise ValueError(f"--ntt-lr must be a positive number, got {args.ntt_lr!r}")
    if args.ntt_steps < 1 or args.ntt_batch < 2 or args.mask_every < 1:
        raise ValueError(f"--ntt-steps and --mask-every must be positive and --ntt-batch at least 2, got "
                         f"{args.ntt_steps!r}, {args.mask_every!r}, {args.ntt_batch!r}")
    if args.short < 1 or args.short > rec["epochs"]:
        raise ValueError(f"--short must be in [1, {rec['epochs']}], got {args.short!r}")
    twin = GRUTwin(8, H, 10, 8, gamma=rec["gamma"], width=rec["width"], thr_mean=rec["thr_mean"],
                   trace_decay=rec["trace_decay"])
    try:
        frozen = tuple(check_frozen(twin, parse_names(args.ntt_freeze, "--ntt-freeze")))
    except ValueError as e:
        raise ValueError(f"--ntt-freeze: {e}") from None
    return dict(recipe=rec, hidden=H, epochs=int(rec["epochs"]), twin=twin, frozen=frozen, densities=densities,
                seeds=seeds, methods=methods)


def row_config(args, cfg: dict, method: str, density: float, seed: int) -> dict:
    """The key columns of the row of one training (``ROW_KEY``); NTT's options are None for other methods."""
    out = {"hidden": cfg["hidden"], "method": method, "density": float(density), "seed": int(seed),
           "epochs": cfg["epochs"], "short": args.short, "ntt_steps": args.ntt_steps, "ntt_batch": args.ntt_batch,
           "mask_every": args.mask_every, "ntt_lr": float(args.ntt_lr),
           "lambda_2_option": "balanced" if args.lambda_2 is None else float(args.lambda_2),
           "ntt_freeze": list(cfg["frozen"])}
    if method not in NTT_VARIANTS:
        out.update({k: None for k in NTT_OPTIONS})
    return out


def planned(args, cfg: dict) -> list:
    """The key columns of every training the command runs, in the order it runs them."""
    out = []
    for seed in cfg["seeds"]:
        if not args.no_dense:
            out += [row_config(args, cfg, name, 1.0, seed) for name in ("dense", "dense_twin")]
        out += [row_config(args, cfg, m, d, seed) for d in cfg["densities"] for m in cfg["methods"]]
    return out


def summary(args, cfg: dict, rows=None) -> list:
    """Print the summary tables of the rows the command would write (``--summary``) and return the summary."""
    import results_table

    rows = results_table.read_rows(STUDY, args.results) if rows is None else rows
    chosen = select_configs(rows, planned(args, cfg), ROW_KEY)
    return print_summary(chosen, ROW_KEY, [("test_acc", f"test accuracy (%) after {cfg['epochs']} epochs"),
                                           ("test_acc_short", f"test accuracy (%) after {args.short} epochs")],
                         order=ORDER, study=STUDY)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = resolve(args)
    if args.summary:
        summary(args, cfg)
        return 0

    import torch

    from eventsim.egru import EGRUClassifier, tasks
    from eventsim.models import egru_digits
    from eventsim.ntt import balanced_lambdas, prune_baseline, run_ntt

    torch.set_num_threads(1)
    H, twin = cfg["hidden"], cfg["twin"]
    Xtr, ytr = tasks.digits_sequences("train", "row")
    n_all = 8 * 3 * H + H * 3 * H + 10 * H
    keep = ("W_out",)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
               "torch_threads": torch.get_num_threads()}

    def train_eval(model, seed: int) -> dict:
        m, trained = egru_digits.train("row", seed=seed, progress=False, model=model, hidden=H)
        lay = trained.egru.layers[0]
        nnz = sum(int(np.count_nonzero(lay.masks[k])) if lay.masks[k] is not None else lay.params[k].size
                  for k in ("W", "R")) + trained.out_params["W"].size
        return {"test_acc": m["test_accuracy"], "test_acc_short": m["history"]["val_acc"][args.short - 1],
                "test_activity": m["test_activity"], "train_s": m["train_time_s"], "overall_density": nnz / n_all}

    for seed in cfg["seeds"]:
        if not args.no_dense:
            for name in ("dense", "dense_twin"):
                model = None if name == "dense" else EGRUClassifier.from_ntt(prune_baseline("dense", twin, 1.0, seed=seed))
                r = train_eval(model, seed)
                write_row(STUDY, {**row_config(args, cfg, name, 1.0, seed), **r, **machine}, ROW_KEY, args.results)
                print(f"{name:>10s}          seed {seed}: test {100 * r['test_acc']:.2f} % (after {args.short} epochs "
                      f"{100 * r['test_acc_short']:.2f} %), activity {100 * r['test_activity']:.1f} %, "
                      f"train {r['train_s']:.0f} s", flush=True)
        for d in cfg["densities"]:
            for m in cfg["methods"]:
                t0 = time.perf_counter()
                extra = {}
                if m in NTT_VARIANTS:
                    variant = NTT_VARIANTS[m]
                    lam_k, lam_2 = balanced_lambdas(twin, Xtr, d, seed=seed, batch_size=args.ntt_batch, keep_dense=keep,
                                                    variant=variant)
                    if args.lambda_2 is not None:
                        lam_2 = args.lambda_2
                    res = run_ntt(twin, Xtr, d, seed=seed, steps=args.ntt_steps, batch_size=args.ntt_batch,
                                  mask_every=args.mask_every, lambda_k=lam_k, lambda_2=lam_2, keep_dense=keep,
                                  frozen=cfg["frozen"], variant=variant, lr=args.ntt_lr, progress=False)
                    start = prune_baseline("magnitude", twin, d, seed=seed, keep_dense=keep)  # NTT's starting point
                    extra = ntt_record(res.provenance)
                    # how far the transfer moved each weight tensor: its norm after NTT / at the start
                    extra.update({f"norm_ratio_{k}": float(np.linalg.norm(res.params[k]) / np.linalg.norm(start.params[k]))
                                  for k in ("W", "R", "W_out")})
                else:
                    res = prune_baseline(m, twin, d, seed=seed, X=Xtr, y=ytr, keep_dense=keep)
                t_init = time.perf_counter() - t0
                r = dict(init_s=t_init, **train_eval(EGRUClassifier.from_ntt(res), seed), **extra)
                write_row(STUDY, {**row_config(args, cfg, m, d, seed), **r, **machine}, ROW_KEY, args.results)
                print(f"{m:>10s} d={d:<5g} seed {seed}: test {100 * r['test_acc']:.2f} % (after {args.short} epochs "
                      f"{100 * r['test_acc_short']:.2f} %), activity {100 * r['test_activity']:.1f} %, "
                      f"overall density {100 * r['overall_density']:.2f} %, init {t_init:.0f} s, train {r['train_s']:.0f} s"
                      + (f", NTK distance {extra['eval_ntk_initial']:.3g} -> {extra['eval_ntk_final']:.3g}, "
                         f"output {extra['eval_out_initial']:.3g} -> {extra['eval_out_final']:.3g}" if extra else ""),
                      flush=True)

    summary(args, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
