"""Spike-time agreement of eventsim's two-current LIF neuron with NEST's precise ``iaf_psc_exp_ps``.

    python benchmarks/nest_agreement.py [--networks 6] [--t-ms 500] [--reference eventsim|nest-half-step]
                                        [--results DIR] [--show]

Small random recurrent networks (50-200 neurons), each simulated by NEST 3.10 ``iaf_psc_exp_ps``
(in the peer virtualenv ``.venv-bench-sim``, through ``benchmarks/peers/nest_network.py``, one
thread) and by eventsim (in this process), from the same description:

- LIF neurons with two synaptic currents, tau_syn_ex != tau_syn_in (eventsim
  ``LIFParams(tau_syn=tau_ex, tau_syn_inh=tau_in)``; NEST routes by the weight's sign, as eventsim
  does; the last network is a control with tau_syn_ex == tau_syn_in, run by eventsim's one-current
  model ``tau_syn_inh=None``), tau_m, E_L, V_th, V_reset, t_ref as listed per network, V0 ~ U(V_reset, V_th);
- recurrent synapses with probability p_rec, weights of both signs (an 80 % excitatory / 20 %
  inhibitory split of the presynaptic neurons), delays k x 0.1 ms (k = 1..20; 0.1 ms is NEST's
  resolution and minimum delay);
- n_in Poisson input channels with fixed spike trains at precise (off-grid) times, given to NEST as
  ``spike_generator`` with ``precise_times=True``, each connected to a neuron with probability
  p_in, weights of both signs, delays k x 0.1 ms (k = 1..10).

Voltages are in mV in both (eventsim's dimensionless V is the mV value); eventsim's weight w is
NEST's w * C_m / tau_m pA (see ``benchmarks/peers/nest_network.py``).

Figures per network (one row each of ``benchmarks/results/nest_agreement.jsonl``; key: network,
reference, neuron, t_max_ms): spike counts in each simulator, ``counts_equal`` (total),
``neurons_count_differs`` (neurons whose spike counts differ), ``max_abs_dt_ms`` (largest
|t_NEST - t_other| over the spikes paired neuron by neuron in order), ``n_paired``,
``t_first_divergence_ms`` (the earliest time at which a pair differs by more than the tolerance
1e-9 ms or a spike has no partner; null when there is none) and ``agree`` (counts equal per neuron
and max |dt| <= 1e-9 ms). ``--reference nest-half-step`` compares NEST with itself at half the
resolution (0.05 ms) instead of with eventsim: NEST's own floor, and a check that runs without
eventsim.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "nest_agreement"
KEY = ("network", "reference", "neuron", "t_max_ms")
PEER_PY = ROOT / ".venv-bench-sim" / "bin" / "python"
PEER = HERE / "peers" / "nest_network.py"
TOL_MS = 1e-9
RES = 0.1

#: the networks: (n neurons, seed, tau_syn_ex, tau_syn_in, tau_m, t_ref, E_L); the rest is common
NETWORKS = [
    (50, 0, 5.0, 10.0, 20.0, 2.0, -65.0),
    (100, 1, 5.0, 10.0, 20.0, 5.0, -65.0),
    (200, 2, 2.0, 8.0, 10.0, 2.0, -65.0),
    (100, 3, 8.0, 3.0, 15.0, 1.0, -65.0),
    (150, 4, 5.0, 10.0, 20.0, 2.0, -45.0),   # E_L above V_th: tonic firing, inhibition shapes it
    (200, 5, 1.0, 4.0, 20.0, 0.5, -65.0),
    (100, 6, 5.0, 5.0, 20.0, 2.0, -65.0),    # control: tau_ex == tau_in, eventsim's one-current model
]
COMMON = {"C_m": 250.0, "V_th": -50.0, "V_reset": -70.0, "n_in": 100, "rate_in_hz": 20.0, "p_in": 0.3,
          "p_rec": 0.1, "frac_exc": 0.8}


def make_network(n: int, seed: int, tau_ex: float, tau_in: float, tau_m: float, t_ref: float, e_l: float,
                 t_max: float) -> Dict[str, np.ndarray]:
    """The network description (the arrays of ``peers/nest_network.py``'s file)."""
    c = COMMON
    rng = np.random.default_rng(1000 + seed)
    n_in = c["n_in"]
    # input: Poisson spike trains, precise times in (0, t_max)
    counts = rng.poisson(c["rate_in_hz"] * t_max / 1000.0, size=n_in)
    in_ids = np.repeat(np.arange(n_in), counts)
    in_times = rng.uniform(0.0, t_max, size=in_ids.size)
    order = np.lexsort((in_ids, in_times))
    in_times, in_ids = in_times[order], in_ids[order]
    # input synapses: both signs (80 % excitatory)
    m = rng.random((n, n_in)) < c["p_in"]
    inp_post, inp_pre = np.nonzero(m)
    exc = rng.random(inp_pre.size) < c["frac_exc"]
    # weights scaled by 5 ms / tau so that a synapse's charge does not depend on its time constant
    se, si = 5.0 / tau_ex, 5.0 / tau_in
    inp_w = np.where(exc, se * rng.uniform(3.0, 8.0, inp_pre.size), si * rng.uniform(-10.0, -4.0, inp_pre.size))
    inp_d = np.round(rng.integers(1, 11, inp_pre.size) * RES, 12)
    # recurrent synapses: the first 80 % of the neurons excitatory, the rest inhibitory (autapses allowed)
    m = rng.random((n, n)) < c["p_rec"]
    rec_post, rec_pre = np.nonzero(m)
    exc_pre = rec_pre < int(round(c["frac_exc"] * n))
    rec_w = np.where(exc_pre, se * rng.uniform(1.0, 4.0, rec_pre.size), si * rng.uniform(-8.0, -2.0, rec_pre.size))
    rec_d = np.round(rng.integers(1, 21, rec_pre.size) * RES, 12)
    v0 = rng.uniform(c["V_reset"], c["V_th"], size=n)
    f = {"n": n, "n_in": n_in, "tau_m": tau_m, "tau_syn_ex": tau_ex, "tau_syn_in": tau_in, "C_m": c["C_m"],
         "E_L": e_l, "V_th": c["V_th"], "V_reset": c["V_reset"], "t_ref": t_ref, "t_max": t_max,
         "resolution": RES, "v0": v0, "rec_pre": rec_pre, "rec_post": rec_post, "rec_weight": rec_w,
         "rec_delay": rec_d, "in_times": in_times, "in_ids": in_ids, "inp_pre": inp_pre, "inp_post": inp_post,
         "inp_weight": inp_w, "inp_delay": inp_d}
    return {k: np.asarray(v) for k, v in f.items()}


def run_nest(f: Dict[str, np.ndarray], tmp: Path, tag: str, resolution: Optional[float] = None) -> Dict:
    """NEST on the network ``f`` (in the peer venv); returns the peer's JSON plus ``times``, ``ids``."""
    if not PEER_PY.exists():
        raise RuntimeError(f"{PEER_PY} missing: run bash benchmarks/peers/setup_envs.sh sim")
    g = dict(f)
    if resolution is not None:
        g["resolution"] = np.asarray(resolution)
    net, out = tmp / f"{tag}_net.npz", tmp / f"{tag}_spikes.npz"
    np.savez(net, **g)
    p = subprocess.run([str(PEER_PY), str(PEER), str(net), "--out", str(out), "--threads", "1"], cwd=ROOT,
                       capture_output=True, text=True, timeout=1800,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = [x for x in p.stdout.splitlines() if x.strip().startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"nest_network.py failed: {(p.stderr or p.stdout)[-800:]}")
    res = json.loads(lines[-1])
    s = np.load(out)
    res["times"], res["ids"] = s["times"], s["ids"]
    return res


def run_eventsim(f: Dict[str, np.ndarray]) -> Dict:
    """eventsim on the network ``f``; returns times, ids (sorted by time), wall_s."""
    import scipy.sparse as sp

    import eventsim as es

    n, n_in = int(f["n"]), int(f["n_in"])
    tau_in = float(f["tau_syn_in"])
    params = es.LIFParams(tau_mem=float(f["tau_m"]), tau_syn=float(f["tau_syn_ex"]),
                          tau_syn_inh=None if tau_in == float(f["tau_syn_ex"]) else tau_in, v_th=float(f["V_th"]), v_reset=float(f["V_reset"]),
                          v_leak=float(f["E_L"]), t_ref=float(f["t_ref"]))
    net = es.Network()
    net.add_input("in", n_in)
    net.add_population("lif", n, params)
    for src, pre, post, w, d, n_pre in (("in", f["inp_pre"], f["inp_post"], f["inp_weight"], f["inp_delay"], n_in),
                                        ("lif", f["rec_pre"], f["rec_post"], f["rec_weight"], f["rec_delay"], n)):
        if pre.size == 0:
            continue
        W = sp.csr_matrix((w.astype(float), (post, pre)), shape=(n, n_pre))
        D = sp.csr_matrix((d.astype(float), (post, pre)), shape=(n, n_pre))
        net.connect(src, "lif", W, delays=D)
    inputs = {"in": es.SpikeBatch.from_arrays([f["in_times"]], [f["in_ids"]], n_neurons=n_in)}
    t0 = time.perf_counter()
    res = es.simulate(net, inputs, float(f["t_max"]), v_init={"lif": f["v0"].astype(float)})
    wall = time.perf_counter() - t0
    t, i = res.spikes("lif").sample(0)
    order = np.lexsort((i, t))
    return {"times": np.asarray(t)[order], "ids": np.asarray(i, dtype=np.int64)[order], "wall_s": wall,
            "version": es.__version__}


def compare(n: int, ta: np.ndarray, ia: np.ndarray, tb: np.ndarray, ib: np.ndarray, tol: float = TOL_MS) -> Dict:
    """Pair the spikes of a and b neuron by neuron in time order; the agreement figures."""
    max_dt, n_paired, differs, first = 0.0, 0, 0, np.inf
    for k in range(n):
        a, b = np.sort(ta[ia == k]), np.sort(tb[ib == k])
        m = min(a.size, b.size)
        if a.size != b.size:
            differs += 1
            first = min(first, float(np.concatenate([a[m:], b[m:]]).min()))
        if m:
            dt = np.abs(a[:m] - b[:m])
            max_dt = max(max_dt, float(dt.max()))
            n_paired += m
            bad = np.nonzero(dt > tol)[0]
            if bad.size:
                first = min(first, float(min(a[bad[0]], b[bad[0]])))
    return {"n_paired": n_paired, "max_abs_dt_ms": max_dt, "neurons_count_differs": differs,
            "t_first_divergence_ms": None if not np.isfinite(first) else first,
            "agree": bool(differs == 0 and max_dt <= tol)}


def one_row(spec, t_max: float, reference: str, tmp: Path) -> Dict:
    n, seed, tau_ex, tau_in, tau_m, t_ref, e_l = spec
    f = make_network(n, seed, tau_ex, tau_in, tau_m, t_ref, e_l, t_max)
    name = f"n{n} seed{seed} tau_ex{tau_ex:g} tau_in{tau_in:g} tau_m{tau_m:g} t_ref{t_ref:g} E_L{e_l:g}"
    a = run_nest(f, tmp, f"net{seed}")
    if reference == "eventsim":
        b = run_eventsim(f)
        b_name, b_version = "eventsim", b["version"]
    else:
        b = run_nest(f, tmp, f"net{seed}_half", resolution=RES / 2)
        b_name, b_version = "nest h=0.05", b["version"]
    cmp = compare(n, a["times"], a["ids"], b["times"], b["ids"])
    c = COMMON
    return {"network": name, "reference": reference, "neuron": a["neuron"], "t_max_ms": t_max,
            "n_neurons": n, "seed": seed, "tau_syn_ex": tau_ex, "tau_syn_in": tau_in, "tau_m": tau_m, "t_ref": t_ref,
            "E_L": e_l, "V_th": c["V_th"], "V_reset": c["V_reset"], "C_m_pF": c["C_m"], "n_inputs": int(f["n_in"]),
            "rate_in_hz": c["rate_in_hz"], "p_in": c["p_in"], "p_rec": c["p_rec"],
            "n_syn_rec": int(f["rec_pre"].size), "n_syn_in": int(f["inp_pre"].size),
            "n_input_spikes": int(f["in_times"].size), "resolution_ms": RES,
            "n_spikes_nest": int(a["times"].size), f"n_spikes_{b_name.split()[0]}": int(b["times"].size),
            "n_spikes_reference": int(b["times"].size),
            "counts_equal": bool(a["times"].size == b["times"].size), **cmp, "tol_ms": TOL_MS,
            "rate_hz_nest": a["times"].size / n / (t_max / 1000.0),
            "wall_nest_s": a["wall_s"], "wall_reference_s": b["wall_s"], "nest_version": a["version"],
            "reference_version": b_version, "nest_threads": 1, "platform": platform.platform()}


def print_table(rows: List[Dict], header: bool = True) -> None:
    if header:
        print(f"{'network':<52} {'ref':<14} {'t ms':>5} {'NEST':>6} {'other':>6} {'eq':>3} {'n diff':>6} "
              f"{'max |dt| ms':>11} {'first div ms':>12} {'agree':>5}")
    for r in rows:
        fd = "-" if r.get("t_first_divergence_ms") is None else f"{r['t_first_divergence_ms']:.3f}"
        print(f"{r['network']:<52} {r['reference']:<14} {r['t_max_ms']:>5.0f} {r['n_spikes_nest']:>6} "
              f"{r['n_spikes_reference']:>6} {'y' if r['counts_equal'] else 'n':>3} {r['neurons_count_differs']:>6} "
              f"{r['max_abs_dt_ms']:>11.2e} {fd:>12} {str(r['agree']):>5}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--networks", type=int, default=len(NETWORKS), help=f"how many of the {len(NETWORKS)} networks")
    ap.add_argument("--t-ms", type=float, default=500.0, help="biological time simulated (ms)")
    ap.add_argument("--reference", default="eventsim", choices=["eventsim", "nest-half-step"],
                    help="what NEST (resolution 0.1 ms) is compared with")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write the table")
    results_table.add_table_arguments(ap)
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    rows, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="nest_agreement_") as tmp:
        for spec in NETWORKS[: max(1, args.networks)]:
            try:
                r = one_row(spec, args.t_ms, args.reference, Path(tmp))
            except Exception as e:  # noqa: BLE001 - reported; the exit status says so
                print(f"network {spec}: ERROR {type(e).__name__}: {e}", file=sys.stderr)
                failed += 1
                continue
            rows.append(r)
            print_table([r], header=len(rows) == 1)
    if rows and not args.no_write:
        path = results_table.append_rows(STUDY, rows, key=KEY, folder=folder)
        print(f"{len(rows)} rows written to {path}")
    return 1 if failed or not all(r["agree"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
