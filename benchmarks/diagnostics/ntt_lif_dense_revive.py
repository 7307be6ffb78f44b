"""Diagnosis (session 7): why does ``SilentPeakReg`` cost the dense digits LIF network accuracy?

Trains the dense 65-1000-10 digits LIF network of ``ntt_lif.py --hidden 1000`` (AdamW 2e-2, 100 epochs,
no weight decay, best-of-validation weights; the protocol of ``ntt_lif.py``) with and without
``--revive``'s term and reports, on the 200 calibration samples, the fraction of hidden neurons that fire
and the hidden spikes per sample, before and after training, with the test accuracy.

Run from the repository root (about 20 minutes on one core):
``python benchmarks/diagnostics/ntt_lif_dense_revive.py [--seed 0] [--revive 1e-2]``; prints a table
and writes ``results/diagnostics/ntt_lif_dense_revive.json``.
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
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--revive", type=float, default=1e-2)
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args(argv)
    if not (np.isfinite(args.revive) and args.revive > 0):
        raise ValueError(f"--revive must be a finite number > 0, got {args.revive!r}")

    import eventsim as es
    from eventsim.io import atomic_write_text
    from ntt_lif import Task

    task = Task("digits", 1000, bias_synapses=True)
    (tr, y), (va, yv), (te, yt) = task.splits
    calib = tr.subset(np.arange(200))
    loss, t_max = task.rec.loss(), task.rec.T_MAX

    def activity(net):
        c = es.simulate(net, calib, t_max, progress=False).counts("hidden")
        return float(np.mean(c.sum(axis=0) > 0)), float(c.sum()) / c.shape[0]

    rows = {}
    for name, strength in (("without", 0.0), ("with", args.revive)):
        net = task.dense(args.seed)
        before = activity(net)
        train_loss = loss if strength == 0 else [loss, es.losses.SilentPeakReg("hidden", strength=strength)]
        es.train.fit(net, tr, y, train_loss, t_max, optimizer=task.make_opt(net, len(y), args.epochs, 0.0),
                     epochs=args.epochs, batch_size=task.rec.BATCH, seed=args.seed, val=(va, yv), progress=False,
                     restore_best=True)
        after = activity(net)
        rows[name] = {"strength": strength, "active_before": before[0], "spikes_before": before[1],
                      "active_after": after[0], "spikes_after": after[1],
                      "test_acc": es.train.evaluate(net, te, yt, loss, t_max)[1]}
        print(name, rows[name], flush=True)
    print(f"dense digits LIF 65-1000-10, seed {args.seed}, {args.epochs} epochs")
    print("| SilentPeakReg | hidden neurons firing before / after training (%) | hidden spikes per sample before / after | test accuracy (%) |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} ({r['strength']:g}) | {100 * r['active_before']:.1f} / {100 * r['active_after']:.1f} | "
              f"{r['spikes_before']:.0f} / {r['spikes_after']:.0f} | {100 * r['test_acc']:.2f} |")
    out = ROOT / "results" / "diagnostics" / "ntt_lif_dense_revive.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps({"seed": args.seed, "epochs": args.epochs, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
