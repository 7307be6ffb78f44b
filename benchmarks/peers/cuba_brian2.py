"""CUBA benchmark network in Brian2; prints ONE JSON object on stdout.

    .venv-bench-sim/bin/python benchmarks/peers/cuba_brian2.py [--target standalone|cython|numpy]
                                 [--model single|true] [--network net.npz]
                                 [--t-ms 1000] [--seed 0] [--threads 1]
    .venv-bench-sim/bin/python benchmarks/peers/cuba_brian2.py --psp-check [--target numpy]

Model (the same in eventsim, Brian2 and NEST; see benchmarks/peers/README.md): Brian2's CUBA
example with a single synaptic current: 4000 LIF neurons (3200 exc + 800 inh), every ordered
pair connected with p = 0.02 (autapses allowed), ``dv/dt = (I - (v - E_L))/tau_m`` (unless
refractory), ``dI/dt = -I/tau_syn`` with tau_m = 20 ms, tau_syn = 5 ms, E_L = -49 mV,
threshold v > -50 mV, reset -60 mV, refractory 5 ms, V0 ~ U(-60, -50) mV, ``I += w`` with
w_e = +1.62 mV, w_i = -18 mV, delay 0.1 ms, dt = 0.1 ms, method 'exact'.

``--model true`` is Brette et al.'s two-current CUBA: ``dv/dt = (ge + gi - (v - E_L))/tau_m``,
``dge/dt = -ge/tau_e`` (5 ms), ``dgi/dt = -gi/tau_i`` (10 ms); the excitatory population's
synapses do ``ge += w_e`` (+1.62 mV), the inhibitory population's ``gi += w_i`` (-9 mV), i.e. the
input is routed by the sign of the weight. ``--network net.npz`` (written by
``benchmarks/cuba_model.py --out``; ``benchmarks/cuba.py`` always passes one) takes the synapses
and the initial voltages from the file (``connect(i=..., j=...)``), so that Brian2, NEST and
eventsim run the same network; without it Brian2 draws its own network with its RNG.

Timing:
- standalone: ``setup_s`` = building the objects in Python, ``codegen_s`` = the ``run()`` call
  (Python-side code generation), ``compile_s`` = ``device.build(compile=True, run=False)``
  (writes the C++ project into a fresh temporary directory and compiles it; deleted at exit),
  ``binary_s`` = the whole binary (synapse creation, initial values, the run loop, writing
  results), ``wall_s`` = the run loop only, as measured by Brian2 inside the binary.
- cython / numpy: ``setup_s`` = building the objects (including ``connect``), ``compile_s`` =
  ``run(0 ms)`` (code generation and Cython compilation, or loading from Brian2's Cython cache
  when warm), ``wall_s`` = the following ``run(t_ms)``.
Everything Brian2 prints goes to stderr; stdout carries only the JSON line.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time

from peer_io import HelpFormatter, emit, load_cuba_network  # noqa: E402  (first: stdout -> stderr)


N_E, N_I = 3200, 800
P_CONN = 0.02
W_E_MV, W_I_MV = 1.62, -18.0
EQS = """
dv/dt = (I - (v - El)) / taum : volt (unless refractory)
dI/dt = -I / taus : volt
"""
EQS_TRUE = """
dv/dt = (ge + gi - (v - El)) / taum : volt (unless refractory)
dge/dt = -ge / taue : volt
dgi/dt = -gi / taui : volt
"""
#: per CUBA model: excitatory and inhibitory synaptic time constants (ms) and weights (mV)
MODELS = {"single": {"tau_e": 5.0, "tau_i": 5.0, "w_e": W_E_MV, "w_i": W_I_MV},
          "true": {"tau_e": 5.0, "tau_i": 10.0, "w_e": W_E_MV, "w_i": -9.0}}


def psp_check(b2) -> dict:
    """One neuron kept below threshold, one input spike per weight; compare with the closed form."""
    import numpy as np

    out = {"check": "psp", "simulator": "brian2", "results": []}
    ms, mV = b2.ms, b2.mV
    for w_mv in (W_E_MV, W_I_MV):
        b2.start_scope()
        b2.defaultclock.dt = 0.1 * ms
        ns = dict(taum=20 * ms, taus=5 * ms, El=-49 * mV)
        g = b2.NeuronGroup(1, EQS, threshold="v > 1000*mV", reset="v = -60*mV", refractory=5 * ms,
                           method="exact", namespace=ns)
        g.v = -49 * mV
        src = b2.SpikeGeneratorGroup(1, [0], [10.0] * ms)
        s = b2.Synapses(src, g, on_pre="I += w", delay=0.1 * ms, namespace={"w": w_mv * mV})
        s.connect()
        m = b2.StateMonitor(g, "v", record=0)
        b2.run(100 * ms)
        tt = np.asarray(m.t / ms)
        dv = np.asarray(m.v[0] / mV) + 49.0
        # Brian2's schedule: a spike stamped t (here the generator's 10.0 ms) is emitted after the
        # state update of step t, i.e. it belongs to the state at t + dt, and `I += w` is applied
        # after the state update of step t + delay: the jump acts on the state from
        # t + delay + dt = 10.2 ms on. (NEST stamps a spike at the end of its step, so there the
        # same input acts from 10.1 ms; the latency from threshold crossing to effect is the same.)
        onset = 10.0 + 0.1 + 0.1
        x = np.clip(tt - onset, 0.0, None)
        ref = w_mv * 5.0 / (5.0 - 20.0) * (np.exp(-x / 5.0) - np.exp(-x / 20.0))
        k = int(np.argmax(np.abs(dv)))
        out["results"].append({"w_mV": w_mv, "peak_brian2_mV": float(dv[k]), "t_peak_ms": float(tt[k] - onset),
                               "peak_closed_form_mV": float(ref[np.argmax(np.abs(ref))]),
                               "max_abs_err_mV": float(np.max(np.abs(dv - ref)))})
    out["ok"] = all(r["max_abs_err_mV"] < 1e-6 * max(1.0, abs(r["w_mV"])) for r in out["results"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--target", default="standalone", choices=["standalone", "cython", "numpy"],
                    help="Brian2 code-generation target (standalone: C++ project built and run as a binary)")
    ap.add_argument("--model", default="single", choices=sorted(MODELS),
                    help="CUBA model: one synaptic current (single) or two, tau_e 5 / tau_i 10 ms (true)")
    ap.add_argument("--network", default=None,
                    help="the network (.npz from benchmarks/cuba_model.py --out); default: Brian2 draws its own")
    ap.add_argument("--t-ms", type=float, default=1000.0, help="biological time simulated (ms)")
    ap.add_argument("--seed", type=int, default=0, help="seed of Brian2's RNG (network and initial voltages)")
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads (standalone only)")
    ap.add_argument("--keep-build", action="store_true", help="standalone: keep the temporary build directory")
    ap.add_argument("--psp-check", action="store_true", help="check the synapse model against the closed form and exit")
    args = ap.parse_args(argv)
    if args.threads != 1 and args.target != "standalone":
        ap.error("--threads > 1 is only supported with --target standalone")

    t_import = time.perf_counter()
    import numpy as np
    import brian2 as b2
    from brian2 import ms, mV
    import_s = time.perf_counter() - t_import

    b2.prefs.codegen.target = "numpy" if args.target == "standalone" else args.target
    if args.psp_check:
        res = psp_check(b2)
        emit(res)
        return 0 if res["ok"] else 1

    build_dir = None
    if args.target == "standalone":
        build_dir = tempfile.mkdtemp(prefix="cuba_brian2_standalone_")
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = args.threads if args.threads > 1 else 0
    try:
        c = MODELS[args.model]
        netfile = None
        if args.network:
            netfile = load_cuba_network(args.network, args.model, "cuba_brian2")
            if netfile is None:
                return 2
            n_e, n_i = int(netfile["n_e"]), int(netfile["n_i"])
        else:
            n_e, n_i = N_E, N_I
        n = n_e + n_i
        t0 = time.perf_counter()
        b2.seed(args.seed)  # after set_device, so that it seeds the standalone binary too
        b2.defaultclock.dt = 0.1 * ms
        ns = dict(taum=20 * ms, taus=c["tau_e"] * ms, taue=c["tau_e"] * ms, taui=c["tau_i"] * ms, El=-49 * mV,
                  Vt=-50 * mV, Vr=-60 * mV, we=c["w_e"] * mV, wi=c["w_i"] * mV)
        true = args.model == "true"
        P = b2.NeuronGroup(n, EQS_TRUE if true else EQS, threshold="v > Vt", reset="v = Vr", refractory=5 * ms,
                           method="exact", namespace=ns, name="P")
        if netfile is None:
            P.v = "Vr + rand() * (Vt - Vr)"
        else:
            P.v = netfile["v0"] * mV
        if true:
            P.ge = 0 * mV
            P.gi = 0 * mV
        else:
            P.I = 0 * mV
        Pe, Pi = P[:n_e], P[n_e:]
        Ce = b2.Synapses(Pe, P, on_pre="ge += we" if true else "I += we", delay=0.1 * ms, namespace=ns, name="Ce")
        Ci = b2.Synapses(Pi, P, on_pre="gi += wi" if true else "I += wi", delay=0.1 * ms, namespace=ns, name="Ci")
        if netfile is None:
            Ce.connect(p=P_CONN)  # no condition: autapses allowed
            Ci.connect(p=P_CONN)
        else:
            pre, post, w = netfile["pre"], netfile["post"], netfile["weight"]
            if not (np.all(netfile["delays"] == 0.1) and np.all(w[pre < n_e] == c["w_e"])
                    and np.all(w[pre >= n_e] == c["w_i"])):
                print("cuba_brian2: the network file's weights/delays are not the model's", file=sys.stderr)
                return 2
            ke = pre < n_e
            Ce.connect(i=pre[ke].astype(np.int32), j=post[ke].astype(np.int32))
            Ci.connect(i=(pre[~ke] - n_e).astype(np.int32), j=post[~ke].astype(np.int32))
        mon = b2.SpikeMonitor(P, name="spikes")
        net = b2.Network(P, Ce, Ci, mon)
        setup_s = time.perf_counter() - t0

        out = {"simulator": "brian2", "version": b2.__version__, "mode": args.target, "model": args.model,
               "network": "file" if netfile is not None else "brian2 rng",
               "threads": args.threads, "seed": args.seed}
        if args.target == "standalone":
            t0 = time.perf_counter()
            net.run(args.t_ms * ms)
            codegen_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            b2.device.build(directory=build_dir, compile=True, run=False, with_output=False, clean=True)
            compile_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            b2.device.run(directory=build_dir, with_output=False, run_args=[])
            binary_s = time.perf_counter() - t0
            wall_s = float(b2.device._last_run_time)
            out.update(codegen_s=codegen_s, compile_s=compile_s, binary_s=binary_s,
                       wall_s_def="run loop inside the binary (Brian2's own timer)")
        else:
            t0 = time.perf_counter()
            net.run(0 * ms)
            compile_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            net.run(args.t_ms * ms)
            wall_s = time.perf_counter() - t0
            out.update(compile_s=compile_s, wall_s_def="run(t_ms) after a run(0 ms) that generates/compiles the code")

        spk = np.asarray(mon.i[:], dtype=np.int64)
        outdeg = (np.bincount(np.asarray(Ce.i[:], dtype=np.int64), minlength=n)
                  + np.bincount(np.asarray(Ci.i[:], dtype=np.int64) + n_e, minlength=n))
        n_syn = int(outdeg[spk].sum())
        n_syn_total = int(len(Ce) + len(Ci))
        out.update({
            "n_neurons": n, "n_synapses": n_syn_total, "mean_out_degree": n_syn_total / n,
            "t_bio_ms": args.t_ms, "dt_ms": 0.1, "wall_s": wall_s, "setup_s": setup_s, "import_s": import_s,
            "n_spikes": int(spk.size), "n_spikes_exc": int(np.count_nonzero(spk < n_e)),
            "n_spikes_inh": int(np.count_nonzero(spk >= n_e)), "n_syn_events": n_syn,
            "n_syn_events_def": "sum over spikes of the actual out-degree of the spiking neuron",
            "events_per_s": n_syn / wall_s if wall_s > 0 else None,
            "rate_hz": spk.size / n / (args.t_ms / 1000.0),
            "tau_syn_ex_ms": c["tau_e"], "tau_syn_in_ms": c["tau_i"], "w_e_mV": c["w_e"], "w_i_mV": c["w_i"],
            "delay_ms": 0.1,
        })
        emit(out)
    finally:
        if build_dir and not args.keep_build:
            shutil.rmtree(build_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
