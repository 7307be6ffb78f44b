"""Diagnosis (session 6): is the digits LIF networks' gap to dense at 5 % already in the twin, and is
it the pruned bias neuron? The twin alone (a ReLU MLP, no spiking network), trained with
``eventsim.ntt.train_sparse`` (Adam 1e-3, batch 64, 300 epochs) on the training split minus a fixed
validation tenth (``default_rng(0)``, 144 images), accuracy on that validation tenth; seed 0, d = 5 %.

* ``bias neuron pruned``: the protocol of ``ntt_lif.py`` so far, a bias-free twin 65-H-10 whose
  last input is the constant 1 of the bias neuron, pruned like every other input;
* ``biases kept``: a twin 64-H-10 with biases (never pruned, as in an ANN), which
  ``ntt_lif.py --bias-synapses`` maps to the bias neuron's synapses.

Run from the repository root (about 5 minutes on one core):
``python benchmarks/diagnostics/ntt_lif_twin_bias.py [--hidden 300,1000]``; prints a table and
writes ``results/diagnostics/ntt_lif_twin_bias.json``.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from eventsim.data import digits_arrays  # noqa: E402
from eventsim.io import atomic_write_text  # noqa: E402
from eventsim.ntt import MLPTwin, prune_baseline, run_ntt, train_sparse  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", default="300,1000")
    ap.add_argument("--density", type=float, default=0.05)
    ap.add_argument("--methods", default="dense,ntt,random,snip")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    X, y = digits_arrays("train")
    perm = np.random.default_rng(0).permutation(len(y))
    va, tr = perm[:144], perm[144:]
    X1 = np.concatenate([X, np.ones((len(X), 1))], axis=1)
    rows = []
    for H in (int(h) for h in args.hidden.split(",")):
        for kind, twin, Xk in (("bias neuron pruned", MLPTwin([65, H, 10], bias=False), X1),
                               ("biases kept", MLPTwin([64, H, 10], bias=True), X)):
            for m in args.methods.split(","):
                if m == "ntt":
                    res = run_ntt(twin, Xk[tr], args.density, seed=0, progress=False)
                else:
                    res = prune_baseline(m, twin, 1.0 if m == "dense" else args.density, seed=0, X=Xk[tr], y=y[tr])
                out = train_sparse(res, Xk[tr], y[tr], Xk[va], y[va], epochs=300, seed=0)
                rows.append({"hidden": H, "twin": kind, "method": m, "val_acc": out["test_acc"]})
                print(f"H={H:5d}  {kind:18s}  {m:8s}  validation {100 * out['test_acc']:.1f} %", flush=True)
    out_path = ROOT / "results" / "diagnostics" / "ntt_lif_twin_bias.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_path, json.dumps({"config": vars(args), "rows": rows}, indent=1))
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
