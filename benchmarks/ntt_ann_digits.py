"""NTT vs pruning baselines on scikit-learn digits with a sparse ReLU MLP (issue 5, the ANN part).

    python benchmarks/ntt_ann_digits.py                 # full: 3 seeds x 4 densities x all methods (~70 min, 1 thread)
    python benchmarks/ntt_ann_digits.py --quick         # 1 seed, density 3 %, 500 NTT steps (~2 min)

Runs two protocols (``--readout both``): every layer pruned at density d (as the reference code), and
the read-out kept dense (hidden layers at d). Prints tables of test accuracy (mean ± sample std over
seeds) after training and after short budgets, the NTT wall times, and writes everything (per-run
records, configuration, summary) to ``benchmarks/results/ntt_ann_digits.json``. Protocol: ``eventsim.ntt.experiments`` and ``docs/ntt.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np


def _floats(text):
    return [float(t) for t in text.split(",") if t]


def _ints(text):
    return [int(t) for t in text.split(",") if t]


def main(argv=None) -> int:
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
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                  "ntt_ann_digits.json"))
    args = ap.parse_args(argv)

    import torch

    from eventsim.ntt.experiments import format_table, run_digits

    torch.set_num_threads(args.threads)
    if args.quick:
        args.seeds, args.densities, args.ntt_steps, args.epochs = "0", "0.03", 500, 100
    ntt_kw = {"steps": args.ntt_steps, "variant": args.variant, "lambda_k": args.lambda_k, "lambda_2": args.lambda_2}
    train_kw = {"epochs": args.epochs, "eval_steps": (100, 500, 2300)}
    runs = {}
    split = "validation" if args.validation else "test"
    for readout in (("pruned", "dense") if args.readout == "both" else (args.readout,)):
        t0 = time.perf_counter()
        print(f"== read-out {readout}", flush=True)
        out = run_digits(sizes=_ints(args.sizes), densities=_floats(args.densities), seeds=_ints(args.seeds),
                         methods=[m for m in args.methods.split(",") if m], ntt_kwargs=ntt_kw, train_kwargs=train_kw,
                         validation=args.validation, cache_dir=args.cache, dense_readout=(readout == "dense"),
                         progress=sys.stderr.isatty())
        out["config"]["wall_time_total_s"] = time.perf_counter() - t0
        runs[f"readout_{readout}"] = out
        s = out["summary"]
        print()
        print(format_table(s, "test_acc", f"read-out {readout}: {split} accuracy (%) after {args.epochs} epochs, "
                                          "mean ± std over seeds"))
        for k in ("100", "500", "2300"):
            key = f"test_acc_at_{k}"
            if any(key in r for r in s):
                print()
                print(format_table(s, key, f"read-out {readout}: {split} accuracy (%) after {k} Adam steps"))
        ntt_t = [r["init_time_s"] for r in out["records"] if r["method"].startswith("ntt") and r["init_time_s"]]
        for m in sorted({r["method"] for r in out["records"] if r["method"].startswith("ntt")}):
            t = [r["init_time_s"] for r in out["records"] if r["method"] == m]
            print(f"{m}: NTT wall time per run mean {np.mean(t):.1f} s, max {np.max(t):.1f} s "
                  f"({args.ntt_steps} steps, {torch.get_num_threads()} torch thread(s))")
        print()
    result = {"command": "python benchmarks/ntt_ann_digits.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                          "platform": platform.platform(), "torch_threads": torch.get_num_threads()},
              "runs": runs}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
