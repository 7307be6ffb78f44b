"""Diagnosis (session 7): which hidden neurons of a sparse digits LIF network can carry information?

The protocol of ``ntt_lif.py --task digits --hidden 1000 --bias-synapses`` up to the operating point
(twin 64-1000-10 with biases, one hidden and one read-out gain), before any training. Per method at
density d and seed s, the fraction of hidden neurons:

* with no pixel synapse (``no input``) and with no synapse to any read-out (``no output``);
* active in the twin (ReLU pre-activation > 0 on some training image) and with a positive bias;
* firing on the 200 calibration samples of the LIF network (``fires``);
* firing and connected to a read-out (``fires, reaches out``): the only ones the read-out can use
  at the start of training;
* silent but with pixel and read-out synapses (``silent, wired``): what ``SilentPeakReg`` can revive.

Run from the repository root (about 2 minutes on one core):
``python benchmarks/diagnostics/ntt_lif_hidden_usage.py [--density 0.05] [--seed 0]``; prints a
table and writes ``results/diagnostics/ntt_lif_hidden_usage.json``.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--density", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="ntt,random,magnitude,snip")
    args = ap.parse_args(argv)
    if not 0 < args.density < 1:
        raise ValueError(f"--density must be in (0, 1), got {args.density!r}")

    import torch

    import eventsim as es
    from eventsim.io import atomic_write_text
    from eventsim.ntt import prune_baseline, run_ntt
    from ntt_lif import Task, calibrate

    torch.set_num_threads(1)
    task = Task("digits", 1000, bias_synapses=True)
    twin = task.twin()
    (tr, _), _, _ = task.splits
    calib = tr.subset(np.arange(200))
    dense = task.dense(args.seed)
    rows = {}
    for m in args.methods.split(","):
        if m == "ntt":
            res = run_ntt(twin, task.X_twin, args.density, seed=args.seed, progress=False)
        else:
            res = prune_baseline(m, twin, args.density, seed=args.seed, X=task.X_twin, y=task.y_twin)
        W0, b0, W1 = res.params["W0"], res.params["b0"], res.params["W1"]
        has_in, has_out = (W0 != 0).any(axis=1), (W1 != 0).any(axis=0)
        s_h, s_o, _, _ = calibrate(task, res, dense, calib, task.rec.T_MAX)
        fires = es.simulate(task.build_sparse(res, s_h, s_o), calib, task.rec.T_MAX,
                            progress=False).counts("hidden").sum(axis=0) > 0
        rows[m] = {"no input": float(np.mean(~has_in)), "no output": float(np.mean(~has_out)),
                   "twin active": float(np.mean((task.X_twin @ W0.T + b0 > 0).any(axis=0))),
                   "bias > 0": float(np.mean(b0 > 0)), "fires": float(np.mean(fires)),
                   "fires, reaches out": float(np.mean(fires & has_out)),
                   "silent, wired": float(np.mean(~fires & has_in & has_out))}
    cols = list(next(iter(rows.values())))
    print(f"hidden neurons (%), digits LIF 1000 hidden, bias synapses, d = {args.density:g}, seed {args.seed}")
    print("| method | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for m, r in rows.items():
        print(f"| {m} | " + " | ".join(f"{100 * r[c]:.0f}" for c in cols) + " |")
    out = ROOT / "results" / "diagnostics" / "ntt_lif_hidden_usage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps({"density": args.density, "seed": args.seed, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
