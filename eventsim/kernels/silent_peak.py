"""Exact peak of V of neurons that stayed silent, computed after the simulation from the recorded spikes.

A LIF neuron that did not fire in a sample never reset, so over [0, t_max] its V is the free response
to its synaptic arrivals, exactly as a non-spiking read-out's: the same piecewise solution, the same
maximum. The forward kernel tracks that maximum only for read-out populations (it costs work on every
arrival); this kernel replays the arrivals into the selected (sample, neuron) pairs instead, from the
input spikes and the recorded spikes, and returns what the read-out tracking would have returned:
V_max, its time and I just before it (the left limit, as EventProp's kink term needs; the total
current for a neuron with two synaptic currents).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .lif import free_evolve, interval_max, pop_consts
from .lif_dual import free_evolve_dual, interval_max_dual


@njit(cache=True)
def silent_peaks_sample(sel, in_t, in_id, sp_t, sp_id, nt, syn, V0, t_max, vmax, tmax, imax):
    """One sample: fill ``vmax, tmax, imax`` (length N) for the neurons with ``sel`` True (others untouched).

    Arrivals are the input spikes ``in_t, in_id`` and recorded spikes ``sp_t, sp_id`` (global source
    ids) through the fan-out CSR ``syn`` (SynapseTable, delays ms); arrivals after ``t_max`` are
    ignored, as in the simulation. ``nt``: NeuronTable. ``V0`` is each neuron's V at t = 0.
    """
    pop_of, tau_m_p, tau_s_p, v_l_p, tau_i_p, dual_p = nt.pop_of, nt.tau_m, nt.tau_s, nt.v_leak, nt.tau_i, nt.dual
    indptr, tgt, w, d = syn.indptr, syn.tgt, syn.w, syn.d
    n_in = in_t.size
    n_cap = 0  # every synapse of every source spike: an upper bound on the arrivals kept
    for q in range(n_in + sp_t.size):
        j = in_id[q] if q < n_in else sp_id[q - n_in]
        n_cap += indptr[j + 1] - indptr[j]
    at = np.empty(n_cap)
    am = np.empty(n_cap, dtype=np.int64)
    aw = np.empty(n_cap)
    n_arr = 0
    for q in range(n_in + sp_t.size):
        j = in_id[q] if q < n_in else sp_id[q - n_in]
        ts = in_t[q] if q < n_in else sp_t[q - n_in]
        for kk in range(indptr[j], indptr[j + 1]):
            if sel[tgt[kk]] and ts + d[kk] <= t_max:
                at[n_arr] = ts + d[kk]
                am[n_arr] = tgt[kk]
                aw[n_arr] = w[kk]
                n_arr += 1
    at, am, aw = at[:n_arr], am[:n_arr], aw[:n_arr]
    # by neuron, then by time (a stable sort keeps simultaneous arrivals in delivery order)
    o1 = np.argsort(at, kind="mergesort")
    o2 = np.argsort(am[o1], kind="mergesort")
    order = o1[o2]
    N = sel.size
    first = np.full(N, n_arr, dtype=np.int64)  # each neuron's first arrival in ``order``
    for r in range(n_arr - 1, -1, -1):
        first[am[order[r]]] = r
    for m in range(N):
        if not sel[m]:
            continue
        p = pop_of[m]
        tm, tsy, vl, ti, dl = tau_m_p[p], tau_s_p[p], v_l_p[p], tau_i_p[p], dual_p[p]
        k, c, equal = pop_consts(tm, tsy)
        ki, ci, eqi = pop_consts(tm, ti)
        V, I, Ii, t0 = V0[m], 0.0, 0.0, 0.0  # I: the only current, or the excitatory one of a dual neuron
        best, tbest, ibest = V, 0.0, 0.0
        r = first[m]
        while True:
            last = r >= n_arr or am[order[r]] != m
            t = t_max if last else at[order[r]]
            if t > t0:
                dt = t - t0
                if dl:
                    vm, sm = interval_max_dual(V, I, Ii, dt, tm, tsy, ti, vl)
                    V1, I1, Ii1 = free_evolve_dual(V, I, Ii, dt, tm, tsy, ti, vl, k, c, equal, ki, ci, eqi)
                else:
                    vm, sm = interval_max(V, I, dt, tm, tsy, vl)
                    V1, I1 = free_evolve(V, I, dt, tm, tsy, vl, k, c, equal)
                    Ii1 = 0.0
                if vm > best:
                    best = vm
                    if sm == dt:
                        tbest, ibest = t, I1 + Ii1
                    elif dl:
                        tbest = t0 + sm
                        _, Iem, Iim = free_evolve_dual(V, I, Ii, sm, tm, tsy, ti, vl, k, c, equal, ki, ci, eqi)
                        ibest = Iem + Iim
                    else:
                        tbest = t0 + sm
                        _, ibest = free_evolve(V, I, sm, tm, tsy, vl, k, c, equal)
                V, I, Ii, t0 = V1, I1, Ii1, t
            if last:
                break
            if dl and aw[order[r]] < 0.0:
                Ii += aw[order[r]]
            else:
                I += aw[order[r]]
            r += 1
        vmax[m], tmax[m], imax[m] = best, tbest, ibest


@njit(cache=True, parallel=True)
def silent_peaks_batch(sel, inputs, spikes, nt, syn, V0, t_max, peaks):
    """Every sample (rows of ``sel`` (B, N) and ``V0``): the input spikes ``inputs`` and recorded
    ``spikes`` (SpikeTrains, global ids) are replayed into ``peaks`` (ReadOuts; ``vint`` unused)."""
    for b in prange(sel.shape[0]):
        i0, i1 = inputs.offsets[b], inputs.offsets[b + 1]
        s0, s1 = spikes.offsets[b], spikes.offsets[b + 1]
        silent_peaks_sample(sel[b], inputs.times[i0:i1], inputs.ids[i0:i1], spikes.times[s0:s1], spikes.ids[s0:s1],
                            nt, syn, V0[b], t_max, peaks.vmax[b], peaks.tmax[b], peaks.imax[b])
