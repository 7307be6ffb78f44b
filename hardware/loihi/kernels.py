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

Stages 1 and 3 (the synaptic delay buffers and the spike delivery) are the same in both
precisions and are shared: ``ring_read`` and ``deliver`` work on a per-sample ``Ring``, typed by
the weights (int64 in fixed point, float64 in float point); only stage 2 differs.

The arrays come in as NamedTuples: ``Neurons`` (LIF neurons 0..N-1 and their populations),
``Synapses`` (projections and the fan-out CSR over sources 0..G-1, i.e. inputs and LIF neurons),
``Events`` (input spikes, CSR over samples of ``(step, source)`` sorted by step, without
duplicates) and ``Outputs`` (filled per sample: spikes as ``(step, lif)`` up to
``step.shape[1]``, with ``counts`` holding the true number so that the caller can retry with a
larger buffer; ``vmax``/``vmin``/``umax`` per neuron; the voltage of ``rec_l`` neurons at every step
in ``rec_v``, shape (B, T, n_rec) or (B, 0, 0); in fixed point
``overflow[b] = (u wrap-arounds, v saturations, max |u|)``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

TWO23 = 1 << 23
TWO24 = 1 << 24
A_LIM = 1 << 25      # |a_in| below this: a_in << 6 fits int32
VMAX = TWO23 - 1     # v saturates at +-(2**23 - 1)
U_2A = np.uint64(2 * A_LIM)
U_2T = np.uint64(TWO24)


# ---------------------------------------------------------------------------------- arguments
class Neurons(NamedTuple):
    """LIF neurons 0..N-1 (Lava units in fixed point: int64; float64 in float point)."""

    pop: np.ndarray      # (N,) population index p of each neuron, populations contiguous
    du: np.ndarray       # (P,) current decay (fixed: in 1/4096 per step)
    dv: np.ndarray       # (P,) voltage decay (fixed: in 1/4096 per step)
    vth: np.ndarray      # (P,) threshold (fixed: mantissa; v is compared with vth << 6)
    bias: np.ndarray     # (N,) bias added to v every step (fixed: bias_mant << bias_exp)
    v0: np.ndarray       # (N,) initial voltage


class Synapses(NamedTuple):
    """Projections q and their synapses s, as a fan-out CSR over sources (int64 unless noted)."""

    lif_src: np.ndarray     # (N,) source id of each LIF neuron
    dst_off: np.ndarray     # (Q,) LIF id of projection q's target 0
    npost: np.ndarray       # (Q,) number of targets of q
    D: np.ndarray           # (Q,) max delay of q in steps (ring of D + 1 slots of npost values)
    ring_off: np.ndarray    # (Q,) offset of q's ring in the buffer
    wexp: np.ndarray        # (Q,) weight_exp when negative (a floor shift of each slot's sum), else 0
    ring_size: int          # sum over q of (D + 1) * npost
    ptr: np.ndarray         # (G + 1,) synapses of source g: ptr[g]..ptr[g + 1]
    q: np.ndarray           # (S,) projection of synapse s
    post: np.ndarray        # (S,) local target of s
    w: np.ndarray           # (S,) weight of s (fixed: int64, shifted by a positive weight_exp; else float64)
    d: np.ndarray           # (S,) delay of s in steps, 0..D


class Events(NamedTuple):
    """Input spikes: per sample b the events off[b]..off[b + 1] of (step, source id), sorted by step."""

    step: np.ndarray
    src: np.ndarray
    off: np.ndarray


class Outputs(NamedTuple):
    """Per-sample results, row j of each array for sample ``samples[j]``."""

    rec_l: np.ndarray       # (n_rec,) LIF ids whose v is recorded
    rec_v: np.ndarray       # (B, T, n_rec) v after each step, or (B, 0, 0)
    step: np.ndarray        # (B, cap) step of each spike
    lif: np.ndarray         # (B, cap) LIF id of each spike
    counts: np.ndarray      # (B,) number of spikes (may exceed cap)
    vmax: np.ndarray        # (B, N) max of v (with track)
    vmin: np.ndarray        # (B, N) min of v (with track)
    umax: np.ndarray        # (B, N) max |u| (with track)
    overflow: np.ndarray    # (B, 3) fixed point: u wrap-arounds, v saturations, max |u|


class Ring(NamedTuple):
    """Per-sample synaptic delay buffers: ``buf[ring_off[q] + slot * npost[q] + i]`` is what target i
    of q receives at the step whose slot it is; ``head[q] = t mod (D_q + 1)``. The scratch arrays
    gather the per-step sums of projections with a negative weight_exp (size 1 if there are none)."""

    buf: np.ndarray
    head: np.ndarray
    base: np.ndarray        # (S,) ring_off[q[s]] + post[s]: the slot-0 index of synapse s
    scratch: np.ndarray
    mark: np.ndarray
    touched: np.ndarray
    touched_q: np.ndarray


# ---------------------------------------------------------------------------------- shared stages
# The per-step stages are inlined into the per-sample functions (``fixed_sample``, ``float_sample``);
# the prange loop body of ``run_fixed`` / ``run_float`` is just one call of these. Numba 0.68 drops
# stores into the arrays of NamedTuple arguments made in a prange body itself (inlined code
# included) and crashed on the grouped path there; from a called function they arrive.
def _floor_shift(x, k):
    """``floor(x / 2**k)`` for ``k >= 0`` (an arithmetic right shift of an integer)."""
    return x >> k if isinstance(x, (int, np.integer)) else np.floor(x / (1 << k))


@overload(_floor_shift)
def _floor_shift_nb(x, k):
    if isinstance(x, types.Integer):
        return lambda x, k: x >> k
    return lambda x, k: np.floor(x / (1 << k))  # float point never has a negative weight_exp


@njit(cache=True)
def pop_starts(pop, n_pop):
    """Start of each population in the LIF ids (``n_pop + 1`` entries, int64)."""
    out = np.zeros(n_pop + 1, np.int64)
    for i in range(pop.size):
        out[pop[i] + 1] += 1
    for p in range(n_pop):
        out[p + 1] += out[p]
    return out


@njit(cache=True)
def synapse_bases(syn):
    """Slot-0 ring index ``ring_off[q[s]] + post[s]`` of every synapse (int64)."""
    base = np.empty(syn.q.size, np.int64)
    for k in range(syn.q.size):
        base[k] = syn.ring_off[syn.q[k]] + syn.post[k]
    return base


@njit(inline="always", cache=True)
def new_ring(syn, base):
    """Empty delay buffers of one sample, of the weights' dtype (head at step 0)."""
    grouped = False
    for q in range(syn.wexp.size):
        if syn.wexp[q] < 0:
            grouped = True
    g = syn.ring_size if grouped else 1
    return Ring(np.zeros(syn.ring_size, syn.w.dtype), np.zeros(syn.npost.size, np.int64), base,
                np.zeros(g, syn.w.dtype), np.zeros(g, np.bool_), np.empty(g, np.int64), np.empty(g, np.int64))


@njit(inline="always", cache=True)
def ring_read(ring, syn, t, a):
    """Stage 1 of step ``t``: move the rings' slot ``t mod (D_q + 1)`` into ``a`` (summed over the
    projections into each LIF neuron, in projection order; ``a`` is overwritten) and clear it."""
    buf, head = ring.buf, ring.head
    D, ring_off, npost, dst_off = syn.D, syn.ring_off, syn.npost, syn.dst_off
    if t > 0:
        for q in range(head.size):
            head[q] += 1
            if head[q] > D[q]:
                head[q] = 0
    for i in range(a.size):
        a[i] = 0
    for q in range(head.size):
        base = ring_off[q] + head[q] * npost[q]
        off = dst_off[q]
        npq = npost[q]
        rr = buf[base:base + npq]
        ad = a[off:off + npq]
        for i in range(npq):
            ad[i] += rr[i]
            rr[i] = 0


@njit(inline="always", cache=True)
def deliver(ring, syn, ev, t, ptr, end, spk, nsp):
    """Stage 3 of step ``t``: add the weights of the input events of step ``t`` (``ev`` from ``ptr``,
    at most up to ``end``), then of the LIF spikes ``spk[:nsp]``, to the ring slots of steps
    ``t + 1 + d``; floor-shift the per-slot sums of projections with a negative weight_exp.
    Returns the index of the first input event after step ``t``."""
    # the tuples' arrays as locals, outside the loops
    buf, head, base, scratch, mark, touched, touched_q = ring
    ev_step, ev_src = ev.step, ev.src
    lif_src, D, npost, wexp, sptr, sq, w, sd = syn.lif_src, syn.D, syn.npost, syn.wexp, syn.ptr, syn.q, syn.w, syn.d
    nt = 0
    for phase in range(2):
        if phase == 0:
            while ptr < end and ev_step[ptr] < t:
                ptr += 1
            lo = ptr
            while ptr < end and ev_step[ptr] == t:
                ptr += 1
            hi = ptr
        else:
            lo = 0
            hi = nsp
        for e in range(lo, hi):
            g = ev_src[e] if phase == 0 else lif_src[spk[e]]
            for s in range(sptr[g], sptr[g + 1]):
                q = sq[s]
                idx = base[s]
                d1 = D[q] + 1
                if d1 > 1:
                    slot = head[q] + 1 + sd[s]
                    if slot >= d1:
                        slot -= d1
                    idx += slot * npost[q]
                if wexp[q] >= 0:
                    buf[idx] += w[s]
                else:
                    if not mark[idx]:
                        mark[idx] = True
                        touched[nt] = idx
                        touched_q[nt] = q
                        nt += 1
                    scratch[idx] += w[s]
    for k in range(nt):
        idx = touched[k]
        buf[idx] += _floor_shift(scratch[idx], -wexp[touched_q[k]])
        scratch[idx] = 0
        mark[idx] = False
    return ptr


@njit(inline="always", cache=True)
def collect_spikes(nv, th, lo, spk, nsp):
    """Append the neurons ``lo + i`` whose new voltage ``nv[i]`` (before reset) is above ``th`` to
    ``spk`` from position ``nsp``, in id order; returns the new count."""
    for i in range(nv.size):
        if nv[i] > th:
            spk[nsp] = lo + i
            nsp += 1
    return nsp


@njit(inline="always", cache=True)
def track_range(lo, vv, uu, vm, vn, um):
    """Running max/min of v and max |u| of the neurons ``lo..lo + vv.size`` after a step."""
    for i in range(vv.size):
        nv = vv[i]
        if nv > vm[lo + i]:
            vm[lo + i] = nv
        if nv < vn[lo + i]:
            vn[lo + i] = nv
        cur = uu[i]
        ac = cur if cur >= 0 else -cur
        if ac > um[lo + i]:
            um[lo + i] = ac


@njit(inline="always", cache=True)
def emit(out, j, t, v, spk, nsp, cnt):
    """Record the voltages and the spikes ``spk[:nsp]`` of step ``t`` in row ``j`` of ``out``; returns
    the spike count so far (the spikes past the buffer are counted, not stored)."""
    rec_v, rec_l, o_step, o_lif = out.rec_v, out.rec_l, out.step, out.lif
    if rec_v.shape[1] > 0:
        for k in range(rec_l.size):
            rec_v[j, t, k] = v[rec_l[k]]
    cap = o_step.shape[1]
    for k in range(nsp):
        if cnt < cap:
            o_step[j, cnt] = t
            o_lif[j, cnt] = spk[k]
        cnt += 1
    return cnt


@njit(inline="always", cache=True)
def finish(out, j, cnt, vm, vn, um):
    """Store a sample's spike count and per-neuron extremes in row ``j`` of ``out``."""
    out.counts[j] = cnt
    for i in range(vm.size):
        out.vmax[j, i] = vm[i]
        out.vmin[j, i] = vn[i]
        out.umax[j, i] = um[i]


@njit(inline="always", cache=True)
def store_overflow(out, j, n_wrap, n_sat, um):
    """Store a fixed-point sample's u wrap-arounds, v saturations and max |u| (Lava units) in row
    ``j`` of ``out.overflow``."""
    umax = 0
    for i in range(um.size):
        if um[i] > umax:
            umax = um[i]
    out.overflow[j, 0] = n_wrap
    out.overflow[j, 1] = n_sat
    out.overflow[j, 2] = umax


# ---------------------------------------------------------------------------------- fixed point
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


@njit(cache=True)
def fixed_sample(j, b, n_steps, nrn, syn, ev, out, track, pop_start, vth_eff, sbase):
    """Fixed-point run of sample ``b`` of ``ev`` for ``n_steps`` steps into row ``j`` of ``out``
    (``pop_start``, ``vth_eff = vth << 6`` and ``sbase`` as ``run_fixed`` computes them)."""
    N = nrn.pop.size
    du, dv, bias = nrn.du, nrn.dv, nrn.bias
    n_pop = vth_eff.size
    u = np.zeros(N, np.int64)
    v = nrn.v0.copy()
    a = np.zeros(N, np.int64)
    cu = np.zeros(N, np.int64)
    nvv = np.zeros(N, np.int64)
    ring = new_ring(syn, sbase)
    spk = np.empty(N, np.int64)
    vm = nrn.v0.copy()
    vn = nrn.v0.copy()
    um = np.zeros(N, np.int64)
    ptr = ev.off[b]
    end = ev.off[b + 1]
    cnt = 0
    n_wrap = 0
    n_sat = 0
    for t in range(n_steps):
        # 1. synaptic input buffered at t-1
        ring_read(ring, syn, t, a)
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
                nsp = collect_spikes(nn, th, lo, spk, nsp)
            if track:
                track_range(lo, vv, uu, vm, vn, um)
        cnt = emit(out, j, t, v, spk, nsp, cnt)
        # 3. projections receive the spikes of step t (inputs first, then LIF neurons)
        ptr = deliver(ring, syn, ev, t, ptr, end, spk, nsp)
    finish(out, j, cnt, vm, vn, um)
    store_overflow(out, j, n_wrap, n_sat, um)


def run_fixed(samples, n_steps, nrn, syn, ev, out, track):
    """Fixed-point run of the samples ``samples`` (int64 ids into ``ev``) for ``n_steps`` steps:
    Lava's bit-accurate LIF (integer Lava units) with int32 synaptic sums; fills ``out``."""
    n_pop = nrn.vth.size
    vth_eff = np.empty(n_pop, np.int64)
    for p in range(n_pop):
        vth_eff[p] = nrn.vth[p] << 6
    pop_start = pop_starts(nrn.pop, n_pop)
    sbase = synapse_bases(syn)
    for j in prange(samples.size):
        fixed_sample(j, samples[j], n_steps, nrn, syn, ev, out, track, pop_start, vth_eff, sbase)


# ---------------------------------------------------------------------------------- float point
@njit(cache=True)
def float_sample(j, b, n_steps, nrn, syn, ev, out, track, pop_start, sbase):
    """Float-point run of sample ``b`` of ``ev`` for ``n_steps`` steps into row ``j`` of ``out``."""
    N = nrn.pop.size
    du, dv, vth, bias = nrn.du, nrn.dv, nrn.vth, nrn.bias
    n_pop = vth.size
    u = np.zeros(N)
    v = nrn.v0.copy()
    a = np.zeros(N)
    nvv = np.zeros(N)
    ring = new_ring(syn, sbase)
    spk = np.empty(N, np.int64)
    vm = nrn.v0.copy()
    vn = nrn.v0.copy()
    um = np.zeros(N)
    ptr = ev.off[b]
    end = ev.off[b + 1]
    cnt = 0
    for t in range(n_steps):
        ring_read(ring, syn, t, a)
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
                nsp = collect_spikes(nn, th, lo, spk, nsp)
            if track:
                track_range(lo, vv, uu, vm, vn, um)
        cnt = emit(out, j, t, v, spk, nsp, cnt)
        ptr = deliver(ring, syn, ev, t, ptr, end, spk, nsp)
    finish(out, j, cnt, vm, vn, um)


def run_float(samples, n_steps, nrn, syn, ev, out, track):
    """Float-point run (float64, Lava's ``floating_pt`` LIF) of the samples ``samples`` for
    ``n_steps`` steps; fills ``out`` (``out.overflow`` is left as it is)."""
    pop_start = pop_starts(nrn.pop, nrn.vth.size)
    sbase = synapse_bases(syn)
    for j in prange(samples.size):
        float_sample(j, samples[j], n_steps, nrn, syn, ev, out, track, pop_start, sbase)


def _renamed(fn, name):
    import types as pytypes

    f = pytypes.FunctionType(fn.__code__.replace(co_name=name), fn.__globals__, name, fn.__defaults__)
    f.__qualname__ = name
    f.__doc__ = fn.__doc__
    return f


# parallel over samples (prange), and serial variants for one sample (a thread pool only adds
# overhead there); the serial ones are separate functions so that their numba caches differ
run_fixed_serial = njit(cache=True)(_renamed(run_fixed, "run_fixed_serial"))
run_float_serial = njit(cache=True)(_renamed(run_float, "run_float_serial"))
run_fixed = njit(parallel=True, cache=True)(run_fixed)
run_float = njit(parallel=True, cache=True)(run_float)
