"""EventProp training throughput on Yin-Yang: eventsim side by side with jaxsnn.

    python benchmarks/bench_train_yinyang.py [--repeats 5] [--rounds 2] [--threads 1,2] [--no-peers] [--show]

What is measured (eventsim, in this process, after a warm-up step):
    samples/s = training samples / wall time of ``eventsim.train.fit`` epochs, i.e. shuffling,
    forward simulation, EventProp backward pass and Adam update of every mini-batch (no validation
    pass), median of ``--repeats`` epochs, each from freshly initialised weights (the first epoch is
    the most expensive one: an untrained network fires ~4x more spikes than a trained one); also the
    CPU time per sample (all threads), which is less sensitive to other jobs on a shared machine.
    Each configuration runs with 1 and with 2 Numba threads (``--threads``): on a shared machine
    a second thread only helps when a second core is actually free.
Configurations:
    recipe       5-200-3, batch 32, t_max 100 ms, the paper's initialisation (``eventsim.models.yinyang``);
    jaxsnn-size  5-100-3, batch 64, same neuron model: the size of jaxsnn's layered example.
Start-up (each in a fresh process, with the largest thread count): import, data generation +
encoding, network construction and the first training step, once with an empty Numba cache (cold:
the compile) and once with the project's cache (warm).

jaxsnn (``benchmarks/peers/jaxsnn_yinyang.py``, run with ``.venv-bench-jax/bin/python`` or the
interpreter in ``$JAXSNN_PYTHON``) prints one JSON line; without it the round has no jaxsnn row and
the ratios use the jaxsnn rows already in the table.

With ``--rounds R`` everything (eventsim's configurations, then jaxsnn) is run R times in turn. Each
configuration of each round is one row of ``benchmarks/results/train_yinyang.jsonl`` (key: simulator,
config, hidden, batch, threads, n_train, round; a row measured again replaces the old one). The printed
table is each configuration's median over the rounds and its ratio to jaxsnn's median.
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
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "train_yinyang"
KEY = ("simulator", "config", "hidden", "batch", "threads", "n_train", "round")
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


def throughput(hidden: int, batch: int, epochs: int, repeats: int, threads: int, n_train=None) -> dict:
    import numba
    import numpy as np

    import eventsim as es
    from eventsim.models import yinyang as yy

    numba.set_num_threads(threads)
    (tr, y), _, _ = yy.data()
    if n_train:
        tr, y = tr.subset(np.arange(min(n_train, len(y)))), y[:n_train]
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
        k = min(500, len(y))
        res = es.simulate(net, tr.subset(np.arange(k)), yy.T_MAX, progress=False)
        spikes.append(res.n_spikes / k)
    n = len(y) * epochs
    wall = statistics.median(walls)
    return {"n_train": len(y), "epochs_per_repeat": epochs, "repeats": repeats, "wall_s": wall, "walls_s": walls,
            "train_samples_per_s": n / wall, "cpu_us_per_sample": 1e6 * statistics.median(cpus) / n,
            "spikes_per_sample_after": statistics.median(spikes)}


def run_jaxsnn(timeout: float) -> dict:
    """jaxsnn's example in its own virtualenv: its JSON line, or ``{"error": ...}``."""
    script = HERE / "peers" / "jaxsnn_yinyang.py"
    py = os.environ.get("JAXSNN_PYTHON") or str(ROOT / ".venv-bench-jax" / "bin" / "python")
    missing = [str(p) for p in (script, Path(py)) if not p.exists()]
    if missing:
        return {"error": f"missing {missing}: run bash benchmarks/peers/setup_envs.sh jax"}
    t0 = time.perf_counter()
    out = subprocess.run([py, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    lines = [line for line in out.stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        return {"error": "no JSON line in the output"}
    d = json.loads(lines[-1])
    d["process_wall_s"] = time.perf_counter() - t0
    return d


def jaxsnn_row(d: dict) -> dict:
    """A jaxsnn result as a table row (its own keys, with the configuration columns named as eventsim's)."""
    row = {"simulator": "jaxsnn", "config": "example 5-100-3 b64", "network": f"5-{d.get('hidden_size')}-3",
           "hidden": d.get("hidden_size"), "batch": d.get("batch_size"), "threads": d.get("cpu_count"),
           "n_train": d.get("train_samples")}
    row.update({k: v for k, v in d.items() if k not in ("simulator", "hidden_size", "batch_size", "measured")})
    return row


def summary(rows) -> list:
    """Per configuration (key without ``round``), in table order: median samples/s over the rounds."""
    groups = {}
    for r in rows:
        if r.get("train_samples_per_s") is None:
            continue
        groups.setdefault(tuple(r.get(c) for c in KEY if c != "round"), []).append(r)
    out = []
    for g in groups.values():
        v = sorted(r["train_samples_per_s"] for r in g)
        cpu = [r["cpu_us_per_sample"] for r in g if r.get("cpu_us_per_sample") is not None]
        cold = [r["startup_cold_total_s"] for r in g if r.get("startup_cold_total_s") is not None]
        out.append({**{c: g[0].get(c) for c in KEY if c != "round"}, "rounds": len(g),
                    "samples_per_s": statistics.median(v), "min": v[0], "max": v[-1],
                    "cpu_us_per_sample": statistics.median(cpu) if cpu else None,
                    "startup_cold_total_s": statistics.median(cold) if cold else None})
    return out


def print_table(rows) -> None:
    s = summary(rows)
    jax = [r["samples_per_s"] for r in s if r["simulator"] == "jaxsnn"]
    jr = jax[0] if jax else None
    print(f"| {'simulator, configuration':34s} | threads | rounds | samples/s (min-max)  | CPU us/sample "
          f"| vs jaxsnn | cold start-up s |")
    print("|---|---|---|---|---|---|---|")
    for r in s:
        ratio = f"{r['samples_per_s'] / jr:.1f}x" if jr else "n/a"
        cpu = f"{r['cpu_us_per_sample']:.0f}" if r["cpu_us_per_sample"] is not None else "-"
        cold = f"{r['startup_cold_total_s']:.1f}" if r["startup_cold_total_s"] is not None else "-"
        rate = f"{r['samples_per_s']:.0f} ({r['min']:.0f}-{r['max']:.0f})"
        print(f"| {r['simulator'] + ' ' + str(r['config']):34s} | {r['threads']!s:>7} | {r['rounds']:>6} | {rate:20s} "
              f"| {cpu:>13} | {ratio:>9} | {cold:>15} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="timed epochs per configuration and round (median)")
    ap.add_argument("--rounds", type=int, default=2, help="times the whole side-by-side set is run")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per repeat")
    ap.add_argument("--threads", default="1,2", help="comma-separated Numba thread counts")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations to run")
    ap.add_argument("--n-train", type=int, default=None, help="train on the first N samples only (None: all 5000)")
    ap.add_argument("--no-peers", action="store_true", help="eventsim only")
    ap.add_argument("--no-startup", action="store_true", help="skip the fresh-process start-up measurements")
    ap.add_argument("--peer-timeout", type=float, default=900.0, help="seconds allowed to jaxsnn's run")
    results_table.add_table_arguments(ap)
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    threads = [int(t) for t in str(args.threads).split(",")]
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown --configs {unknown}; choose from {list(CONFIGS)}")
    os.environ["NUMBA_NUM_THREADS"] = str(max(threads))
    sys.path.insert(0, str(ROOT))
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    new, failed = [], False
    for rnd in range(1, max(1, args.rounds) + 1):
        load0 = list(os.getloadavg())
        one = []
        for name in configs:
            c = CONFIGS[name]
            for th in threads:
                row = {"simulator": "eventsim", "config": name, "network": f"5-{c['hidden']}-3",
                       "hidden": c["hidden"], "batch": c["batch"], "threads": th}
                t = throughput(c["hidden"], c["batch"], args.epochs, args.repeats, th, args.n_train)
                row.update(t)
                if not args.no_startup and th == max(threads):
                    for kind, cold in (("cold", True), ("warm", False)):
                        for k, v in startup(c["hidden"], c["batch"], cold, th).items():
                            row[f"startup_{kind}_{k}"] = v
                one.append(row)
                print(f"  round {rnd}: {name}, {th} thread(s): {row['train_samples_per_s']:.0f} samples/s", flush=True)
        if not args.no_peers:
            d = run_jaxsnn(args.peer_timeout)
            if "error" in d:
                failed = True
                print(f"  round {rnd}: jaxsnn not run: {d['error'][-500:]}", file=sys.stderr)
            else:
                one.append(jaxsnn_row(d))
                print(f"  round {rnd}: jaxsnn: {d.get('train_samples_per_s') or 0:.0f} samples/s", flush=True)
        load1 = list(os.getloadavg())
        new += [{**r, "round": rnd, "load_avg_before": load0, "load_avg_after": load1, **machine} for r in one]
    path = results_table.append_rows(STUDY, new, key=KEY, folder=folder)
    print(f"\nEventProp training on Yin-Yang (forward + backward + Adam), {os.cpu_count()} cores; "
          f"{len(new)} rows written to {path}")
    print_table(results_table.read_rows(STUDY, folder))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
