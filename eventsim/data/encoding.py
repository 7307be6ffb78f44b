"""Latency encoders: values in [0, 1] to one spike per input neuron (times in ms)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..spikes import SpikeBatch


def latency_encode(X: np.ndarray, t_max: float = 30.0, t_min: float = 0.0, bias_time: Optional[float] = None,
                   invert: bool = False, threshold: Optional[float] = None) -> SpikeBatch:
    """One spike per feature at ``t_min + v (t_max - t_min)`` ms (``invert``: ``1 - v``: bright = early).

    Args:
        X: (n_samples, n_features) values in [0, 1].
        t_max, t_min: the time window (ms).
        bias_time: if given, an extra input neuron (index n_features) spikes at this time (ms).
        invert: encode ``1 - v`` instead of ``v``.
        threshold: if given, features with ``v <= threshold`` emit no spike.
    Returns:
        SpikeBatch with n_features (+1 with a bias) neurons.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if not np.all(np.isfinite(X)) or X.min(initial=0.0) < 0 or X.max(initial=0.0) > 1:
        raise ValueError("X must be finite and within [0, 1]")
    if not (0 <= t_min < t_max):
        raise ValueError(f"need 0 <= t_min < t_max, got t_min={t_min!r}, t_max={t_max!r}")
    n, f = X.shape
    V = 1.0 - X if invert else X
    T = t_min + V * (t_max - t_min)
    keep = np.ones_like(X, dtype=bool) if threshold is None else X > threshold
    times, ids = [], []
    for i in range(n):
        idx = np.flatnonzero(keep[i])
        t = T[i, idx]
        if bias_time is not None:
            idx = np.append(idx, f)
            t = np.append(t, float(bias_time))
        order = np.argsort(t, kind="stable")
        times.append(t[order])
        ids.append(idx[order])
    return SpikeBatch.from_arrays(times, ids, n_neurons=f + (1 if bias_time is not None else 0), sort=False)
