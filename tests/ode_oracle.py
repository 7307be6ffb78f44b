"""An independent oracle: the same LIF network integrated numerically by scipy's solve_ivp.

Between discrete events (input arrivals and delayed spike deliveries) the ODEs
``tau_m dV/dt = -(V - v_l) + I``, ``tau_s dI/dt = -I`` are integrated with DOP853 at tight
tolerances and a small max step; threshold crossings are located by solve_ivp's event detection.
It shares no code with eventsim's kernels.
"""
from __future__ import annotations

import heapq

import numpy as np
from scipy.integrate import solve_ivp


def ode_simulate(tau_m, tau_s, v_th, v_reset, v_leak, W, D, inputs, n_in, t_max, v0=None,
                 rtol=1e-12, atol=1e-12, max_step=0.05):
    """Simulate neurons 0..n-1 (arrays of per-neuron parameters) driven by input sources.

    ``W[post, pre]`` and ``D[post, pre]`` (ms) are over the ``n_in + n`` sources (inputs first);
    ``inputs`` is a list of (time, input_id). Returns a sorted list of (time, neuron).
    """
    n = len(tau_m)
    tau_m, tau_s = np.asarray(tau_m, float), np.asarray(tau_s, float)
    v_th, v_reset, v_leak = np.asarray(v_th, float), np.asarray(v_reset, float), np.asarray(v_leak, float)
    y = np.zeros(2 * n)
    if v0 is not None:
        y[:n] = v0
    pending = []  # (arrival time, seq, target, weight)
    seq = 0

    def emit(t, src):
        nonlocal seq
        for post in np.flatnonzero(W[:, src] != 0):
            heapq.heappush(pending, (t + D[post, src], seq, int(post), float(W[post, src])))
            seq += 1

    for t, i in inputs:
        emit(float(t), int(i))

    def rhs(t, y):
        V, I = y[:n], y[n:]
        return np.concatenate([(-(V - v_leak) + I) / tau_m, -I / tau_s])

    def make_event(k):
        def ev(t, y):
            return y[k] - v_th[k]
        ev.terminal = True
        ev.direction = 1
        return ev

    events = [make_event(k) for k in range(n)]
    t = 0.0
    spikes = []
    while t < t_max:
        while pending and pending[0][0] <= t:
            _, _, post, w = heapq.heappop(pending)
            y[n + post] += w
        t_next = min(pending[0][0], t_max) if pending else t_max
        if t_next <= t:
            continue
        sol = solve_ivp(rhs, (t, t_next), y, method="DOP853", rtol=rtol, atol=atol, max_step=max_step,
                        events=events)
        fired = [(te[0], k) for k, te in enumerate(sol.t_events) if len(te)]
        if fired and min(fired)[0] < t_next:
            te, k = min(fired)
            y = sol.y_events[k][0].copy()
            y[k] = v_reset[k]
            spikes.append((te, k))
            emit(te, n_in + k)
            t = te
        else:
            y = sol.y[:, -1].copy()
            t = t_next
    return spikes
