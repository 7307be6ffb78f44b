"""CUBA benchmark: eventsim (exact) side by side with NEST and Brian2 in one run.

    python benchmarks/cuba.py [--model single true] [--repeats 5] [--rounds 5] [--t-ms 1000] [--no-peers] [--show]

Two models (``benchmarks/cuba_model.py``): ``single`` (one synaptic current, tau_syn = 5 ms,
w_i = -18 mV; the comparison row of the older results) and ``true`` (Brette et al.'s CUBA with two
currents, tau_e = 5 ms, tau_i = 10 ms, w_i = -9 mV; eventsim ``LIFParams(tau_syn=5, tau_syn_inh=10)``,
NEST ``tau_syn_ex=5, tau_syn_in=10``, Brian2 two current variables). For each model and seed the
network is drawn once (``cuba_model.cuba_arrays``) and written to a temporary .npz that every peer
reads (``--network``): eventsim, NEST and Brian2 simulate the same synapses from the same initial
voltages, so their spike counts can be compared directly (the printed table has them, and a
last column with each count's difference from eventsim's).

eventsim runs in this process (wall time of ``simulate`` after a warm-up call that compiles the
kernels; median of ``--repeats``). The peers run in their own virtualenvs made by
``benchmarks/peers/setup_envs.sh`` (``make bench`` does both); each peer script prints one JSON
line. With ``--rounds R`` the whole side-by-side set (eventsim, then every peer) is run R times in
turn, so that a noisy moment on a shared machine hits every simulator alike rather than one.

Each round of each simulator is one row of ``benchmarks/results/cuba.jsonl`` (key: simulator, mode,
model, threads, n_neurons, t_bio_ms, seed, round; a row measured again replaces the old one; rows
written before the ``model`` column existed are the ``single`` model and are read as such). The printed
table is each configuration's median round: median wall time over the rounds, synaptic events per
second = synaptic events / that wall time, and eventsim's speed-up in events per second.
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

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "cuba"
KEY = ("simulator", "mode", "model", "threads", "n_neurons", "t_bio_ms", "seed", "round")
#: the value of a key column in rows written before that column existed
KEY_DEFAULTS = {"model": "single"}
MODELS = ("single", "true")


def with_defaults(rows) -> list:
    """``rows`` with the KEY_DEFAULTS filled in where a row has no such column (older rows)."""
    return [{**KEY_DEFAULTS, **r} for r in rows]


def out_degrees(net) -> np.ndarray:
    """Each neuron's number of outgoing synapses (global neuron ids, as in ``Result.ids``)."""
    outdeg = np.zeros(net.n_neurons, dtype=np.int64)
    offsets = net.offsets
    for proj in net.projections.values():
        o = offsets[proj.src]
        outdeg[o:o + proj.n_pre] += np.diff(proj.indptr)
    return outdeg


def run_eventsim(t_ms: float, repeats: int, seed: int, model: str = "single") -> dict:
    import eventsim as es
    from cuba_model import cuba_network

    t0 = time.perf_counter()
    net, v0 = cuba_network(seed, model=model)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    es.simulate(net, None, 5.0, v_init=v0)  # compile (or load the numba cache)
    compile_s = time.perf_counter() - t0
    walls, res = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = es.simulate(net, None, t_ms, v_init=v0)
        walls.append(time.perf_counter() - t0)
    wall = statistics.median(walls)
    outdeg = out_degrees(net)
    n_ev = int(outdeg[res.ids].sum())
    n_e = net.populations["exc"].size
    row = {"simulator": "eventsim", "version": es.__version__, "mode": "exact event-driven", "model": model,
           "network": "file", "threads": 1,
           "n_neurons": net.n_neurons, "t_bio_ms": t_ms, "seed": seed, "repeats": repeats,
           "wall_s": wall, "walls_s": walls, "setup_s": setup, "compile_s": compile_s,
           "n_spikes": int(res.n_spikes), "n_spikes_exc": int(np.count_nonzero(res.ids < n_e)),
           "n_spikes_inh": int(np.count_nonzero(res.ids >= n_e)), "n_syn_events": n_ev, "events_per_s": n_ev / wall,
           "rate_hz": res.n_spikes / net.n_neurons / (t_ms / 1000.0)}
    for k, v in res.stats.items():
        row[k] = int(np.asarray(v).sum())
    return row


