"""Numba kernels of the Loihi emulator (arrays in, arrays out; validation lives in ``emulator.py``).

``run_fixed`` reproduces, operation by operation and with the same integer widths, Lava 0.10's
``PyLifModelBitAcc`` (``proc/lif/models.py``) fed by ``PyDenseModelBitAcc`` /
``PySparseModelBitAcc`` / ``PyDelayDenseModelBitAcc`` (``proc/dense/models.py``,
``proc/sparse/models.py``) for one sample per thread. ``run_float`` does the same for the
``floating_pt`` models in float64.

Per step ``t`` (0-based), in Lava's order:

1. every LIF receives ``a_in[t]``: for each incoming projection q the value buffered at the
   previous step (ring slot ``t mod (D_q + 1)``), summed as int32 (Lava's InPort reduce);
2. LIF update (see ``model.py``) -> spikes of step t;
3. every projection receives the spikes of step t (input raster column t or LIF spikes of step t)
   and adds, for each delay k, ``(sum of weights) << weight_exp`` (floor ``>>`` if negative,
   applied to the per-step, per-delay sum as Lava does) to ring slot ``(t + 1 + k) mod (D_q + 1)``.

Layout: LIF neurons 0..N-1 (``lif_pop`` gives their population), sources 0..G-1 (inputs and
LIF neurons; ``lif_src[l]`` is the source id of LIF neuron l), fan-out CSR over sources
(``fo_ptr``; per synapse its projection ``fo_q``, local target ``fo_post`` -> LIF id
``q_dst_off[q] + fo_post``, weight ``fo_w``, delay ``fo_d``). Input events per sample are CSR
over samples (``in_off``) of ``(in_step, in_src)`` sorted by step, without duplicates.
Outputs: spikes as ``(out_step, out_lif)`` per sample up to ``out_step.shape[1]`` (``counts``
holds the true number; the caller retries if it was larger), ``vmax`` per neuron, the voltage
of ``rec_l`` neurons at every step (``rec_v``; shape (B, T, n_rec), may be (B, 0, 0)) and, in
fixed point, ``overflow[b] = (u wrap-arounds, v saturations, max |u|)``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

TWO23 = 1 << 23
TWO24 = 1 << 24
A_LIM = 1 << 25      # |a_in| below this: a_in << 6 fits int32
VMAX = TWO23 - 1     # v saturates at +-(2**23 - 1)
U_2A = np.uint64(2 * A_LIM)
U_2T = np.uint64(TWO24)


@njit(inline="always", cache=True)
def _wrap32(x):
    # two's complement int32 wrap of an int64 (numpy's int32 arithmetic)
    return np.int64(np.int32(x))


@njit(inline="always", cache=True)
def _trunc_decay(x, factor):
    # sign(x * factor) * (|x * factor| >> 12) in int64 (Lava), i.e. rounding toward zero; then np.int32()
    p = x * factor
    return _wrap32((p + ((p >> 63) & 4095)) >> 12)


@njit(inline="always", cache=True)
def _lif_fixed_slow(u_i, v_i, a_i, fu, fv, bias_i):
    """Exact update with every int32 wrap of Lava's numpy code (out-of-range values)."""
    dec_u = _trunc_decay(u_i, fu)
    act = _wrap32(_wrap32(a_i) << 6)
    cur = _wrap32(dec_u + act)
    wrapped = 0
    if cur > TWO23:
        cur = cur - TWO24
        wrapped = 1
    elif cur <= -TWO23:
        cur = cur + TWO24
        wrapped = 1
    dec_v = _trunc_decay(v_i, fv)
    nv = _wrap32(_wrap32(dec_v + cur) + bias_i)
    return cur, nv, wrapped


