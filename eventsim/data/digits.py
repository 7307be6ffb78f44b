"""scikit-learn's handwritten digits (8x8 images, 1797 samples, shipped inside scikit-learn).

``digits_arrays(split)`` returns pixel intensities scaled to [0, 1] (dimensionless) and integer
labels, on a fixed stratified split: 1438 training and 359 test samples (20 % per class, rounded),
drawn with ``numpy.random.default_rng(0)``. The split never changes between versions, so results
are comparable across runs and across models (LIF/EventProp and EGRU use the same split).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Tuple

import numpy as np

SPLIT_SEED = 0
TEST_FRACTION = 0.2


@lru_cache(maxsize=1)
def _split_indices() -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    y = load_digits().target
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(idx.size)]
        n_test = int(round(TEST_FRACTION * idx.size))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def digits_arrays(split: str = "train") -> Tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)``: X float64 of shape (n, 64) in [0, 1], row-major pixels; y int64 in 0..9.

    ``split`` is ``"train"`` (1438 samples), ``"test"`` (359) or ``"all"`` (1797, original order).
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    if split == "all":
        return X, y
    train, test = _split_indices()
    if split == "train":
        return X[train], y[train]
    if split == "test":
        return X[test], y[test]
    raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
