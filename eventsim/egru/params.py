"""EGRU hyper-parameters, parameter initialisation and boundary validation.

``EGRUConfig`` holds the per-layer hyper-parameters (all dimensionless; EGRU has no physical time,
one step is one input sample of the sequence):

* ``thr_mean``: mean of the initial per-unit thresholds, drawn from Beta(3 m / (1 - m), 3) (EvNN
  v0.2), in (0, 1). Thresholds are trainable and kept in [0, 1] (clamped after each update, as EvNN).
* ``gamma`` (0.7), ``width`` (1.0): height and half-width of the triangular pseudo-derivative
  dH/dv ~ gamma * max(0, 1 - |v| / width). ``width`` is 1/s in EvNN's notation
  (``pseudo_derivative_support`` = s).
* ``trace_decay`` alpha (0.9): output trace tr_t = alpha tr_{t-1} + (1 - alpha) y_t.
* ``surrogate``: 'triangle' (Heaviside forward, triangular backward: the model) or 'sigmoid' (smooth
  stand-in o = sigmoid(k v) in both passes, for finite-difference checks), with slope
  ``smooth_k``.
* ``weight_gain``: gain of the Xavier-normal initialisation of W (I, 3H) and R (H, 3H), as EvNN
  (std = gain * sqrt(2 / (fan_in + fan_out)) with torch's fan convention for a (rows, cols) matrix:
  fan_in = cols, fan_out = rows); biases start at 0.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, Optional, Union

import numpy as np

from ..checks import finite_number, positive_int

SURROGATES = ("triangle", "sigmoid")
SeedLike = Union[None, int, np.random.Generator]


def as_rng(seed: SeedLike) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed (int or None) or the generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer, None or a numpy Generator, got {seed!r}")
    return np.random.default_rng(seed)


def check_size(name: str, value) -> int:
    """Return ``value`` as a positive int or raise ValueError naming ``name``."""
    return positive_int(name, value)


def check_dtype(dtype) -> np.dtype:
    """float32 or float64 as a numpy dtype, else ValueError naming ``dtype``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


@dataclass(frozen=True)
class EGRUConfig:
    """Hyper-parameters of one EGRU layer (see the module docstring); validated on construction."""

    thr_mean: float = 0.3
    gamma: float = 0.7
    width: float = 1.0
    trace_decay: float = 0.9
    surrogate: str = "triangle"
    smooth_k: float = 10.0
    weight_gain: float = 1.0

    def __post_init__(self) -> None:
        for name in ("thr_mean", "gamma", "width", "trace_decay", "smooth_k", "weight_gain"):
            object.__setattr__(self, name, finite_number(name, getattr(self, name)))
        if not (0.0 < self.thr_mean < 1.0):
            raise ValueError(f"thr_mean must be in (0, 1), got {self.thr_mean!r}")
        if not self.gamma > 0:
            raise ValueError(f"gamma must be positive, got {self.gamma!r}")
        if not self.width > 0:
            raise ValueError(f"width must be positive (half-width 1/s of the pseudo-derivative), got {self.width!r}")
        if not (0.0 <= self.trace_decay < 1.0):
            raise ValueError(f"trace_decay must be in [0, 1), got {self.trace_decay!r}")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {SURROGATES}, got {self.surrogate!r}")
        if not self.smooth_k > 0:
            raise ValueError(f"smooth_k must be positive, got {self.smooth_k!r}")
        if not self.weight_gain > 0:
            raise ValueError(f"weight_gain must be positive, got {self.weight_gain!r}")

    def to_dict(self) -> Dict[str, object]:
        """Plain dict (for files and provenance)."""
        return asdict(self)


def xavier_normal(rng: np.random.Generator, rows: int, cols: int, gain: float = 1.0) -> np.ndarray:
    """(rows, cols) float64 from N(0, gain^2 * 2 / (rows + cols)) (torch's xavier_normal_)."""
    return rng.normal(0.0, gain * math.sqrt(2.0 / (rows + cols)), size=(rows, cols))


def init_thresholds(rng: np.random.Generator, n: int, thr_mean: float) -> np.ndarray:
    """(n,) thresholds from Beta(3 m / (1 - m), 3), mean ``thr_mean`` = m, clipped to [0, 1]."""
    return np.clip(rng.beta(3.0 * thr_mean / (1.0 - thr_mean), 3.0, size=n), 0.0, 1.0)


def init_layer_params(n_in: int, n_hidden: int, config: EGRUConfig, rng: np.random.Generator,
                      dtype: np.dtype = np.dtype(np.float64)) -> Dict[str, np.ndarray]:
    """Initial parameters of one layer: W (I, 3H), R (H, 3H), b_x (3H,), b_r (3H,), thr (H,)."""
    H = n_hidden
    p = {
        "W": xavier_normal(rng, n_in, 3 * H, config.weight_gain),
        "R": xavier_normal(rng, H, 3 * H, config.weight_gain),
        "b_x": np.zeros(3 * H),
        "b_r": np.zeros(3 * H),
        "thr": init_thresholds(rng, H, config.thr_mean),
    }
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in p.items()}


def check_layer_params(params: Dict[str, np.ndarray], n_in: int, n_hidden: int,
                       dtype: Optional[np.dtype] = None) -> Dict[str, np.ndarray]:
    """Validate shapes and values of a layer's parameter dict; returns C-contiguous arrays.

    Raises ValueError naming the parameter for a missing key, a wrong shape, NaN/inf, or a
    threshold outside [0, 1].
    """
    H = n_hidden
    shapes = {"W": (n_in, 3 * H), "R": (H, 3 * H), "b_x": (3 * H,), "b_r": (3 * H,), "thr": (H,)}
    out = {}
    for k, shp in shapes.items():
        if k not in params:
            raise ValueError(f"params is missing {k!r}")
        a = np.asarray(params[k])
        if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"params[{k!r}] must be numeric, got dtype {a.dtype}")
        if a.shape != shp:
            raise ValueError(f"params[{k!r}] must have shape {shp}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"params[{k!r}] contains NaN or inf")
        out[k] = np.ascontiguousarray(a, dtype=dtype if dtype is not None else np.float64)
    check_thresholds(out["thr"])
    return out


def check_thresholds(thr: np.ndarray, name: str = "thr") -> None:
    """ValueError naming ``name`` unless all thresholds are finite and in [0, 1]."""
    if not np.all(np.isfinite(thr)):
        raise ValueError(f"{name} contains NaN or inf")
    bad = np.flatnonzero((thr < 0.0) | (thr > 1.0))
    if bad.size:
        raise ValueError(f"{name} must lie in [0, 1]; unit {int(bad[0])} has {float(thr[bad[0]])!r}")
