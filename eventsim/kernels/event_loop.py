"""The exact event-driven simulation loop (Numba).

Per sample, three event sources are merged in time order:

1. input spikes (given, sorted),
2. spike deliveries: a binary heap of *spikes* (not synaptic events). Each entry is
   (arrival time, source neuron, cursor into the source's fan-out row, spike time); a fan-out row is
   sorted by delay, so one entry delivers all synapses that share a delay and is then re-inserted
   for the next delay group,
3. neuron threshold events: an indexed 4-ary min-heap with one key per neuron. The key is either
   a *lower bound* on the neuron's next crossing (cheap: one log, from bounding the input current by
   its current positive part) or, once the simulation time has reached that bound, the *exact*
   crossing time found by bracketed root finding (``kernels.lif.next_crossing``).

An excitatory input can only bring a crossing forward, so it lowers the key to the new bound; an
inhibitory input can only delay it, so the old key stays a valid lower bound and costs no heap work.
No crossing can be missed: a neuron is examined exactly at or before the earliest time it could
cross, and the exact search checks the voltage extremum before bracketing.

Delivery fast path. All synapses of one delivery group arrive at the same time t, so the decay
factors are products of per-neuron and per-group terms: exp(-(t - t_last)/tau) = G(t_last) g(t) with
G(x) = exp((x - T0)/tau) cached per neuron at its last update and g(t) = 1/G(t) computed once per
group and population. A synaptic event then costs a few multiplications instead of exp and expm1.
T0 moves on every ``REBASE_SPAN`` shortest time constants (which invalidates the caches, keeping
G below e^30 and its relative error near 1e-14). Populations whose tau_m and tau_s are equal or
close (|k| > ``FAST_K_MAX``) keep the expm1 form, which is accurate there, and so do non-spiking
read-outs (their max and integral of V need the whole interval anyway). An excitatory event
lowers a neuron's key only if the new bound is earlier; that test is done without a logarithm by
comparing the bound's argument with exp((key - t)/tau_m) = E(key) g(t), E cached per neuron.

Ties at one time are processed as: input spikes, deliveries, threshold events; recordings of V and
I at a requested time see the state after all events at that time (right-continuous).
Each neuron's state is one record ``st[j] = (V, I, t_last, t_ref_end, G_m, G_s, E, key of E, I_i, G_i)``
(G_m to key of E: the delivery fast path's caches; I_i, G_i: the second current, below).

Two synaptic currents (populations with ``NeuronTable.dual``): a negative weight is added to a
second current I_i with its own time constant, kept with its fast-path cache in ``st[j, 8:10]``
(in the neuron's own record, so a delivery touches one record); ``st[j, 1]`` is then the excitatory
current. Everything above holds with I_e in place of I:
I_i <= 0 only lowers V, so a bound computed from I_e alone is still a lower bound on the crossing,
an inhibitory event still only delays it, and the exact search (``kernels.lif_dual``) handles the
up to two extrema of V between events. Populations with one current run the code above unchanged.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .tables import ReadOuts, Recording, SpikeBuffers
from .lif import (crossing_lower_bound, crossing_possible, free_evolve, interval_max_state, next_crossing,
                  pop_consts, psp_max)
from .lif_dual import (DualConsts, crossing_possible_dual, crossing_search_dual, free_evolve_dual,
                       interval_integral_dual, interval_max_dual)

INF = np.inf
EXACT_WINDOW = 1.0  # ms: a reached lower bound triggers an exact search only if the next bound is closer
REBASE_SPAN = 30.0  # time constants: the shared-exponential origin T0 moves on once t - T0 exceeds this
FAST_K_MAX = 8.0  # |k| = tau_s/|tau_m - tau_s| above which a population advances by expm1 (close taus)
REJECT_MARGIN = 1.0 + 1e-10  # relative safety margin of the log-free "bound not lowered" test


# ------------------------------------------------------------------- indexed min-heap (neurons)
# A 4-ary heap (half the levels of a binary one) storing the keys inline (``hk[i]`` is the key of
# ``heap[i]``), so that sifting reads contiguous memory; ``key[j]`` mirrors neuron j's key (inf:
# not in the heap) and ``pos[j]`` is its slot (-1: not in the heap).
@njit(cache=True, inline="always")
def _nh_place(heap, hk, pos, i, j, k):
    heap[i] = j
    hk[i] = k
    pos[j] = i


@njit(cache=True)
def _nh_sift_up(heap, hk, pos, i, j, k):
    """Move the hole at slot i up until (j, k) fits, then place it there."""
    while i > 0:
        p = (i - 1) >> 2
        if k < hk[p]:
            _nh_place(heap, hk, pos, i, heap[p], hk[p])
            i = p
        else:
            break
    _nh_place(heap, hk, pos, i, j, k)


@njit(cache=True)
def _nh_sift_down(heap, hk, pos, i, j, k, size):
    """Move the hole at slot i down until (j, k) fits, then place it there."""
    while True:
        c = 4 * i + 1
        if c >= size:
            break
        m = c
        km = hk[c]
        e = min(c + 4, size)
        for q in range(c + 1, e):
            if hk[q] < km:
                m = q
                km = hk[q]
        if km < k:
            _nh_place(heap, hk, pos, i, heap[m], km)
            i = m
        else:
            break
    _nh_place(heap, hk, pos, i, j, k)


@njit(cache=True)
def _nh_set(heap, hk, pos, key, size, j, k):
    """Insert neuron j with key k or change its key; returns the new heap size. k = inf removes."""
    p = pos[j]
    if k == INF:
        key[j] = INF
        if p < 0:
            return size
        pos[j] = -1
        size -= 1
        if p < size:
            jl = heap[size]
            kl = hk[size]
            if kl < hk[p]:
                _nh_sift_up(heap, hk, pos, p, jl, kl)
            else:
                _nh_sift_down(heap, hk, pos, p, jl, kl, size)
        return size
    key[j] = k
    if p < 0:
        _nh_sift_up(heap, hk, pos, size, j, k)
        return size + 1
    if k < hk[p]:
        _nh_sift_up(heap, hk, pos, p, j, k)
    elif k > hk[p]:
        _nh_sift_down(heap, hk, pos, p, j, k, size)
    return size


# ------------------------------------------------------------------- delivery heap (spikes)
@njit(cache=True)
def _dh_push(dk, ds, dc, dt, size, key, src, cur, tsp):
    i = size
    dk[i] = key
    ds[i] = src
    dc[i] = cur
    dt[i] = tsp
    while i > 0:
        p = (i - 1) >> 1
        if dk[i] < dk[p]:
            dk[i], dk[p] = dk[p], dk[i]
            ds[i], ds[p] = ds[p], ds[i]
            dc[i], dc[p] = dc[p], dc[i]
            dt[i], dt[p] = dt[p], dt[i]
            i = p
        else:
            break
    return size + 1


@njit(cache=True)
def _dh_grow(dk, ds, dc, dt, size):
    """The four delivery-heap arrays with twice the capacity (first ``size`` entries copied)."""
    cap = 2 * dk.size
    dk2 = np.empty(cap)
    ds2 = np.empty(cap, dtype=np.int64)
    dc2 = np.empty(cap, dtype=np.int64)
    dt2 = np.empty(cap)
    dk2[:size] = dk[:size]
    ds2[:size] = ds[:size]
    dc2[:size] = dc[:size]
    dt2[:size] = dt[:size]
    return dk2, ds2, dc2, dt2


@njit(cache=True)
def _dh_pop(dk, ds, dc, dt, size):
    """Remove the root; returns the new size (the caller read the root before)."""
    size -= 1
    if size == 0:
        return 0
    dk[0] = dk[size]
    ds[0] = ds[size]
    dc[0] = dc[size]
    dt[0] = dt[size]
    i = 0
    while True:
        l = 2 * i + 1
        if l >= size:
            break
        m = l
        r = l + 1
        if r < size and dk[r] < dk[l]:
            m = r
        if dk[m] < dk[i]:
            dk[i], dk[m] = dk[m], dk[i]
            ds[i], ds[m] = ds[m], ds[i]
            dc[i], dc[m] = dc[m], dc[i]
            dt[i], dt[m] = dt[m], dt[i]
            i = m
        else:
            break
    return size


# ------------------------------------------------------------------- state helpers
@njit(cache=True, inline="always")
def _state_at(st, j, t, tau_m, tau_s, v_l, v_r, k, c, equal):
    """(V, I) of neuron j at time t >= st[j, 2] without changing the record (refractoriness included)."""
    V0 = st[j, 0]
    I0 = st[j, 1]
    t0 = st[j, 2]
    ref = st[j, 3]
    if t <= t0:
        return V0, I0
    if ref > t0:
        if t <= ref:
            V1, I1 = free_evolve(v_r, I0, t - t0, tau_m, tau_s, v_l, k, c, equal)
            return v_r, I1
        V1, I1 = free_evolve(v_r, I0, ref - t0, tau_m, tau_s, v_l, k, c, equal)
        I0 = I1
        V0 = v_r
        t0 = ref
    return free_evolve(V0, I0, t - t0, tau_m, tau_s, v_l, k, c, equal)


@njit(cache=True)
def _advance(st, j, t, tau_m, tau_s, v_l, v_r, k, c, equal, track, rd_vmax, rd_tmax, rd_vint, rd_imax):
    """Advance neuron j's record to time t; for tracked (read-out) neurons update max V and its integral.

    ``rd_imax`` receives I at the maximum (just before any input arriving there, i.e. the left limit).
    """
    t0 = st[j, 2]
    if t <= t0:
        return
    if track:
        V0 = st[j, 0]
        I0 = st[j, 1]
        dt = t - t0
        vm, im, sm, V1, I1 = interval_max_state(V0, I0, dt, tau_m, tau_s, v_l, k, c, equal)
        if vm > rd_vmax[j]:
            rd_vmax[j] = vm
            rd_tmax[j] = t if sm == dt else t0 + sm
            rd_imax[j] = im
        # exact integral of V over [t0, t]: from tau_m dV = (-(V - v_l) + I) dt and tau_s dI = -I dt
        rd_vint[j] += v_l * dt + tau_s * (I0 - I1) - tau_m * (V1 - V0)
        st[j, 0] = V1
        st[j, 1] = I1
        st[j, 2] = t
        st[j, 4] = np.nan  # the delivery fast path's cached G is for the old time
        return
    V1, I1 = _state_at(st, j, t, tau_m, tau_s, v_l, v_r, k, c, equal)
    st[j, 0] = V1
    st[j, 1] = I1
    st[j, 2] = t
    st[j, 4] = np.nan


@njit(cache=True, inline="always")
def _advance_shared(st, j, t, v_l, k, gm, gs):
    """Advance neuron j's record to time t > st[j, 2] with the decay factors G(t_last) g(t) of the
    delivery fast path (``gm``, ``gs`` = g_m(t), g_s(t)); returns False, changing nothing, if j's
    cached G is invalid or j is refractory (the caller then uses ``_advance``)."""
    Gm = st[j, 4]
    if Gm != Gm or st[j, 3] > st[j, 2]:
        return False
    em = Gm * gm
    es = st[j, 5] * gs
    I0 = st[j, 1]
    st[j, 0] = v_l + (st[j, 0] - v_l) * em + I0 * k * (em - es)
    st[j, 1] = I0 * es
    st[j, 2] = t
    return True


@njit(cache=True, inline="always")
def _bound_after(st, j, t, tau_m, tau_s, v_l, v_th, v_r, k, c, equal, f_max, cut):
    """Absolute-time lower bound on neuron j's next crossing, its record being current at time t.

    ``cut`` (absolute time): the caller only needs to know whether the bound is below it.
    """
    ref = st[j, 3]
    V = st[j, 0]
    I = st[j, 1]
    t0 = t
    if ref > t:
        V, I = _state_at(st, j, ref, tau_m, tau_s, v_l, v_r, k, c, equal)
        t0 = ref
    return t0 + crossing_lower_bound(V, I, tau_m, v_l, v_th, f_max, cut - t0)


# ------------------------------------------------------------------- two synaptic currents
# A neuron of a ``dual`` population keeps its inhibitory current and that current's fast-path cache
# in ``st[j, 8]`` = I_i and ``st[j, 9]`` = G_i(t_last); ``st[j, 1]`` is its excitatory current. The
# lower bounds above stay valid when they are given I_e alone: I_i <= 0 only lowers V.
@njit(cache=True, inline="always")
def _state_at_dual(st, j, t, tm, ts, ti, vl, vr, ke, ce, eqe, ki, ci, eqi):
    """(V, I_e, I_i) of dual neuron j at time t >= st[j, 2] without changing the record."""
    V0 = st[j, 0]
    Ie0 = st[j, 1]
    Ii0 = st[j, 8]
    t0 = st[j, 2]
    ref = st[j, 3]
    if t <= t0:
        return V0, Ie0, Ii0
    if ref > t0:
        if t <= ref:
            _, Ie1, Ii1 = free_evolve_dual(vr, Ie0, Ii0, t - t0, tm, ts, ti, vl, ke, ce, eqe, ki, ci, eqi)
            return vr, Ie1, Ii1
        _, Ie0, Ii0 = free_evolve_dual(vr, Ie0, Ii0, ref - t0, tm, ts, ti, vl, ke, ce, eqe, ki, ci, eqi)
        V0 = vr
        t0 = ref
    return free_evolve_dual(V0, Ie0, Ii0, t - t0, tm, ts, ti, vl, ke, ce, eqe, ki, ci, eqi)


@njit(cache=True)
def _advance_dual(st, j, t, tm, ts, ti, vl, vr, ke, ce, eqe, ki, ci, eqi, track,
                  rd_vmax, rd_tmax, rd_vint, rd_imax):
    """``_advance`` for a neuron with two currents (``rd_imax``: the total current at the maximum)."""
    t0 = st[j, 2]
    if t <= t0:
        return
    if track:
        V0 = st[j, 0]
        Ie0 = st[j, 1]
        Ii0 = st[j, 8]
        dt = t - t0
        vm, sm = interval_max_dual(V0, Ie0, Ii0, dt, tm, ts, ti, vl)
        V1, Ie1, Ii1 = free_evolve_dual(V0, Ie0, Ii0, dt, tm, ts, ti, vl, ke, ce, eqe, ki, ci, eqi)
        if vm > rd_vmax[j]:
            rd_vmax[j] = vm
            if sm == dt:
                rd_tmax[j] = t
                rd_imax[j] = Ie1 + Ii1
            else:
                rd_tmax[j] = t0 + sm
                _, Iem, Iim = free_evolve_dual(V0, Ie0, Ii0, sm, tm, ts, ti, vl, ke, ce, eqe, ki, ci, eqi)
                rd_imax[j] = Iem + Iim
        rd_vint[j] += interval_integral_dual(V0, Ie0, Ii0, dt, V1, Ie1, Ii1, tm, ts, ti, vl)
    else:
        V1, Ie1, Ii1 = _state_at_dual(st, j, t, tm, ts, ti, vl, vr, ke, ce, eqe, ki, ci, eqi)
    st[j, 0] = V1
    st[j, 1] = Ie1
    st[j, 8] = Ii1
    st[j, 2] = t
    st[j, 4] = np.nan  # the delivery fast path's cached G is for the old time


@njit(cache=True, inline="always")
def _advance_shared_dual(st, j, t, v_l, ke, ki, gm, gs, gi):
    """``_advance_shared`` for a neuron with two currents (``gi`` = g_i(t) of the inhibitory one)."""
    Gm = st[j, 4]
    if Gm != Gm or st[j, 3] > st[j, 2]:
        return False
    em = Gm * gm
    es = st[j, 5] * gs
    ei = st[j, 9] * gi
    Ie0 = st[j, 1]
    Ii0 = st[j, 8]
    st[j, 0] = v_l + (st[j, 0] - v_l) * em + Ie0 * ke * (em - es) + Ii0 * ki * (em - ei)
    st[j, 1] = Ie0 * es
    st[j, 8] = Ii0 * ei
    st[j, 2] = t
    return True


# ------------------------------------------------------------------- one sample
@njit(cache=True)
def run_sample(nt, syn, in_t, in_id, v_init, t_max, rec, out, max_spikes, ro, stats):
    """Simulate one sample exactly on [0, t_max] ms.

    ``nt`` (NeuronTable) and ``syn`` (SynapseTable, fan-out rows sorted by delay, ms) describe the
    network (``kernels.tables``). Inputs: spike times ``in_t`` (sorted, ms) and global source ids
    ``in_id``; initial V ``v_init`` (N,). ``rec``: Recording whose ``V``, ``I`` are this sample's
    (T, R) rows. ``out``: SpikeBuffers of this sample (1-D buffers, ``counts`` of length 1).
    Writes up to ``out.times.size`` spikes (time, neuron, I at the spike) and sets ``out.counts[0]``
    to the total number of spikes, which may exceed the capacity (the caller then re-runs), or to
    -1 if it exceeded ``max_spikes``. ``ro``: ReadOuts of this sample (1-D rows), filled for tracked
    neurons. ``stats`` (int64, 4) receives counts: synaptic events delivered, exact crossing
    searches, lower-bound heap updates, threshold events popped.
    """
    out.counts[0] = _run_sample(nt, syn, in_t, in_id, v_init, t_max, rec.times, rec.ids, rec.V, rec.I,
                                out.times, out.ids, out.currents, max_spikes,
                                ro.vmax, ro.tmax, ro.vint, ro.imax, stats)


@njit(cache=True)
def _run_sample(nt, syn, in_t, in_id, v_init, t_max, rec_t, rec_n, rec_V, rec_I,
                out_t, out_id, out_I, max_spikes, rd_vmax, rd_tmax, rd_vint, rd_imax, stats):
    """``run_sample`` with its tuples taken apart (returns the spike count, -1 past ``max_spikes``)."""
    pop_of, tau_m_p, tau_s_p, v_th_p, v_r_p = nt.pop_of, nt.tau_m, nt.tau_s, nt.v_th, nt.v_reset
    v_l_p, t_ref_p, track_p, tau_i_p, dual_p = nt.v_leak, nt.t_ref, nt.track, nt.tau_i, nt.dual
    indptr, tgt, w, d = syn.indptr, syn.tgt, syn.w, syn.d
    N = pop_of.size
    n_pop = tau_m_p.size
    kp = np.empty(n_pop)
    cp = np.empty(n_pop)
    eqp = np.empty(n_pop, dtype=np.bool_)
    kip = np.empty(n_pop)  # the same constants for the inhibitory current of dual populations
    cip = np.empty(n_pop)
    eqip = np.empty(n_pop, dtype=np.bool_)
    fmp = np.empty(n_pop)
    for p in range(n_pop):
        fmp[p] = psp_max(tau_m_p[p], tau_s_p[p])
        kp[p], cp[p], eqp[p] = pop_consts(tau_m_p[p], tau_s_p[p])
        kip[p], cip[p], eqip[p] = pop_consts(tau_m_p[p], tau_i_p[p])

    # one record per neuron: V, I, t_last, t_ref_end, then the delivery fast path's caches
    # G_m(t_last), G_s(t_last) (NaN: invalid), E(e_for), e_for (see the module docstring), then
    # for dual populations I_i and its G_i(t_last)
    st = np.full((N, 10), np.nan)
    st[:, 8] = 0.0
    heap = np.empty(N, dtype=np.int32)
    hk = np.empty(N)
    pos = np.full(N, -1, dtype=np.int32)
    key = np.full(N, INF)
    exact = np.zeros(N, dtype=np.bool_)
    hsize = 0
    for j in range(N):
        st[j, 0] = v_init[j]
        st[j, 1] = 0.0
        st[j, 2] = 0.0
        st[j, 3] = -INF
        p = pop_of[j]
        if track_p[p]:
            rd_vmax[j] = v_init[j]
            rd_tmax[j] = 0.0
            rd_vint[j] = 0.0
            rd_imax[j] = 0.0
        if v_th_p[p] < INF:
            lb = crossing_lower_bound(v_init[j], 0.0, tau_m_p[p], v_l_p[p], v_th_p[p], fmp[p])
            if lb <= t_max:
                hsize = _nh_set(heap, hk, pos, key, hsize, j, lb)

    # shared-exponential factors (see the module docstring): per population, g(t) at the current
    # delivery time and G(t) = 1/g(t)
    fast = np.empty(n_pop, dtype=np.bool_)
    tau_min = INF
    for p in range(n_pop):
        fast[p] = (not eqp[p]) and abs(kp[p]) <= FAST_K_MAX and not track_p[p]
        if dual_p[p]:
            fast[p] = fast[p] and (not eqip[p]) and abs(kip[p]) <= FAST_K_MAX
        tau_min = min(tau_min, min(tau_m_p[p], min(tau_s_p[p], tau_i_p[p])))
    t_base = 0.0
    g_at = np.full(n_pop, np.nan)  # the delivery time gm_now[p] .. Gi_now[p] were computed for
    gm_now = np.ones(n_pop)
    gs_now = np.ones(n_pop)
    gi_now = np.ones(n_pop)
    Gm_now = np.ones(n_pop)
    Gs_now = np.ones(n_pop)
    Gi_now = np.ones(n_pop)

    dk = np.empty(64)
    ds = np.empty(64, dtype=np.int64)
    dc = np.empty(64, dtype=np.int64)
    dtsp = np.empty(64)
    dsize = 0

    cap = out_t.size
    n_sp = 0
    p_in = 0
    n_in = in_t.size
    p_rec = 0
    n_rt = rec_t.size
    n_rn = rec_n.size

    while True:
        t_in = in_t[p_in] if p_in < n_in else INF
        t_dl = dk[0] if dsize > 0 else INF
        t_nr = hk[0] if hsize > 0 else INF
        t_ev = min(t_in, min(t_dl, t_nr))
        if p_rec < n_rt:
            t_rc = rec_t[p_rec]
            if t_rc < t_ev or t_ev > t_max:
                for q in range(n_rn):
                    jn = rec_n[q]
                    pq = pop_of[jn]
                    if dual_p[pq]:
                        V, Ie, Ii = _state_at_dual(st, jn, t_rc, tau_m_p[pq], tau_s_p[pq], tau_i_p[pq],
                                                   v_l_p[pq], v_r_p[pq], kp[pq], cp[pq], eqp[pq],
                                                   kip[pq], cip[pq], eqip[pq])
                        I = Ie + Ii
                    else:
                        V, I = _state_at(st, jn, t_rc, tau_m_p[pq], tau_s_p[pq], v_l_p[pq], v_r_p[pq],
                                         kp[pq], cp[pq], eqp[pq])
                    rec_V[p_rec, q] = V
                    rec_I[p_rec, q] = I
                p_rec += 1
                continue
        if t_ev > t_max:
            break

        src = -1
        cur = 0
        t_sp = 0.0
        if t_in <= t_dl and t_in <= t_nr:
            # an input spike: start its fan-out
            src = in_id[p_in]
            t_sp = t_in
            cur = indptr[src]
            p_in += 1
            if cur == indptr[src + 1]:
                continue
            if d[cur] != 0.0:
                if dsize == dk.size:
                    dk, ds, dc, dtsp = _dh_grow(dk, ds, dc, dtsp, dsize)
                dsize = _dh_push(dk, ds, dc, dtsp, dsize, t_sp + d[cur], src, cur, t_sp)
                continue
            t_now = t_sp
        elif t_dl <= t_nr:
            t_now = dk[0]
            src = ds[0]
            cur = dc[0]
            t_sp = dtsp[0]
            dsize = _dh_pop(dk, ds, dc, dtsp, dsize)
        else:
            j = heap[0]
            t_now = t_nr
            stats[3] += 1
            p = pop_of[j]
            tm = tau_m_p[p]
            ts = tau_s_p[p]
            vl = v_l_p[p]
            vt = v_th_p[p]
            vr = v_r_p[p]
            dl = dual_p[p]
            ti = tau_i_p[p]
            if fast[p] and t_now - t_base <= REBASE_SPAN * tau_min:
                # advance by the shared exponentials and leave j's cache valid for its next delivery
                gm = math.exp(-(t_now - t_base) / tm)
                gs = math.exp(-(t_now - t_base) / ts)
                if dl:
                    gi = math.exp(-(t_now - t_base) / ti)
                    if t_now > st[j, 2] and not _advance_shared_dual(st, j, t_now, vl, kp[p], kip[p], gm, gs, gi):
                        _advance_dual(st, j, t_now, tm, ts, ti, vl, vr, kp[p], cp[p], eqp[p], kip[p], cip[p],
                                      eqip[p], False, rd_vmax, rd_tmax, rd_vint, rd_imax)
                    st[j, 9] = 1.0 / gi
                elif t_now > st[j, 2] and not _advance_shared(st, j, t_now, vl, kp[p], gm, gs):
                    _advance(st, j, t_now, tm, ts, vl, vr, kp[p], cp[p], eqp[p], False, rd_vmax, rd_tmax, rd_vint, rd_imax)
                st[j, 4] = 1.0 / gm
                st[j, 5] = 1.0 / gs
            elif dl:
                _advance_dual(st, j, t_now, tm, ts, ti, vl, vr, kp[p], cp[p], eqp[p], kip[p], cip[p], eqip[p],
                              False, rd_vmax, rd_tmax, rd_vint, rd_imax)
            else:
                _advance(st, j, t_now, tm, ts, vl, vr, kp[p], cp[p], eqp[p], False, rd_vmax, rd_tmax, rd_vint, rd_imax)
            if exact[j]:
                # threshold crossing: emit a spike
                if n_sp < cap:
                    out_t[n_sp] = t_now
                    out_id[n_sp] = j
                    out_I[n_sp] = st[j, 1] + st[j, 8] if dl else st[j, 1]
                n_sp += 1
                if n_sp > max_spikes:
                    return -1
                st[j, 0] = vr
                st[j, 3] = t_now + t_ref_p[p]
                exact[j] = False
                lb = _bound_after(st, j, t_now, tm, ts, vl, vt, vr, kp[p], cp[p], eqp[p], fmp[p], INF)
                hsize = _nh_set(heap, hk, pos, key, hsize, j, lb if lb <= t_max else INF)
                src = j
                t_sp = t_now
                cur = indptr[j]
                if cur == indptr[j + 1]:
                    continue
                if d[cur] != 0.0:
                    if dsize == dk.size:
                        dk, ds, dc, dtsp = _dh_grow(dk, ds, dc, dtsp, dsize)
                    dsize = _dh_push(dk, ds, dc, dtsp, dsize, t_sp + d[cur], src, cur, t_sp)
                    continue
            else:
                # The lower bound is reached. Re-bound from the current state (cheap); search for
                # the exact crossing only once it can be less than EXACT_WINDOW ms away, so that
                # inputs arriving before a distant crossing do not waste a root search.
                lb = _bound_after(st, j, t_now, tm, ts, vl, vt, vr, kp[p], cp[p], eqp[p], fmp[p], INF)
                if lb > t_max:
                    hsize = _nh_set(heap, hk, pos, key, hsize, j, INF)
                    continue
                if lb - t_now > EXACT_WINDOW:
                    # far away: defer, unless the neuron provably cannot cross at all (then drop it)
                    if (crossing_possible_dual(st[j, 0], st[j, 1], st[j, 8], tm, ts, ti, vl, vt) if dl
                            else crossing_possible(st[j, 0], st[j, 1], tm, ts, vl, vt)):
                        hsize = _nh_set(heap, hk, pos, key, hsize, j, lb)
                    else:
                        hsize = _nh_set(heap, hk, pos, key, hsize, j, INF)
                    continue
                stats[1] += 1
                if dl:
                    s = crossing_search_dual(st[j, 0], st[j, 1], st[j, 8], tm, ts, ti, vl, vt, t_max - t_now, t_now,
                                             DualConsts(kp[p], cp[p], eqp[p], kip[p], cip[p], eqip[p], fmp[p]))
                else:
                    s = next_crossing(st[j, 0], st[j, 1], tm, ts, vl, vt, t_max - t_now, t_now)
                if s < INF:
                    exact[j] = True
                    hsize = _nh_set(heap, hk, pos, key, hsize, j, t_now + s)
                else:
                    exact[j] = False
                    hsize = _nh_set(heap, hk, pos, key, hsize, j, INF)
                continue

        # deliver the delay group of (src, cur) at t_now
        end = indptr[src + 1]
        dd = d[cur]
        kk = cur
        stats[0] += end - kk
        if t_now - t_base > REBASE_SPAN * tau_min:
            t_base = t_now
            st[:, 4] = np.nan
            st[:, 7] = np.nan
            g_at[:] = np.nan
        while kk < end and d[kk] == dd:
            jt = tgt[kk]
            wk = w[kk]
            pt = pop_of[jt]
            tm = tau_m_p[pt]
            ts = tau_s_p[pt]
            vl = v_l_p[pt]
            vr = v_r_p[pt]
            dl = dual_p[pt]
            ti = tau_i_p[pt]
            if not fast[pt]:
                if dl:
                    _advance_dual(st, jt, t_now, tm, ts, ti, vl, vr, kp[pt], cp[pt], eqp[pt], kip[pt], cip[pt],
                                  eqip[pt], track_p[pt], rd_vmax, rd_tmax, rd_vint, rd_imax)
                else:
                    _advance(st, jt, t_now, tm, ts, vl, vr, kp[pt], cp[pt], eqp[pt], track_p[pt], rd_vmax, rd_tmax, rd_vint, rd_imax)
            else:
                if g_at[pt] != t_now:  # this population's shared factors, once per delivery time
                    gm_now[pt] = math.exp(-(t_now - t_base) / tm)
                    Gm_now[pt] = 1.0 / gm_now[pt]
                    gs_now[pt] = math.exp(-(t_now - t_base) / ts)
                    Gs_now[pt] = 1.0 / gs_now[pt]
                    if dl:
                        gi_now[pt] = math.exp(-(t_now - t_base) / ti)
                        Gi_now[pt] = 1.0 / gi_now[pt]
                    g_at[pt] = t_now
                if dl:
                    if t_now > st[jt, 2] and not _advance_shared_dual(st, jt, t_now, vl, kp[pt], kip[pt], gm_now[pt],
                                                                      gs_now[pt], gi_now[pt]):
                        _advance_dual(st, jt, t_now, tm, ts, ti, vl, vr, kp[pt], cp[pt], eqp[pt], kip[pt], cip[pt],
                                      eqip[pt], False, rd_vmax, rd_tmax, rd_vint, rd_imax)
                    st[jt, 9] = Gi_now[pt]
                elif t_now > st[jt, 2] and not _advance_shared(st, jt, t_now, vl, kp[pt], gm_now[pt], gs_now[pt]):
                    _advance(st, jt, t_now, tm, ts, vl, vr, kp[pt], cp[pt], eqp[pt], False, rd_vmax, rd_tmax, rd_vint, rd_imax)
                st[jt, 4] = Gm_now[pt]
                st[jt, 5] = Gs_now[pt]
            if dl and wk < 0.0:
                st[jt, 8] += wk
            else:
                st[jt, 1] += wk
            vt = v_th_p[pt]
            if vt < INF and wk != 0.0:
                if wk > 0.0:
                    kj = key[jt]
                    if fast[pt] and kj < INF and not exact[jt] and st[jt, 3] <= t_now:
                        # log-free test whether the new bound can be below the current key
                        if st[jt, 7] != kj:
                            st[jt, 6] = math.exp((kj - t_base) / tm)
                            st[jt, 7] = kj
                        E = st[jt, 6] * gm_now[pt] * REJECT_MARGIN
                        V = st[jt, 0]
                        I = st[jt, 1]
                        if V < vt:
                            ip = I if I > 0.0 else 0.0
                            v_a = vl + ip
                            if v_a <= vt:
                                kk += 1
                                continue
                            if v_a - V >= (v_a - vt) * E:
                                kk += 1
                                continue
                            if V < vl:
                                v_b = vl + ip * fmp[pt]
                                if v_b <= vt or vl - V >= (v_b - vt) * E:
                                    kk += 1
                                    continue
                    lb = _bound_after(st, jt, t_now, tm, ts, vl, vt, vr, kp[pt], cp[pt], eqp[pt], fmp[pt],
                                      INF if exact[jt] else key[jt])
                    if exact[jt]:
                        exact[jt] = False
                        hsize = _nh_set(heap, hk, pos, key, hsize, jt, lb if lb <= t_max else INF)
                    elif lb < key[jt] and lb <= t_max:
                        if st[jt, 3] <= t_now and not (
                                crossing_possible_dual(st[jt, 0], st[jt, 1], st[jt, 8], tm, ts, ti, vl, vt) if dl
                                else crossing_possible(st[jt, 0], st[jt, 1], tm, ts, vl, vt)):
                            # provably no crossing without further input: leave the heap instead
                            # of being popped and re-bounded later
                            hsize = _nh_set(heap, hk, pos, key, hsize, jt, INF)
                        else:
                            stats[2] += 1
                            hsize = _nh_set(heap, hk, pos, key, hsize, jt, lb)
                else:
                    exact[jt] = False
            kk += 1
        if kk < end:
            if dsize == dk.size:
                dk, ds, dc, dtsp = _dh_grow(dk, ds, dc, dtsp, dsize)
            dsize = _dh_push(dk, ds, dc, dtsp, dsize, t_sp + d[kk], src, kk, t_sp)

    # bring tracked read-outs to t_max
    for j in range(N):
        p = pop_of[j]
        if track_p[p] and dual_p[p]:
            _advance_dual(st, j, t_max, tau_m_p[p], tau_s_p[p], tau_i_p[p], v_l_p[p], v_r_p[p], kp[p], cp[p],
                          eqp[p], kip[p], cip[p], eqip[p], True, rd_vmax, rd_tmax, rd_vint, rd_imax)
        elif track_p[p]:
            _advance(st, j, t_max, tau_m_p[p], tau_s_p[p], v_l_p[p], v_r_p[p], kp[p], cp[p], eqp[p],
                     True, rd_vmax, rd_tmax, rd_vint, rd_imax)
    return n_sp


@njit(cache=True, parallel=True)
def run_batch(samples, nt, syn, inputs, v_init, t_max, rec, out, max_spikes, ro, stats):
    """Run ``run_sample`` for each sample index in ``samples`` in parallel (numba prange).

    ``inputs`` (SpikeTrains) and ``v_init`` (one row per sample) cover the whole batch; row b of
    ``rec.V``/``rec.I``, of the SpikeBuffers ``out`` (shape (len(samples), cap)), of the ReadOuts
    ``ro`` and of ``stats`` belongs to sample ``samples[b]``.
    """
    for b in prange(samples.size):
        s = samples[b]
        a0 = inputs.offsets[s]
        a1 = inputs.offsets[s + 1]
        run_sample(nt, syn, inputs.times[a0:a1], inputs.ids[a0:a1], v_init[s], t_max,
                   Recording(rec.times, rec.ids, rec.V[b], rec.I[b]),
                   SpikeBuffers(out.times[b], out.ids[b], out.currents[b], out.counts[b:b + 1]), max_spikes,
                   ReadOuts(ro.vmax[b], ro.tmax[b], ro.vint[b], ro.imax[b]), stats[b])
