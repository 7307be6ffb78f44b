"""Layer-wise sparsity masks (NumPy; no torch needed).

Top-k rule used everywhere in ``eventsim.ntt`` (NTT mask updates and every baseline)::

    k(n, d) = max(1, floor(d * n + 0.5))        # d * n rounded half-up, at least one synapse

The mask of a weight tensor with ``n`` entries keeps exactly ``k`` entries: those with the largest
score. Ties are broken by the flat (row-major) index, lower index first (a stable sort of the
negated scores), so a mask is a deterministic function of the scores. The reference code keeps
``|w| > sort(|w|)[int((1-d) n)]``, i.e. one weight fewer than ``d n``; we use the exact count.
"""
from __future__ import annotations

import math
from typing import Dict, Mapping

import numpy as np


def check_density(density: float, name: str = "density") -> float:
    """Return ``density`` as a float after checking ``0 < density <= 1`` (dimensionless fraction)."""
    try:
        d = float(density)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1], got {density!r}") from None
    if not (math.isfinite(d) and 0.0 < d <= 1.0):
        raise ValueError(f"{name} must be in (0, 1], got {density!r}")
    return d


def n_keep(n: int, density: float) -> int:
    """Number of entries kept out of ``n`` at ``density``: ``max(1, floor(density * n + 0.5))``."""
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    d = check_density(density)
    return int(min(n, max(1, math.floor(d * n + 0.5))))


def topk_mask(scores: np.ndarray, density: float) -> np.ndarray:
    """Boolean mask (same shape as ``scores``) keeping the ``n_keep(scores.size, density)`` largest scores.

    ``scores``: any-shape finite array (e.g. ``|W|``). Ties: lower flat index wins.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise ValueError("scores must not be empty")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite (NaN or inf found)")
    k = n_keep(s.size, density)
    order = np.argsort(-s.ravel(), kind="stable")
    m = np.zeros(s.size, dtype=bool)
    m[order[:k]] = True
    return m.reshape(s.shape)


def random_mask(shape, density: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of ``shape`` with exactly ``n_keep(prod(shape), density)`` true entries, uniformly placed."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n = int(np.prod(shape))
    k = n_keep(n, density)
    m = np.zeros(n, dtype=bool)
    m[rng.choice(n, size=k, replace=False)] = True
    return m.reshape(shape)


def layer_densities(masks: Mapping[str, np.ndarray]) -> Dict[str, float]:
    """Fraction of true entries per mask (dimensionless)."""
    return {k: float(np.count_nonzero(m)) / float(np.size(m)) for k, m in masks.items()}
