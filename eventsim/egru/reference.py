"""Dense NumPy reference of one EGRU layer: forward and BPTT, line by line, no sparsity.

This is the oracle the Numba kernels are tested against (and a readable statement of the maths).
It follows the EvNN ``EGRUScript`` semantics (see ``eventsim.egru.model`` for the equations):
all B samples advance together with dense matrix products ``y_{t-1} @ R`` (every unit, silent or
not), and the backward pass uses dense ``dQ @ R.T`` and ``y_{t-1}.T @ dQ``.

Shapes: x (B, T, I); params W (I, 3H), R (H, 3H), b_x (3H,), b_r (3H,), thr (H,); state
(y0, c0, tr0), each (B, H). ``surrogate``: 'triangle' (Heaviside forward, gamma max(0, 1 - |v| /
width) backward) or 'sigmoid' (o = sigmoid(k v) forward and k o (1 - o) backward).
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import numpy as np


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _spike(v: np.ndarray, surrogate: str, k: float) -> np.ndarray:
    if surrogate == "triangle":
        return (v > 0).astype(v.dtype)
    return _sig(k * v)


def reference_forward(x: np.ndarray, params: Mapping[str, np.ndarray],
                      state: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None, *,
                      trace_decay: float = 0.9, surrogate: str = "triangle", smooth_k: float = 10.0
                      ) -> Dict[str, np.ndarray]:
    """Dense forward pass. Returns a dict of arrays: y, o, c (post-reset), chat, v, trace (B, T, H),
    and the cache z, r, g, q_g, c_prev (B, T, H) plus the state y0, c0, tr0."""
    x = np.asarray(x, dtype=np.float64)
    W, R, b_x, b_r, thr = (np.asarray(params[k], dtype=np.float64) for k in ("W", "R", "b_x", "b_r", "thr"))
    B, T, _ = x.shape
    H = R.shape[0]
    if state is None:
        y0 = np.zeros((B, H))
        c0 = np.zeros((B, H))
        tr0 = np.zeros((B, H))
    else:
        y0, c0, tr0 = (np.asarray(s, dtype=np.float64) for s in state)
    keys = ("y", "o", "c", "chat", "v", "trace", "z", "r", "g", "q_g", "c_prev")
    out = {k: np.zeros((B, T, H)) for k in keys}
    y, c, tr = y0, c0, tr0
    for t in range(T):
        a = x[:, t] @ W + b_x
        q = y @ R + b_r
        z = _sig(a[:, :H] + q[:, :H])
        r = _sig(a[:, H:2 * H] + q[:, H:2 * H])
        g = np.tanh(a[:, 2 * H:] + r * q[:, 2 * H:])
        chat = z * c + (1.0 - z) * g
        v = chat - thr
        o = _spike(v, surrogate, smooth_k)
        out["c_prev"][:, t] = c
        y = o * chat
        c = chat - o * thr
        tr = trace_decay * tr + (1.0 - trace_decay) * y
        for k, val in (("y", y), ("o", o), ("c", c), ("chat", chat), ("v", v), ("trace", tr), ("z", z),
                       ("r", r), ("g", g), ("q_g", q[:, 2 * H:])):
            out[k][:, t] = val
    out["y0"], out["c0"], out["tr0"] = y0, c0, tr0
    return out


def reference_backward(x: np.ndarray, params: Mapping[str, np.ndarray], fwd: Mapping[str, np.ndarray],
                       dy: Optional[np.ndarray] = None, dtrace: Optional[np.ndarray] = None,
                       do: Optional[np.ndarray] = None, *, trace_decay: float = 0.9, gamma: float = 0.7,
                       width: float = 1.0, surrogate: str = "triangle", smooth_k: float = 10.0
                       ) -> Dict[str, np.ndarray]:
    """Dense BPTT for the loss whose gradients w.r.t. y, trace and o are ``dy``, ``dtrace``, ``do``
    (each (B, T, H) or None). Returns gradients W, R, b_x, b_r, thr, x, y0, c0, tr0."""
    x = np.asarray(x, dtype=np.float64)
    W, R, thr = (np.asarray(params[k], dtype=np.float64) for k in ("W", "R", "thr"))
    B, T, I = x.shape
    H = R.shape[0]
    zeros = np.zeros((B, T, H))
    dy = zeros if dy is None else np.asarray(dy, dtype=np.float64)
    dtrace = zeros if dtrace is None else np.asarray(dtrace, dtype=np.float64)
    do_ext = zeros if do is None else np.asarray(do, dtype=np.float64)
    a = trace_decay
    g_W = np.zeros_like(W)
    g_R = np.zeros_like(R)
    g_bx = np.zeros(3 * H)
    g_br = np.zeros(3 * H)
    g_thr = np.zeros(H)
    g_x = np.zeros_like(x)
    dc = np.zeros((B, H))
    dy_rec = np.zeros((B, H))
    dtr = np.zeros((B, H))
    for t in range(T - 1, -1, -1):
        dtr = dtrace[:, t] + dtr
        dyt = dy[:, t] + dy_rec + (1.0 - a) * dtr
        dtr = a * dtr
        v = fwd["v"][:, t]
        o = fwd["o"][:, t]
        chat = fwd["chat"][:, t]
        if surrogate == "triangle":
            phi = gamma * np.maximum(0.0, 1.0 - np.abs(v) / width)
        else:
            phi = smooth_k * o * (1.0 - o)
        # y = o chat, c = chat - o thr, v = chat - thr
        d_o = do_ext[:, t] + chat * dyt - thr * dc
        dv = phi * d_o
        dchat = o * dyt + dv + dc
        g_thr += np.sum(-dv - o * dc, axis=0)
        z, r, g, qg = fwd["z"][:, t], fwd["r"][:, t], fwd["g"][:, t], fwd["q_g"][:, t]
        dc = z * dchat
        dz = (fwd["c_prev"][:, t] - g) * dchat
        dg = (1.0 - z) * dchat
        dpg = (1.0 - g * g) * dg
        dr = dpg * qg
        dpz = z * (1.0 - z) * dz
        dpr = r * (1.0 - r) * dr
        dP = np.concatenate([dpz, dpr, dpg], axis=1)
        dQ = np.concatenate([dpz, dpr, r * dpg], axis=1)
        y_prev = fwd["y0"] if t == 0 else fwd["y"][:, t - 1]
        g_W += x[:, t].T @ dP
        g_bx += dP.sum(axis=0)
        g_br += dQ.sum(axis=0)
        g_R += y_prev.T @ dQ
        g_x[:, t] = dP @ W.T
        dy_rec = dQ @ R.T
    return {"W": g_W, "R": g_R, "b_x": g_bx, "b_r": g_br, "thr": g_thr, "x": g_x,
            "y0": dy_rec, "c0": dc, "tr0": dtr}
