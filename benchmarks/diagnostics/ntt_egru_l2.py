"""Diagnosis (session 6): does NTT's L2 term shrink the EGRU's recurrent weights? On the validation
split (15 % of train held out), seed 0, density d: random vs NTT as in ntt_egru.py (balanced loss
weights) vs NTT with the L2 term off (lambda_2 = 0, the same balanced lambda_K); prints the validation
accuracy and the mean kept |R| of each and writes results/ntt_egru_diag/l2_<d>.json.
Run from the repository root (about 20 minutes on one core): python benchmarks/diagnostics/ntt_egru_l2.py 0.03
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, ".")
from eventsim.egru import EGRUClassifier, tasks  # noqa: E402
from eventsim.io import atomic_write_text  # noqa: E402
from eventsim.ntt import GRUTwin, balanced_lambdas, prune_baseline, run_ntt  # noqa: E402
from eventsim.models import egru_digits  # noqa: E402

torch.set_num_threads(1)
d = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
os.makedirs("results/ntt_egru_diag", exist_ok=True)
Xtr, ytr = tasks.digits_sequences("train", "row")
tw = GRUTwin(8, 512, 10, 8, gamma=0.7, width=1.0, thr_mean=0.3, trace_decay=0.9)
keep = ("W_out",)
lk, l2 = balanced_lambdas(tw, Xtr, d, seed=0, batch_size=32, keep_dense=keep)
ntt = dict(seed=0, steps=300, batch_size=32, mask_every=50, lambda_k=lk, keep_dense=keep, progress=False)
runs = {"random": lambda: prune_baseline("random", tw, d, seed=0, keep_dense=keep),
        "ntt_l2_0": lambda: run_ntt(tw, Xtr, d, lambda_2=0.0, **ntt),
        "ntt": lambda: run_ntt(tw, Xtr, d, lambda_2=l2, **ntt)}
out = {}
for k, make in runs.items():
    r = make()
    m, _ = egru_digits.train("row", seed=0, progress=False, model=EGRUClassifier.from_ntt(r), val_fraction=0.15)
    out[k] = {"val_acc": m["val_accuracy"], "val_activity": m["val_activity"],
              "kept_abs_R": float(np.abs(r.params["R"][r.masks["R"]]).mean())}
    print(k, out[k], flush=True)
atomic_write_text(f"results/ntt_egru_diag/l2_{d:g}.json", json.dumps(out, indent=1))
