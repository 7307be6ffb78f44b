"""EventProp adjoint pass (Numba): backwards over the recorded events of each sample.

Sensitivities per neuron: a_V = dL/dV(t), a_I = dL/dI(t). Between events, going back by Delta ms
(with a constant source g = dL/dQ for a voltage-integral loss on a read-out, else 0)::

    a_V(Delta) = a_V0 e^{-Delta/tau_m} + g tau_m (1 - e^{-Delta/tau_m})
    a_I(Delta) = a_I0 e^{-Delta/tau_s} + (a_V0 - g tau_m) f(Delta) + g tau_s (1 - e^{-Delta/tau_s})

with f the forward PSP kernel. Events, in decreasing time; at equal times arrivals (reads) come
before spikes (jumps), which come before injections:

- arrival of synapse s (weight w) at target m at time t_a: dL/dw_s += a_I,m(t_a), and the spike k
  that caused it accumulates  acc_k += w (a_V,m / tau_m - a_I,m / tau_s)   (a shift of the arrival);
  if a max-voltage read-out peaks exactly at this arrival (a kink), acc_k -= dL/dVmax * dV/dt^-;
- spike k of neuron n (I_k = I at the spike):  a_V,n <- (Vdot+ a_V,n + acc_k - G_k) / Vdot-
  with tau_m Vdot- = I_k - (v_th - v_l), tau_m Vdot+ = I_k - (v_reset - v_l), G_k = dL/dt_k direct;
- injection: a_V,m += value (max-voltage read-out at its maximum; phantom spikes at t_max).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .lif import decay_factors


@njit(cache=True)
def _backward_sample(b, e0, e1, ev_t, ev_type, ev_a, ev_b, ev_val, sp_ids, sp_I, G, s0, n_sp,
                     pop_of, tau_m_p, tau_s_p, v_th_p, v_r_p, v_l_p, track_p,
                     g_start, g_end, tgt, w, gint, tmax, imax, vmax, gmax, t_max, grad):
    N = pop_of.size
    n_pop = tau_m_p.size
    kp = np.empty(n_pop)
    cp = np.empty(n_pop)
    eqp = np.empty(n_pop, dtype=np.bool_)
    for p in range(n_pop):
        if tau_m_p[p] == tau_s_p[p]:
            kp[p] = 0.0
            cp[p] = 0.0
            eqp[p] = True
        else:
            kp[p] = tau_s_p[p] / (tau_m_p[p] - tau_s_p[p])
            cp[p] = (tau_s_p[p] - tau_m_p[p]) / (tau_m_p[p] * tau_s_p[p])
            eqp[p] = False
    aV = np.zeros(N)
    aI = np.zeros(N)
    tl = np.full(N, t_max)
    acc = np.zeros(n_sp)
    for e in range(e0, e1):
        t = ev_t[e]
        typ = ev_type[e]
        if typ == 0:
            ai = ev_a[e]
            g = ev_b[e]
            for kk in range(g_start[g], g_end[g]):
                m = tgt[kk]
                p = pop_of[m]
                dt = tl[m] - t
                if dt > 0.0:
                    em, es, f = decay_factors(dt, tau_m_p[p], tau_s_p[p], kp[p], cp[p], eqp[p])
                    src = gint[m]
                    aV0 = aV[m]
                    tmm = tau_m_p[p]
                    aV[m] = aV0 * em + src * tmm * (1.0 - em)
                    aI[m] = aI[m] * es + (aV0 - src * tmm) * f + src * tau_s_p[p] * (1.0 - es)
                    tl[m] = t
                grad[kk] += aI[m]
                if ai >= 0:
                    acc[ai - s0] += w[kk] * (aV[m] / tau_m_p[p] - aI[m] / tau_s_p[p])
                    if track_p[p] and gmax[m] != 0.0 and tmax[m] == t:
                        vdm = (-(vmax[m] - v_l_p[p]) + imax[m]) / tau_m_p[p]
                        acc[ai - s0] -= gmax[m] * vdm
        else:
            m = ev_a[e]
            p = pop_of[m]
            dt = tl[m] - t
            if dt > 0.0:
                em, es, f = decay_factors(dt, tau_m_p[p], tau_s_p[p], kp[p], cp[p], eqp[p])
                src = gint[m]
                aV0 = aV[m]
                tmm = tau_m_p[p]
                aV[m] = aV0 * em + src * tmm * (1.0 - em)
                aI[m] = aI[m] * es + (aV0 - src * tmm) * f + src * tau_s_p[p] * (1.0 - es)
                tl[m] = t
            if typ == 1:
                k = ev_b[e]
                Ik = sp_I[k]
                vdm = (Ik - (v_th_p[p] - v_l_p[p])) / tau_m_p[p]
                vdp = (Ik - (v_r_p[p] - v_l_p[p])) / tau_m_p[p]
                aV[m] = (vdp * aV[m] + acc[k - s0] - G[k]) / vdm
            else:
                aV[m] += ev_val[e]


@njit(cache=True, parallel=True)
def backward_batch(ev_off, ev_t, ev_type, ev_a, ev_b, ev_val, sp_off, sp_ids, sp_I, G,
                   pop_of, tau_m_p, tau_s_p, v_th_p, v_r_p, v_l_p, track_p,
                   g_start, g_end, tgt, w, gint, tmax, imax, vmax, gmax, t_max, grad):
    """Adjoint pass for every sample in parallel; ``grad`` (n_samples, n_synapses) gets dL/dw per sample.

    Events of sample b are ``ev_*[ev_off[b]:ev_off[b+1]]``, already sorted (time descending, then
    type: 0 arrival group, 1 spike, 2 injection). For arrivals ``ev_a`` is the global index of the
    causing neuron spike (-1 for an input spike) and ``ev_b`` the delay group; for spikes ``ev_a``
    is the neuron and ``ev_b`` the spike index; for injections ``ev_a`` is the neuron and ``ev_val``
    the value added to a_V.
    """
    for b in prange(ev_off.size - 1):
        s0 = sp_off[b]
        _backward_sample(b, ev_off[b], ev_off[b + 1], ev_t, ev_type, ev_a, ev_b, ev_val, sp_ids, sp_I, G,
                         s0, sp_off[b + 1] - s0, pop_of, tau_m_p, tau_s_p, v_th_p, v_r_p, v_l_p, track_p,
                         g_start, g_end, tgt, w, gint[b], tmax[b], imax[b], vmax[b], gmax[b], t_max, grad[b])
