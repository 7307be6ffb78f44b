"""Randman: spike-timing classification on random smooth manifolds.

After Zenke & Vogels (2021), "The remarkable robustness of surrogate gradient learning for
instilling complex function in spiking neural networks", Neural Computation 33(4). Each class is
a random smooth ``D``-dimensional manifold embedded in ``N`` dimensions (one per input neuron);
a sample is a point on its class's manifold, and each input neuron fires exactly once, at a time
given by its coordinate. Spike counts carry no information: only the timing does.

**The manifold.** For intrinsic coordinates ``x = (x_1..x_D)`` in ``[0, 1)^D``, embedding
dimension ``j`` (input neuron ``j``) is

    f_j(x) = prod_{d=1..D} g_jd(x_d),
    g_jd(u) = sum_{i=1..F-1} a_jdi (i + 1)^(-alpha) sin(2 pi (i b_jdi u + c_jdi)),

with ``a``, ``b``, ``c`` drawn uniformly from [0, 1): component ``i`` has frequency ``i b_jdi``
(below ``i``) and an amplitude that falls off as ``(i + 1)^-alpha``, so a larger ``alpha`` gives
a smoother manifold; ``|g_jd'(u)| <= 2 pi sum_i a_jdi b_jdi i (i + 1)^(-alpha)`` (the bound
``Manifold.slope_bound`` returns). The constant term ``i = 0`` of the reference implementation's
sum is left out (its ``use_bias=False`` default). The number of components is
``F = min(ceil(prec^(-1/alpha)), max_components)``, so that the weight ``F^-alpha`` of the last
component is at most ``prec`` (``prec = 1e-3``: F = 32 for alpha = 2, as in the reference).

**Spike times.** For each class, ``n_samples_per_class`` coordinates are drawn uniformly, the
manifold is evaluated there and each neuron's values are rescaled to [0, 1) over the class's
samples, ``u_j = (f_j - min f_j) / (max f_j - min f_j + 1e-7)``, as the reference does; neuron
``j`` then fires once at ``duration * u_j`` ms. A sample's times therefore depend on the other
samples of its class through the min and max: draw all splits at once and divide them with
``train_val_test_split``.

**Randomness.** Everything follows from ``seed`` through ``numpy.random.SeedSequence(seed)``:
class ``k`` uses its own child generator for its manifold and then its coordinates, and one more
child shuffles the samples (``default_rng``: PCG64), so a data set is the same on every machine
with the same NumPy (NumPy keeps the right to change a generator's streams between versions).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..checks import in_interval, nonnegative_int, positive_int, positive_number
from ..spikes import SpikeBatch

__all__ = ["Manifold", "RandmanData", "random_manifold", "randman", "randman_data", "train_val_test_split"]

#: added to the range of each neuron's values when they are rescaled to [0, 1) (as the reference does)
RESCALE_EPS = 1e-7
#: points evaluated at once, times neurons, dimensions and components (bounds the memory of ``Manifold.__call__``)
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class Manifold:
    """A random smooth manifold (see the module docstring for the formula).

    Attributes:
        amplitude: ``a``, shape (n_neurons, dim, F); ``amplitude[..., 0] == 0`` (no constant term).
        frequency: ``b``, shape (n_neurons, dim, F), in [0, 1).
        phase: ``c``, shape (n_neurons, dim, F), in [0, 1).
        alpha: the fall-off exponent of the amplitudes (dimensionless, > 0).
    """

    amplitude: np.ndarray
    frequency: np.ndarray
    phase: np.ndarray
    alpha: float

    @property
    def n_neurons(self) -> int:
        return int(self.amplitude.shape[0])

    @property
    def dim(self) -> int:
        return int(self.amplitude.shape[1])

    @property
    def n_components(self) -> int:
        return int(self.amplitude.shape[2])

    def _weights(self) -> np.ndarray:
        """``(i + 1)^-alpha`` for i = 0..F-1."""
        return (np.arange(self.n_components) + 1.0) ** -self.alpha

    def __call__(self, x) -> np.ndarray:
        """The manifold at the intrinsic coordinates ``x``, shape (n_points, dim) (or (n_points,)
        when dim is 1): an array of shape (n_points, n_neurons)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and self.dim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n_points, {self.dim}), got {x.shape}")
        i = np.arange(self.n_components, dtype=np.float64)
        amp = self.amplitude * self._weights()                      # (N, D, F)
        freq = 2.0 * math.pi * i * self.frequency                   # angular frequency per unit of x
        phase = 2.0 * math.pi * self.phase
        out = np.empty((x.shape[0], self.n_neurons))
        step = max(1, _CHUNK_ELEMENTS // max(1, amp.size))
        for a in range(0, x.shape[0], step):
            xc = x[a:a + step, None, :, None]                       # (n, 1, D, 1)
            g = np.sum(amp * np.sin(freq * xc + phase), axis=-1)   # (n, N, D)
            out[a:a + step] = np.prod(g, axis=-1)
        return out

    def slope_bound(self) -> np.ndarray:
        """Per neuron and intrinsic dimension, a bound on ``|dg_jd/du|``: ``2 pi sum_i a b i
        (i + 1)^-alpha``, shape (n_neurons, dim)."""
        i = np.arange(self.n_components, dtype=np.float64)
        return 2.0 * math.pi * np.sum(self.amplitude * self.frequency * i * self._weights(), axis=-1)


class RandmanData(NamedTuple):
    """A Randman data set with what it was made of.

    Attributes:
        spikes: one spike per input neuron and sample (times in ms).
        labels: int64 class per sample, 0..n_classes-1.
        coords: the intrinsic coordinates of each sample, shape (n_samples, dim_manifold), in [0, 1).
        manifolds: the manifold of each class.
    """

    spikes: SpikeBatch
    labels: np.ndarray
    coords: np.ndarray
    manifolds: Tuple[Manifold, ...]


def random_manifold(n_neurons: int, dim_manifold: int = 1, *, alpha: float = 2.0, prec: float = 1e-3,
                    max_components: int = 1000, rng: Optional[np.random.Generator] = None) -> Manifold:
    """Draw a random smooth manifold (module docstring): ``a``, ``b``, ``c`` uniform in [0, 1),
    drawn from ``rng`` in that order as one array of shape (n_neurons, dim_manifold, 3, F).

    Args:
        n_neurons: embedding dimension (input neurons), >= 1.
        dim_manifold: intrinsic dimension D, >= 1.
        alpha: amplitude fall-off exponent, > 0 (larger: smoother).
        prec: the smallest relative weight kept, in (0, 1): F = ceil(prec^(-1/alpha)).
        max_components: upper bound on F, >= 1.
        rng: a ``numpy.random.Generator`` (default ``default_rng(0)``).
    """
    n_neurons = positive_int("n_neurons", n_neurons)
    dim_manifold = positive_int("dim_manifold", dim_manifold)
    alpha = positive_number("alpha", alpha)
    prec = in_interval("prec", prec, 0.0, 1.0, low_open=True, high_open=True)
    max_components = positive_int("max_components", max_components)
    F = int(min(math.ceil(prec ** (-1.0 / alpha)), max_components))
    if rng is None:
        rng = np.random.default_rng(0)
    params = rng.uniform(0.0, 1.0, size=(n_neurons, dim_manifold, 3, F))
    amplitude = params[:, :, 0, :].copy()
    amplitude[..., 0] = 0.0
    return Manifold(amplitude, params[:, :, 1, :].copy(), params[:, :, 2, :].copy(), alpha)


def randman_data(n_classes: int, n_samples_per_class: int, n_neurons: int, *, dim_manifold: int = 1,
                 alpha: float = 2.0, duration: float = 50.0, seed: int = 0, shuffle: bool = True) -> RandmanData:
    """A Randman data set with its coordinates and manifolds (see ``randman``)."""
    n_classes = positive_int("n_classes", n_classes)
    n_per = positive_int("n_samples_per_class", n_samples_per_class)
    n_neurons = positive_int("n_neurons", n_neurons)
    dim_manifold = positive_int("dim_manifold", dim_manifold)
    alpha = positive_number("alpha", alpha)
    duration = positive_number("duration", duration)
    seed = nonnegative_int("seed", seed)
    children = np.random.SeedSequence(seed).spawn(n_classes + 1)
    manifolds, coords, times = [], [], []
    for k in range(n_classes):
        rng = np.random.default_rng(children[k])
        m = random_manifold(n_neurons, dim_manifold, alpha=alpha, rng=rng)
        x = rng.random((n_per, dim_manifold))
        y = m(x)
        lo, hi = y.min(axis=0), y.max(axis=0)
        times.append(duration * (y - lo) / (hi - lo + RESCALE_EPS))
        manifolds.append(m)
        coords.append(x)
    T = np.concatenate(times)
    X = np.concatenate(coords)
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), n_per)
    if shuffle:
        order = np.random.default_rng(children[n_classes]).permutation(labels.size)
        T, X, labels = T[order], X[order], labels[order]
    return RandmanData(SpikeBatch.from_first_spike_times(T), labels, X, tuple(manifolds))


