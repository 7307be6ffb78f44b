"""EventProp adjoint pass (Numba): backwards in time over the recorded events of each sample.

Sensitivities per neuron (our convention, see docs/eventprop.md): a_V(t) = dL/dV(t) (loss per unit
voltage), a_I(t) = dL/dI(t). Going back by Delta ms from (a_V0, a_I0) with no event in between and
a constant source g = dL/dQ (Q = integral of V over [0, t_max]; g = 0 unless a voltage-integral loss
reads the neuron), from  da_V/dDelta = -a_V/tau_m + g,  da_I/dDelta = a_V/tau_m - a_I/tau_s::

    a_V(Delta) = g tau_m + (a_V0 - g tau_m) e^{-Delta/tau_m}
    a_I(Delta) = g tau_s + (a_I0 - g tau_s) e^{-Delta/tau_s} + (a_V0 - g tau_m) f(Delta)

with f the forward PSP kernel ``tau_s/(tau_m - tau_s) (e^{-Delta/tau_m} - e^{-Delta/tau_s})``
(``(Delta/tau_m) e^{-Delta/tau_m}`` if tau_m == tau_s; ``kernels.lif.decay_factors``).

Two synaptic currents (``NeuronTable.dual``): a_Ii = dL/dI_i follows the a_I equation with tau_i,
and an arrival of a negative weight reads (a_Ii, tau_i) where the others read (a_I, tau_s). A weight
of exactly 0 counts as excitatory, as in the forward pass. The spike jump uses the total current.

Events, in decreasing time; at equal times all arrival reads come first, then spike jumps, then
injections (so coincident spikes see each other's "+" values):

- arrival at time t_a of synapse s (weight w, delay d) from a source spike at target m:
  ``dL/dw_s += a_I,m``;  the arrival-time derivative ``r_s = -w (a_V,m/tau_m - a_I,m/tau_s)``
  (plus ``dL/dVmax_m * Vdot-_m(t_a)`` if a max-voltage read-out m peaks exactly at t_a: a kink);
  ``dL/dd_s += r_s``; if the source is a neuron spike k, ``acc_k += r_s``; if it is an input spike
  k, ``dL/dt_k += r_s`` (the arrival time is t_k + d, so it moves with t_k as with d).
- spike k of neuron n at t_k with current I_k:  ``a_V,n <- (Vdot+ a_V,n - acc_k - G_k)/Vdot- + kick_k``
  where ``tau_m Vdot- = I_k - (v_th - v_leak)``, ``tau_m Vdot+ = I_k - (v_reset - v_leak)``,
  G_k = direct dL/dt_k, kick_k = heuristic regulariser kick (0 for exact losses). a_I continuous.
- injection: ``a_V,m += value`` (max-voltage read-out at its maximum; phantom spikes at t_max).

Arrivals are replayed from the recorded spikes (and input spikes) with a max-heap holding one entry
per source spike: its latest not yet replayed delay group (fan-out rows are sorted by delay, groups
are contiguous); after a group is replayed the source's next earlier group is pushed. Memory is
O(spikes + neurons) per sample; each synapse event costs O(1) plus O(log spikes) per delay group.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .lif import decay_factors, pop_consts
from .tables import AdjointSources

NEG_INF = -np.inf


@njit(cache=True)
def _heap_push(hk, hq, hg, size, key, q, g):
    """Push (key, q, g) on a max-heap of arrays; returns the new size."""
    i = size
    hk[i] = key
    hq[i] = q
    hg[i] = g
    while i > 0:
        p = (i - 1) >> 1
        if hk[i] > hk[p]:
            hk[i], hk[p] = hk[p], hk[i]
            hq[i], hq[p] = hq[p], hq[i]
            hg[i], hg[p] = hg[p], hg[i]
            i = p
        else:
            break
    return size + 1


@njit(cache=True)
def _heap_pop(hk, hq, hg, size):
    """Remove the root (the caller read it); returns the new size."""
    size -= 1
    if size == 0:
        return 0
    hk[0] = hk[size]
    hq[0] = hq[size]
    hg[0] = hg[size]
    i = 0
    while True:
        l = 2 * i + 1
        if l >= size:
            break
        m = l
        r = l + 1
        if r < size and hk[r] > hk[l]:
            m = r
        if hk[m] > hk[i]:
            hk[i], hk[m] = hk[m], hk[i]
            hq[i], hq[m] = hq[m], hq[i]
            hg[i], hg[m] = hg[m], hg[i]
            i = m
        else:
            break
    return size


@njit(cache=True, inline="always")
def _back_to(aV, aI, tl, m, t, tau_m, tau_s, k, c, equal, g):
    """Propagate neuron m's adjoint back from tl[m] to t <= tl[m] (source g = dL/dQ)."""
    dt = tl[m] - t
    if dt > 0.0:
        aV0 = aV[m]
        if g != 0.0:
            em, es, f = decay_factors(dt, tau_m, tau_s, k, c, equal)
            aV[m] = g * tau_m + (aV0 - g * tau_m) * em
            aI[m] = g * tau_s + (aI[m] - g * tau_s) * es + (aV0 - g * tau_m) * f
        elif aV0 != 0.0 or aI[m] != 0.0:  # an adjoint that is still exactly zero stays zero
            em, es, f = decay_factors(dt, tau_m, tau_s, k, c, equal)
            aV[m] = aV0 * em
            aI[m] = aI[m] * es + aV0 * f
        tl[m] = t


