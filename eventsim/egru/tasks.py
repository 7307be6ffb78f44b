"""Sequence tasks for EGRU: sequential digits and two long-memory synthetic tasks.

All generators return float64 inputs of shape (n, T, I) (dimensionless; one step = one sequence
element) and take a ``seed`` (int) or a ``numpy.random.Generator``.

* ``digits_sequences(split, mode)``: 8x8 handwritten digits (``eventsim.data.digits``, fixed
  train/test split, 1438/359 samples) read ``'pixel'`` by pixel (T = 64, I = 1, row-major) or ``'row'`` by row
  (T = 8, I = 8). Intensities in [0, 1].
* ``delayed_xor(n, n_steps)``: I = 3 channels (value, marker, cue). The value channel carries a
  random +-1 at every step (distractors); the marker channel is 1 at two steps t1 in [0, T/4) and
  t2 in [T/4, T/2); the cue channel is 1 at the last step. Label = XOR of (value > 0) at t1 and t2,
  so the answer must be held for at least T/2 steps while ignoring T - 2 distractors. Chance = 50 %.
* ``adding_problem(n, n_steps)`` (Hochreiter & Schmidhuber 1997): I = 2 (value ~ U[0, 1], marker
  at one step in each half); target = sum of the two marked values (regression; predicting the
  mean 1.0 gives MSE 1/6).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .params import SeedLike, as_rng, check_size

DIGIT_MODES = ("pixel", "row")


def sequential_digits(X: np.ndarray, mode: str = "pixel") -> np.ndarray:
    """(n, 64) flattened 8x8 images -> (n, 64, 1) (``'pixel'``) or (n, 8, 8) (``'row'``) sequences."""
    if mode not in DIGIT_MODES:
        raise ValueError(f"mode must be one of {DIGIT_MODES}, got {mode!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 64:
        raise ValueError(f"X must have shape (n, 64), got {X.shape}")
    return X.reshape(len(X), 64, 1) if mode == "pixel" else X.reshape(len(X), 8, 8)


def digits_sequences(split: str = "train", mode: str = "pixel") -> Tuple[np.ndarray, np.ndarray]:
    """(sequences, labels) of the digits data set (``split``: 'train', 'test' or 'all')."""
    from ..data.digits import digits_arrays

    X, y = digits_arrays(split)
    return sequential_digits(X, mode), y


def delayed_xor(n: int, n_steps: int = 50, seed: SeedLike = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Delayed XOR (see module docstring): inputs (n, T, 3) float64 and labels (n,) int64 in {0, 1}."""
    n = check_size("n", n)
    T = check_size("n_steps", n_steps)
    if T < 8:
        raise ValueError(f"n_steps must be >= 8 for delayed_xor, got {n_steps!r}")
    rng = as_rng(seed)
    X = np.zeros((n, T, 3))
    X[:, :, 0] = rng.choice([-1.0, 1.0], size=(n, T))
    t1 = rng.integers(0, T // 4, size=n)
    t2 = rng.integers(T // 4, T // 2, size=n)
    rows = np.arange(n)
    X[rows, t1, 1] = 1.0
    X[rows, t2, 1] = 1.0
    X[:, T - 1, 2] = 1.0
    y = ((X[rows, t1, 0] > 0) ^ (X[rows, t2, 0] > 0)).astype(np.int64)
    return X, y


def adding_problem(n: int, n_steps: int = 50, seed: SeedLike = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Adding problem: inputs (n, T, 2) float64 and targets (n,) float64 in [0, 2]."""
    n = check_size("n", n)
    T = check_size("n_steps", n_steps)
    if T < 2:
        raise ValueError(f"n_steps must be >= 2 for adding_problem, got {n_steps!r}")
    rng = as_rng(seed)
    X = np.zeros((n, T, 2))
    X[:, :, 0] = rng.random((n, T))
    t1 = rng.integers(0, T // 2, size=n)
    t2 = rng.integers(T // 2, T, size=n)
    rows = np.arange(n)
    X[rows, t1, 1] = 1.0
    X[rows, t2, 1] = 1.0
    return X, X[rows, t1, 0] + X[rows, t2, 0]
