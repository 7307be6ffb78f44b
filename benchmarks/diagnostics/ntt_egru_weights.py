"""Diagnosis: how the NTT student (GRU twin, H=512, d=5 %, seed 0, the ntt_egru protocol) differs from the magnitude-pruned one.
Run from the repository root first (about 6 minutes, one core): python benchmarks/diagnostics/ntt_egru_weights.py
Writes results/ntt_egru_diag/ntt_h512_d05_s0.h5 (the NTT result) and prints weight statistics as JSON.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, ".")
from eventsim.egru import tasks  # noqa: E402
from eventsim.ntt import GRUTwin, balanced_lambdas, prune_baseline, run_ntt  # noqa: E402

torch.set_num_threads(1)
os.makedirs("results/ntt_egru_diag", exist_ok=True)
Xtr, ytr = tasks.digits_sequences("train", "row")
tw = GRUTwin(8, 512, 10, 8, gamma=0.7, width=1.0, thr_mean=0.3, trace_decay=0.9)
lk, l2 = balanced_lambdas(tw, Xtr, 0.05, seed=0, batch_size=32, keep_dense=("W_out",))
r = run_ntt(tw, Xtr, 0.05, seed=0, steps=300, batch_size=32, mask_every=50, lambda_k=lk, lambda_2=l2, keep_dense=("W_out",), progress=False)
r.save("results/ntt_egru_diag/ntt_h512_d05_s0.h5")
m = prune_baseline("magnitude", tw, 0.05, seed=0, keep_dense=("W_out",))
rd = prune_baseline("random", tw, 0.05, seed=0, keep_dense=("W_out",))
H = 512
out = {}
for name, res in (("ntt", r), ("magnitude", m), ("random", rd)):
    d = {}
    for k in ("W", "R"):
        Wk, Mk = res.params[k], res.masks[k]
        d[k + "_norm"] = float(np.linalg.norm(Wk))
        d[k + "_kept_abs_mean"] = float(np.abs(Wk[Mk]).mean())
        gates = [float(Mk[:, g * H:(g + 1) * H].sum()) / Mk.sum() for g in range(3)]
        d[k + "_gate_share_zrg"] = gates
        fan_in = Mk.sum(0)  # per post column (3H)
        d[k + "_fanin_zero_frac"] = float((fan_in == 0).mean())
        d[k + "_fanin_cv"] = float(fan_in.std() / fan_in.mean())
        if k == "R":
            fan_out = Mk.sum(1)
            d["R_fanout_zero_frac"] = float((fan_out == 0).mean())
    d["b_x_norm"], d["b_r_norm"] = float(np.linalg.norm(res.params["b_x"])), float(np.linalg.norm(res.params["b_r"]))
    d["W_out_norm"] = float(np.linalg.norm(res.params["W_out"]))
    out[name] = d
print(json.dumps(out, indent=1))
print("turnover", r.mask_history["turnover"])
