"""Diagnosis on the validation split (15 % of train held out, seed 0, d = 5 %): does NTT's mask churn
in R explain why NTT trails random on EGRU? NTT as in ntt_egru.py vs NTT with the mask never
updated (the magnitude mask, weights transferred) vs random vs magnitude.
Run after ntt_egru_weights.py (about 12 minutes): python benchmarks/diagnostics/ntt_egru_fixed_mask.py
"""
import json
import sys

import torch

sys.path.insert(0, ".")
from eventsim.egru import EGRUClassifier, tasks  # noqa: E402
from eventsim.io import atomic_write_text  # noqa: E402
from eventsim.ntt import GRUTwin, balanced_lambdas, load_result, prune_baseline, run_ntt  # noqa: E402
from eventsim.models import egru_digits  # noqa: E402

torch.set_num_threads(1)
Xtr, ytr = tasks.digits_sequences("train", "row")
tw = GRUTwin(8, 512, 10, 8, gamma=0.7, width=1.0, thr_mean=0.3, trace_decay=0.9)
d, keep = 0.05, ("W_out",)
lk, l2 = balanced_lambdas(tw, Xtr, d, seed=0, batch_size=32, keep_dense=keep)
res = {}
res["ntt_fixed_mask"] = run_ntt(tw, Xtr, d, seed=0, steps=300, batch_size=32, mask_every=1000, lambda_k=lk, lambda_2=l2, keep_dense=keep, progress=False)
res["ntt"] = load_result("results/ntt_egru_diag/ntt_h512_d05_s0.h5")
res["random"] = prune_baseline("random", tw, d, seed=0, keep_dense=keep)
res["magnitude"] = prune_baseline("magnitude", tw, d, seed=0, keep_dense=keep)
out = {}
for k, r in res.items():
    m, _ = egru_digits.train("row", seed=0, progress=False, model=EGRUClassifier.from_ntt(r), val_fraction=0.15)
    out[k] = {"val_acc": m["val_accuracy"], "val_loss": m["val_loss"], "val_activity": m["val_activity"]}
    print(k, out[k], flush=True)
atomic_write_text("results/ntt_egru_diag/fixed_mask.json", json.dumps(out, indent=1))