def randman(n_classes: int, n_samples_per_class: int, n_neurons: int, *, dim_manifold: int = 1,
            alpha: float = 2.0, duration: float = 50.0, seed: int = 0,
            shuffle: bool = True) -> Tuple[SpikeBatch, np.ndarray]:
    """The Randman classification task: ``n_classes`` random smooth manifolds, one spike per
    input neuron and sample (module docstring).

    Args:
        n_classes: number of classes (one manifold each), >= 1.
        n_samples_per_class: samples drawn from each manifold, >= 1.
        n_neurons: input neurons (the embedding dimension), >= 1.
        dim_manifold: intrinsic dimension of each manifold (harder tasks: larger), >= 1.
        alpha: smoothness (amplitude fall-off exponent), > 0; the paper uses 1 to 3.
        duration: spike times lie in [0, duration) ms.
        seed: seed (>= 0); the data set is a function of all the arguments.
        shuffle: mix the classes (otherwise samples come class by class).

    Returns:
        ``(spikes, labels)``: a SpikeBatch of ``n_classes * n_samples_per_class`` samples with
        ``n_neurons`` spikes each, and the int64 labels. ``randman_data`` also returns the
        coordinates and manifolds.
    """
    d = randman_data(n_classes, n_samples_per_class, n_neurons, dim_manifold=dim_manifold, alpha=alpha,
                     duration=duration, seed=seed, shuffle=shuffle)
    return d.spikes, d.labels


