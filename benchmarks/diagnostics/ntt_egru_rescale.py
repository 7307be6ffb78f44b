"""Diagnosis (session 6): does restoring the norm of the transferred weights help NTT on the EGRU?
Validation split (15 % of train held out), seed 0, d = 5 %: NTT (the result ntt_egru_weights.py
writes) and random, each as is and with W and R (or R only) rescaled to the Frobenius norm of the
magnitude-pruned initialisation. Prints the gains and validation accuracies and writes
results/ntt_egru_diag/rescale.json. Run after ntt_egru_weights.py (about 15 minutes on one core):
python benchmarks/diagnostics/ntt_egru_rescale.py
"""
import copy
import json
import sys

import numpy as np
import torch

sys.path.insert(0, ".")
from eventsim.egru import EGRUClassifier  # noqa: E402
from eventsim.io import atomic_write_text  # noqa: E402
from eventsim.ntt import GRUTwin, load_result, prune_baseline  # noqa: E402
from eventsim.models import egru_digits  # noqa: E402

torch.set_num_threads(1)
tw = GRUTwin(8, 512, 10, 8, gamma=0.7, width=1.0, thr_mean=0.3, trace_decay=0.9)
d, keep = 0.05, ("W_out",)
ntt = load_result("results/ntt_egru_diag/ntt_h512_d05_s0.h5")
mag = prune_baseline("magnitude", tw, d, seed=0, keep_dense=keep)
rnd = prune_baseline("random", tw, d, seed=0, keep_dense=keep)


def rescaled(r, names=("W", "R")):
    r2 = copy.deepcopy(r)
    for n in names:
        g = np.linalg.norm(mag.params[n]) / np.linalg.norm(r.params[n])
        r2.params[n] = r.params[n] * g
        print(n, "gain", round(float(g), 3))
    return r2


runs = {"ntt": ntt, "random": rnd, "ntt_rescaled": rescaled(ntt), "random_rescaled": rescaled(rnd),
        "ntt_rescaled_R": rescaled(ntt, ("R",))}
out = {}
for k, r in runs.items():
    m, _ = egru_digits.train("row", seed=0, progress=False, model=EGRUClassifier.from_ntt(r), val_fraction=0.15)
    out[k] = {"val_acc": m["val_accuracy"], "val_activity": m["val_activity"]}
    print(k, out[k], flush=True)
atomic_write_text("results/ntt_egru_diag/rescale.json", json.dumps(out, indent=1))