def run_fixed(samples, n_steps, lif_pop, du, dv, vth, bias, v0, lif_src,
              q_dst_off, q_npost, q_D, q_ring_off, q_wexp, ring_size,
              fo_ptr, fo_q, fo_post, fo_w, fo_d,
              in_step, in_src, in_off,
              rec_l, rec_v, out_step, out_lif, counts, vmax, vmin, umax_o, overflow, track):
    N = lif_pop.size
    Q = q_npost.size
    cap = out_step.shape[1]
    n_rec = rec_l.size
    do_rec = rec_v.shape[1] > 0
    vth_eff = np.empty(vth.size, np.int64)
    for p in range(vth.size):
        vth_eff[p] = vth[p] << 6
    n_pop = vth.size
    pop_start = np.zeros(n_pop + 1, np.int64)
    for i in range(N):
        pop_start[lif_pop[i] + 1] += 1
    for p in range(n_pop):
        pop_start[p + 1] += pop_start[p]
    any_grouped = False
    for q in range(Q):
        if q_wexp[q] < 0:
            any_grouped = True
    for j in prange(samples.size):
        b = samples[j]
        u = np.zeros(N, np.int64)
        v = v0.copy()
        a = np.zeros(N, np.int64)
        cu = np.zeros(N, np.int64)
        nvv = np.zeros(N, np.int64)
        ring = np.zeros(ring_size, np.int64)
        gsize = ring_size if any_grouped else 1
        scratch = np.zeros(gsize, np.int64)
        mark = np.zeros(gsize, np.bool_)
        touched = np.empty(gsize, np.int64)
        touched_q = np.empty(gsize, np.int64)
        spk = np.empty(N, np.int64)
        vm = v0.copy()
        vn = v0.copy()
        um = np.zeros(N, u.dtype)
        ptr = in_off[b]
        end = in_off[b + 1]
        cnt = 0
        n_wrap = 0
        n_sat = 0
        head = np.zeros(Q, np.int64)      # t mod (D_q + 1), kept without divisions
        fo_base = np.empty(fo_q.size, np.int64)
        for k in range(fo_q.size):
            fo_base[k] = q_ring_off[fo_q[k]] + fo_post[k]
        for t in range(n_steps):
            if t > 0:
                for q in range(Q):
                    head[q] += 1
                    if head[q] > q_D[q]:
                        head[q] = 0
            # 1. synaptic input buffered at t-1
            for i in range(N):
                a[i] = 0
            for q in range(Q):
                base = q_ring_off[q] + head[q] * q_npost[q]
                off = q_dst_off[q]
                npq = q_npost[q]
                rr = ring[base:base + npq]
                ad = a[off:off + npq]
                for i in range(npq):
                    ad[i] += rr[i]
                    rr[i] = 0
            # 2. LIF update (PyLifModelBitAcc.subthr_dynamics + spiking_activation + reset)
            nsp = 0
            for p in range(n_pop):
                fu = 4095 - du[p]
                fv = 4096 - dv[p]
                th = vth_eff[p]
                lo = pop_start[p]
                hi = pop_start[p + 1]
                n = hi - lo
                # views: loops over range(n) let numba drop negative-index checks and vectorise
                uu = u[lo:hi]
                vv = v[lo:hi]
                aa = a[lo:hi]
                bb = bias[lo:hi]
                cc = cu[lo:hi]
                nn = nvv[lo:hi]
                # pass 1: the update in plain int64 arithmetic, and a flag for any neuron outside the
                # range where that equals Lava's int32 arithmetic (|a_in| < 2**25, |u| <= 2**23)
                bad = False
                for i in range(n):
                    ai = aa[i]
                    x = uu[i] * fu
                    cur = ((x + ((x >> 63) & 4095)) >> 12) + (ai << 6)
                    y = vv[i] * fv
                    cc[i] = cur
                    nn[i] = ((y + ((y >> 63) & 4095)) >> 12) + cur + bb[i]
                    bad |= (np.uint64(ai + A_LIM) >= U_2A) | (np.uint64(cur + (TWO23 - 1)) >= U_2T)
                if bad:
                    for i in range(n):
                        ai = aa[i]
                        cur = cc[i]
                        if not (-A_LIM <= ai < A_LIM and -TWO23 < cur <= TWO23):
                            c2, v2, wr = _lif_fixed_slow(uu[i], vv[i], ai, fu, fv, bb[i])
                            cc[i] = c2
                            nn[i] = v2
                            n_wrap += wr
                # pass 2: saturation, threshold, reset
                ns = 0
                for i in range(n):
                    nv = nn[i]
                    hi_s = nv > VMAX
                    lo_s = nv < -VMAX
                    n_sat += hi_s | lo_s
                    if hi_s:
                        nv = VMAX
                    if lo_s:
                        nv = -VMAX
                    sp = nv > th
                    ns += sp
                    nn[i] = nv
                    vv[i] = 0 if sp else nv
                    uu[i] = cc[i]
                if ns > 0:
                    for i in range(n):
                        if nn[i] > th:
                            spk[nsp] = lo + i
                            nsp += 1
                if track:
                    for i in range(n):
                        nv = vv[i]
                        if nv > vm[lo + i]:
                            vm[lo + i] = nv
                        if nv < vn[lo + i]:
                            vn[lo + i] = nv
                        cur = cc[i]
                        ac = cur if cur >= 0 else -cur
                        if ac > um[lo + i]:
                            um[lo + i] = ac
            if do_rec:
                for k in range(n_rec):
                    rec_v[j, t, k] = v[rec_l[k]]
            for k in range(nsp):
                if cnt < cap:
                    out_step[j, cnt] = t
                    out_lif[j, cnt] = spk[k]
                cnt += 1
            # 3. projections receive the spikes of step t (inputs first, then LIF neurons)
            nt = 0
            for phase in range(2):
                if phase == 0:
                    while ptr < end and in_step[ptr] < t:
                        ptr += 1
                    lo = ptr
                    while ptr < end and in_step[ptr] == t:
                        ptr += 1
                    hi = ptr
                else:
                    lo = 0
                    hi = nsp
                for e in range(lo, hi):
                    g = in_src[e] if phase == 0 else lif_src[spk[e]]
                    for s in range(fo_ptr[g], fo_ptr[g + 1]):
                        q = fo_q[s]
                        idx = fo_base[s]
                        d1 = q_D[q] + 1
                        if d1 > 1:
                            slot = head[q] + 1 + fo_d[s]
                            if slot >= d1:
                                slot -= d1
                            idx += slot * q_npost[q]
                        if q_wexp[q] >= 0:
                            ring[idx] += fo_w[s]
                        else:
                            if not mark[idx]:
                                mark[idx] = True
                                touched[nt] = idx
                                touched_q[nt] = q
                                nt += 1
                            scratch[idx] += fo_w[s]
            # floor-shift the per-step, per-delay sums of projections with weight_exp < 0
            if nt > 0:
                for k in range(nt):
                    idx = touched[k]
                    ring[idx] += scratch[idx] >> (-q_wexp[touched_q[k]])
                    scratch[idx] = 0
                    mark[idx] = False
        counts[j] = cnt
        overflow[j, 0] = n_wrap
        overflow[j, 1] = n_sat
        umax = 0
        for i in range(N):
            if um[i] > umax:
                umax = um[i]
        overflow[j, 2] = umax
        for i in range(N):
            vmax[j, i] = vm[i]
            vmin[j, i] = vn[i]
            umax_o[j, i] = um[i]


