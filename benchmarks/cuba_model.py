"""The CUBA benchmark network (Vogels & Abbott 2005; Brette et al. 2007, benchmark 2) for eventsim.

4000 LIF neurons (3200 excitatory, 800 inhibitory), every ordered pair connected with p = 0.02
(autapses allowed), tau_m = 20 ms, E_L = -49 mV, V_th = -50 mV, V_reset = -60 mV, refractory 5 ms,
V0 ~ U(-60, -50) mV, current jumps w_e = +1.62 mV, w_i = -18 mV with one synaptic time constant
tau_syn = 5 ms (Brette et al. use tau_i = 10 ms with w_i = -9 mV: the same inhibitory charge),
delay 0.1 ms. Voltages in mV are used directly as eventsim's dimensionless voltage.
The peer scripts in ``benchmarks/peers/`` build the same model in NEST and Brian2.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import eventsim as es

N_E, N_I = 3200, 800
P_CONN = 0.02
W_E, W_I = 1.62, -18.0
DELAY = 0.1


def cuba_network(seed: int = 0, n_e: int = N_E, n_i: int = N_I):
    """Return ``(net, v_init)`` for the CUBA benchmark (see the module docstring)."""
    rng = np.random.default_rng(seed)
    params = es.LIFParams(tau_mem=20.0, tau_syn=5.0, v_th=-50.0, v_reset=-60.0, v_leak=-49.0, t_ref=5.0)
    net = es.Network()
    net.add_population("exc", n_e, params)
    net.add_population("inh", n_i, params)
    sizes = {"exc": n_e, "inh": n_i}
    for src, w in (("exc", W_E), ("inh", W_I)):
        for dst in ("exc", "inh"):
            m = sp.random(sizes[dst], sizes[src], density=P_CONN, format="csr", random_state=rng,
                          data_rvs=lambda k: np.full(k, w))
            net.connect(src, dst, m, delays=DELAY)
    v_init = {k: rng.uniform(-60.0, -50.0, size=n) for k, n in sizes.items()}
    return net, v_init
