"""NTT connectomes for a spiking network: digits LIF (EventProp) at low density, NTT vs baselines.

    python benchmarks/ntt_lif_digits.py [--densities 0.05,0.1] [--seeds 0,1,2] [--methods ntt,random,magnitude,snip]
    python benchmarks/ntt_lif_digits.py --merge A.json B.json ...     # combine runs made in parallel

Protocol (issue 5, the spiking part; first step, see docs/ntt.md):

1. Twin: a bias-free ReLU MLP 65-300-10 with the connectome shapes of the digits LIF recipe
   (``models/digits.py``: 64 pixels + the bias neuron -> 300 LIF -> 10 leaky-integrator read-outs).
   Its inputs are what the spiking network receives as drive: the pixel intensities v in [0, 1]
   (a pixel spikes at 20 (1 - v) ms, bright = early = strong) and 1 for the bias neuron.
2. Mask and initial weights per method at density d per projection: NTT (``run_ntt``, defaults,
   unlabelled training inputs), random, magnitude, SNIP (labelled, 128 samples), all from the same
   twin initialisation; "dense" is the LIF recipe's own initialisation (no twin).
3. LIF operating point (the same rule for every method): the hidden projection is multiplied by the
   gain that gives the same mean hidden spike count per sample as the dense recipe network on 200
   training samples (bisection on a log scale); the read-out projection by the gain that matches
   the dense read-out's RMS summed input weight per read-out neuron.
4. Training: the digits recipe (VoltageIntegralCE, AdamW 2e-2 x0.95, weight decay 0.05, batch 32,
   ``--epochs`` epochs, best-of-validation); only the kept synapses exist and are trained. Test
   accuracy on the 359 test digits; also after ``--short`` epochs (NTT's "faster learning" claim).

Writes ``benchmarks/results/ntt_lif_digits.json`` and prints a table (mean ± std over seeds).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def twin_inputs(X: np.ndarray) -> np.ndarray:
    """Twin input for digits pixels X (n, 64) in [0, 1]: [v, 1] (n, 65), the drive of each input neuron."""
    return np.concatenate([X, np.ones((len(X), 1))], axis=1)


def build_sparse(result, s_h: float, s_o: float):
    """65-300-10 network of the digits recipe with ``result``'s connectomes, projections scaled by
    (s_h, s_o) (``NTTResult.to_connectomes(scales)``)."""
    import eventsim as es

    from models import digits as dg

    net = es.Network()
    net.add_input("in", dg.N_IN)
    net.add_population("hidden", 300, es.LIFParams(tau_mem=20.0, tau_syn=5.0))
    net.add_population("out", 10, es.LIFParams.readout(tau_mem=20.0, tau_syn=5.0))
    for name, c in result.to_connectomes([s_h, s_o]).items():
        src, dst = name.split("->")
        net.connect(src, dst, c)
    return net


def calibrate(result, dense_net, calib, t_max: float):
    """(s_h, s_o): hidden gain matching the dense network's hidden spike count; read-out gain matching
    its RMS summed input weight per read-out neuron."""
    import eventsim as es

    target = float(es.simulate(dense_net, calib, t_max, progress=False).counts("hidden").sum()) / calib.n_samples
    lo, hi = -3.0, 4.0                     # log10 of the gain
    for _ in range(22):
        mid = 0.5 * (lo + hi)
        net = build_sparse(result, 10 ** mid, 1.0)
        r = float(es.simulate(net, calib, t_max, progress=False).counts("hidden").sum()) / calib.n_samples
        if r < target:
            lo = mid
        else:
            hi = mid
    s_h = 10 ** (0.5 * (lo + hi))
    Wd = dense_net.projections["hidden->out"].to_dense()
    Ws = result.to_connectomes()["hidden->out"].to_dense()
    rms = lambda W: float(np.sqrt(np.mean(np.sum(W ** 2, axis=1))))  # noqa: E731
    s_o = rms(Wd) / max(rms(Ws), 1e-12)
    return s_h, s_o, target


def summarize(records, epochs: int, short: int):
    """Print the table (mean ± sample std over seeds) and return its rows."""
    summary = {}
    for r in records:
        summary.setdefault((r["method"], r["density"]), []).append(r)
    rows = []
    print()
    print(f"| method | density | test accuracy (%) after {epochs} epochs | after {short} epochs | seeds |")
    print("|---|---|---|---|---|")
    for (m, d), rs in sorted(summary.items(), key=lambda kv: (kv[0][1], kv[0][0] != "ntt", kv[0][0])):
        a = np.array([r["test_acc"] for r in rs]) * 100
        b = np.array([r["test_acc_short"] for r in rs]) * 100
        sd = lambda v: f" ± {v.std(ddof=1):.2f}" if len(v) > 1 else ""  # noqa: E731
        print(f"| {m} | {100 * d:g} % | {a.mean():.2f}{sd(a)} | {b.mean():.2f}{sd(b)} | {len(rs)} |")
        rows.append({"method": m, "density": d, "test_acc_mean": float(a.mean()),
                     "test_acc_std": float(a.std(ddof=1)) if len(a) > 1 else None,
                     "test_acc_short_mean": float(b.mean()), "n": len(rs)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--densities", default="0.05,0.1")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="ntt,random,magnitude,snip")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--short", type=int, default=3, help="also report the test accuracy after this many epochs")
    ap.add_argument("--ntt-steps", type=int, default=2000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ntt_lif_digits.json"))
    ap.add_argument("--merge", nargs="+", default=None,
                    help="combine the JSON files of earlier runs (e.g. one per seed, run in parallel) into --out")
    args = ap.parse_args(argv)
    if args.merge:
        runs = [json.loads(Path(f).read_text()) for f in args.merge]
        records = [r for run in runs for r in run["records"]]
        cfg = dict(runs[0]["config"], seeds=",".join(run["config"]["seeds"] for run in runs), merged=args.merge)
        rows = summarize(records, int(cfg["epochs"]), int(cfg["short"]))
        out = Path(args.out)
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"config": cfg, "machine": runs[0]["machine"], "records": records, "summary": rows},
                                  indent=1, default=float))
        os.replace(tmp, out)
        print(f"wrote {out}")
        return 0

    import torch

    import eventsim as es
    from eventsim.data import digits_arrays
    from eventsim.ntt import MLPTwin, prune_baseline, run_ntt
    from eventsim.optim import Adam, ExponentialDecay
    from models import digits as dg

    torch.set_num_threads(1)
    densities = [float(x) for x in args.densities.split(",") if x]
    seeds = [int(x) for x in args.seeds.split(",") if x]
    methods = [m for m in args.methods.split(",") if m]
    (tr, y), (va, yv), (te, yt) = dg.data()
    Xtr, ytr = digits_arrays("train")
    Xt = twin_inputs(Xtr)
    calib = tr.subset(np.arange(200))
    records = []

    def train_eval(net, seed: int):
        spe = -(-len(y) // dg.BATCH)
        opt = Adam(net.parameters(), lr=ExponentialDecay(dg.LR, dg.LR_DECAY, every=spe), weight_decay=dg.WEIGHT_DECAY)
        short = {}

        def cb(epoch, h):
            if epoch + 1 == args.short:
                short["acc"] = es.train.evaluate(net, te, yt, dg.loss(), dg.T_MAX)[1]

        t0 = time.perf_counter()
        es.train.fit(net, tr, y, dg.loss(), dg.T_MAX, optimizer=opt, epochs=args.epochs, batch_size=dg.BATCH,
                     seed=seed, val=(va, yv), progress=False, restore_best=True, callbacks=[cb])
        return es.train.evaluate(net, te, yt, dg.loss(), dg.T_MAX)[1], short.get("acc"), time.perf_counter() - t0

    for seed in seeds:
        dense = dg.build(seed, hidden=300)
        acc, acc_s, tt = train_eval(dg.build(seed, hidden=300), seed)
        records.append({"method": "dense", "density": 1.0, "seed": seed, "test_acc": acc, "test_acc_short": acc_s,
                        "train_s": tt})
        print(f"dense         seed {seed}: test {100 * acc:.2f} % (after {args.short} epochs "
              f"{100 * acc_s:.2f} %)  {tt:.0f} s", flush=True)
        twin = MLPTwin([dg.N_IN, 300, 10], names=["in", "hidden", "out"], bias=False)
        for d in densities:
            for m in methods:
                t0 = time.perf_counter()
                if m == "ntt":
                    res = run_ntt(twin, Xt, d, seed=seed, steps=args.ntt_steps, progress=False)
                else:
                    res = prune_baseline(m, twin, d, seed=seed, X=Xt, y=ytr)
                t_init = time.perf_counter() - t0
                s_h, s_o, target = calibrate(res, dense, calib, dg.T_MAX)
                net = build_sparse(res, s_h, s_o)
                rate = float(es.simulate(net, calib, dg.T_MAX, progress=False).counts("hidden").sum()) / calib.n_samples
                acc, acc_s, tt = train_eval(net, seed)
                rec = {"method": m, "density": d, "seed": seed, "test_acc": acc, "test_acc_short": acc_s,
                       "init_s": t_init, "train_s": tt, "gain_hidden": s_h, "gain_out": s_o,
                       "hidden_spikes_per_sample": rate, "hidden_spikes_target": target,
                       "synapses": int(sum(p.n_synapses for p in net.projections.values()))}
                records.append(rec)
                print(f"{m:>10s} d={d:<5g} seed {seed}: test {100 * acc:.2f} % (after {args.short} epochs "
                      f"{100 * acc_s:.2f} %), gains {s_h:.3g}/{s_o:.3g}, hidden spikes {rate:.1f} "
                      f"(target {target:.1f}), init {t_init:.1f} s, train {tt:.0f} s", flush=True)

    rows = summarize(records, args.epochs, args.short)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"config": vars(args), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                               "records": records, "summary": rows}, indent=1, default=float))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