def run_float(samples, n_steps, lif_pop, du, dv, vth, bias, v0, lif_src,
              q_dst_off, q_npost, q_D, q_ring_off, ring_size,
              fo_ptr, fo_q, fo_post, fo_w, fo_d,
              in_step, in_src, in_off,
              rec_l, rec_v, out_step, out_lif, counts, vmax, vmin, umax_o, track):
    N = lif_pop.size
    Q = q_npost.size
    cap = out_step.shape[1]
    n_rec = rec_l.size
    do_rec = rec_v.shape[1] > 0
    n_pop = vth.size
    pop_start = np.zeros(n_pop + 1, np.int64)
    for i in range(N):
        pop_start[lif_pop[i] + 1] += 1
    for p in range(n_pop):
        pop_start[p + 1] += pop_start[p]
    for j in prange(samples.size):
        b = samples[j]
        u = np.zeros(N)
        v = v0.copy()
        a = np.zeros(N)
        nvv = np.zeros(N)
        ring = np.zeros(ring_size)
        spk = np.empty(N, np.int64)
        vm = v0.copy()
        vn = v0.copy()
        um = np.zeros(N, u.dtype)
        ptr = in_off[b]
        end = in_off[b + 1]
        cnt = 0
        head = np.zeros(Q, np.int64)
        fo_base = np.empty(fo_q.size, np.int64)
        for k in range(fo_q.size):
            fo_base[k] = q_ring_off[fo_q[k]] + fo_post[k]
        for t in range(n_steps):
            if t > 0:
                for q in range(Q):
                    head[q] += 1
                    if head[q] > q_D[q]:
                        head[q] = 0
            for i in range(N):
                a[i] = 0.0
            for q in range(Q):
                base = q_ring_off[q] + head[q] * q_npost[q]
                off = q_dst_off[q]
                npq = q_npost[q]
                rr = ring[base:base + npq]
                ad = a[off:off + npq]
                for i in range(npq):
                    ad[i] += rr[i]
                    rr[i] = 0.0
            nsp = 0
            for p in range(n_pop):
                fu = 1.0 - du[p]
                fv = 1.0 - dv[p]
                th = vth[p]
                lo = pop_start[p]
                hi = pop_start[p + 1]
                n = hi - lo
                uu = u[lo:hi]
                vv = v[lo:hi]
                aa = a[lo:hi]
                bb = bias[lo:hi]
                nn = nvv[lo:hi]
                ns = 0
                for i in range(n):
                    cur = uu[i] * fu
                    cur += aa[i]
                    uu[i] = cur
                    nv = vv[i] * fv + cur + bb[i]
                    sp = nv > th
                    ns += sp
                    nn[i] = nv
                    vv[i] = 0.0 if sp else nv
                if ns > 0:
                    for i in range(n):
                        if nn[i] > th:
                            spk[nsp] = lo + i
                            nsp += 1
                if track:
                    for i in range(n):
                        nv = vv[i]
                        if nv > vm[lo + i]:
                            vm[lo + i] = nv
                        if nv < vn[lo + i]:
                            vn[lo + i] = nv
                        if abs(uu[i]) > um[lo + i]:
                            um[lo + i] = abs(uu[i])
            if do_rec:
                for k in range(n_rec):
                    rec_v[j, t, k] = v[rec_l[k]]
            for k in range(nsp):
                if cnt < cap:
                    out_step[j, cnt] = t
                    out_lif[j, cnt] = spk[k]
                cnt += 1
            for phase in range(2):
                if phase == 0:
                    while ptr < end and in_step[ptr] < t:
                        ptr += 1
                    lo = ptr
                    while ptr < end and in_step[ptr] == t:
                        ptr += 1
                    hi = ptr
                else:
                    lo = 0
                    hi = nsp
                for e in range(lo, hi):
                    g = in_src[e] if phase == 0 else lif_src[spk[e]]
                    for s in range(fo_ptr[g], fo_ptr[g + 1]):
                        q = fo_q[s]
                        idx = fo_base[s]
                        d1 = q_D[q] + 1
                        if d1 > 1:
                            slot = head[q] + 1 + fo_d[s]
                            if slot >= d1:
                                slot -= d1
                            idx += slot * q_npost[q]
                        ring[idx] += fo_w[s]
        counts[j] = cnt
        for i in range(N):
            vmax[j, i] = vm[i]
            vmin[j, i] = vn[i]
            umax_o[j, i] = um[i]


def _renamed(fn, name):
    import types

    f = types.FunctionType(fn.__code__.replace(co_name=name), fn.__globals__, name, fn.__defaults__)
    f.__qualname__ = name
    f.__doc__ = fn.__doc__
    return f


# parallel over samples (prange), and serial variants for one sample (a thread pool only adds
# overhead there); the serial ones are separate functions so that their numba caches differ
run_fixed_serial = njit(cache=True)(_renamed(run_fixed, "run_fixed_serial"))
run_float_serial = njit(cache=True)(_renamed(run_float, "run_float_serial"))
run_fixed = njit(parallel=True, cache=True)(run_fixed)
run_float = njit(parallel=True, cache=True)(run_float)
