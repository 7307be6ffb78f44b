"""An independent oracle: the same LIF network integrated numerically by scipy's solve_ivp.

Between discrete events (input arrivals, delayed spike deliveries, ends of refractory periods) the
ODEs ``tau_m dV/dt = -(V - v_l) + I``, ``tau_s dI/dt = -I`` are integrated with DOP853 at tight
tolerances; threshold crossings are located by solve_ivp's event detection. It shares no code with
eventsim's kernels.

Event detection only compares the sign of V - v_th at the ends of each integration step, so a
crossing that goes above threshold and back below within one step would be missed. The oracle
therefore also stops at every maximum of V (a terminal event on dV/dt): V has at most one extremum
between two discrete events of its neuron (an input, a reset, the end of a refractory period), so
that sign change of dV/dt cannot be stepped over, and whenever a segment ends with V >= v_th and no
crossing was reported, the crossing is found by ``brentq`` on the solver's dense output. With this,
``max_step`` only limits the step size and is not needed for correctness (pass ``np.inf``).
"""
from __future__ import annotations

import heapq

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq


def ode_simulate(tau_m, tau_s, v_th, v_reset, v_leak, W, D, inputs, n_in, t_max, v0=None,
                 rtol=1e-12, atol=1e-12, max_step=0.05, t_ref=None, tau_i=None):
    """Simulate neurons 0..n-1 (arrays of per-neuron parameters) driven by input sources.

    ``W[post, pre]`` and ``D[post, pre]`` (ms) are over the ``n_in + n`` sources (inputs first);
    ``inputs`` is a list of (time ms, input_id); ``v0`` the initial V per neuron (default 0);
    ``t_ref`` the refractory period per neuron (ms, default 0: V is held at v_reset for t_ref
    after a spike while I evolves). ``tau_i``: per neuron, NaN for one synaptic current, else the
    time constant (ms) of a second current that receives the negative weights
    (``tau_m dV/dt = -(V - v_l) + I_e + I_i``). Returns a sorted list of (time ms, neuron).

    With two currents V' is a sum of three exponentials, so V still has at most two extrema
    between discrete events and at most one of them is a maximum: the stop at the maximum below
    keeps the oracle complete.
    """
    n = len(tau_m)
    tau_m, tau_s = np.asarray(tau_m, float), np.asarray(tau_s, float)
    v_th, v_reset, v_leak = np.asarray(v_th, float), np.asarray(v_reset, float), np.asarray(v_leak, float)
    t_ref = np.zeros(n) if t_ref is None else np.asarray(t_ref, float)
    tau_i = np.full(n, np.nan) if tau_i is None else np.asarray(tau_i, float)
    dual = np.isfinite(tau_i)
    tau_i_or_1 = np.where(dual, tau_i, 1.0)
    y = np.zeros(3 * n)  # V, I (the only or the excitatory current), I_i
    if v0 is not None:
        y[:n] = v0
    pending = []  # (arrival time, seq, target, weight)
    seq = 0
    ref_end = np.full(n, -np.inf)
    peaked = np.zeros(n, dtype=bool)  # the one maximum since the neuron's last discrete event is behind

    def emit(t, src):
        nonlocal seq
        for post in np.flatnonzero(W[:, src] != 0):
            heapq.heappush(pending, (t + D[post, src], seq, int(post), float(W[post, src])))
            seq += 1

    for t, i in inputs:
        emit(float(t), int(i))

    def make_rhs(frozen):
        def rhs(t, y):
            V, I, Ii = y[:n], y[n:2 * n], y[2 * n:]
            dV = (-(V - v_leak) + I + Ii) / tau_m
            dV[frozen] = 0.0
            return np.concatenate([dV, -I / tau_s, -Ii / tau_i_or_1])
        return rhs

    def make_threshold_event(k):
        def ev(t, y):
            return y[k] - v_th[k]
        ev.terminal = True
        ev.direction = 1
        return ev

    def make_peak_event(k):
        def ev(t, y):
            return (-(y[k] - v_leak[k]) + y[n + k] + y[2 * n + k]) / tau_m[k]
        ev.terminal = True
        ev.direction = -1
        return ev

    t = 0.0
    spikes = []
    while t < t_max:
        while pending and pending[0][0] <= t:
            _, _, post, w = heapq.heappop(pending)
            y[(2 * n if dual[post] and w < 0 else n) + post] += w
            peaked[post] = False
        for k in np.flatnonzero(ref_end == t):
            peaked[k] = False  # free evolution restarts from v_reset
        frozen = ref_end > t
        t_next = min(pending[0][0], t_max) if pending else t_max
        later_ref = ref_end[ref_end > t]
        if later_ref.size:
            t_next = min(t_next, later_ref.min())
        if t_next <= t:
            continue
        watch = [k for k in range(n) if np.isfinite(v_th[k]) and not frozen[k]]
        # a crossing needs dV/dt > 0 at V = v_th, i.e. I > v_th - v_l; without input each current's
        # |I| only decays, so a neuron with v_th > v_l whose positive currents sum to at most
        # v_th - v_l now cannot cross in this segment
        i_up = np.maximum(y[n:2 * n], 0.0) + np.maximum(y[2 * n:], 0.0)
        peak_watch = [k for k in watch if not peaked[k] and (v_leak[k] >= v_th[k] or i_up[k] > v_th[k] - v_leak[k])]
        events = [make_threshold_event(k) for k in watch] + [make_peak_event(k) for k in peak_watch]
        sol = solve_ivp(make_rhs(frozen), (t, t_next), y, method="DOP853", rtol=rtol, atol=atol,
                        max_step=max_step, events=events or None, dense_output=True)
        t_end = float(sol.t[-1])
        y_end = sol.y[:, -1]
        n_w = len(watch)
        fired = []
        if events:
            fired = [(float(sol.t_events[q][0]), watch[q]) for q in range(n_w) if len(sol.t_events[q])]
            for q, k in enumerate(peak_watch):
                if len(sol.t_events[n_w + q]) and sol.t_events[n_w + q][0] <= t_end:
                    peaked[k] = True
        reported = {k for _, k in fired}
        for k in watch:
            if k not in reported and y_end[k] >= v_th[k]:
                # above threshold at the end without a reported crossing: it happened inside a step
                tc = brentq(lambda s: sol.sol(s)[k] - v_th[k], t, t_end, xtol=1e-15, rtol=4 * np.finfo(float).eps)
                fired.append((float(tc), k))
        if fired:
            te = min(fired)[0]
            y = sol.sol(te).copy() if te < t_end else y_end.copy()
            # neurons that reach threshold at the same instant all fire (identical neurons do, to
            # the last bit); an input they send each other at that instant cannot undo it, as V
            # is continuous
            tied = [k for tk, k in fired if tk <= te + 8 * np.spacing(te)]
            for k in tied:
                y[k] = v_reset[k]
                spikes.append((te, k))
                peaked[k] = False
                if t_ref[k] > 0:
                    ref_end[k] = te + t_ref[k]
            for k in tied:
                emit(te, n_in + k)
            t = te
        else:
            y = y_end.copy()
            t = t_end
        y[:n][ref_end > t] = v_reset[ref_end > t]
    return sorted(spikes)
