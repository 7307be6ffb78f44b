"""Randman: the Fourier-sum manifold against its formula, its derivative and slope bound, the
spike-time rescaling, determinism, class separability, and the stratified split."""
import math

import numpy as np
import pytest

from eventsim.data import random_manifold, randman, randman_data, train_val_test_split
from eventsim.data.randman import RESCALE_EPS


def _formula(m, x):
    """f_j(x) = prod_d sum_i a (i+1)^-alpha sin(2 pi (i b x_d + c)), one scalar term at a time."""
    out = np.ones(m.n_neurons)
    for j in range(m.n_neurons):
        for d in range(m.dim):
            g = 0.0
            for i in range(m.n_components):
                a, b, c = m.amplitude[j, d, i], m.frequency[j, d, i], m.phase[j, d, i]
                g += a * (i + 1) ** -m.alpha * math.sin(2 * math.pi * (i * b * x[d] + c))
            out[j] *= g
    return out


def _derivative_1d(m, x):
    """d f_j / dx for dim 1, differentiated by hand."""
    i = np.arange(m.n_components)
    a, b, c = m.amplitude[:, 0], m.frequency[:, 0], m.phase[:, 0]
    return np.sum(a * (i + 1.0) ** -m.alpha * 2 * np.pi * i * b * np.cos(2 * np.pi * (i * b * x + c)), axis=-1)


def test_manifold_is_the_fourier_sum_of_the_paper():
    rng = np.random.default_rng(0)
    m = random_manifold(7, 2, alpha=1.5, rng=rng)
    assert m.n_components == math.ceil(1e-3 ** (-1 / 1.5))          # first weight below prec
    assert np.all(m.amplitude[..., 0] == 0)                        # no constant term
    x = rng.random((5, 2))
    got = m(x)
    for p in range(5):
        np.testing.assert_allclose(got[p], _formula(m, x[p]), rtol=1e-12, atol=1e-14)
    assert random_manifold(3, alpha=2.0).n_components == 32
    assert random_manifold(3, alpha=0.5, max_components=100).n_components == 100


def test_smoothness_derivative_and_slope_bound():
    m = random_manifold(20, 1, alpha=2.0, rng=np.random.default_rng(1))
    x = np.linspace(0.01, 0.99, 50)
    h = 1e-6
    fd = (m(x + h) - m(x - h)) / (2 * h)                          # central differences
    np.testing.assert_allclose(fd, np.array([_derivative_1d(m, v) for v in x]), rtol=1e-6, atol=1e-7)
    # nearby coordinates give nearby values: |f(x) - f(x')| <= L |x - x'| with the closed-form L
    L = m.slope_bound()[:, 0]
    xs = np.random.default_rng(2).random(400)
    dx = 1e-3
    assert np.all(np.abs(m(xs + dx) - m(xs)) <= L * dx + 1e-15)
    # a smoother manifold (larger alpha) has a smaller slope bound for the same draws
    rough = random_manifold(20, 1, alpha=1.0, max_components=32, rng=np.random.default_rng(1))
    assert np.all(rough.slope_bound() > L)


def test_spike_times_are_the_rescaled_manifold_values():
    d = randman_data(3, 40, 12, dim_manifold=2, alpha=2.0, duration=30.0, seed=5)
    T = d.spikes.first_spike_times()
    assert d.spikes.n_samples == 120 and d.spikes.n_neurons == 12
    assert np.all(d.spikes.counts() == 1)                          # one spike per neuron and sample
    assert T.min() >= 0.0 and T.max() < 30.0
    for k in range(3):
        sel = d.labels == k
        y = d.manifolds[k](d.coords[sel])
        lo, hi = y.min(axis=0), y.max(axis=0)
        np.testing.assert_allclose(T[sel], 30.0 * (y - lo) / (hi - lo + RESCALE_EPS), rtol=1e-13, atol=1e-12)
        assert np.allclose(T[sel].min(axis=0), 0.0)
        assert np.allclose(T[sel].max(axis=0), 30.0, rtol=1e-4)     # 30 range / (range + eps)
    assert np.bincount(d.labels).tolist() == [40, 40, 40]


def test_nearby_coordinates_give_nearby_spike_times():
    d = randman_data(1, 300, 10, dim_manifold=1, duration=50.0, seed=3)
    x = d.coords[:, 0]
    T = d.spikes.first_spike_times()
    y = d.manifolds[0](d.coords)
    span = y.max(axis=0) - y.min(axis=0) + RESCALE_EPS
    bound = 50.0 * d.manifolds[0].slope_bound()[:, 0] / span      # ms per unit of x
    order = np.argsort(x)
    dx = np.diff(x[order])[:, None]
    dt = np.abs(np.diff(T[order], axis=0))
    assert np.all(dt <= bound * dx + 1e-9)
    assert np.median(dt) < 0.05 * 50.0                            # neighbours are close in time


def test_determinism_and_seeds():
    a = randman(4, 25, 16, seed=11)
    b = randman(4, 25, 16, seed=11)
    c = randman(4, 25, 16, seed=12)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert a[0] != c[0]
    unshuffled = randman(4, 25, 16, seed=11, shuffle=False)
    assert unshuffled[1].tolist() == sorted(a[1].tolist())
    # the same samples, reordered
    assert sorted(map(tuple, a[0].first_spike_times().tolist())) == \
        sorted(map(tuple, unshuffled[0].first_spike_times().tolist()))


def test_classes_are_distinguishable_by_a_nearest_centroid_classifier():
    spikes, labels = randman(5, 200, 40, dim_manifold=1, seed=0)
    (tr, ltr), (va, lva), (te, lte) = train_val_test_split(spikes, labels, (0.6, 0.2, 0.2), seed=1)
    X, Xt = tr.first_spike_times(), te.first_spike_times()
    centroids = np.array([X[ltr == c].mean(axis=0) for c in range(5)])
    pred = np.argmin(((Xt[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    acc = float(np.mean(pred == lte))
    assert acc > 0.6, acc                                          # chance is 0.2


def test_split_is_stratified_disjoint_and_complete():
    spikes, labels = randman(3, 50, 4, seed=2)
    (tr, ltr), (va, lva), (te, lte) = train_val_test_split(spikes, labels, (0.7, 0.2, 0.1), seed=0)
    assert np.bincount(ltr).tolist() == [35, 35, 35]
    assert np.bincount(lva).tolist() == [10, 10, 10] and np.bincount(lte).tolist() == [5, 5, 5]
    rows = {tuple(r) for r in spikes.first_spike_times().tolist()}
    parts = [{tuple(r) for r in s.first_spike_times().tolist()} for s in (tr, va, te)]
    assert set.union(*parts) == rows and sum(map(len, parts)) == len(rows)
    again = train_val_test_split(spikes, labels, (0.7, 0.2, 0.1), seed=0)
    assert again[0][0] == tr
    for bad in ((0.5, 0.5), (0.6, 0.6, -0.2), (0.5, 0.2, 0.2)):
        with pytest.raises(ValueError, match="fractions"):
            train_val_test_split(spikes, labels, bad)
    with pytest.raises(ValueError, match="labels"):
        train_val_test_split(spikes, labels[:-1])


@pytest.mark.parametrize("kw, match", [
    (dict(n_classes=0), "n_classes"), (dict(alpha=0.0), "alpha"), (dict(duration=-1.0), "duration"),
    (dict(dim_manifold=1.5), "dim_manifold"), (dict(seed=-3), "seed"),
])
def test_bad_arguments_are_refused(kw, match):
    args = dict(n_classes=2, n_samples_per_class=3, n_neurons=4)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        randman(**args)
