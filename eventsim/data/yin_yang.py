"""The Yin-Yang data set (Kriener, Goeltz & Petrovici 2021, arXiv 2102.08211), generated, not downloaded.

Points (x, y) are drawn uniformly in [0, 1]^2 and kept inside the circle of radius r_big = 0.5
around (0.5, 0.5). With d_R, d_L the distances to (0.75, 0.5) and (0.25, 0.5) (the dots):
class 2 ("dot") if d_R < r_small or d_L < r_small (r_small = 0.1); else class 1 ("yin") if
d_R <= r_small, or r_small < d_L <= r_big/2, or (y > r_big and d_R > r_big/2); else class 0.
The goal class of each sample is drawn uniformly first and points are rejection-sampled until one
of that class appears (classes are balanced in expectation). Features: (x, y, 1 - x, 1 - y).

Splits follow the reference: train 5000 (seed 42), validation 1000 (seed 41), test 1000 (seed 40).
The generator uses ``numpy.random.RandomState(seed)`` with the reference generator's order of draws
(``randint(3)`` for the goal, then ``rand(2)`` per candidate point), so that the splits are the
reference ones; this is the one place where eventsim uses the legacy RandomState.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Tuple

import numpy as np

from ..checks import nonnegative_int, positive_int, positive_number

SPLITS = {"train": (5000, 42), "val": (1000, 41), "test": (1000, 40)}
R_SMALL, R_BIG = 0.1, 0.5


def yin_yang_class(x: float, y: float, r_small: float = R_SMALL, r_big: float = R_BIG) -> int:
    """Class (0 yang, 1 yin, 2 dot) of a point inside the big circle (the reference's ``which_class``)."""
    d_r = math.sqrt((x - 1.5 * r_big) ** 2 + (y - r_big) ** 2)
    d_l = math.sqrt((x - 0.5 * r_big) ** 2 + (y - r_big) ** 2)
    if d_r < r_small or d_l < r_small:
        return 2
    is_yin = (d_r <= r_small) or (r_small < d_l <= 0.5 * r_big) or (y > r_big and d_r > 0.5 * r_big)
    return int(is_yin)


def yin_yang(split: str = "train", size: int = None, seed: int = None,
             r_small: float = R_SMALL, r_big: float = R_BIG) -> Tuple[np.ndarray, np.ndarray]:
    """Return ``(X, y)``: X float64 (n, 4) = (x, y, 1-x, 1-y) in [0, 1], y int64 in {0, 1, 2}.

    ``split`` picks the reference size and seed ('train' 5000/42, 'val' 1000/41, 'test' 1000/40);
    ``size``/``seed`` override them (a smaller ``size`` gives the first samples of the split).
    Results are cached per (size, seed, radii); the arrays returned are fresh copies.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    n, s = SPLITS[split]
    n = n if size is None else positive_int("size", size)
    s = s if seed is None else nonnegative_int("seed", seed)
    r_big = positive_number("r_big", r_big)
    if not (0 < r_small < r_big / 2):
        raise ValueError(f"r_small must be in (0, r_big/2), got {r_small!r}")
    X, y = _generate(n, s, float(r_small), float(r_big))
    return X.copy(), y.copy()


@lru_cache(maxsize=8)
def _generate(n: int, seed: int, r_small: float, r_big: float) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    xs, ys, cs = [], [], []
    for _ in range(n):
        goal = rng.randint(3)
        while True:
            px, py = rng.rand(2).tolist()
            px, py = px * 2.0 * r_big, py * 2.0 * r_big   # = rand(2) * 2. * r_big, element by element
            if math.sqrt((px - r_big) ** 2 + (py - r_big) ** 2) > r_big:
                continue
            c = yin_yang_class(px, py, r_small, r_big)
            if c == goal:
                break
        xs.append(px)
        ys.append(py)
        cs.append(c)
    x, y = np.array(xs), np.array(ys)
    X = np.stack([x, y, 1.0 - x, 1.0 - y], axis=1)
    return X, np.array(cs, dtype=np.int64)
