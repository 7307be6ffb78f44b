"""Latency encoders: values in [0, 1] to at most one spike per input neuron (times in ms).

``latency_encode(X, t_max, t_min, bias_time, invert, threshold)`` maps feature value v of a sample
to one spike of input neuron i at

    t_i = t_min + u (t_max - t_min),   u = v (or u = 1 - v with ``invert``: large values fire early)

and, with ``bias_time``, adds an extra input neuron (index ``n_features``) that fires at
``bias_time`` in every sample (the "bias spike" of Wunderlich & Pehle 2021 / Goeltz et al. 2021).
With ``threshold``, features with ``v <= threshold`` emit no spike (blank pixels stay silent).
Spikes of one sample are sorted by time; ties keep the neuron order (bias last).

Ready-made encoded data sets (the encodings of the recipes in ``models/``):

- ``yin_yang_spikes(split)``: the Yin-Yang features (x, y, 1-x, 1-y) at ``30 v`` ms plus a bias
  spike at 0 ms (5 input neurons), as in the EventProp paper;
- ``digits(split)``: the 8x8 handwritten digits, pixel v in [0, 1] at ``20 (1 - v)`` ms (bright
  pixels early), pixels with v <= 0.05 silent (64 input neurons), after the EventProp paper's MNIST
  encoding ``(1 - pix/255) 20 ms``.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from ..checks import nonnegative_int
from ..spikes import SpikeBatch


def _finite(name: str, v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return f


def latency_encode(X: np.ndarray, t_max: float = 30.0, t_min: float = 0.0, bias_time: Optional[float] = None,
                   invert: bool = False, threshold: Optional[float] = None) -> SpikeBatch:
    """One spike per feature at ``t_min + v (t_max - t_min)`` ms (``invert``: ``1 - v``: large = early).

    Args:
        X: (n_samples, n_features) values in [0, 1].
        t_max: end of the coding window (ms), ``t_min < t_max``.
        t_min: start of the coding window (ms), ``>= 0``.
        bias_time: if given (ms, >= 0), an extra input neuron (index n_features) spikes at this time.
        invert: encode ``1 - v`` instead of ``v``.
        threshold: if given, features with ``v <= threshold`` emit no spike.

    Returns:
        SpikeBatch with n_features (+1 with a bias) neurons.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if not np.all(np.isfinite(X)) or X.min(initial=0.0) < 0 or X.max(initial=0.0) > 1:
        raise ValueError(f"X must be finite and within [0, 1], got range [{np.nanmin(X, initial=0.0)}, "
                         f"{np.nanmax(X, initial=0.0)}]")
    t_min, t_max = _finite("t_min", t_min), _finite("t_max", t_max)
    if not (0 <= t_min < t_max):
        raise ValueError(f"t_min and t_max: need 0 <= t_min < t_max, got t_min={t_min!r}, t_max={t_max!r}")
    if bias_time is not None:
        bias_time = _finite("bias_time", bias_time)
        if bias_time < 0:
            raise ValueError(f"bias_time must be >= 0 ms, got {bias_time!r}")
    if threshold is not None:
        threshold = _finite("threshold", threshold)
    n, f = X.shape
    U = 1.0 - X if invert else X
    T = t_min + U * (t_max - t_min)
    keep = np.ones_like(X, dtype=bool) if threshold is None else X > threshold
    n_in = f + (1 if bias_time is not None else 0)
    if bias_time is not None:
        T = np.concatenate([T, np.full((n, 1), bias_time)], axis=1)
        keep = np.concatenate([keep, np.ones((n, 1), dtype=bool)], axis=1)
    ids = np.broadcast_to(np.arange(n_in), (n, n_in))
    # sort each row by time (stable: ties keep the neuron order), then drop silent entries
    order = np.argsort(np.where(keep, T, np.inf), axis=1, kind="stable")
    Ts = np.take_along_axis(T, order, axis=1)
    ks = np.take_along_axis(keep, order, axis=1)
    ids_s = np.take_along_axis(ids, order, axis=1)
    counts = ks.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SpikeBatch(Ts[ks], ids_s[ks].astype(np.int32), offsets, n_neurons=n_in, validate=False)


def latency_decode(batch: SpikeBatch, n_features: int, t_max: float = 30.0, t_min: float = 0.0,
                   invert: bool = False, silent: float = 0.0) -> np.ndarray:
    """The inverse of ``latency_encode``: (n_samples, n_features) values from the spike times.

    Input neuron ``i < n_features`` spiking at ``t`` gives ``u = (t - t_min) / (t_max - t_min)``
    (``1 - u`` with ``invert``); a feature without a spike gets ``silent``; neurons
    ``>= n_features`` (e.g. a bias neuron) are ignored. If a neuron spikes more than once, its
    first spike counts.
    """
    t_min, t_max = _finite("t_min", t_min), _finite("t_max", t_max)
    if not (0 <= t_min < t_max):
        raise ValueError(f"t_min and t_max: need 0 <= t_min < t_max, got t_min={t_min!r}, t_max={t_max!r}")
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or not 1 <= n_features <= batch.n_neurons:
        raise ValueError(f"n_features must be an integer in [1, {batch.n_neurons}], got {n_features!r}")
    silent = _finite("silent", silent)
    n = batch.n_samples
    samp = np.repeat(np.arange(n), np.diff(batch.offsets))
    ids = batch.ids.astype(np.int64)
    sel = ids < n_features
    first = np.full((n, int(n_features)), np.inf)
    np.minimum.at(first, (samp[sel], ids[sel]), batch.times[sel])
    u = (first - t_min) / (t_max - t_min)
    v = 1.0 - u if invert else u
    return np.where(np.isfinite(first), v, silent)


