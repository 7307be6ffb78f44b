"""Handwritten digits: 8x8 images, 1797 samples, integer pixels 0..16 (shipped with eventsim).

The data are the test set of the UCI "Optical Recognition of Handwritten Digits" data set (E. Alpaydin
and C. Kaynak, 1998; CC BY 4.0), the same 1797 images in the same order as scikit-learn's
``load_digits``. They are stored in ``eventsim/data/digits.npz`` (``images`` uint8 (1797, 8, 8),
``labels`` uint8), so nothing is downloaded and scikit-learn is not needed.

``digits_arrays(split)`` returns pixel intensities scaled to [0, 1] (dimensionless) and integer
labels, on a fixed stratified split: 1438 training and 359 test samples (20 % per class, rounded),
drawn with ``numpy.random.default_rng(0)``. The split never changes between versions, so results
are comparable across runs and across models (LIF/EventProp and EGRU use the same split).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Tuple

import numpy as np

SPLIT_SEED = 0
TEST_FRACTION = 0.2
DATA_FILE = Path(__file__).resolve().parent / "digits.npz"


@lru_cache(maxsize=1)
def _load() -> Tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of all 1797 images: X float64 (1797, 64) in [0, 1], y int64 (read once)."""
    with np.load(DATA_FILE) as f:
        images, labels = f["images"], f["labels"]
    X = images.reshape(len(images), 64).astype(np.float64) / 16.0
    X.flags.writeable = False
    y = labels.astype(np.int64)
    y.flags.writeable = False
    return X, y


@lru_cache(maxsize=1)
def _split_indices() -> Tuple[np.ndarray, np.ndarray]:
    y = _load()[1]
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
    X, y = _load()
    if split == "all":
        return X.copy(), y.copy()
    train, test = _split_indices()
    if split == "train":
        return X[train], y[train]
    if split == "test":
        return X[test], y[test]
    raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
