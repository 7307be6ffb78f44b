"""A Brunel-type balanced network from an .npz file in NEST (iaf_psc_exp_ps); prints ONE JSON line.

    .venv-bench-sim/bin/python benchmarks/peers/brunel_nest.py NET.npz [--threads 1] [--t-ms 100]

NET.npz is written by ``benchmarks/brunel.py`` (see its docstring for the model): neuron constants
(0-d) ``tau_m``, ``tau_syn``, ``C_m``, ``E_L``, ``V_th``, ``V_reset``, ``t_ref``, ``delay``;
``n_e``, ``n_i``; per synapse ``pre``, ``post`` (0-based, int32) and ``weight`` (eventsim's units:
the jump of the synaptic current in mV; NEST gets ``weight * C_m / tau_m`` pA); ``v0`` per neuron.
The drive is E_L above V_th (the same in eventsim: ``v_leak > v_th``).

Timing: ``setup_s`` = Create + Connect (arrays, one_to_one), ``prepare_s`` = ``nest.Prepare()``,
``wall_s`` = ``nest.Run(t)``. Memory: VmRSS of this process (``/proc/self/status``) after
creating the neurons, after Connect and after Prepare; ``bytes_per_synapse`` = (RSS after Prepare
- RSS after creating the neurons and the recorder) / synapses, i.e. NEST's connection storage
with its presynaptic tables (the numpy arrays read from the file are freed before that point).
"""
from __future__ import annotations

import argparse
import gc
import sys
import time

from peer_io import HelpFormatter, emit  # noqa: E402  (first: stdout -> stderr)


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return -1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("network", help="the network (.npz from benchmarks/brunel.py)")
    ap.add_argument("--threads", type=int, default=1, help="NEST threads (local_num_threads)")
    ap.add_argument("--t-ms", type=float, default=100.0, help="biological time simulated (ms)")
    ap.add_argument("--neuron", default="iaf_psc_exp_ps", choices=["iaf_psc_exp_ps", "iaf_psc_exp"],
                    help="NEST neuron model")
    args = ap.parse_args(argv)

    import numpy as np
    import nest

    if hasattr(nest, "VerbosityLevel"):  # NEST >= 3.9
        nest.verbosity = nest.VerbosityLevel.WARNING
    else:  # pragma: no cover
        nest.set_verbosity("M_WARNING")
    rss_import = rss_bytes()
    t0 = time.perf_counter()
    f = dict(np.load(args.network))
    c = {k: float(f[k]) for k in ("tau_m", "tau_syn", "C_m", "E_L", "V_th", "V_reset", "t_ref", "delay")}
    n_e, n_i = int(f["n_e"]), int(f["n_i"])
    n = n_e + n_i
    nest.ResetKernel()
    nest.set(resolution=0.1, local_num_threads=args.threads, print_time=False)
    pop = nest.Create(args.neuron, n, params={
        "C_m": c["C_m"], "tau_m": c["tau_m"], "tau_syn_ex": c["tau_syn"], "tau_syn_in": c["tau_syn"],
        "E_L": c["E_L"], "V_th": c["V_th"], "V_reset": c["V_reset"], "t_ref": c["t_ref"], "I_e": 0.0})
    pop.set(V_m=f["v0"].astype(float).tolist())
    rec = nest.Create("spike_recorder", params={"record_to": "memory"})
    nest.Connect(pop, rec)
    g0 = pop[0].global_id
    pre = f.pop("pre").astype(np.int64) + g0
    post = f.pop("post").astype(np.int64) + g0
    w = f.pop("weight").astype(float) * (c["C_m"] / c["tau_m"])
    n_syn = int(pre.size)
    outdeg = np.bincount(pre - g0, minlength=n)
    gc.collect()
    rss_created = rss_bytes()  # neurons, recorder, and the synapse arrays still held
    arrays_bytes = pre.nbytes + post.nbytes + w.nbytes
    nest.Connect(pre, post, "one_to_one", {"synapse_model": "static_synapse", "weight": w,
                                           "delay": np.full(n_syn, c["delay"])})
    del pre, post, w, f
    gc.collect()
    rss_connected = rss_bytes()
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nest.Prepare()
    prepare_s = time.perf_counter() - t0
    rss_prepared = rss_bytes()
    t0 = time.perf_counter()
    nest.Run(args.t_ms)
    wall_s = time.perf_counter() - t0
    nest.Cleanup()
    senders = np.asarray(rec.get("events")["senders"], dtype=np.int64) - g0
    n_ev = int(outdeg[senders].sum())
    # the synapse arrays (arrays_bytes) were resident at rss_created and freed before rss_prepared
    syn_bytes = rss_prepared - (rss_created - arrays_bytes)
    emit({"simulator": "nest", "version": nest.__version__, "mode": args.neuron, "threads": args.threads,
          "n_neurons": n, "n_synapses": n_syn, "t_bio_ms": args.t_ms, "dt_ms": 0.1,
          "setup_s": setup_s, "prepare_s": prepare_s, "wall_s": wall_s,
          "n_spikes": int(senders.size), "rate_hz": senders.size / n / (args.t_ms / 1000.0),
          "n_syn_events": n_ev, "events_per_s": n_ev / wall_s if wall_s > 0 else None,
          "rss_import_bytes": rss_import, "rss_created_bytes": rss_created, "rss_connected_bytes": rss_connected,
          "rss_prepared_bytes": rss_prepared, "bytes_per_synapse": syn_bytes / n_syn,
          "bytes_per_synapse_def": "(VmRSS after Prepare - VmRSS after Create, without the file's arrays) / synapses"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
