"""A large Brunel-type balanced network: eventsim and NEST ``iaf_psc_exp_ps`` on this machine.

    python benchmarks/brunel.py [--n 100000] [--k 110] [--t-ms 100] [--seed 0] [--no-peers] [--show]

The model (the same network file for both simulators): N = 100 000 LIF neurons (80 % excitatory,
20 % inhibitory), each receiving exactly K = 110 synapses (0.8 K from distinct excitatory and
0.2 K from distinct inhibitory neurons, drawn uniformly; autapses allowed): 11 M synapses. One
exponential synaptic current (tau_syn = 2 ms; eventsim ``LIFParams`` with ``tau_syn_inh=None``,
NEST ``tau_syn_ex = tau_syn_in = 2``), tau_m = 20 ms, V_th = 20 mV, V_reset = 10 mV,
t_ref = 2 ms, delay 1.5 ms for every synapse. Weights (jumps of the synaptic current, mV):
J = 1.0 excitatory, -g J = -6.0 inhibitory (g = 6: inhibition dominates, as in Brunel's regime
of asynchronous irregular firing). The drive is a leak potential above threshold,
E_L = 24 mV (a constant input current; no external Poisson population), V0 ~ U(V_reset, V_th).

Figures (one row per simulator and configuration of ``benchmarks/results/brunel.jsonl``; key:
simulator, mode, threads, n_neurons, n_synapses, t_bio_ms, seed): wall time of the simulation
(eventsim: ``simulate`` after a short warm-up call that compiles the kernels; NEST: ``nest.Run``
after ``nest.Prepare``), spikes, rate, synaptic events (sum over spikes of the out-degree),
events per second, and bytes per synapse: eventsim from its arrays (the Network's projections
and the kernel layout built from them, ``bytes_per_synapse``; and the process's peak RSS), NEST
from the growth of its RSS over Connect + Prepare (see ``benchmarks/peers/brunel_nest.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "brunel"
KEY = ("simulator", "mode", "threads", "n_neurons", "n_synapses", "t_bio_ms", "seed")
PEER_PY = ROOT / ".venv-bench-sim" / "bin" / "python"
CONST = {"tau_m": 20.0, "tau_syn": 2.0, "C_m": 250.0, "E_L": 24.0, "V_th": 20.0, "V_reset": 10.0, "t_ref": 2.0,
         "delay": 1.5}
J, G = 1.0, 6.0


def distinct_sources(rng, n_post: int, k: int, lo: int, hi: int) -> np.ndarray:
    """(n_post, k) presynaptic ids in [lo, hi), distinct within each row."""
    out = rng.integers(lo, hi, size=(n_post, k), dtype=np.int64)
    while True:
        s = np.sort(out, axis=1)
        bad = np.nonzero((s[:, 1:] == s[:, :-1]).any(axis=1))[0]
        if bad.size == 0:
            return out
        out[bad] = rng.integers(lo, hi, size=(bad.size, k), dtype=np.int64)


def make_network(n: int, k: int, seed: int) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_e = int(round(0.8 * n))
    n_i = n - n_e
    k_e = int(round(0.8 * k))
    k_i = k - k_e
    src = np.concatenate([distinct_sources(rng, n, k_e, 0, n_e), distinct_sources(rng, n, k_i, n_e, n)], axis=1)
    post = np.repeat(np.arange(n, dtype=np.int64), k)
    pre = src.ravel()
    order = np.lexsort((post, pre))
    pre, post = pre[order].astype(np.int32), post[order].astype(np.int32)
    weight = np.where(pre < n_e, J, -G * J)
    v0 = rng.uniform(CONST["V_reset"], CONST["V_th"], size=n)
    f = {"n_e": n_e, "n_i": n_i, "pre": pre, "post": post, "weight": weight, "v0": v0, "seed": seed, **CONST}
    return {key: np.asarray(v) for key, v in f.items()}


def array_bytes(obj, seen=None) -> int:
    """Bytes of the numpy arrays reachable from ``obj`` (attributes, tuples, lists, dicts), each once."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(array_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(array_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return sum(array_bytes(v, seen) for v in vars(obj).values())
    if hasattr(obj, "__slots__"):
        return sum(array_bytes(getattr(obj, s, None), seen) for s in obj.__slots__)
    return 0