PEERS = [
    [".venv-bench-sim/bin/python", "benchmarks/peers/cuba_nest.py", "--neuron", "iaf_psc_exp_ps", "--threads", "1"],
    [".venv-bench-sim/bin/python", "benchmarks/peers/cuba_nest.py", "--neuron", "iaf_psc_exp_ps", "--threads", "2"],
    [".venv-bench-sim/bin/python", "benchmarks/peers/cuba_brian2.py", "--target", "standalone"],
    [".venv-bench-sim/bin/python", "benchmarks/peers/cuba_brian2.py", "--target", "cython"],
]


def run_peer(cmd, t_ms: float, seed: int, model: str = "single", network=None) -> dict:
    """Run one peer script in its virtualenv; its result is the last stdout line that is a JSON object.
    ``network``: the .npz written by ``cuba_model.write_network`` (the peer then simulates it)."""
    exe = ROOT / cmd[0]
    name = " ".join(cmd[1:] + ["--model", model])
    if not exe.exists():
        return {"simulator": name, "error": f"{cmd[0]} missing: run bash benchmarks/peers/setup_envs.sh"}
    full = [str(exe)] + cmd[1:] + ["--model", model, "--t-ms", str(t_ms), "--seed", str(seed)]
    if network is not None:
        full += ["--network", str(network)]
    p = subprocess.run(full, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    lines = [line for line in p.stdout.splitlines() if line.strip().startswith("{")]
    if p.returncode != 0 or not lines:
        return {"simulator": name, "error": (p.stderr or p.stdout)[-500:]}
    return json.loads(lines[-1])


def summary(rows) -> list:
    """One entry per configuration (key without ``round``), in table order: the median round."""
    groups = {}
    for r in with_defaults(rows):
        if "wall_s" not in r:
            continue
        groups.setdefault(tuple(r.get(c) for c in KEY if c != "round"), []).append(r)
    out = []
    for g in groups.values():
        walls = sorted(r["wall_s"] for r in g)
        wall = statistics.median(walls)
        ev = [r["n_syn_events"] for r in g if r.get("n_syn_events") is not None]
        sp = [r["n_spikes"] for r in g if r.get("n_spikes") is not None]
        nets = sorted({str(r.get("network", "own rng")) for r in g})
        rate = [r["rate_hz"] for r in g if r.get("rate_hz") is not None]
        n_ev = statistics.median(ev) if ev else None
        out.append({**{c: g[0].get(c) for c in KEY if c != "round"}, "version": g[0].get("version"),
                    "rounds": len(g), "wall_s": wall, "wall_min_s": walls[0], "wall_max_s": walls[-1],
                    "n_spikes": statistics.median(sp) if sp else None,
                    "n_spikes_all": sorted(set(sp)), "network": ",".join(nets),
                    "rate_hz": statistics.median(rate) if rate else None,
                    "events_per_s": n_ev / wall if n_ev else None})
    return out


def print_table(rows) -> None:
    s = summary(rows)
    ours = {(r["model"], r["n_neurons"], r["t_bio_ms"], r["seed"]): r for r in s if r["simulator"] == "eventsim"}
    print(f"{'simulator':<10} {'mode':<20} {'model':<6} {'thr':>3} {'t ms':>6} {'rounds':>6} {'wall s (min-max)':>24} "
          f"{'spikes':>7} {'rate Hz':>7} {'events/s':>9} {'eventsim x':>10} {'spikes - eventsim':>17}")
    for r in s:
        e = ours.get((r["model"], r["n_neurons"], r["t_bio_ms"], r["seed"]))
        ratio = f"{e['events_per_s'] / r['events_per_s']:.2f}" if e and e["events_per_s"] and r["events_per_s"] else "-"
        # the spike count's difference from eventsim's, only when both ran the same network (a file)
        dspk = "-"
        if e and r is not e and e["n_spikes"] is not None and r["n_spikes"] is not None \
                and r["network"] == "file" and e["network"] == "file":
            dspk = f"{r['n_spikes'] - e['n_spikes']:+.0f}"
        ev = f"{r['events_per_s'] / 1e6:.2f}M" if r["events_per_s"] else "-"
        spk = f"{r['n_spikes']:.0f}" if r["n_spikes"] is not None else "-"
        rate = f"{r['rate_hz']:.2f}" if r["rate_hz"] is not None else "-"
        walls = f"{r['wall_s']:.3f} ({r['wall_min_s']:.3f}-{r['wall_max_s']:.3f})"
        print(f"{r['simulator']:<10} {str(r['mode']):<20} {str(r['model']):<6} {r['threads']:>3} {r['t_bio_ms']:>6.0f} "
              f"{r['rounds']:>6} {walls:>24} {spk:>7} {rate:>7} {ev:>9} {ratio:>10} {dspk:>17}")


def eventsim_or_error(t_ms: float, repeats: int, seed: int, model: str) -> dict:
    """``run_eventsim``, or an error entry (the peers still run) when eventsim cannot simulate the model."""
    try:
        return run_eventsim(t_ms, repeats, seed, model)
    except Exception as e:  # noqa: BLE001 - reported, and the exit status says so
        return {"simulator": f"eventsim --model {model}", "error": f"{type(e).__name__}: {e}"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--model", nargs="+", default=list(MODELS), choices=MODELS,
                    help="CUBA models to run: single (one synaptic current) and/or true (two: tau_e 5, tau_i 10 ms)")
    ap.add_argument("--t-ms", type=float, default=1000.0, help="biological time simulated (ms)")
    ap.add_argument("--repeats", type=int, default=5, help="eventsim runs per round (its round is their median)")
    ap.add_argument("--rounds", type=int, default=5, help="side-by-side rounds (eventsim, then every peer)")
    ap.add_argument("--seed", type=int, default=0, help="network and initial-voltage seed (every simulator)")
    ap.add_argument("--no-peers", action="store_true", help="eventsim only")
    ap.add_argument("--no-eventsim", action="store_true", help="peers only (e.g. while eventsim cannot run a model)")
    results_table.add_table_arguments(ap)
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    from cuba_model import write_network

    new, failed = [], []
    with tempfile.TemporaryDirectory(prefix="cuba_net_") as tmp:
        nets = {m: write_network(Path(tmp) / f"cuba_{m}_seed{args.seed}.npz", args.seed, m) for m in args.model}
        for r in range(1, max(1, args.rounds) + 1):
            for m in args.model:
                one = [] if args.no_eventsim else [eventsim_or_error(args.t_ms, args.repeats, args.seed, m)]
                if not args.no_peers:
                    one += [run_peer(cmd, args.t_ms, args.seed, m, nets[m]) for cmd in PEERS]
                for x in one:
                    if "error" in x:
                        failed.append(x)
                        print(f"round {r}: {x['simulator']}: ERROR {x['error'][-300:]}", file=sys.stderr)
                    else:
                        new.append({**x, "round": r, "cpus": os.cpu_count(), "platform": platform.platform()})
                print(f"round {r}/{args.rounds} model {m}: " + ", ".join(
                    f"{x['simulator']} {x.get('mode', '')} {x.get('threads', 1)} thr {x['wall_s']:.3f} s "
                    f"{x['n_spikes']} spikes" for x in one if "error" not in x), flush=True)
    path = results_table.append_rows(STUDY, new, key=KEY, folder=folder, key_defaults=KEY_DEFAULTS)
    rows = results_table.read_rows(STUDY, folder)
    print(f"\nCUBA, {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{len(new)} rows written to {path}")
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
