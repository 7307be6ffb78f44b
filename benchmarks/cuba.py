"""CUBA benchmark: eventsim (exact) side by side with NEST and Brian2 in one run.

    python benchmarks/cuba.py [--repeats 3] [--rounds 1] [--t-ms 1000] [--no-peers]

eventsim runs in this process (wall time of ``simulate`` after a warm-up call that compiles the
kernels; median of ``--repeats``). The peers run in their own virtualenvs made by
``benchmarks/peers/setup_envs.sh`` (``make bench`` does both); each peer script prints one JSON
line. With ``--rounds R`` the whole side-by-side set (eventsim, then every peer) is run R times in
turn and each simulator's row is its median round, so that a noisy moment on a shared machine hits
every simulator alike rather than one. Prints a table and writes ``benchmarks/results/cuba.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from cuba_model import cuba_network  # noqa: E402


def run_eventsim(t_ms: float, repeats: int, seed: int) -> dict:
    import eventsim as es

    t0 = time.perf_counter()
    net, v0 = cuba_network(seed)
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
    outdeg = np.diff(net.layout().indptr)
    n_ev = int(outdeg[res.ids].sum())
    return {"simulator": "eventsim", "mode": "exact event-driven", "threads": 1, "n_neurons": net.n_neurons,
            "t_bio_ms": t_ms, "wall_s": wall, "walls_s": walls, "setup_s": setup, "compile_s": compile_s,
            "n_spikes": res.n_spikes, "n_syn_events": n_ev, "events_per_s": n_ev / wall,
            "rate_hz": res.n_spikes / net.n_neurons / (t_ms / 1000.0),
            "exact_searches": int(res.stats["exact_searches"].sum())}


PEERS = [
    ("nest", [".venv-bench-sim/bin/python", "benchmarks/peers/cuba_nest.py", "--model", "iaf_psc_exp_ps", "--threads", "1"]),
    ("nest", [".venv-bench-sim/bin/python", "benchmarks/peers/cuba_nest.py", "--model", "iaf_psc_exp_ps", "--threads", "2"]),
    ("brian2", [".venv-bench-sim/bin/python", "benchmarks/peers/cuba_brian2.py", "--target", "standalone"]),
    ("brian2", [".venv-bench-sim/bin/python", "benchmarks/peers/cuba_brian2.py", "--target", "cython"]),
]


def run_peer(cmd, t_ms: float, seed: int) -> dict:
    exe = ROOT / cmd[0]
    if not exe.exists():
        return {"simulator": cmd[1], "error": f"{cmd[0]} missing: run bash benchmarks/peers/setup_envs.sh"}
    full = [str(exe)] + cmd[1:] + ["--t-ms", str(t_ms), "--seed", str(seed)]
    p = subprocess.run(full, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    lines = [l for l in p.stdout.splitlines() if l.strip().startswith("{")]
    if p.returncode != 0 or not lines:
        return {"simulator": " ".join(cmd[1:]), "error": (p.stderr or p.stdout)[-500:]}
    return json.loads(lines[-1])


def _median_round(results: list) -> dict:
    """The result with the median wall time among one simulator's rounds (all walls kept in it)."""
    ok = [r for r in results if "error" not in r]
    if not ok:
        return results[0]
    ok.sort(key=lambda r: r["wall_s"])
    row = dict(ok[(len(ok) - 1) // 2])
    row["round_walls_s"] = [r["wall_s"] for r in ok]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--t-ms", type=float, default=1000.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1, help="side-by-side rounds; rows are median rounds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results" / "cuba.json"))
    args = ap.parse_args(argv)
    rounds = []
    for r in range(max(1, args.rounds)):
        one = [run_eventsim(args.t_ms, args.repeats, args.seed)]
        if not args.no_peers:
            for _, cmd in PEERS:
                one.append(run_peer(cmd, args.t_ms, args.seed))
        rounds.append(one)
        if args.rounds > 1:
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{x['simulator']} {x['wall_s']:.3f} s" for x in one if "error" not in x), flush=True)
    rows = [_median_round([one[i] for one in rounds]) for i in range(len(rounds[0]))]
    ours = rows[0]["events_per_s"]
    print(f"CUBA, {args.t_ms:.0f} ms biological time, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores")
    print(f"{'simulator':<12} {'mode':<28} {'thr':>3} {'wall s':>8} {'spikes':>7} {'rate Hz':>7} "
          f"{'events/s':>10} {'eventsim x':>10}")
    for r in rows:
        if "error" in r:
            print(f"{r['simulator']:<12} ERROR: {r['error'][:200]}")
            continue
        ratio = ours / r["events_per_s"]
        print(f"{r['simulator']:<12} {str(r.get('mode', '')):<28} {r.get('threads', 1):>3} {r['wall_s']:>8.3f} "
              f"{r['n_spikes']:>7} {r.get('rate_hz', float('nan')):>7.2f} {r['events_per_s'] / 1e6:>9.2f}M "
              f"{ratio:>10.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"benchmark": "cuba", "t_ms": args.t_ms, "rounds": len(rounds),
                                          "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
