"""NTT against pruning baselines on the digits data set with a sparse ReLU MLP (the ANN experiment).

    python benchmarks/ntt_ann_digits.py                 # full: 3 seeds x 4 densities x all methods (~70 min, 1 thread)
    python benchmarks/ntt_ann_digits.py --quick         # 1 seed, density 3 %, 500 NTT steps (~2 min)
    python benchmarks/ntt_ann_digits.py [...] --summary # the tables of what that command runs, from the rows

Runs two protocols (``--readout both``): every layer pruned at density d (as the reference code), and
the read-out kept dense (hidden layers at d). Every training is one row of
``benchmarks/results/ntt_ann_digits.jsonl``, written as soon as it ends (``--results DIR`` for another
folder); a configuration run again replaces its rows. At the end, and with ``--summary`` without running
anything, it prints the test accuracy (mean ± sample std over seeds) after training and after the short
budgets of Adam steps, and the NTT wall times. Protocol: ``eventsim.ntt.experiments`` and ``docs/ntt.md``.

Rows: the key columns ``ROW_KEY`` (NTT's options are None on the other methods' rows; ``readout`` is None
on the dense network's, which prunes nothing; ``split`` is ``"test"``, or ``"validation"`` with
``--validation``, and says which split ``test_acc`` and ``test_acc_at_<steps>`` were measured on) and
``test_acc``, ``train_acc``, ``test_acc_at_<steps>`` for each short budget, ``init_s`` (NTT's or the
baseline's wall time), ``train_s``, ``overall_density``, ``layer_density``, ``max_abs_pruned`` (0: pruned
weights stayed exactly 0) and, for NTT, its evaluation distances before and after the transfer.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ntt_common import parse_list, print_summary, select_configs, write_row  # noqa: E402

STUDY = "ntt_ann_digits"
#: the key columns of a row: the configuration of one training
ROW_KEY = ("sizes", "readout", "split", "method", "variant", "density", "seed", "epochs", "train_batch", "train_lr",
           "ntt_steps", "ntt_batch", "ntt_lr", "lambda_k", "lambda_2", "mask_every")
NTT_OPTIONS = ("variant", "ntt_steps", "ntt_batch", "ntt_lr", "lambda_k", "lambda_2", "mask_every")
ORDER = {"dense": 0, "ntt": 1, "ntt_all": 2, "ntt_active": 3, "random": 4, "random_scaled": 5, "magnitude": 6,
         "snip": 7, "snip_nolabel": 8}
FIGURES = ("test_acc", "train_acc", "overall_density", "layer_density", "max_abs_pruned", "eval_ntk_initial",
           "eval_ntk_final", "eval_out_initial", "eval_out_final")
RENAMED = {"init_time_s": "init_s", "train_time_s": "train_s"}  # record key -> column


def row_config(config: dict, method: str, density: float, seed: int) -> dict:
    """The key columns (``ROW_KEY``) of one training of a run of ``run_digits`` with configuration ``config``
    (its ``"config"``: sizes, ntt and train options, validation, dense_readout)."""
    ntt, train = config["ntt"], config["train"]
    is_ntt = method == "ntt" or method.startswith("ntt_")
    out = {"sizes": [int(s) for s in config["sizes"]],
           "readout": None if method == "dense" else ("dense" if config["dense_readout"] else "pruned"),
           "split": "validation" if config["validation"] else "test", "method": method,
           "variant": (method[4:] if method.startswith("ntt_") else ntt["variant"]) if is_ntt else None,
           "density": float(density), "seed": int(seed), "epochs": int(train["epochs"]),
           "train_batch": int(train["batch_size"]), "train_lr": float(train["lr"]),
           "ntt_steps": int(ntt["steps"]), "ntt_batch": int(ntt["batch_size"]), "ntt_lr": float(ntt["lr"]),
           "lambda_k": float(ntt["lambda_k"]), "lambda_2": float(ntt["lambda_2"]), "mask_every": int(ntt["mask_every"])}
    if not is_ntt:
        out.update({k: None for k in NTT_OPTIONS})
    return out


def row_of(record: dict, config: dict, machine: dict | None = None) -> dict:
    """The table row of one record of ``run_digits``: its key columns and figures."""
    row = row_config(config, record["method"], record["density"], record["seed"])
    row.update({k: record[k] for k in FIGURES if k in record})
    row.update({col: record[k] for k, col in RENAMED.items() if k in record})
    row.update({f"test_acc_at_{k}": v for k, v in record.get("test_acc_at", {}).items()})
    row["torch_threads"] = config.get("torch_threads")
    row["torch"] = config.get("torch_version")
    row.update(machine or {})
    return row


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64,300,100,10")
    ap.add_argument("--densities", default="0.01,0.03,0.05,0.1")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="ntt_all,ntt_active,random,random_scaled,magnitude,snip,snip_nolabel")
    ap.add_argument("--readout", choices=("pruned", "dense", "both"), default="both",
                    help="prune the read-out at the same density as the other layers, keep it dense, or run both")
    ap.add_argument("--ntt-steps", type=int, default=2000)
    ap.add_argument("--variant", choices=("active", "all"), default="all", help="NTK variant of method 'ntt' (ntt_all/ntt_active fix it)")
    ap.add_argument("--lambda-k", type=float, default=1e-2)
    ap.add_argument("--lambda-2", type=float, default=1e-4)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1; the machine is shared)")
    ap.add_argument("--validation", action="store_true", help="evaluate on a validation split of train (tuning)")
    ap.add_argument("--cache", default=None, help="folder to cache NTT results in (HDF5)")
    ap.add_argument("--quick", action="store_true", help="1 seed, density 0.03, 500 NTT steps, 100 epochs")
    ap.add_argument("--results", default=None, help="folder of the results table (default benchmarks/results)")
    ap.add_argument("--summary", action="store_true",
                    help="run nothing: print the tables (mean ± std over seeds) of the rows this command would write")
    return ap


def resolve(args) -> dict:
    """The run's settings, every option checked (ValueError naming it) before any work."""
    from eventsim.ntt.baselines import BASELINES
    from eventsim.ntt.experiments import DEFAULT_NTT, DEFAULT_TRAIN

    if args.quick:
        args.seeds, args.densities, args.ntt_steps, args.epochs = "0", "0.03", 500, 100
    sizes = parse_list(args.sizes, "--sizes", int)
    densities = parse_list(args.densities, "--densities")
    bad = [d for d in densities if not 0 < d <= 1]
    if bad:
        raise ValueError(f"--densities must lie in (0, 1], got {bad}")
    seeds = parse_list(args.seeds, "--seeds", int)
    methods = parse_list(args.methods, "--methods", str)
    allowed = ["ntt", "ntt_all", "ntt_active"] + [m for m in BASELINES if m != "dense"]
    unknown = [m for m in methods if m not in allowed]
    if unknown:
        raise ValueError(f"--methods: unknown {unknown!r}; expected one of {allowed} (dense is always trained)")
    if args.ntt_steps < 1 or args.epochs < 1:
        raise ValueError(f"--ntt-steps and --epochs must be positive, got {args.ntt_steps!r}, {args.epochs!r}")
    ntt = dict(DEFAULT_NTT, steps=args.ntt_steps, variant=args.variant, lambda_k=args.lambda_k, lambda_2=args.lambda_2)
    train = dict(DEFAULT_TRAIN, epochs=args.epochs, eval_steps=(100, 500, 2300))
    readouts = ("pruned", "dense") if args.readout == "both" else (args.readout,)
    configs = {r: {"sizes": sizes, "ntt": ntt, "train": train, "validation": bool(args.validation),
                   "dense_readout": r == "dense"} for r in readouts}
    return dict(sizes=sizes, densities=densities, seeds=seeds, methods=methods, ntt=ntt, train=train, configs=configs)