def run_eventsim(f: Dict[str, np.ndarray], t_ms: float) -> Dict:
    import scipy.sparse as sp

    import eventsim as es

    n_e, n_i = int(f["n_e"]), int(f["n_i"])
    n = n_e + n_i
    t0 = time.perf_counter()
    params = es.LIFParams(tau_mem=CONST["tau_m"], tau_syn=CONST["tau_syn"], v_th=CONST["V_th"],
                          v_reset=CONST["V_reset"], v_leak=CONST["E_L"], t_ref=CONST["t_ref"])
    net = es.Network()
    net.add_population("exc", n_e, params)
    net.add_population("inh", n_i, params)
    pre, post, w = f["pre"].astype(np.int64), f["post"].astype(np.int64), f["weight"]
    bounds = {"exc": (0, n_e), "inh": (n_e, n)}
    for s_name, (s0, s1) in bounds.items():
        for d_name, (d0, d1) in bounds.items():
            m = (pre >= s0) & (pre < s1) & (post >= d0) & (post < d1)
            W = sp.csr_matrix((w[m], (post[m] - d0, pre[m] - s0)), shape=(d1 - d0, s1 - s0))
            net.connect(s_name, d_name, W, delays=CONST["delay"])
    del pre, post, w
    layout = net.layout()
    setup_s = time.perf_counter() - t0
    v0 = {"exc": f["v0"][:n_e], "inh": f["v0"][n_e:]}
    t0 = time.perf_counter()
    es.simulate(net, None, 2.0, v_init=v0)  # compile (or load the numba cache)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = es.simulate(net, None, t_ms, v_init=v0, max_spikes=100_000_000)
    wall = time.perf_counter() - t0
    outdeg = np.zeros(n, dtype=np.int64)
    offsets = net.offsets
    for proj in net.projections.values():
        outdeg[offsets[proj.src]:offsets[proj.src] + proj.n_pre] += np.diff(proj.indptr)
    n_syn = int(outdeg.sum())
    ids = np.asarray(res.ids)
    n_ev = int(outdeg[ids].sum())
    proj_bytes = sum(array_bytes(p) for p in net.projections.values())
    layout_bytes = array_bytes(layout)
    return {"simulator": "eventsim", "version": es.__version__, "mode": "exact event-driven", "threads": 1,
            "n_neurons": n, "n_synapses": n_syn, "t_bio_ms": t_ms, "setup_s": setup_s, "compile_s": compile_s,
            "wall_s": wall, "n_spikes": int(res.n_spikes), "rate_hz": res.n_spikes / n / (t_ms / 1000.0),
            "n_syn_events": n_ev, "events_per_s": n_ev / wall,
            "projection_bytes": proj_bytes, "layout_bytes": layout_bytes,
            "bytes_per_synapse": (proj_bytes + layout_bytes) / n_syn,
            "bytes_per_synapse_layout": layout_bytes / n_syn,
            "bytes_per_synapse_def": "numpy arrays of the Network's projections + the kernel layout, / synapses",
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            **{k: int(np.asarray(v).sum()) for k, v in res.stats.items()}}


def run_nest(path: Path, t_ms: float, threads: int) -> Dict:
    if not PEER_PY.exists():
        return {"simulator": "nest", "error": f"{PEER_PY} missing: run bash benchmarks/peers/setup_envs.sh sim"}
    p = subprocess.run([str(PEER_PY), str(HERE / "peers" / "brunel_nest.py"), str(path), "--t-ms", str(t_ms),
                        "--threads", str(threads)], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    lines = [x for x in p.stdout.splitlines() if x.strip().startswith("{")]
    if p.returncode != 0 or not lines:
        return {"simulator": "nest", "error": (p.stderr or p.stdout)[-800:]}
    return json.loads(lines[-1])


def print_table(rows) -> None:
    print(f"{'simulator':<9} {'mode':<19} {'thr':>3} {'neurons':>8} {'synapses':>9} {'t ms':>5} {'setup s':>7} "
          f"{'wall s':>7} {'spikes':>8} {'rate Hz':>7} {'events/s':>9} {'B/syn':>6}")
    for r in rows:
        bps = f"{r['bytes_per_synapse']:.1f}" if r.get("bytes_per_synapse") is not None else "-"
        print(f"{r['simulator']:<9} {r['mode']:<19} {r['threads']:>3} {r['n_neurons']:>8} {r['n_synapses']:>9} "
              f"{r['t_bio_ms']:>5.0f} {r['setup_s']:>7.1f} {r['wall_s']:>7.2f} {r['n_spikes']:>8} "
              f"{r['rate_hz']:>7.2f} {r['events_per_s'] / 1e6:>8.2f}M {bps:>6}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="neurons (80 %% excitatory)")
    ap.add_argument("--k", type=int, default=110, help="synapses per neuron (in-degree)")
    ap.add_argument("--t-ms", type=float, default=100.0, help="biological time simulated (ms)")
    ap.add_argument("--seed", type=int, default=0, help="network and initial-voltage seed")
    ap.add_argument("--threads", type=int, nargs="+", default=[1], help="NEST thread counts to run")
    ap.add_argument("--no-peers", action="store_true", help="eventsim only")
    ap.add_argument("--no-eventsim", action="store_true", help="NEST only")
    results_table.add_table_arguments(ap)
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    t0 = time.perf_counter()
    f = make_network(args.n, args.k, args.seed)
    print(f"network: {args.n} neurons, {f['pre'].size} synapses, drawn in {time.perf_counter() - t0:.1f} s",
          flush=True)
    rows, failed = [], 0
    extra = {"seed": args.seed, "cpus": os.cpu_count(), "platform": platform.platform(),
             "model": {**CONST, "J": J, "g": G, "k": args.k}}
    with tempfile.TemporaryDirectory(prefix="brunel_") as tmp:
        path = Path(tmp) / "brunel.npz"
        np.savez(path, **f)
        if not args.no_peers:
            for th in args.threads:
                r = run_nest(path, args.t_ms, th)
                if "error" in r:
                    failed += 1
                    print(f"nest {th} thr: ERROR {r['error']}", file=sys.stderr)
                else:
                    rows.append({**r, **extra})
                    print_table(rows[-1:])
        if not args.no_eventsim:
            try:
                rows.append({**run_eventsim(f, args.t_ms), **extra})
                print_table(rows[-1:])
            except Exception as e:  # noqa: BLE001 - reported; the exit status says so
                failed += 1
                print(f"eventsim: ERROR {type(e).__name__}: {e}", file=sys.stderr)
    if rows:
        p = results_table.append_rows(STUDY, rows, key=KEY, folder=folder)
        print(f"{len(rows)} rows written to {p}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
