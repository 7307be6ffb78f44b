"""EGRU (eventsim, Numba, activity-sparse) vs torch.nn.GRU (CPU, dense), side by side.

    python benchmarks/bench_egru.py [--quick] [--hidden 256 512 1024] [--batch 1 16] [--activity 0.08]

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

Writes ``benchmarks/results/egru.json``. The machine is shared: absolute numbers move with the load,
which the JSON records (``os.getloadavg``); the side-by-side ratios are the result.
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

# torch's OpenMP workers spin after each parallel region by default and would take the cores from the
# Numba kernels timed right after a torch call; passive waiting keeps the side-by-side runs fair.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--activity", type=float, default=0.08, help="target activity for the threshold calibration")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="hidden 256 only, batch 1, 3 repeats (smoke test)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "egru.json"))
    args = ap.parse_args(argv)
    if args.quick:
        args.hidden, args.batch, args.repeats = [256], [1], 3

    import numba
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    widths = (1.0, 0.28)
    rows = []
    hdr = (f"{'H':>5} {'B':>3} {'act':>6} {'EGRU fwd':>10} {'GRU fwd':>10} {'x':>6} {'EGRU f+b':>10} "
           f"{'GRU f+b':>10} {'x':>6} {'f+b w.28':>10} {'x':>6} {'fwd MAC red.':>12} {'bwd frac w1/.28':>15}")
    print("time per sequence (ms); x = torch time / EGRU time; MAC reduction = dense GRU / EGRU recurrent MACs")
    print(hdr)
    for H in args.hidden:
        for B in args.batch:
            r = bench_one(H, B, args.activity, args.repeats, widths)
            rows.append(r)
            print(f"{H:5d} {B:3d} {r['activity']:6.3f} {1e3 * r['egru_fwd_s']:10.3f} {1e3 * r['torch_fwd_s']:10.3f} "
                  f"{r['fwd_speedup']:6.2f} {1e3 * r['egru_fwdbwd_s_w1']:10.3f} {1e3 * r['torch_fwdbwd_s']:10.3f} "
                  f"{r['fwdbwd_speedup_w1']:6.2f} {1e3 * r['egru_fwdbwd_s_w0.28']:10.3f} {r['fwdbwd_speedup_w0.28']:6.2f} "
                  f"{r['fwd_mac_reduction']:12.1f} {r['bwd_back_fraction_w1']:7.2f}/{r['bwd_back_fraction_w0.28']:.2f}",
                  flush=True)
    meta = {"machine": platform.machine(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
            "threads": args.threads, "torch": torch.__version__, "numba": numba.__version__,
            "numpy": np.__version__, "dtype": "float32", "steps": T_STEPS, "inputs": I_IN,
            "target_activity": args.activity, "repeats": args.repeats, "timing": "median, compile excluded",
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
