"""EGRU kernels (Numba): activity-sparse forward pass and sparse BPTT over plain arrays.

Layout (EvNN/Haste conventions, gate order [z | r | g]); B batch, T steps, I inputs, H units::

    Ax  (B, T, 3H)  = x W + b_x, computed outside (one BLAS GEMM for all steps)
    R   (H, 3H)     recurrent weights, row j = everything presynaptic unit j feeds (dense layout), or
    CSR (Rptr (H+1,), Ridx (nnz,), Rdat (nnz,)) over the presynaptic row j for a masked/sparse R
    b_r (3H,), thr (H,)

One step of one sample (``surrogate == 0``: Heaviside forward, triangular pseudo-derivative)::

    q   = b_r + sum_{j: y_{t-1,j} != 0} y_{t-1,j} R[j, :]       (only rows of units that emitted)
    z   = sigmoid(a_z + q_z);  r = sigmoid(a_r + q_r);  g = tanh(a_g + r * q_g)
    c^  = z c_{t-1} + (1 - z) g;   v = c^ - thr;   o = H(v)  (H(0) = 0)
    y_t = o c^;   c_t = c^ - o thr;   tr_t = alpha tr_{t-1} + (1 - alpha) y_t

``surrogate == 1`` replaces H(v) by the smooth sigmoid(k v) in the forward pass and uses its exact
derivative k o (1 - o) in the backward pass (for finite-difference checks); every unit then emits.

Backward (per sample, reverse time; dY/dTR/dO are external gradients of the loss)::

    dtr = dTR_t + alpha dtr_{t+1};  dy = dY_t + dy_rec + (1 - alpha) dtr
    do  = dO_t + c^ dy - thr dc;   dv = phi(v) do,  phi(v) = gamma max(0, 1 - |v| / width)
    dc^ = o dy + dv + dc;   dthr -= dv + o dc;   dc_{t-1} = z dc^
    dg = (1 - z) dc^;  dz = (c_{t-1} - g) dc^;  dpg = (1 - g^2) dg;  dr = dpg q_g
    dP = [z(1-z) dz, r(1-r) dr, dpg]  (grad of a = x W + b_x);  dQ = [dP_z, dP_r, r dpg]  (grad of q)
    dy_rec(t-1)[i] = R[i, :] . dQ      only for i in S_{t-1} = {v_{t-1,i} > -width}
    dR[j, :] += y_{t-1,j} dQ           only for j that emitted at t-1 (``egru_grad_r``)

Outside S, dy is multiplied by exactly 0 (o = 0 and phi = 0), so skipping it changes nothing; with
``dense=True`` the kernels compute every row and give bit-identical results (used by the tests).

Parallelism and memory: the batch is cut into blocks of ``block`` samples, blocks run in parallel
(``prange``). Inside a block all samples advance together, so a row R[j, :] is loaded once per
step and applied to every sample of the block in which unit j emitted (forward), or dotted with
the errors of every sample that needs it (backward): the row stays in L1 while the block's q/dQ
stay in L2. The result does not depend on the block size (each sample's sums run over j in the
same ascending order). Gate non-linearities use a vectorisable exp (``_vexp``, <= 1e-15 relative
error) because scalar libm calls dominate the cost at low activity.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# reassoc lets LLVM vectorise the row dot products of the backward pass; no nnan/ninf, so NaN
# and inf propagate and are detected by the Python layer.
_FM = {"nsz", "arcp", "contract", "reassoc"}
# the exp range reduction needs its operation order: no reassoc there
_FM_EXP = {"nsz", "arcp", "contract"}

SURROGATE_TRIANGLE = 0
SURROGATE_SIGMOID = 1

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


@njit(cache=True, fastmath=_FM_EXP)
def _vexp(src, dst, ibuf, n):
    """dst[k] = exp(src[k]) for k < n (float64 buffers; ibuf int64 scratch of length >= n).

    Cody-Waite reduction x = m ln2 + r, |r| <= ln2/2, Taylor polynomial of degree 14 for e^r,
    2^m assembled from the exponent bits; inputs clamped to [-708, 708]. Written as two simple
    loops so that LLVM vectorises them (no libm call).
    """
    for k in range(n):
        v = min(max(src[k], -708.0), 708.0)
        m = math.floor(v * _LOG2E + 0.5)
        r = (v - m * _LN2_HI) - m * _LN2_LO
        p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
            1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
                1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600 + r * (
                    1.0 / 6227020800 + r * (1.0 / 87178291200))))))))))))))
        dst[k] = p
        ibuf[k] = (np.int64(m) + 1023) << 52
    scale = ibuf.view(np.float64)
    for k in range(n):
        dst[k] *= scale[k]


@njit(cache=True, fastmath=_FM)
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(parallel=True, cache=True, fastmath=_FM)
def egru_forward(Ax, R, Rptr, Ridx, Rdat, use_csr, b_r, thr, alpha, surrogate, k_smooth,
                 y0, c0, tr0, block, store_y, store_tr, store_cache,
                 Y, TR, Z, RG, G, QG, V, C, ev_cnt, y_last, c_last, tr_last, n_mac):
    """Run the EGRU recurrence for all samples (see module docstring).

    Inputs: Ax (B, T, 3H); R (H, 3H) if not ``use_csr`` else Rptr/Ridx/Rdat (CSR over presynaptic
    rows); b_r (3H,); thr (H,); alpha trace decay; surrogate 0/1, k_smooth the sigmoid slope;
    y0, c0, tr0 (B, H) initial state; ``block`` samples per parallel task. Outputs (written in
    place): Y, TR (B, T, H) if ``store_y`` / ``store_tr``; cache Z, RG, G, QG, V (B, T, H) and
    C (B, T+1, H, with C[:, 0] = c0) if ``store_cache``; ev_cnt (B, T) event counts always;
    final state y_last, c_last, tr_last (B, H); n_mac (B,) recurrent multiply-accumulates.
    """
    B = Ax.shape[0]
    T = Ax.shape[1]
    H3 = Ax.shape[2]
    H = H3 // 3
    H2 = 2 * H
    nblk = (B + block - 1) // block
    for kb in prange(nblk):
        b0 = kb * block
        nb = min(B, b0 + block) - b0
        q = np.empty((nb, H3), dtype=Ax.dtype)
        yp = np.empty((nb, H), dtype=Ax.dtype)
        c = np.empty((nb, H), dtype=Ax.dtype)
        tr = np.empty((nb, H), dtype=Ax.dtype)
        cnt = np.zeros(H, dtype=np.int32)
        macs = np.zeros(nb, dtype=np.int64)
        u = np.empty(H2, dtype=np.float64)
        e = np.empty(H3, dtype=np.float64)
        ib = np.empty(H2, dtype=np.int64)
        for bb in range(nb):
            for i in range(H):
                yp[bb, i] = y0[b0 + bb, i]
                c[bb, i] = c0[b0 + bb, i]
                tr[bb, i] = tr0[b0 + bb, i]
                if yp[bb, i] != 0:
                    cnt[i] += 1
                if store_cache:
                    C[b0 + bb, 0, i] = c[bb, i]
        for t in range(T):
            for bb in range(nb):
                for k in range(H3):
                    q[bb, k] = b_r[k]
            # recurrent input: one pass over the rows of units that emitted in this block
            for j in range(H):
                if cnt[j] == 0:
                    continue
                for bb in range(nb):
                    val = yp[bb, j]
                    if val == 0:
                        continue
                    if use_csr:
                        for p in range(Rptr[j], Rptr[j + 1]):
                            q[bb, Ridx[p]] += val * Rdat[p]
                        macs[bb] += Rptr[j + 1] - Rptr[j]
                    else:
                        for k in range(H3):
                            q[bb, k] += val * R[j, k]
                        macs[bb] += H3
            for i in range(H):
                cnt[i] = 0
            for bb in range(nb):
                b = b0 + bb
                # z, r = sigmoid(a + q);  g = tanh(a_g + r q_g) = 1 - 2 / (1 + exp(2 (.)))
                for k in range(H2):
                    u[k] = -(Ax[b, t, k] + q[bb, k])
                _vexp(u, e, ib, H2)
                for k in range(H2):
                    e[k] = 1.0 / (1.0 + e[k])
                for i in range(H):
                    u[i] = 2.0 * (Ax[b, t, H2 + i] + e[H + i] * q[bb, H2 + i])
                _vexp(u, u, ib, H)
                for i in range(H):
                    e[H2 + i] = 1.0 - 2.0 / (1.0 + u[i])
                n_cur = 0
                for i in range(H):
                    z = e[i]
                    g = e[H2 + i]
                    chat = z * c[bb, i] + (1.0 - z) * g
                    v = chat - thr[i]
                    if surrogate == SURROGATE_TRIANGLE:
                        o = 1.0 if v > 0.0 else 0.0
                    else:
                        o = _sigmoid(k_smooth * v)
                    y = o * chat
                    yp[bb, i] = y
                    if y != 0.0:
                        cnt[i] += 1
                        n_cur += 1
                    c[bb, i] = chat - o * thr[i]
                    tr[bb, i] = alpha * tr[bb, i] + (1.0 - alpha) * y
                    if store_y:
                        Y[b, t, i] = y
                    if store_tr:
                        TR[b, t, i] = tr[bb, i]
                    if store_cache:
                        Z[b, t, i] = z
                        RG[b, t, i] = e[H + i]
                        G[b, t, i] = g
                        QG[b, t, i] = q[bb, H2 + i]
                        V[b, t, i] = v
                        C[b, t + 1, i] = c[bb, i]
                ev_cnt[b, t] = n_cur
        for bb in range(nb):
            for i in range(H):
                c_last[b0 + bb, i] = c[bb, i]
                tr_last[b0 + bb, i] = tr[bb, i]
                y_last[b0 + bb, i] = yp[bb, i]
            n_mac[b0 + bb] = macs[bb]


@njit(parallel=True, cache=True, fastmath=_FM)
def egru_backward(R, Rptr, Ridx, Rdat, use_csr, thr, alpha, surrogate, k_smooth, gamma, width, dense,
                  need_dy0, block, Z, RG, G, QG, V, C, dY, has_dtr, dTR, has_do, dO,
                  dP, dQ, dthr_b, dy0, dc0, dtr0, n_back, n_mac):
    """BPTT through the recurrence for all samples (see module docstring).

    Inputs: the forward cache Z, RG, G, QG, V (B, T, H), C (B, T+1, H); external gradients dY
    (B, T, H) and, if flagged, dTR and dO (B, T, H). Pseudo-derivative height ``gamma`` and
    half-width ``width`` (surrogate 0) or sigmoid slope ``k_smooth`` (surrogate 1). ``dense``:
    compute dy_rec for every unit instead of only S_{t-1}; ``need_dy0``: compute the (dense)
    gradient of the initial output state y0 (else dy0 is left at 0); ``block``: samples per task.
    Outputs (in place, dthr_b must be zeroed by the caller): dP, dQ (B, T, 3H); dthr_b (B, H)
    per-sample threshold gradients; gradients of the initial state dy0, dc0, dtr0 (B, H); n_back
    (B, T) number of units whose dy_rec(t-1) was computed at step t (R-row dot products); n_mac
    (B,) multiply-accumulates of those dot products.
    """
    B = Z.shape[0]
    T = Z.shape[1]
    H = Z.shape[2]
    H3 = 3 * H
    nblk = (B + block - 1) // block
    for kb in prange(nblk):
        b0 = kb * block
        nb = min(B, b0 + block) - b0
        dc = np.zeros((nb, H), dtype=Z.dtype)
        dyrec = np.zeros((nb, H), dtype=Z.dtype)
        dtr = np.zeros((nb, H), dtype=Z.dtype)
        macs = np.zeros(nb, dtype=np.int64)
        for t in range(T - 1, -1, -1):
            for bb in range(nb):
                b = b0 + bb
                for i in range(H):
                    dtr_t = dtr[bb, i]
                    if has_dtr:
                        dtr_t += dTR[b, t, i]
                    dtr[bb, i] = alpha * dtr_t
                    dy = dY[b, t, i] + dyrec[bb, i] + (1.0 - alpha) * dtr_t
                    v = V[b, t, i]
                    th = thr[i]
                    chat = v + th
                    if surrogate == SURROGATE_TRIANGLE:
                        o = 1.0 if v > 0.0 else 0.0
                        phi = gamma * max(0.0, 1.0 - abs(v) / width)
                    else:
                        o = _sigmoid(k_smooth * v)
                        phi = k_smooth * o * (1.0 - o)
                    do = chat * dy - th * dc[bb, i]
                    if has_do:
                        do += dO[b, t, i]
                    dv = phi * do
                    dchat = o * dy + dv + dc[bb, i]
                    dthr_b[b, i] -= dv + o * dc[bb, i]
                    z = Z[b, t, i]
                    r = RG[b, t, i]
                    g = G[b, t, i]
                    dc[bb, i] = z * dchat
                    dz = (C[b, t, i] - g) * dchat
                    dpg = (1.0 - g * g) * ((1.0 - z) * dchat)
                    dr = dpg * QG[b, t, i]
                    dpz = z * (1.0 - z) * dz
                    dpr = r * (1.0 - r) * dr
                    dP[b, t, i] = dpz
                    dP[b, t, H + i] = dpr
                    dP[b, t, 2 * H + i] = dpg
                    dQ[b, t, i] = dpz
                    dQ[b, t, H + i] = dpr
                    dQ[b, t, 2 * H + i] = r * dpg
            # recurrent error for step t-1: one pass over the rows of R, each row dotted with the
            # errors of the samples that need it (units active or near threshold at t-1)
            for i in range(H):
                for bb in range(nb):
                    b = b0 + bb
                    if t == 0:
                        need = need_dy0
                    else:
                        need = dense or surrogate != SURROGATE_TRIANGLE or V[b, t - 1, i] > -width
                    if need:
                        s = 0.0
                        if use_csr:
                            for p in range(Rptr[i], Rptr[i + 1]):
                                s += Rdat[p] * dQ[b, t, Ridx[p]]
                            macs[bb] += Rptr[i + 1] - Rptr[i]
                        else:
                            for k in range(H3):
                                s += R[i, k] * dQ[b, t, k]
                            macs[bb] += H3
                        dyrec[bb, i] = s
                        n_back[b, t] += 1
                    else:
                        dyrec[bb, i] = 0.0
        for bb in range(nb):
            for i in range(H):
                dy0[b0 + bb, i] = dyrec[bb, i]
                dc0[b0 + bb, i] = dc[bb, i]
                dtr0[b0 + bb, i] = dtr[bb, i]
            n_mac[b0 + bb] = macs[bb]


@njit(parallel=True, cache=True, fastmath=_FM)
def egru_grad_r(Y, y0, dQ, use_csr, Rptr, Ridx, dense, rows, dR, dRdat, n_upd):
    """Recurrent weight gradient dR[j, :] = sum_{b, t} y_{t-1}[b, j] dQ[b, t, :] (in place).

    Y (B, T, H) events, y0 (B, H) initial state (y_{-1}), dQ (B, T, 3H). Only units j that emitted
    contribute (rows of silent units are never touched) unless ``dense``. Dense layout writes
    dR (H, 3H); CSR layout writes dRdat (nnz,) for the stored entries only. Units are processed in
    chunks of ``rows`` rows in parallel; within a chunk each dQ[b, t] row is read once and applied
    to all emitting units of the chunk (dR chunk stays in cache). Per unit the (b, t) order is
    fixed (b, then t ascending), so results do not depend on threads or chunking. n_upd (H,) int64
    receives the number of row updates per unit (times the row length = MACs).
    """
    B = Y.shape[0]
    T = Y.shape[1]
    H = Y.shape[2]
    H3 = 3 * H
    nch = (H + rows - 1) // rows
    for ch in prange(nch):
        j0 = ch * rows
        j1 = min(H, j0 + rows)
        for b in range(B):
            for s in range(-1, T - 1):
                for j in range(j0, j1):
                    val = y0[b, j] if s < 0 else Y[b, s, j]
                    if val == 0 and not dense:
                        continue
                    n_upd[j] += 1
                    if use_csr:
                        for p in range(Rptr[j], Rptr[j + 1]):
                            dRdat[p] += val * dQ[b, s + 1, Ridx[p]]
                    else:
                        for k in range(H3):
                            dR[j, k] += val * dQ[b, s + 1, k]
