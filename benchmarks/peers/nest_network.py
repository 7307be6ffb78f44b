"""Simulate a network described in an .npz file with NEST's precise LIF neuron; prints ONE JSON line.

    .venv-bench-sim/bin/python benchmarks/peers/nest_network.py NET.npz --out SPIKES.npz
                                 [--neuron iaf_psc_exp_ps] [--threads 1]

Used by ``benchmarks/nest_agreement.py`` (which writes NET.npz and compares SPIKES.npz with
eventsim). The file holds (voltages in mV, times in ms, weights in eventsim's units):

- neuron constants (0-d): ``tau_m``, ``tau_syn_ex``, ``tau_syn_in``, ``C_m`` (pF), ``E_L``, ``V_th``,
  ``V_reset``, ``t_ref``; ``n`` neurons with initial voltages ``v0`` (n,);
- recurrent synapses ``rec_pre``, ``rec_post`` (0-based neuron ids), ``rec_weight``, ``rec_delay``;
- ``n_in`` input channels with spikes ``in_times``, ``in_ids`` (0-based) and synapses ``inp_pre``
  (input channel), ``inp_post``, ``inp_weight``, ``inp_delay``;
- ``t_max`` (ms) and ``resolution`` (ms, NEST's step; every delay is a multiple of it).

Unit conversion. eventsim's neuron is ``tau_m dV/dt = -(V - E_L) + I_e + I_i`` and a spike adds its
weight w to I_e (w > 0) or I_i (w < 0); NEST's ``iaf_psc_exp_ps`` is
``dV/dt = -(V - E_L)/tau_m + (I_syn_ex + I_syn_in)/C_m`` and a spike adds its weight (pA) to
I_syn_ex (weight >= 0) or I_syn_in (weight < 0). With the same V (mV), I_eventsim =
I_NEST * tau_m / C_m, so each weight is given to NEST as ``w_pA = w * C_m / tau_m``. Reset and
refractoriness are the same in both: at a threshold crossing V is set to V_reset and held there
for t_ref, while the synaptic currents keep decaying and integrating input.

Each input channel is a ``spike_generator`` with ``precise_times=True`` (the times are kept off the
grid, as the precise neuron needs); synapses are created with ``nest.Connect`` on arrays
(one_to_one). Spikes are recorded by a ``spike_recorder`` and written to ``--out`` as ``times``
(ms, float64: NEST's step time minus the precise offset) and ``ids`` (0-based), sorted by time.
Everything NEST prints goes to stderr; stdout carries only the JSON line.
"""
from __future__ import annotations

import argparse
import sys
import time

from peer_io import HelpFormatter, emit  # noqa: E402  (first: stdout -> stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("network", help="the network description (.npz, see above)")
    ap.add_argument("--out", required=True, help="where to write the spikes (.npz with times, ids)")
    ap.add_argument("--neuron", default="iaf_psc_exp_ps", choices=["iaf_psc_exp_ps", "iaf_psc_exp"],
                    help="NEST neuron model (iaf_psc_exp: spike times on the grid, for contrast)")
    ap.add_argument("--threads", type=int, default=1, help="NEST threads (local_num_threads)")
    args = ap.parse_args(argv)

    import numpy as np
    import nest

    if hasattr(nest, "VerbosityLevel"):  # NEST >= 3.9
        nest.verbosity = nest.VerbosityLevel.WARNING
    else:  # pragma: no cover
        nest.set_verbosity("M_WARNING")

    f = dict(np.load(args.network))
    sc = {k: float(f[k]) for k in ("tau_m", "tau_syn_ex", "tau_syn_in", "C_m", "E_L", "V_th", "V_reset", "t_ref",
                                   "t_max", "resolution")}
    n, n_in = int(f["n"]), int(f["n_in"])
    to_pa = sc["C_m"] / sc["tau_m"]

    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.set(resolution=sc["resolution"], local_num_threads=args.threads, print_time=False)
    pop = nest.Create(args.neuron, n, params={
        "C_m": sc["C_m"], "tau_m": sc["tau_m"], "tau_syn_ex": sc["tau_syn_ex"], "tau_syn_in": sc["tau_syn_in"],
        "E_L": sc["E_L"], "V_th": sc["V_th"], "V_reset": sc["V_reset"], "t_ref": sc["t_ref"], "I_e": 0.0})
    pop.set(V_m=[float(v) for v in f["v0"]])
    g0 = pop[0].global_id
    if f["rec_pre"].size:
        nest.Connect(f["rec_pre"].astype(np.int64) + g0, f["rec_post"].astype(np.int64) + g0, "one_to_one",
                     {"synapse_model": "static_synapse", "weight": f["rec_weight"].astype(float) * to_pa,
                      "delay": f["rec_delay"].astype(float)})
    if n_in:
        gens = nest.Create("spike_generator", n_in, params={"precise_times": True})
        in_t, in_id = f["in_times"].astype(float), f["in_ids"].astype(np.int64)
        for k in range(n_in):
            tk = np.sort(in_t[in_id == k])
            gens[k].set(spike_times=[float(x) for x in tk])
        gg0 = gens[0].global_id
        nest.Connect(f["inp_pre"].astype(np.int64) + gg0, f["inp_post"].astype(np.int64) + g0, "one_to_one",
                     {"synapse_model": "static_synapse", "weight": f["inp_weight"].astype(float) * to_pa,
                      "delay": f["inp_delay"].astype(float)})
    rec = nest.Create("spike_recorder", params={"record_to": "memory"})
    nest.Connect(pop, rec)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nest.Simulate(sc["t_max"])
    wall_s = time.perf_counter() - t0

    ev = rec.get("events")
    times = np.asarray(ev["times"], dtype=np.float64)
    ids = np.asarray(ev["senders"], dtype=np.int64) - g0
    order = np.lexsort((ids, times))
    times, ids = times[order], ids[order]
    np.savez(args.out, times=times, ids=ids)
    emit({"simulator": "nest", "version": nest.__version__, "neuron": args.neuron, "threads": args.threads,
          "n_neurons": n, "n_inputs": n_in, "n_spikes": int(times.size), "t_max_ms": sc["t_max"],
          "resolution_ms": sc["resolution"], "setup_s": setup_s, "wall_s": wall_s, "out": args.out})
    return 0


if __name__ == "__main__":
    sys.exit(main())
