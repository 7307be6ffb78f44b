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


@njit(inline="always", cache=True)
def _wrap32(x):
    # two's complement int32 wrap of an int64
    return ((x + 2147483648) & 4294967295) - 2147483648


@njit(inline="always", cache=True)
def _trunc_decay(x, factor):
    # sign(x * factor) * (|x * factor| >> 12), computed in int64 as Lava does, then np.int32()
    p = x * factor
    if p < 0:
        return _wrap32(-((-p) >> 12))
    return _wrap32(p >> 12)


@njit(parallel=True, cache=True)
def run_fixed(samples, n_steps, lif_pop, du, dv, vth, bias, v0, lif_src,
              q_dst_off, q_npost, q_D, q_ring_off, q_wexp, ring_size,
              fo_ptr, fo_q, fo_post, fo_w, fo_d,
              in_step, in_src, in_off,
              rec_l, rec_v, out_step, out_lif, counts, vmax, vmin, umax_o, overflow):
    N = lif_pop.size
    Q = q_npost.size
    cap = out_step.shape[1]
    n_rec = rec_l.size
    do_rec = rec_v.shape[1] > 0
    vth_eff = np.empty(vth.size, np.int64)
    for p in range(vth.size):
        vth_eff[p] = vth[p] << 6
    any_grouped = False
    for q in range(Q):
        if q_wexp[q] < 0:
            any_grouped = True
    for j in prange(samples.size):
        b = samples[j]
        u = np.zeros(N, np.int64)
        v = v0.copy()
        a = np.zeros(N, np.int64)
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
        umax = 0
        for t in range(n_steps):
            # 1. synaptic input buffered at t-1
            for i in range(N):
                a[i] = 0
            for q in range(Q):
                base = q_ring_off[q] + (t % (q_D[q] + 1)) * q_npost[q]
                off = q_dst_off[q]
                for i in range(q_npost[q]):
                    a[off + i] += ring[base + i]
                    ring[base + i] = 0
            # 2. LIF update (PyLifModelBitAcc.subthr_dynamics + spiking_activation + reset)
            nsp = 0
            for i in range(N):
                p = lif_pop[i]
                dec_u = _trunc_decay(u[i], 4095 - du[p])
                act = _wrap32(_wrap32(a[i]) << 6)
                cur = _wrap32(dec_u + act)
                if cur > TWO23:
                    cur = cur - TWO24
                    n_wrap += 1
                elif cur <= -TWO23:
                    cur = cur + TWO24
                    n_wrap += 1
                u[i] = cur
                if abs(cur) > umax:
                    umax = abs(cur)
                dec_v = _trunc_decay(v[i], 4096 - dv[p])
                nv = _wrap32(_wrap32(dec_v + cur) + bias[i])
                if nv > TWO23 - 1:
                    nv = TWO23 - 1
                    n_sat += 1
                elif nv < -(TWO23 - 1):
                    nv = -(TWO23 - 1)
                    n_sat += 1
                if nv > vth_eff[p]:
                    spk[nsp] = i
                    nsp += 1
                    nv = 0
                v[i] = nv
                if nv > vm[i]:
                    vm[i] = nv
                if nv < vn[i]:
                    vn[i] = nv
                if abs(cur) > um[i]:
                    um[i] = abs(cur)
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
                        slot = (t + 1 + fo_d[s]) % (q_D[q] + 1)
                        idx = q_ring_off[q] + slot * q_npost[q] + fo_post[s]
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
        overflow[j, 2] = umax
        for i in range(N):
            vmax[j, i] = vm[i]
            vmin[j, i] = vn[i]
            umax_o[j, i] = um[i]


@njit(parallel=True, cache=True)
def run_float(samples, n_steps, lif_pop, du, dv, vth, bias, v0, lif_src,
              q_dst_off, q_npost, q_D, q_ring_off, ring_size,
              fo_ptr, fo_q, fo_post, fo_w, fo_d,
              in_step, in_src, in_off,
              rec_l, rec_v, out_step, out_lif, counts, vmax, vmin, umax_o):
    N = lif_pop.size
    Q = q_npost.size
    cap = out_step.shape[1]
    n_rec = rec_l.size
    do_rec = rec_v.shape[1] > 0
    for j in prange(samples.size):
        b = samples[j]
        u = np.zeros(N)
        v = v0.copy()
        a = np.zeros(N)
        ring = np.zeros(ring_size)
        spk = np.empty(N, np.int64)
        vm = v0.copy()
        vn = v0.copy()
        um = np.zeros(N, u.dtype)
        ptr = in_off[b]
        end = in_off[b + 1]
        cnt = 0
        for t in range(n_steps):
            for i in range(N):
                a[i] = 0.0
            for q in range(Q):
                base = q_ring_off[q] + (t % (q_D[q] + 1)) * q_npost[q]
                off = q_dst_off[q]
                for i in range(q_npost[q]):
                    a[off + i] += ring[base + i]
                    ring[base + i] = 0.0
            nsp = 0
            for i in range(N):
                p = lif_pop[i]
                cur = u[i] * (1.0 - du[p])
                cur += a[i]
                u[i] = cur
                nv = v[i] * (1.0 - dv[p]) + cur + bias[i]
                if nv > vth[p]:
                    spk[nsp] = i
                    nsp += 1
                    nv = 0.0
                v[i] = nv
                if nv > vm[i]:
                    vm[i] = nv
                if nv < vn[i]:
                    vn[i] = nv
                if abs(cur) > um[i]:
                    um[i] = abs(cur)
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
                        slot = (t + 1 + fo_d[s]) % (q_D[q] + 1)
                        ring[q_ring_off[q] + slot * q_npost[q] + fo_post[s]] += fo_w[s]
        counts[j] = cnt
        for i in range(N):
            vmax[j, i] = vm[i]
            vmin[j, i] = vn[i]
            umax_o[j, i] = um[i]
