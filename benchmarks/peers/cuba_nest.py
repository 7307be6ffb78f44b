"""CUBA benchmark network in NEST 3.10; prints ONE JSON object on stdout.

    .venv-bench-sim/bin/python benchmarks/peers/cuba_nest.py [--model single|true]
                                 [--neuron iaf_psc_exp_ps|iaf_psc_exp] [--network net.npz]
                                 [--threads 1|2] [--t-ms 1000] [--seed 0]
    .venv-bench-sim/bin/python benchmarks/peers/cuba_nest.py --psp-check   # weight-conversion check

``--model single`` (default) is the one-current model below; ``--model true`` is Brette et al.'s
two-current CUBA: tau_syn_ex = 5 ms, tau_syn_in = 10 ms (NEST routes a spike by the sign of its
weight: w >= 0 to the excitatory current, w < 0 to the inhibitory one), w_i = -9 mV (-112.5 pA).
``--network net.npz`` (written by ``benchmarks/cuba_model.py --out``; ``benchmarks/cuba.py``
always passes one) makes NEST simulate exactly that network: the synapses (pre, post, weight in
mV, delay) and the initial voltages are read from the file and created with ``nest.Connect`` on
arrays ("one_to_one"), so NEST, Brian2 and eventsim run the same network. Without it, NEST draws
its own network (below). ``--model iaf_psc_exp_ps`` / ``--model iaf_psc_exp`` are still accepted
as the older spelling of ``--neuron``.

Model (the same in eventsim, Brian2 and NEST; see benchmarks/peers/README.md): 4000 LIF neurons
(3200 exc + 800 inh), every ordered pair connected with p = 0.02 (autapses allowed), tau_m = 20 ms,
E_L = -49 mV, V_th = -50 mV, V_reset = -60 mV, t_ref = 5 ms, V0 ~ U(-60, -50) mV, exponential
current synapses with tau_syn = 5 ms for both exc and inh, jumps of the synaptic current of
w_e = +1.62 mV and w_i = -18 mV (voltage units, as in Brian2's CUBA example), delay 0.1 ms,
resolution 0.1 ms. NEST's currents are in pA: w_pA = w_mV * C_m / tau_m with C_m = 250 pF
(1.62 mV -> 20.25 pA, -18 mV -> -225 pA); ``--psp-check`` verifies this against the closed-form PSP.

Timing: ``setup_s`` = ResetKernel + Create + Connect; ``prepare_s`` = nest.Prepare(), which
builds NEST's connection infrastructure (presynaptic tables); ``wall_s`` = nest.Run(t_ms) only
(nest.Simulate would be Prepare + Run + Cleanup); ``degree_s`` = reading the 320 k connections
back after the run to get each neuron's actual out-degree (slow in PyNEST; not part of any
figure; ``--out-degree mean`` skips it and uses spikes x mean out-degree instead). Spikes are recorded to memory by a spike_recorder during the run, as Brian2's
SpikeMonitor does. The network is drawn with NEST's own RNG (seeded with
seed + 1), which depends on the thread count: 1 and 2 threads give different networks.
Everything NEST prints goes to stderr; stdout carries only the JSON line.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from peer_io import HelpFormatter, emit, load_cuba_network  # noqa: E402  (first: stdout -> stderr)


N_E, N_I = 3200, 800
P_CONN = 0.02
TAU_M, TAU_SYN, C_M = 20.0, 5.0, 250.0  # ms, ms, pF
E_L, V_TH, V_RESET, T_REF = -49.0, -50.0, -60.0, 5.0
W_E_MV, W_I_MV = 1.62, -18.0
DELAY, DT = 0.1, 0.1


def mv_to_pa(w_mv: float) -> float:
    """Jump of I (in mV, Brian2 convention dv/dt = (I - (v - E_L))/tau_m) -> NEST current jump in pA."""
    return w_mv * C_M / TAU_M


def neuron_params(model: str) -> dict:
    return {"C_m": C_M, "tau_m": TAU_M, "t_ref": T_REF, "E_L": E_L, "V_th": V_TH, "V_reset": V_RESET,
            "tau_syn_ex": TAU_SYN, "tau_syn_in": TAU_SYN, "I_e": 0.0}


#: per CUBA model: excitatory and inhibitory synaptic time constants (ms) and weights (mV)
MODELS = {"single": {"tau_e": 5.0, "tau_i": 5.0, "w_e": W_E_MV, "w_i": W_I_MV},
          "true": {"tau_e": 5.0, "tau_i": 10.0, "w_e": W_E_MV, "w_i": -9.0}}


def reset(nest, threads: int, seed: int) -> None:
    nest.ResetKernel()
    nest.set(resolution=DT, local_num_threads=threads, rng_seed=seed + 1, print_time=False)


def psp_check(nest, model: str) -> dict:
    """One neuron kept below threshold, one input spike per weight; compare V(t) - E_L with the
    closed form of the voltage-unit model: w * tau_s/(tau_s - tau_m) * (exp(-t/tau_s) - exp(-t/tau_m))."""
    import numpy as np

    out = {"check": "psp", "simulator": "nest", "model": model, "results": []}
    for w_mv in (W_E_MV, W_I_MV):
        reset(nest, 1, 0)
        p = neuron_params(model)
        p.update(V_th=1e6, V_m=E_L)
        n = nest.Create(model, 1, params=p)
        sg = nest.Create("spike_generator", params={"spike_times": [10.0]})
        mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": DT})
        nest.Connect(sg, n, syn_spec={"weight": mv_to_pa(w_mv), "delay": DELAY})
        nest.Connect(mm, n)
        nest.Simulate(100.0)
        ev = mm.get("events")
        t = np.asarray(ev["times"], float)
        v = np.asarray(ev["V_m"], float) - E_L
        s = np.clip(t - (10.0 + DELAY), 0.0, None)
        ref = w_mv * TAU_SYN / (TAU_SYN - TAU_M) * (np.exp(-s / TAU_SYN) - np.exp(-s / TAU_M))
        k = int(np.argmax(np.abs(v)))
        out["results"].append({"w_mV": w_mv, "w_pA": mv_to_pa(w_mv), "peak_nest_mV": float(v[k]),
                               "t_peak_ms": float(t[k] - 10.0 - DELAY),
                               "peak_closed_form_mV": float(ref[np.argmax(np.abs(ref))]),
                               "max_abs_err_mV": float(np.max(np.abs(v - ref)))})
    out["ok"] = all(r["max_abs_err_mV"] < 1e-6 * max(1.0, abs(r["w_mV"])) for r in out["results"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--model", default="single", choices=["single", "true", "iaf_psc_exp_ps", "iaf_psc_exp"],
                    help="CUBA model: one synaptic current (single) or two, tau_e 5 / tau_i 10 ms (true); "
                         "a NEST model name is the older spelling of --neuron (with the single model)")
    ap.add_argument("--neuron", default="iaf_psc_exp_ps", choices=["iaf_psc_exp_ps", "iaf_psc_exp"],
                    help="NEST neuron model: precise spike times (_ps) or spike times on the grid")
    ap.add_argument("--network", default=None,
                    help="the network (.npz from benchmarks/cuba_model.py --out); default: NEST draws its own")
    ap.add_argument("--threads", type=int, default=1, help="NEST threads (local_num_threads)")
    ap.add_argument("--t-ms", type=float, default=1000.0, help="biological time simulated (ms)")
    ap.add_argument("--seed", type=int, default=0, help="seed (NEST's rng_seed is seed + 1)")
    ap.add_argument("--out-degree", default="actual", choices=["actual", "mean"],
                    help="n_syn_events from each spiking neuron's actual out-degree (reads all connections "
                         "back after the run: seconds in PyNEST; from the file with --network) or from the "
                         "mean out-degree")
    ap.add_argument("--omp-wait-policy", default="default", choices=["default", "active", "passive"],
                    help="set OMP_WAIT_POLICY for NEST's OpenMP threads ('default': inherit the environment). "
                         "With --threads 2 on a 2-core machine that is also running other work, the "
                         "spinning default can be >10x slower than passive")
    ap.add_argument("--psp-check", action="store_true", help="check the mV -> pA weight conversion and exit")
    args = ap.parse_args(argv)
    if args.model in ("iaf_psc_exp_ps", "iaf_psc_exp"):  # the older spelling
        args.neuron, args.model = args.model, "single"
    consts = MODELS[args.model]

    if args.omp_wait_policy != "default":  # read by libgomp when NEST is loaded
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    t_import = time.perf_counter()
    import numpy as np
    import nest

    if hasattr(nest, "VerbosityLevel"):  # NEST >= 3.9
        nest.verbosity = nest.VerbosityLevel.WARNING
    else:  # pragma: no cover
        nest.set_verbosity("M_WARNING")
    import_s = time.perf_counter() - t_import

    if args.psp_check:
        res = psp_check(nest, args.neuron)
        emit(res)
        return 0 if res["ok"] else 1

    netfile = None
    if args.network:
        netfile = load_cuba_network(args.network, args.model, "cuba_nest")
        if netfile is None:
            return 2
        n_e, n_i = int(netfile["n_e"]), int(netfile["n_i"])
    else:
        n_e, n_i = N_E, N_I
    n = n_e + n_i
    t0 = time.perf_counter()
    reset(nest, args.threads, args.seed)
    params = neuron_params(args.neuron)
    params.update(tau_syn_ex=consts["tau_e"], tau_syn_in=consts["tau_i"])
    if netfile is None:
        params["V_m"] = nest.random.uniform(V_RESET, V_TH)
    pop = nest.Create(args.neuron, n, params=params)
    gid0 = pop[0].global_id
    if netfile is None:
        exc, inh = pop[:n_e], pop[n_e:]
        conn = {"rule": "pairwise_bernoulli", "p": P_CONN, "allow_autapses": True}
        nest.Connect(exc, pop, conn, {"synapse_model": "static_synapse", "weight": mv_to_pa(consts["w_e"]),
                                      "delay": DELAY})
        nest.Connect(inh, pop, conn, {"synapse_model": "static_synapse", "weight": mv_to_pa(consts["w_i"]),
                                      "delay": DELAY})
    else:
        pop.set(V_m=[float(v) for v in netfile["v0"]])
        pre = netfile["pre"].astype(np.int64)
        nest.Connect(pre + gid0, netfile["post"].astype(np.int64) + gid0, "one_to_one",
                     {"synapse_model": "static_synapse", "weight": mv_to_pa(netfile["weight"]),
                      "delay": netfile["delays"].astype(float)})
    rec = nest.Create("spike_recorder", params={"record_to": "memory"})
    nest.Connect(pop, rec)
    setup_s = time.perf_counter() - t0

    # nest.Simulate = Prepare + Run + Cleanup. Prepare builds the connection infrastructure
    # (presynaptic tables; kernel timer time_communicate_prepare): a one-off cost, reported as
    # prepare_s and not included in wall_s.
    t0 = time.perf_counter()
    nest.Prepare()
    prepare_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nest.Run(args.t_ms)
    wall_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nest.Cleanup()
    cleanup_s = time.perf_counter() - t0

    ev = rec.get("events")
    senders = np.asarray(ev["senders"], dtype=np.int64)
    n_spikes = int(senders.size)
    n_spikes_exc = int(np.count_nonzero(senders - gid0 < n_e))
    # actual out-degree of every neuron (node ids are gid0..gid0+n-1)
    t0 = time.perf_counter()
    n_conn = int(nest.GetKernelStatus("num_connections"))  # neuron->neuron + neuron->recorder
    n_conn -= n  # the spike_recorder's input connections
    if netfile is not None:
        outdeg = np.bincount(netfile["pre"].astype(np.int64), minlength=n)
        n_syn = int(outdeg[senders - gid0].sum())
        syn_def = "sum over spikes of the actual out-degree of the spiking neuron"
    elif args.out_degree == "actual":
        src = np.asarray(nest.GetConnections(source=pop, target=pop).source, dtype=np.int64)
        outdeg = np.bincount(src - gid0, minlength=n)
        n_syn = int(outdeg[senders - gid0].sum())
        n_conn = int(src.size)
        syn_def = "sum over spikes of the actual out-degree of the spiking neuron"
    else:
        n_syn = int(round(n_spikes * n_conn / n))
        syn_def = "spikes x mean out-degree"
    degree_s = time.perf_counter() - t0
    ks = nest.GetKernelStatus()
    emit({
        "simulator": "nest", "version": nest.__version__, "mode": args.neuron, "model": args.model,
        "network": "file" if netfile is not None else "nest rng",
        "precise_spike_times": args.neuron.endswith("_ps"), "threads": args.threads, "seed": args.seed,
        "n_neurons": n, "n_synapses": n_conn, "mean_out_degree": n_conn / n,
        "t_bio_ms": args.t_ms, "dt_ms": DT,
        "wall_s": wall_s, "setup_s": setup_s, "prepare_s": prepare_s, "compile_s": 0.0,
        "cleanup_s": cleanup_s, "import_s": import_s, "degree_s": degree_s,
        "n_spikes": n_spikes, "n_spikes_exc": n_spikes_exc, "n_spikes_inh": n_spikes - n_spikes_exc,
        "n_syn_events": n_syn, "n_syn_events_def": syn_def,
        "events_per_s": n_syn / wall_s if wall_s > 0 else None,
        "rate_hz": n_spikes / n / (args.t_ms / 1000.0),
        "off_grid_spiking": bool(ks.get("off_grid_spiking", False)),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "w_e_pA": mv_to_pa(consts["w_e"]), "w_i_pA": mv_to_pa(consts["w_i"]),
        "tau_syn_ex_ms": consts["tau_e"], "tau_syn_in_ms": consts["tau_i"], "delay_ms": DELAY,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
