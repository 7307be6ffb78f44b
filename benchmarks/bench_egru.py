"""EGRU (eventsim, Numba, activity-sparse) vs torch.nn.GRU (CPU, dense), side by side.

    python benchmarks/bench_egru.py [--repeats 7] [--rounds 2] [--hidden 256 512 1024] [--batch 1 16] [--quick] [--show]

For each hidden size H and batch size B: one layer, I = 64 inputs, T = 64 steps, float32 for both,
2 threads for both (``torch.set_num_threads(2)``, ``numba.set_num_threads(2)``). The EGRU has the
EvNN initialisation (Xavier-normal W and R, zero biases) and one threshold shared by all units,
set by bisection so that the measured activity (fraction of units emitting per step) is close to
``--activity`` on the benchmark input (x ~ N(0, 1)); the table reports the activity actually
measured during the timed runs. Timings are medians of ``--repeats`` runs after a warm-up (Numba
compilation excluded), reported per sequence (wall time / B):

* forward: inference; EGRU writes the events y (B, T, H) like torch writes its output;
* forward+backward: EGRU ``forward(store=True)`` + ``backward`` (gradients of all parameters and
  of the input) for the loss sum(y); torch: forward + ``out.sum().backward()``.

MACs are counted per sequence: EGRU recurrent MACs actually performed (3H per emitting unit in the
forward pass; R-row dot products for units active or near threshold plus dR rows of emitting units
in the backward pass) vs a dense GRU (3H^2 per step forward, 2 x 3H^2 backward); input
projections (3 H I per step, dense in both) are listed separately. The backward pass is timed with
the default pseudo-derivative half-width 1.0 (EvNN default, s = 1) and, for the sparsity it
permits, with 0.28 (EvNN's language-model setting s = 3.6).

With ``--rounds R`` the whole set is run R times in turn. Each (H, B) of each round gives two rows
of ``benchmarks/results/egru.jsonl``, one for the EGRU (``simulator`` eventsim) and one for
torch.nn.GRU (``simulator`` torch), measured one right after the other (key: simulator, hidden,
batch, steps, inputs, threads, target_activity, round; a row measured again replaces the old one).
The machine is shared: absolute numbers move with the load, which the rows record
(``os.getloadavg``); the side-by-side ratios are the result. The printed table is the median over
the rounds per (H, B) and torch's time over the EGRU's.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

# torch's OpenMP workers spin after each parallel region by default and would take the cores from the
# Numba kernels timed right after a torch call; passive waiting keeps the side-by-side runs fair.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "egru"
KEY = ("simulator", "hidden", "batch", "steps", "inputs", "threads", "target_activity", "round")

I_IN = 64
T_STEPS = 64


def _median_time(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def calibrate_threshold(layer, x, target: float) -> float:
    """Shared threshold in [0, 1] giving activity ~ target on x (bisection; activity falls with thr)."""
    lo, hi = 0.0, 1.0
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        layer.params["thr"][:] = mid
        a = layer.forward(x, store=False, store_trace=False).activity
        if a > target:
            lo = mid
        else:
            hi = mid
    layer.params["thr"][:] = hi
    return hi


def bench_one(H: int, B: int, target: float, repeats: int, widths, seed: int = 0) -> dict:
    import torch

    from eventsim.egru import EGRUConfig, EGRULayer

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T_STEPS, I_IN)).astype(np.float32)
    layer = EGRULayer(I_IN, H, EGRUConfig(width=widths[0]), seed=seed, dtype="float32")
    thr = calibrate_threshold(layer, x, target)
    row = {"hidden": H, "batch": B, "steps": T_STEPS, "inputs": I_IN, "threshold": thr}

    fwd = lambda: layer.forward(x, store=False, store_trace=False)  # noqa: E731
    fwd()
    row["egru_fwd_s"] = _median_time(fwd, repeats) / B
    run = layer.forward(x, store=False, store_trace=False)
    row["activity"] = run.activity
    row["fwd_rec_macs"] = run.rec_macs / B
    row["fwd_rec_macs_dense"] = run.dense_rec_macs / B
    row["fwd_in_macs"] = run.in_macs / B
    dy = np.ones((B, T_STEPS, H), dtype=np.float32)
    for w in widths:
        layer.config = EGRUConfig(width=w)

        def fb():
            r = layer.forward(x, store=True, store_trace=False)
            return layer.backward(r, dy, need_dx=True)

        g = fb()
        key = f"w{w:g}"
        row[f"egru_fwdbwd_s_{key}"] = _median_time(fb, max(1, repeats // 2 + 1)) / B
        row[f"bwd_rec_macs_{key}"] = g.rec_macs / B
        row[f"bwd_back_fraction_{key}"] = g.back_fraction
    row["bwd_rec_macs_dense"] = g.dense_rec_macs / B

    gru = torch.nn.GRU(I_IN, H, batch_first=True)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        gru(xt)
        row["torch_fwd_s"] = _median_time(lambda: gru(xt), repeats) / B

    def tfb():
        gru.zero_grad(set_to_none=True)
        xg = xt.clone().requires_grad_(True)
        out, _ = gru(xg)
        out.sum().backward()

    tfb()
    row["torch_fwdbwd_s"] = _median_time(tfb, max(1, repeats // 2 + 1)) / B
    row["fwd_speedup"] = row["torch_fwd_s"] / row["egru_fwd_s"]
    for w in widths:
        row[f"fwdbwd_speedup_w{w:g}"] = row["torch_fwdbwd_s"] / row[f"egru_fwdbwd_s_w{w:g}"]
    row["fwd_mac_reduction"] = row["fwd_rec_macs_dense"] / max(1.0, row["fwd_rec_macs"])
    row["load_avg_1min"] = os.getloadavg()[0]
    return row


def split_row(row: dict, common: dict) -> list:
    """One side-by-side measurement (``bench_one``'s dict) as two table rows: the EGRU's and torch's.

    ``common``: configuration columns of both (threads, target_activity, repeats, round, versions, ...).
    The speed-ups are not stored: they are torch's time over the EGRU's, computed when printed."""
    cfg = {k: row[k] for k in ("hidden", "batch", "steps", "inputs")}
    load = {"load_avg_1min": row["load_avg_1min"]} if "load_avg_1min" in row else {}
    skip = set(cfg) | {"load_avg_1min", "torch_fwd_s", "torch_fwdbwd_s"}
    egru = {"simulator": "eventsim", "model": "EGRU", **cfg, **common.get("eventsim", {}), **common["both"]}
    for k, v in row.items():
        if k in skip or k.startswith("fwd_speedup") or k.startswith("fwdbwd_speedup") or k == "fwd_mac_reduction":
            continue
        egru[k[len("egru_"):] if k.startswith("egru_") else k] = v
    egru.update(load)
    torch_row = {"simulator": "torch", "model": "nn.GRU", **cfg, **common.get("torch", {}), **common["both"],
                 "fwd_s": row["torch_fwd_s"], "fwdbwd_s": row["torch_fwdbwd_s"], **load}
    return [egru, torch_row]


def summary(rows) -> list:
    """Per (hidden, batch, ...): the EGRU's and torch's medians over the rounds, and torch / EGRU."""
    cfg = [c for c in KEY if c not in ("simulator", "round")]
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r.get(c) for c in cfg), {}).setdefault(r["simulator"], []).append(r)
    out = []
    for k, g in groups.items():
        e, t = g.get("eventsim", []), g.get("torch", [])

        def med(rs, col):
            v = [r[col] for r in rs if r.get(col) is not None]
            return float(np.median(v)) if v else None

        s = {**dict(zip(cfg, k)), "rounds": min(len(e), len(t)), "activity": med(e, "activity"),
             "egru_fwd_s": med(e, "fwd_s"), "torch_fwd_s": med(t, "fwd_s"),
             "egru_fwdbwd_s_w1": med(e, "fwdbwd_s_w1"), "egru_fwdbwd_s_w0.28": med(e, "fwdbwd_s_w0.28"),
             "torch_fwdbwd_s": med(t, "fwdbwd_s"), "fwd_rec_macs": med(e, "fwd_rec_macs"),
             "fwd_rec_macs_dense": med(e, "fwd_rec_macs_dense"),
             "bwd_back_fraction_w1": med(e, "bwd_back_fraction_w1"),
             "bwd_back_fraction_w0.28": med(e, "bwd_back_fraction_w0.28")}

        def ratio(a, b):
            return s[a] / s[b] if s[a] and s[b] else None

        s["fwd_speedup"] = ratio("torch_fwd_s", "egru_fwd_s")
        s["fwdbwd_speedup_w1"] = ratio("torch_fwdbwd_s", "egru_fwdbwd_s_w1")
        s["fwdbwd_speedup_w0.28"] = ratio("torch_fwdbwd_s", "egru_fwdbwd_s_w0.28")
        s["fwd_mac_reduction"] = ratio("fwd_rec_macs_dense", "fwd_rec_macs")
        out.append(s)
    return out


def print_table(rows) -> None:
    def f(x, scale=1.0, fmt="{:.3f}"):
        return "-" if x is None else fmt.format(scale * x)

    print("time per sequence (ms), median over the rounds; x = torch time / EGRU time; "
          "MAC reduction = dense GRU / EGRU recurrent MACs")
    print(f"{'H':>5} {'B':>3} {'rnd':>3} {'act':>6} {'EGRU fwd':>9} {'GRU fwd':>9} {'x':>6} {'EGRU f+b':>9} "
          f"{'GRU f+b':>9} {'x':>6} {'f+b w.28':>9} {'x':>6} {'MAC red.':>8} {'bwd frac w1/.28':>15}")
    for s in summary(rows):
        print(f"{s['hidden']:5d} {s['batch']:3d} {s['rounds']:3d} {f(s['activity'])} {f(s['egru_fwd_s'], 1e3):>9} "
              f"{f(s['torch_fwd_s'], 1e3):>9} {f(s['fwd_speedup'], fmt='{:.2f}'):>6} "
              f"{f(s['egru_fwdbwd_s_w1'], 1e3):>9} {f(s['torch_fwdbwd_s'], 1e3):>9} "
              f"{f(s['fwdbwd_speedup_w1'], fmt='{:.2f}'):>6} {f(s['egru_fwdbwd_s_w0.28'], 1e3):>9} "
              f"{f(s['fwdbwd_speedup_w0.28'], fmt='{:.2f}'):>6} {f(s['fwd_mac_reduction'], fmt='{:.1f}'):>8} "
              f"{f(s['bwd_back_fraction_w1'], fmt='{:.2f}'):>7}/{f(s['bwd_back_fraction_w0.28'], fmt='{:.2f}')}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 512, 1024], help="hidden sizes H")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16], help="batch sizes B")
    ap.add_argument("--activity", type=float, default=0.08, help="target activity for the threshold calibration")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per measurement (median)")
    ap.add_argument("--rounds", type=int, default=2, help="times the whole set is run")
    ap.add_argument("--threads", type=int, default=2, help="threads for both torch and Numba")
    ap.add_argument("--quick", action="store_true", help="hidden 256 only, batch 1, 3 repeats, 1 round (smoke test)")
    results_table.add_table_arguments(ap)
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    if args.quick:
        args.hidden, args.batch, args.repeats, args.rounds = [256], [1], 3, 1

    import numba
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    widths = (1.0, 0.28)
    both = {"threads": args.threads, "target_activity": args.activity, "dtype": "float32",
            "repeats": args.repeats, "cpus": os.cpu_count(), "machine": platform.machine()}
    versions = {"eventsim": {"numba": numba.__version__, "numpy": np.__version__},
                "torch": {"version": torch.__version__}}
    new = []
    for rnd in range(1, max(1, args.rounds) + 1):
        for H in args.hidden:
            for B in args.batch:
                r = bench_one(H, B, args.activity, args.repeats, widths)
                new += split_row(r, {**versions, "both": {**both, "round": rnd}})
                print(f"round {rnd}: H {H} B {B}: forward {r['fwd_speedup']:.2f}x, forward+backward "
                      f"{r['fwdbwd_speedup_w1']:.2f}x torch's speed, activity {r['activity']:.3f}", flush=True)
    path = results_table.append_rows(STUDY, new, key=KEY, folder=folder)
    print(f"{len(new)} rows written to {path}")
    print_table(results_table.read_rows(STUDY, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
