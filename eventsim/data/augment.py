"""Image augmentation for training: small random affine distortions of images given as flat arrays.

``random_affine_images(X, shape, rng, ...)`` draws, per image, a rotation angle, a scale factor and
a sub-pixel translation, and resamples the image with bilinear interpolation (zero outside the
image). Pixel (r, c) of the output takes the input at

    p_in = centre + S(-theta) (p_out - centre - t) / s

with ``theta`` uniform in +-``max_rotation`` degrees, ``s`` uniform in ``1 +- max_scale`` and each
component of ``t`` uniform in +-``max_shift`` pixels. Values stay within [0, 1] (a bilinear mix of
values in [0, 1]). Sub-pixel, small distortions matter on small images: a whole-pixel shift of
an 8x8 digit is an eighth of its width, and trained a worse network than no augmentation at all
(docs/training.md).

Use it on pixel arrays before encoding (EGRU sequences) or, for latency-coded spikes, through
``latency_decode`` and ``latency_encode`` (see ``models/digits.py``).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .encoding import _finite


def _nonneg(name: str, v) -> float:
    f = _finite(name, v)
    if f < 0:
        raise ValueError(f"{name} must be >= 0, got {v!r}")
    return f


def random_affine_images(X: np.ndarray, shape: Tuple[int, int], rng: np.random.Generator,
                         max_rotation: float = 10.0, max_scale: float = 0.1,
                         max_shift: float = 0.5) -> np.ndarray:
    """Randomly rotate, scale and translate each image of ``X`` (training augmentation).

    Args:
        X: (n, H*W) images, row-major, values in [0, 1].
        shape: (H, W).
        rng: ``numpy.random.Generator``; four uniform numbers are drawn per image (angle, scale,
            shift in y, shift in x), as one (n, 4) array, so runs are reproducible from a seed.
        max_rotation: degrees (>= 0).
        max_scale: relative (0 <= max_scale < 1).
        max_shift: pixels (>= 0).

    Returns:
        (n, H*W) float64 array of the distorted images (bilinear interpolation, zero outside).
    """
    if len(shape) != 2 or int(shape[0]) < 1 or int(shape[1]) < 1:
        raise ValueError(f"shape must be (height, width) of positive integers, got {shape!r}")
    h, w = int(shape[0]), int(shape[1])
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"X must have shape (n, {h * w}) for images of shape {shape!r}, got {X.shape}")
    rot = _nonneg("max_rotation", max_rotation)
    sc = _nonneg("max_scale", max_scale)
    if sc >= 1:
        raise ValueError(f"max_scale must be < 1, got {max_scale!r}")
    sh = _nonneg("max_shift", max_shift)
    n = X.shape[0]
    u = rng.uniform(-1.0, 1.0, size=(n, 4))
    theta = np.deg2rad(rot) * u[:, 0]
    s = 1.0 + sc * u[:, 1]
    ty, tx = sh * u[:, 2], sh * u[:, 3]
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    rr, cc = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    dy = rr.ravel()[None, :] - cy - ty[:, None]
    dx = cc.ravel()[None, :] - cx - tx[:, None]
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    yin = cy + (cos * dy + sin * dx) / s[:, None]      # inverse rotation of (dy, dx), then 1/s
    xin = cx + (-sin * dy + cos * dx) / s[:, None]
    y0, x0 = np.floor(yin), np.floor(xin)
    fy, fx = yin - y0, xin - x0
    y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
    img = X.reshape(n, h, w)
    samp = np.arange(n)[:, None]

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        v = img[samp, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)]
        return np.where(inside, v, 0.0)

    out = ((1 - fy) * (1 - fx) * at(y0, x0) + (1 - fy) * fx * at(y0, x0 + 1)
           + fy * (1 - fx) * at(y0 + 1, x0) + fy * fx * at(y0 + 1, x0 + 1))
    return np.clip(out, 0.0, 1.0)