def train_val_test_split(spikes: SpikeBatch, labels, fractions: Sequence[float] = (0.8, 0.1, 0.1), *,
                         seed: int = 0) -> Tuple[Tuple[SpikeBatch, np.ndarray], ...]:
    """Split samples into training, validation and test sets, stratified by label.

    Of the ``n_c`` samples of each class, ``round(f_val n_c)`` go to validation,
    ``round(f_test n_c)`` to test and the rest to training, chosen by a permutation drawn from
    ``numpy.random.default_rng(seed)``; each set keeps the original order of its samples.

    Args:
        spikes: the samples.
        labels: one integer label per sample.
        fractions: ``(f_train, f_val, f_test)``, each in [0, 1], summing to 1.
        seed: seed of the permutation (>= 0).

    Returns:
        ``((train_spikes, train_labels), (val_spikes, val_labels), (test_spikes, test_labels))``.
    """
    if not isinstance(spikes, SpikeBatch):
        raise TypeError(f"spikes must be a SpikeBatch, got {type(spikes).__name__}")
    labels = np.asarray(labels)
    if labels.shape != (spikes.n_samples,) or not (labels.size == 0 or np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"labels must be one integer per sample ({spikes.n_samples}), got dtype {labels.dtype} "
                         f"and shape {labels.shape}")
    fr = tuple(fractions)
    if len(fr) != 3:
        raise ValueError(f"fractions must be (f_train, f_val, f_test), got {fr!r}")
    fr = tuple(in_interval(f"fractions[{i}]", v, 0.0, 1.0) for i, v in enumerate(fr))
    if abs(sum(fr) - 1.0) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {fr!r} (sum {sum(fr)!r})")
    rng = np.random.default_rng(nonnegative_int("seed", seed))
    parts = ([], [], [])
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        n_val, n_test = int(round(fr[1] * idx.size)), int(round(fr[2] * idx.size))
        n_val = min(n_val, idx.size)
        n_test = min(n_test, idx.size - n_val)
        parts[1].append(idx[:n_val])
        parts[2].append(idx[n_val:n_val + n_test])
        parts[0].append(idx[n_val + n_test:])
    out = []
    for p in parts:
        sel = np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64)
        out.append((spikes.subset(sel), labels[sel]))
    return tuple(out)
