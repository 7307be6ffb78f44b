"""EventProp training throughput on Yin-Yang: eventsim side by side with jaxsnn.

    python benchmarks/bench_train_yinyang.py [--repeats 3] [--epochs 1] [--threads 1,2] [--no-peers]

What is measured (eventsim, in this process, after a warm-up step):
    samples/s = training samples / wall time of ``eventsim.train.fit`` epochs, i.e. shuffling,
    forward simulation, EventProp backward pass and Adam update of every mini-batch (no validation
    pass), median of ``--repeats`` epochs, each from freshly initialised weights (the first epoch is
    the most expensive one: an untrained network fires ~4x more spikes than a trained one); also the
    CPU time per sample (all threads), which is less sensitive to other jobs on a shared machine.
    Each configuration runs with 1 and with 2 Numba threads (``--threads``): on a shared machine
    a second thread only helps when a second core is actually free.
Configurations:
    recipe   5-200-3, batch 32, t_max 100 ms, the paper's initialisation (models/yinyang.py);
    jaxsnn-like  5-100-3, batch 64, same neuron model: the size of jaxsnn's layered example.
Start-up (each in a fresh process): import, data generation + encoding, network construction and
the first training step, once with an empty Numba cache (cold: the compile) and once with the
project's cache (warm).

jaxsnn (``benchmarks/peers/jaxsnn_yinyang.py``, run with ``.venv-bench-jax/bin/python`` or the
interpreter in ``$JAXSNN_PYTHON``) prints one JSON line; if the script or its interpreter is
missing, the figure measured on this machine and recorded in the project notes (2300 samples/s,
5-100-3, batch 64; 17-20 s JIT) is shown instead and marked as such.

Prints a table and writes ``benchmarks/results/train_yinyang.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "results" / "train_yinyang.json"
JAXSNN_NOTES = {"tool": "jaxsnn 0.3.0 (JAX 0.6.2, CPU)", "source": "notes (peer-baselines.md section 1), not re-run",
                "network": "5-100-3", "batch": 64, "train_samples_per_s": 2300.0, "train_s_per_epoch": 2.17,
                "n_train": 4992, "startup_jit_s": [16.9, 20.1], "test_acc_10_epochs": 0.945}
CONFIGS = {
    "recipe 5-200-3 b32": {"hidden": 200, "batch": 32},
    "jaxsnn-size 5-100-3 b64": {"hidden": 100, "batch": 64},
}

STARTUP_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import eventsim as es
from eventsim.models import yinyang as yy
t1 = time.perf_counter()
(tr, y), _, _ = yy.data()
t2 = time.perf_counter()
net = yy.build(0, hidden=HIDDEN)
opt = es.optim.Adam(net.parameters(), lr=5e-3)
t3 = time.perf_counter()
loss, g = es.eventprop.value_and_grad(net, tr.subset(np.arange(BATCH)), y[:BATCH], yy.loss(), yy.T_MAX)
opt.step(g)
t4 = time.perf_counter()
loss, g = es.eventprop.value_and_grad(net, tr.subset(np.arange(BATCH, 2 * BATCH)), y[BATCH:2 * BATCH], yy.loss(), yy.T_MAX)
opt.step(g)
t5 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "data_s": t2 - t1, "build_s": t3 - t2, "first_step_s": t4 - t3,
                  "second_step_s": t5 - t4, "total_s": t5 - t0}))
"""


def startup(hidden: int, batch: int, cold: bool, threads: int) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as d:
        if cold:
            env["NUMBA_CACHE_DIR"] = d
        code = STARTUP_SCRIPT.replace("HIDDEN", str(hidden)).replace("BATCH", str(batch))
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"start-up measurement failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def throughput(hidden: int, batch: int, epochs: int, repeats: int, threads: int) -> dict:
    import numba
    import numpy as np

    import eventsim as es
    from eventsim.models import yinyang as yy

    numba.set_num_threads(threads)
    (tr, y), _, _ = yy.data()
    net = yy.build(0, hidden=hidden)
    es.train.fit(net, tr.subset(np.arange(2 * batch)), y[:2 * batch], yy.loss(), yy.T_MAX, epochs=1,
                 batch_size=batch, progress=False)  # warm-up (compile or cache load)
    walls, cpus, spikes = [], [], []
    for r in range(repeats):
        net = yy.build(r, hidden=hidden)
        c0 = time.process_time()
        h = es.train.fit(net, tr, y, yy.loss(), yy.T_MAX, epochs=epochs, batch_size=batch, seed=r, progress=False)
        cpus.append(time.process_time() - c0)
        walls.append(sum(h["epoch_s"]))
        res = es.simulate(net, tr.subset(np.arange(500)), yy.T_MAX, progress=False)
        spikes.append(res.n_spikes / 500)
    n = len(y) * epochs
    wall = statistics.median(walls)
    return {"n_train": len(y), "epochs_per_repeat": epochs, "repeats": repeats, "wall_s": wall, "walls_s": walls,
            "train_samples_per_s": n / wall, "cpu_us_per_sample": 1e6 * statistics.median(cpus) / n,
            "spikes_per_sample_after": statistics.median(spikes)}