@njit(cache=True, inline="always")
def _back_to_inh(aV, aIi, tl, m, t, tau_m, tau_i, ki, ci, eqi, g):
    """The inhibitory current's adjoint a_Ii of a neuron with two currents, back from tl[m] to t; call it
    before ``_back_to`` (which moves a_V and tl[m]): a_Ii follows the same equation as a_I, with tau_i."""
    dt = tl[m] - t
    if dt > 0.0:
        aV0 = aV[m]
        if g != 0.0:
            _, ei, fi = decay_factors(dt, tau_m, tau_i, ki, ci, eqi)
            aIi[m] = g * tau_i + (aIi[m] - g * tau_i) * ei + (aV0 - g * tau_m) * fi
        elif aV0 != 0.0 or aIi[m] != 0.0:
            _, ei, fi = decay_factors(dt, tau_m, tau_i, ki, ci, eqi)
            aIi[m] = aIi[m] * ei + aV0 * fi


@njit(cache=True)
def backward_sample(sp_t, sp_id, sp_I, G, kick, in_t, in_id, nt, groups, syn, src, t_max, want_d, grad, dgrad,
                    want_in, in_grad):
    """Adjoint pass of one sample; adds dL/dw (and dL/dd if ``want_d``) per global synapse to ``grad``/``dgrad``,
    and, if ``want_in``, dL/dt of each input spike (the sum of its arrivals' r_s) to ``in_grad`` (aligned
    with ``in_t``).

    Spikes ``sp_t, sp_id, sp_I`` (time-sorted, with G and kick per spike), input spikes ``in_t, in_id``
    (global source ids). ``nt``: NeuronTable; ``groups``: DelayGroups of the fan-out CSR ``syn``
    (SynapseTable). ``src``: this sample's AdjointSources rows (length N): ``vint_grad`` (dL/dQ),
    ``vmax_grad``, ``vmax_time``, ``vmax``, ``imax`` (I just before the maximum), ``phantom``
    (a_V kick at t_max); its per-spike fields are unused here (``G``, ``kick``).
    """
    pop_of, tau_m_p, tau_s_p, v_th_p, v_r_p, v_l_p = nt.pop_of, nt.tau_m, nt.tau_s, nt.v_th, nt.v_reset, nt.v_leak
    tau_i_p, dual_p = nt.tau_i, nt.dual
    g_ptr, g_start, g_end, g_d = groups.ptr, groups.start, groups.end, groups.d
    tgt, w = syn.tgt, syn.w
    gint, gmax, tmax, vmax, imax, inj_ph = src.vint_grad, src.vmax_grad, src.vmax_time, src.vmax, src.imax, src.phantom
    N = pop_of.size
    n_pop = tau_m_p.size
    kp = np.empty(n_pop)
    cp = np.empty(n_pop)
    eqp = np.empty(n_pop, dtype=np.bool_)
    kip = np.empty(n_pop)
    cip = np.empty(n_pop)
    eqip = np.empty(n_pop, dtype=np.bool_)
    for p in range(n_pop):
        kp[p], cp[p], eqp[p] = pop_consts(tau_m_p[p], tau_s_p[p])
        kip[p], cip[p], eqip[p] = pop_consts(tau_m_p[p], tau_i_p[p])
    aV = np.zeros(N)
    aI = np.zeros(N)  # the only current's adjoint, or the excitatory one's of a dual neuron
    aIi = np.zeros(N)  # the inhibitory current's adjoint (dual neurons)
    tl = np.full(N, t_max)
    n_sp = sp_t.size
    n_in = in_t.size
    acc = np.zeros(n_sp)

    # injections (few): max-voltage read-outs at their maximum, phantom kicks at t_max
    n_inj = 0
    for m in range(N):
        if gmax[m] != 0.0:
            n_inj += 1
        if inj_ph[m] != 0.0:
            n_inj += 1
    it = np.empty(n_inj)
    iv = np.empty(n_inj)
    im = np.empty(n_inj, dtype=np.int64)
    q = 0
    for m in range(N):
        if gmax[m] != 0.0:
            it[q] = tmax[m]
            iv[q] = gmax[m]
            im[q] = m
            q += 1
        if inj_ph[m] != 0.0:
            it[q] = t_max
            iv[q] = inj_ph[m]
            im[q] = m
            q += 1
    iord = np.argsort(-it)

    # arrival heap: one entry per source spike (inputs first, then recorded spikes)
    n_src = n_in + n_sp
    hk = np.empty(n_src)
    hq = np.empty(n_src, dtype=np.int64)
    hg = np.empty(n_src, dtype=np.int64)
    hs = 0
    for q in range(n_src):
        if q < n_in:
            j = in_id[q]
            ts = in_t[q]
        else:
            j = sp_id[q - n_in]
            ts = sp_t[q - n_in]
        g = g_ptr[j + 1] - 1
        while g >= g_ptr[j] and ts + g_d[g] > t_max:
            g -= 1
        if g >= g_ptr[j]:
            hs = _heap_push(hk, hq, hg, hs, ts + g_d[g], q, g)

    k = n_sp - 1
    ii = 0
    while True:
        ta = hk[0] if hs > 0 else NEG_INF
        tk = sp_t[k] if k >= 0 else NEG_INF
        ti = it[iord[ii]] if ii < n_inj else NEG_INF
        if ta == NEG_INF and tk == NEG_INF and ti == NEG_INF:
            break
        if ta >= tk and ta >= ti:
            # replay one delay group of one source spike
            t = ta
            q = hq[0]
            g = hg[0]
            hs = _heap_pop(hk, hq, hg, hs)
            if q < n_in:
                j = in_id[q]
                ts = in_t[q]
            else:
                j = sp_id[q - n_in]
                ts = sp_t[q - n_in]
            r_sum = 0.0
            for kk in range(g_start[g], g_end[g]):
                m = tgt[kk]
                p = pop_of[m]
                tm = tau_m_p[p]
                tsy = tau_s_p[p]
                if dual_p[p]:
                    _back_to_inh(aV, aIi, tl, m, t, tm, tau_i_p[p], kip[p], cip[p], eqip[p], gint[m])
                _back_to(aV, aI, tl, m, t, tm, tsy, kp[p], cp[p], eqp[p], gint[m])
                if dual_p[p] and w[kk] < 0.0:  # the synapse feeds the inhibitory current
                    grad[kk] += aIi[m]
                    r = -w[kk] * (aV[m] / tm - aIi[m] / tau_i_p[p])
                else:
                    grad[kk] += aI[m]
                    r = -w[kk] * (aV[m] / tm - aI[m] / tsy)
                if gmax[m] != 0.0 and tmax[m] == t:
                    # the read-out peaks exactly at this arrival (a kink): the maximum moves with it
                    r += gmax[m] * (imax[m] - (vmax[m] - v_l_p[p])) / tm
                r_sum += r
                if want_d:
                    dgrad[kk] += r
            if q >= n_in:
                acc[q - n_in] += r_sum
            elif want_in:
                in_grad[q] += r_sum
            if g > g_ptr[j]:
                hs = _heap_push(hk, hq, hg, hs, ts + g_d[g - 1], q, g - 1)
        elif tk >= ti:
            n = sp_id[k]
            p = pop_of[n]
            tm = tau_m_p[p]
            if dual_p[p]:
                _back_to_inh(aV, aIi, tl, n, tk, tm, tau_i_p[p], kip[p], cip[p], eqip[p], gint[n])
            _back_to(aV, aI, tl, n, tk, tm, tau_s_p[p], kp[p], cp[p], eqp[p], gint[n])
            Ik = sp_I[k]
            vdm = (Ik - (v_th_p[p] - v_l_p[p])) / tm
            vdp = (Ik - (v_r_p[p] - v_l_p[p])) / tm
            aV[n] = (vdp * aV[n] - acc[k] - G[k]) / vdm + kick[k]
            k -= 1
        else:
            e = iord[ii]
            m = im[e]
            p = pop_of[m]
            if dual_p[p]:
                _back_to_inh(aV, aIi, tl, m, ti, tau_m_p[p], tau_i_p[p], kip[p], cip[p], eqip[p], gint[m])
            _back_to(aV, aI, tl, m, ti, tau_m_p[p], tau_s_p[p], kp[p], cp[p], eqp[p], gint[m])
            aV[m] += iv[e]
            ii += 1


