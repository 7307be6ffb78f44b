"""The CUBA benchmark network (Vogels & Abbott 2005; Brette et al. 2007, benchmark 2) for eventsim.

4000 LIF neurons (3200 excitatory, 800 inhibitory), every ordered pair connected with p = 0.02
(autapses allowed), tau_m = 20 ms, E_L = -49 mV, V_th = -50 mV, V_reset = -60 mV, refractory 5 ms,
V0 ~ U(-60, -50) mV, delay 0.1 ms. Voltages in mV are used directly as eventsim's dimensionless
voltage; a spike adds its weight (mV) to the synaptic current of its target. Two models
(``model``):

- ``"single"``: one synaptic current with tau_syn = 5 ms for every input, w_e = +1.62 mV,
  w_i = -18 mV (Brette et al. use tau_i = 10 ms with w_i = -9 mV: -18 mV x 5 ms is the same
  inhibitory charge). The comparison row of the older results.
- ``"true"``: Brette et al.'s model with two currents: excitatory inputs (positive weights) feed
  a current with tau_e = 5 ms, inhibitory ones (negative weights) a second current with
  tau_i = 10 ms; w_e = +1.62 mV, w_i = -9 mV (``LIFParams(tau_syn=5, tau_syn_inh=10)``).

Both models draw the same connectivity and initial voltages for a seed (only the inhibitory
weight and time constant differ). ``cuba_arrays`` gives the network as plain arrays, and
``python benchmarks/cuba_model.py --model true --seed 0 --out net.npz`` writes them to a file that
the peer scripts in ``benchmarks/peers/`` read (``--network net.npz``), so that NEST, Brian2 and
eventsim simulate the very same network.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict

import numpy as np
import scipy.sparse as sp

N_E, N_I = 3200, 800
P_CONN = 0.02
W_E = 1.62
DELAY = 0.1
TAU_M, V_TH, V_RESET, V_LEAK, T_REF = 20.0, -50.0, -60.0, -49.0, 5.0

#: per model: excitatory and inhibitory synaptic time constants (ms) and the inhibitory weight (mV)
MODELS: Dict[str, Dict[str, float]] = {
    "single": {"tau_e": 5.0, "tau_i": 5.0, "w_e": W_E, "w_i": -18.0},
    "true": {"tau_e": 5.0, "tau_i": 10.0, "w_e": W_E, "w_i": -9.0},
}
W_I = MODELS["single"]["w_i"]


def model_constants(model: str = "single") -> Dict[str, float]:
    """The neuron and synapse constants of ``model`` (``"single"`` or ``"true"``)."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    return {"tau_m": TAU_M, "v_th": V_TH, "v_reset": V_RESET, "v_leak": V_LEAK, "t_ref": T_REF,
            "delay": DELAY, **MODELS[model]}


def cuba_arrays(seed: int = 0, n_e: int = N_E, n_i: int = N_I, model: str = "single") -> Dict[str, np.ndarray]:
    """The network as arrays: ``pre``, ``post`` (global neuron ids, exc 0..n_e-1 then inh),
    ``weight`` (mV), ``delays`` (ms) per synapse, sorted by (pre, post); ``v0`` per neuron;
    ``n_e``, ``n_i``, ``seed`` and the model constants as 0-d arrays, ``model`` as a string."""
    c = model_constants(model)
    rng = np.random.default_rng(seed)
    sizes = {"exc": n_e, "inh": n_i}
    off = {"exc": 0, "inh": n_e}
    pre, post, w = [], [], []
    # the draw order (exc->exc, exc->inh, inh->exc, inh->inh, then V0) is the one eventsim's
    # benchmark has always used: the "single" network is the one of the older results
    for src, wv in (("exc", c["w_e"]), ("inh", c["w_i"])):
        for dst in ("exc", "inh"):
            m = sp.random(sizes[dst], sizes[src], density=P_CONN, format="coo", random_state=rng,
                          data_rvs=lambda k: np.ones(k))
            pre.append(m.col.astype(np.int64) + off[src])
            post.append(m.row.astype(np.int64) + off[dst])
            w.append(np.full(m.nnz, wv))
    v0 = np.concatenate([rng.uniform(V_RESET, V_TH, size=n) for n in sizes.values()])
    pre, post, w = np.concatenate(pre), np.concatenate(post), np.concatenate(w)
    order = np.lexsort((post, pre))
    out = {"pre": pre[order], "post": post[order], "weight": w[order],
           "delays": np.full(pre.size, DELAY), "v0": v0,
           "n_e": np.asarray(n_e), "n_i": np.asarray(n_i), "seed": np.asarray(seed), "model": np.asarray(model)}
    out.update({k: np.asarray(v) for k, v in c.items()})
    return out


def lif_params(model: str = "single"):
    """eventsim's LIFParams of ``model`` (``"true"`` needs ``LIFParams(tau_syn_inh=...)``)."""
    import eventsim as es

    c = model_constants(model)
    kw = dict(tau_mem=c["tau_m"], tau_syn=c["tau_e"], v_th=c["v_th"], v_reset=c["v_reset"], v_leak=c["v_leak"],
              t_ref=c["t_ref"])
    if model == "true":
        kw["tau_syn_inh"] = c["tau_i"]
    return es.LIFParams(**kw)


def cuba_network(seed: int = 0, n_e: int = N_E, n_i: int = N_I, model: str = "single"):
    """Return ``(net, v_init)`` for the CUBA benchmark (see the module docstring)."""
    import eventsim as es

    a = cuba_arrays(seed, n_e, n_i, model)
    params = lif_params(model)
    net = es.Network()
    net.add_population("exc", n_e, params)
    net.add_population("inh", n_i, params)
    n = n_e + n_i
    bounds = {"exc": (0, n_e), "inh": (n_e, n)}
    for src, (s0, s1) in bounds.items():
        for dst, (d0, d1) in bounds.items():
            k = (a["pre"] >= s0) & (a["pre"] < s1) & (a["post"] >= d0) & (a["post"] < d1)
            m = sp.csr_matrix((a["weight"][k], (a["post"][k] - d0, a["pre"][k] - s0)), shape=(d1 - d0, s1 - s0))
            net.connect(src, dst, m, delays=DELAY)
    v_init = {"exc": a["v0"][:n_e], "inh": a["v0"][n_e:]}
    return net, v_init


def write_network(path, seed: int = 0, model: str = "single", n_e: int = N_E, n_i: int = N_I) -> Path:
    """Write ``cuba_arrays(...)`` to ``path`` (.npz) for the peer scripts; return the path."""
    path = Path(path)
    np.savez(path, **cuba_arrays(seed, n_e, n_i, model))
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="single", choices=sorted(MODELS), help="single or two synaptic currents")
    ap.add_argument("--seed", type=int, default=0, help="connectivity and initial-voltage seed (default: 0)")
    ap.add_argument("--out", required=True, help="the .npz file to write")
    args = ap.parse_args(argv)
    p = write_network(args.out, args.seed, args.model)
    print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