def run_jaxsnn(timeout: float) -> dict:
    script = HERE / "peers" / "jaxsnn_yinyang.py"
    py = os.environ.get("JAXSNN_PYTHON") or str(ROOT / ".venv-bench-jax" / "bin" / "python")
    if not script.exists() or not Path(py).exists():
        missing = [str(p) for p in (script, Path(py)) if not p.exists()]
        return {**JAXSNN_NOTES, "measured": False, "missing": missing}
    t0 = time.perf_counter()
    out = subprocess.run([py, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        return {**JAXSNN_NOTES, "measured": False, "error": out.stderr[-2000:]}
    lines = [l for l in out.stdout.strip().splitlines() if l.startswith("{")]
    if not lines:
        return {**JAXSNN_NOTES, "measured": False, "error": "no JSON line in the output"}
    d = json.loads(lines[-1])
    d.update(measured=True, process_wall_s=time.perf_counter() - t0)
    return d


def _jax_rate(j: dict):
    for k in ("train_samples_per_s", "samples_per_s"):
        if k in j:
            return float(j[k])
    if "train_s_per_epoch" in j and "n_train" in j:
        return j["n_train"] / j["train_s_per_epoch"]
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1, help="epochs per repeat")
    ap.add_argument("--threads", default="1,2", help="comma-separated Numba thread counts (default 1,2)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-startup", action="store_true", help="skip the fresh-process start-up measurements")
    ap.add_argument("--peer-timeout", type=float, default=900.0)
    args = ap.parse_args(argv)
    threads = [int(t) for t in str(args.threads).split(",")]
    os.environ["NUMBA_NUM_THREADS"] = str(max(threads))
    sys.path.insert(0, str(ROOT))
    load0 = os.getloadavg()
    rows = []
    for name, c in CONFIGS.items():
        for th in threads:
            row = {"config": name, "hidden": c["hidden"], "batch": c["batch"], "threads": th}
            row.update(throughput(c["hidden"], c["batch"], args.epochs, args.repeats, th))
            if not args.no_startup and th == max(threads):
                row["startup_cold"] = startup(c["hidden"], c["batch"], True, th)
                row["startup_warm"] = startup(c["hidden"], c["batch"], False, th)
            rows.append(row)
            print(f"  {name}, {th} thread(s): {row['train_samples_per_s']:.0f} samples/s", flush=True)
    jax = None if args.no_peers else run_jaxsnn(args.peer_timeout)
    load1 = os.getloadavg()
    jr = _jax_rate(jax) if jax else None

    print()
    print(f"EventProp training on Yin-Yang (forward + backward + Adam); "
          f"load average {load0[0]:.1f} -> {load1[0]:.1f} on {os.cpu_count()} cores")
    hdr = f"| {'tool / config':34s} | threads | samples/s | CPU us/sample | vs jaxsnn | cold start-up: slowest step (s) |"
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
    for r in rows:
        ratio = f"{r['train_samples_per_s'] / jr:.1f}x" if jr else "n/a"
        su = r.get("startup_cold")
        su_s = "n/a"
        if su:
            k = max((k for k in su if k.endswith("_s") and k != "total_s"), key=lambda k: su[k])
            su_s = f"{k[:-2]} {su[k]:.1f} (total {su['total_s']:.1f})"
        print(f"| eventsim {r['config']:25s} | {r['threads']:7d} | {r['train_samples_per_s']:9.0f} | {r['cpu_us_per_sample']:13.0f} "
              f"| {ratio:>9s} | {su_s:31s} |")
    if jax:
        src = "measured now" if jax.get("measured") else "notes, not re-run"
        su = jax.get("startup_jit_s", jax.get("startup_s", "n/a"))
        net = jax.get("network") or f"5-{jax.get('hidden_size', 100)}-3"
        su = jax.get("first_epoch_wall_s", su)
        su = f"{su:.1f}" if isinstance(su, (int, float)) else str(su)
        print(f"| jaxsnn {net} b{jax.get('batch_size', jax.get('batch', 64))} ({src}) | {'2':>7s} | "
              f"{jr if jr is None else round(jr):>9} | {'n/a':>13s} | {'1.0x':>9s} | first epoch incl. JIT {su} s |")
    result = {"benchmark": "train_yinyang", "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                        "python": platform.python_version(),
                                                        "loadavg_before": load0, "loadavg_after": load1},
              "rows": rows, "jaxsnn": jax,
              "speedup_vs_jaxsnn": {f"{r['config']}, {r['threads']} thread(s)": (r["train_samples_per_s"] / jr if jr else None)
                                    for r in rows}}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