@njit(cache=True, parallel=True)
def backward_batch(n_chunks, spikes, sp_I, inputs, nt, groups, syn, src, t_max, want_d, grad, dgrad,
                   want_in, in_grad):
    """Adjoint pass for all samples: samples are split into ``n_chunks`` contiguous chunks run in parallel.

    ``spikes``, ``inputs``: SpikeTrains (global ids, CSR over samples); ``sp_I``: current at each
    spike; ``src``: AdjointSources (per-spike fields aligned with ``spikes``, the others one row per
    sample). ``grad`` (and ``dgrad`` if ``want_d``, else shape (n_chunks, 0)) has shape
    (n_chunks, n_synapses): row c accumulates the gradients of the samples of chunk c (no races;
    the caller sums the rows, so the result is deterministic for a given ``n_chunks``). ``in_grad``
    (if ``want_in``, else shape (0,)) has one entry per input spike, aligned with ``inputs.times``:
    dL/dt of that input spike (each sample writes only its own spikes).
    """
    B = spikes.offsets.size - 1
    for c in prange(n_chunks):
        b0 = (B * c) // n_chunks
        b1 = (B * (c + 1)) // n_chunks
        for b in range(b0, b1):
            s0 = spikes.offsets[b]
            s1 = spikes.offsets[b + 1]
            i0 = inputs.offsets[b]
            i1 = inputs.offsets[b + 1]
            rows = AdjointSources(src.spike_grad, src.spike_kick, src.vint_grad[b], src.vmax_grad[b],
                                  src.vmax_time[b], src.vmax[b], src.imax[b], src.phantom[b])
            backward_sample(spikes.times[s0:s1], spikes.ids[s0:s1], sp_I[s0:s1], src.spike_grad[s0:s1],
                            src.spike_kick[s0:s1], inputs.times[i0:i1], inputs.ids[i0:i1], nt, groups, syn,
                            rows, t_max, want_d, grad[c], dgrad[c], want_in, in_grad[i0:i1] if want_in else in_grad[0:0])