def drop_spikes(batch: SpikeBatch, p: float, rng: np.random.Generator) -> SpikeBatch:
    """Input dropout: remove each spike independently with probability ``p`` (training augmentation).

    ``rng`` is a ``numpy.random.Generator`` (``eventsim.train.fit`` passes its own, so runs stay
    reproducible); one uniform number is drawn per spike, in storage order.
    """
    p = _finite("p", p)
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1), got {p!r}")
    keep = rng.random(batch.times.size) >= p
    samp = np.repeat(np.arange(batch.n_samples), np.diff(batch.offsets))
    counts = np.bincount(samp[keep], minlength=batch.n_samples)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SpikeBatch(batch.times[keep], batch.ids[keep], offsets, batch.n_neurons, validate=False)



def shift_image_spikes(batch: SpikeBatch, shape: Tuple[int, int], max_shift: int,
                       rng: np.random.Generator) -> SpikeBatch:
    """Translate image inputs: every sample moves by its own random (dy, dx) in
    ``[-max_shift, max_shift]`` pixels (training augmentation; times unchanged).

    Input neuron ``i`` is pixel ``(i // W, i % W)`` of an image of ``shape = (H, W)`` (row-major,
    as ``latency_encode`` of flattened images); extra neurons ``>= H W`` (e.g. a bias neuron) keep
    their id. Spikes moved outside the image are dropped. Two integers are drawn per sample from
    ``rng``, in sample order, so augmented training stays reproducible.
    """
    if len(shape) != 2 or int(shape[0]) < 1 or int(shape[1]) < 1:
        raise ValueError(f"shape must be (height, width) of positive integers, got {shape!r}")
    h, w = int(shape[0]), int(shape[1])
    if batch.n_neurons < h * w:
        raise ValueError(f"shape {shape!r} needs at least {h * w} input neurons, batch has {batch.n_neurons}")
    max_shift = nonnegative_int("max_shift", max_shift)
    n = batch.n_samples
    d = rng.integers(-int(max_shift), int(max_shift) + 1, size=(n, 2))
    samp = np.repeat(np.arange(n), np.diff(batch.offsets))
    ids = batch.ids.astype(np.int64)
    img = ids < h * w
    r = ids // w + d[samp, 0]
    c = ids % w + d[samp, 1]
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    keep = ~img | inside
    new_ids = np.where(img, r * w + c, ids)[keep]
    counts = np.bincount(samp[keep], minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SpikeBatch(batch.times[keep], new_ids.astype(batch.ids.dtype), offsets, batch.n_neurons, validate=False)

# Encodings used by the recipes (models/yinyang.py, models/digits.py).
YIN_YANG_T_MAX = 30.0        # feature value 1 -> 30 ms
YIN_YANG_BIAS_TIME = 0.0     # bias spike (input neuron 4) at 0 ms
DIGITS_T_MAX = 20.0          # pixel value 0 -> 20 ms (but blank pixels are silent)
DIGITS_THRESHOLD = 0.05      # pixels <= 0.05 (0 of 16 grey levels) stay silent


def yin_yang_spikes(split: str = "train", size: Optional[int] = None, seed: Optional[int] = None
                    ) -> Tuple[SpikeBatch, np.ndarray]:
    """Latency-coded Yin-Yang: ``(SpikeBatch of 5 input neurons, labels)``.

    Features (x, y, 1-x, 1-y) spike at ``30 v`` ms (neurons 0-3), the bias neuron 4 at 0 ms.
    ``split``/``size``/``seed`` as in ``eventsim.data.yin_yang``.
    """
    from .yin_yang import yin_yang

    X, y = yin_yang(split, size=size, seed=seed)
    return latency_encode(X, t_max=YIN_YANG_T_MAX, bias_time=YIN_YANG_BIAS_TIME), y


def digits(split: str = "train") -> Tuple[SpikeBatch, np.ndarray]:
    """Latency-coded 8x8 handwritten digits: ``(SpikeBatch of 64 input neurons, labels)``.

    Pixel v in [0, 1] spikes at ``20 (1 - v)`` ms; pixels with v <= 0.05 are silent. ``split`` is
    ``"train"`` (1438), ``"test"`` (359) or ``"all"``: the fixed split of ``digits_arrays``.
    """
    from .digits import digits_arrays

    X, y = digits_arrays(split)
    return latency_encode(X, t_max=DIGITS_T_MAX, invert=True, threshold=DIGITS_THRESHOLD), y