def planned(cfg: dict) -> list:
    """The key columns of every training the command runs."""
    out = []
    for config in cfg["configs"].values():
        for seed in cfg["seeds"]:
            out.append(row_config(config, "dense", 1.0, seed))
            out += [row_config(config, m, d, seed) for d in cfg["densities"] for m in cfg["methods"]]
    return out


def summary(args, cfg: dict, rows=None) -> list:
    """Print the tables of the rows the command would write, per read-out protocol, and the NTT wall times."""
    import results_table

    rows = results_table.read_rows(STUDY, args.results) if rows is None else rows
    split = "validation" if args.validation else "test"
    steps = [f"test_acc_at_{k}" for k in cfg["train"]["eval_steps"]]
    out = []
    for readout, config in cfg["configs"].items():
        chosen = select_configs(rows, planned({**cfg, "configs": {readout: config}}), ROW_KEY)
        print(f"== read-out {readout}")
        out += print_summary(chosen, ROW_KEY, [("test_acc", f"{split} accuracy (%) after {args.epochs} epochs")]
                             + [(k, f"{split} accuracy (%) after {k.rsplit('_', 1)[1]} Adam steps") for k in steps],
                             order=ORDER, study=STUDY)
        for m in sorted({r["method"] for r in chosen if r["method"].startswith("ntt")}):
            t = [r["init_s"] for r in chosen if r["method"] == m and r.get("init_s") is not None]
            if t:
                print(f"{m}: NTT wall time per run mean {np.mean(t):.1f} s, max {np.max(t):.1f} s ({len(t)} runs)")
        print()
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = resolve(args)
    if args.summary:
        summary(args, cfg)
        return 0

    import torch

    from eventsim.ntt.experiments import run_digits

    torch.set_num_threads(args.threads)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}

    def store(record: dict, config: dict) -> None:
        write_row(STUDY, row_of(record, config, machine), ROW_KEY, args.results)

    for readout, config in cfg["configs"].items():
        print(f"== read-out {readout}", flush=True)
        run_digits(sizes=cfg["sizes"], densities=cfg["densities"], seeds=cfg["seeds"], methods=cfg["methods"],
                   ntt_kwargs=cfg["ntt"], train_kwargs=cfg["train"], validation=args.validation, cache_dir=args.cache,
                   dense_readout=config["dense_readout"], progress=sys.stderr.isatty(), on_record=store)
    print()
    summary(args, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
