"""Data sets and encoders: Yin-Yang geometry, class rule, splits, determinism; digits; latency code."""
import numpy as np
import pytest

from eventsim.data import digits, digits_arrays, latency_decode, latency_encode, yin_yang, yin_yang_class, yin_yang_spikes
from eventsim.data.digits import _split_indices


def _class_oracle(x, y):
    """The class rule written out independently (Kriener et al. 2021, dataset.py), vectorised."""
    d_r = np.sqrt((x - 0.75) ** 2 + (y - 0.5) ** 2)
    d_l = np.sqrt((x - 0.25) ** 2 + (y - 0.5) ** 2)
    dot = (d_r < 0.1) | (d_l < 0.1)
    yin = (d_r <= 0.1) | ((d_l > 0.1) & (d_l <= 0.25)) | ((y > 0.5) & (d_r > 0.25))
    return np.where(dot, 2, yin.astype(int))


def test_yin_yang_split_sizes_and_reference_class_counts():
    X, y = yin_yang("train")
    Xv, yv = yin_yang("val")
    Xt, yt = yin_yang("test")
    assert X.shape == (5000, 4) and Xv.shape == (1000, 4) and Xt.shape == (1000, 4)
    assert y.dtype == np.int64 and set(np.unique(y)) == {0, 1, 2}
    # class counts of Kriener et al.'s stored publication data (seeds 42 and 40): the same draws
    assert np.bincount(y).tolist() == [1681, 1702, 1617]
    assert np.bincount(yt).tolist() == [350, 316, 334]
    # the three splits are different draws
    assert not np.array_equal(X[:1000], Xv) and not np.array_equal(Xv, Xt)


def test_yin_yang_geometry_and_class_rule():
    X, y = yin_yang("train")
    assert X.min() >= 0 and X.max() <= 1
    np.testing.assert_allclose(X[:, 2:], 1 - X[:, :2], rtol=0, atol=0)  # mirrored features, exact
    assert np.all(np.hypot(X[:, 0] - 0.5, X[:, 1] - 0.5) <= 0.5)       # inside the big circle
    np.testing.assert_array_equal(y, _class_oracle(X[:, 0], X[:, 1]))
    assert all(yin_yang_class(a, b) == c for (a, b), c in zip(X[:300, :2], y[:300]))
    # landmarks: the two dots, the top (yin) and the bottom (yang) of the big circle
    assert yin_yang_class(0.75, 0.5) == 2 and yin_yang_class(0.25, 0.5) == 2
    assert yin_yang_class(0.5, 0.95) == 1 and yin_yang_class(0.5, 0.05) == 0
    # the eye of yang sits inside yin's half and vice versa (ring around each dot)
    assert yin_yang_class(0.25 + 0.15, 0.5) == 1 and yin_yang_class(0.75 - 0.15, 0.5) == 0


def test_yin_yang_is_deterministic_and_balanced_in_expectation():
    a = yin_yang("train", size=300, seed=7)
    b = yin_yang("train", size=300, seed=7)
    c = yin_yang("train", size=300, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # a prefix of a split is the first samples of that split (same stream of draws)
    np.testing.assert_array_equal(yin_yang("train", size=50)[0], yin_yang("train")[0][:50])
    # goal class drawn uniformly: counts within 4 sigma of n/3 (the dot area alone is only ~8 %)
    counts = np.bincount(yin_yang("train", size=3000, seed=123)[1], minlength=3)
    assert np.all(np.abs(counts - 1000) < 4 * np.sqrt(3000 * (1 / 3) * (2 / 3)))


def test_yin_yang_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        yin_yang("nope")
    with pytest.raises(ValueError, match="size"):
        yin_yang("train", size=0)
    with pytest.raises(ValueError, match="r_small"):
        yin_yang("train", size=5, r_small=0.3)


def test_digits_split_is_fixed_disjoint_and_stratified():
    X, y = digits_arrays("train")
    Xt, yt = digits_arrays("test")
    Xa, ya = digits_arrays("all")
    assert X.shape == (1438, 64) and Xt.shape == (359, 64) and Xa.shape == (1797, 64)
    assert X.min() >= 0 and X.max() <= 1
    ya_counts = np.bincount(ya, minlength=10)
    np.testing.assert_array_equal(np.bincount(yt, minlength=10), np.round(0.2 * ya_counts).astype(int))
    # train and test indices are disjoint and together are the whole set
    tr, te = _split_indices()
    assert np.intersect1d(tr, te).size == 0 and np.union1d(tr, te).tolist() == list(range(1797))
    np.testing.assert_array_equal(Xa[te], Xt)
    np.testing.assert_array_equal(digits_arrays("test")[0], Xt)
    with pytest.raises(ValueError, match="split"):
        digits_arrays("validation")


def test_shipped_digits_equal_scikit_learns():
    """The digits shipped with eventsim are scikit-learn's ``load_digits``, image for image."""
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    Xa, ya = digits_arrays("all")
    np.testing.assert_array_equal(Xa, d.data / 16.0)
    np.testing.assert_array_equal(ya, d.target)
    Xa[0, 0] = 7.0  # the caller's copy: the cached data are not changed
    assert digits_arrays("all")[0][0, 0] == d.data[0, 0] / 16.0


def test_latency_encoding_times_ids_and_bias():
    X = np.array([[0.0, 0.5, 1.0], [0.2, 0.2, 0.0]])
    b = latency_encode(X, t_max=30.0, bias_time=0.0)
    assert b.n_neurons == 4 and b.n_samples == 2
    # ties keep the neuron order, bias (neuron 3) last among equal times
    assert b.to_lists() == [[(0.0, 0), (0.0, 3), (15.0, 1), (30.0, 2)],
                            [(0.0, 2), (0.0, 3), (6.0, 0), (6.0, 1)]]
    # inverted code with a window and a silence threshold
    b2 = latency_encode(X, t_max=20.0, t_min=10.0, invert=True, threshold=0.1)
    assert b2.n_neurons == 3
    assert b2.to_lists() == [[(10.0, 2), (15.0, 1)], [(18.0, 0), (18.0, 1)]]
    # against the formula on random data: one spike per feature at t_min + v (t_max - t_min)
    rng = np.random.default_rng(0)
    R = rng.random((20, 6))
    e = latency_encode(R, t_max=7.0, t_min=1.0)
    ft = e.first_spike_times()
    np.testing.assert_allclose(ft, 1.0 + 6.0 * R, rtol=0, atol=1e-12)
    assert np.all(e.counts() == 1)


def test_encoded_loaders():
    s, y = yin_yang_spikes("test")
    X, y2 = yin_yang("test")
    np.testing.assert_array_equal(y, y2)
    ft = s.first_spike_times()
    np.testing.assert_allclose(ft[:, :4], 30.0 * X, atol=1e-12)
    assert np.all(ft[:, 4] == 0.0) and s.n_neurons == 5
    d, yd = digits("test")
    Xd, _ = digits_arrays("test")
    assert d.n_neurons == 64 and d.n_samples == 359 and yd.shape == (359,)
    ftd = d.first_spike_times()
    on = Xd > 0.05
    np.testing.assert_allclose(ftd[on], 20.0 * (1 - Xd[on]), atol=1e-12)
    assert np.all(np.isinf(ftd[~on]))


@pytest.mark.parametrize("kw, name", [
    ({"X": np.array([[1.5]])}, "X"),
    ({"X": np.array([[np.nan]])}, "X"),
    ({"X": np.array([0.5, 0.2])}, "X"),
    ({"X": np.array([[0.5]]), "t_max": 0.0}, "t_max"),
    ({"X": np.array([[0.5]]), "t_max": float("inf")}, "t_max"),
    ({"X": np.array([[0.5]]), "bias_time": -1.0}, "bias_time"),
    ({"X": np.array([[0.5]]), "threshold": "a"}, "threshold"),
])
def test_latency_encoding_rejects_bad_input(kw, name):
    with pytest.raises(ValueError, match=name):
        latency_encode(**kw)


def test_shift_image_spikes_equals_encoding_the_shifted_image():
    """Oracle: translate the pixel arrays with numpy (zero fill), then latency-encode."""
    from eventsim.data import shift_image_spikes

    X, _ = digits_arrays("test")
    X = X[:40]
    enc = lambda A: latency_encode(A, t_max=20.0, invert=True, threshold=0.05)  # noqa: E731
    batch = enc(X)
    rng = np.random.default_rng(3)
    out = shift_image_spikes(batch, (8, 8), 2, rng)
    d = np.random.default_rng(3).integers(-2, 3, size=(len(X), 2))
    assert np.any(d != 0)
    imgs = X.reshape(-1, 8, 8)
    shifted = np.zeros_like(imgs)
    for b, (dy, dx) in enumerate(d):
        for r in range(8):
            for c in range(8):
                if 0 <= r + dy < 8 and 0 <= c + dx < 8:
                    shifted[b, r + dy, c + dx] = imgs[b, r, c]
    ref = enc(shifted.reshape(len(X), 64))
    for b in range(len(X)):
        a = sorted(zip(out.times[out.offsets[b]:out.offsets[b + 1]], out.ids[out.offsets[b]:out.offsets[b + 1]]))
        r_ = sorted(zip(ref.times[ref.offsets[b]:ref.offsets[b + 1]], ref.ids[ref.offsets[b]:ref.offsets[b + 1]]))
        assert a == r_
    # a bias neuron beyond the image keeps its id; zero shift is the identity
    yy, _ = yin_yang_spikes("test")
    with pytest.raises(ValueError, match="shape"):
        shift_image_spikes(yy, (8, 8), 1, rng)
    same = shift_image_spikes(batch, (8, 8), 0, rng)
    assert np.array_equal(same.times, batch.times) and np.array_equal(same.ids, batch.ids)
    extra = latency_encode(X, t_max=20.0, invert=True, threshold=0.05, bias_time=0.0)
    moved = shift_image_spikes(extra, (8, 8), 1, rng)
    assert np.count_nonzero(moved.ids == 64) == len(X)
    with pytest.raises(ValueError, match="max_shift"):
        shift_image_spikes(batch, (8, 8), -1, rng)


def test_latency_decode_inverts_latency_encode():
    X, _ = digits_arrays("test")
    b = latency_encode(X, t_max=20.0, invert=True, threshold=0.05, bias_time=0.0)
    D = latency_decode(b, 64, t_max=20.0, invert=True)
    assert np.allclose(D, np.where(X > 0.05, X, 0.0), atol=1e-12, rtol=0)
    # not inverted, with t_min; silent features get the given value; bias neuron ignored
    Y = np.random.default_rng(0).random((5, 3))
    Y[0, 1] = 0.0
    b2 = latency_encode(Y, t_max=30.0, t_min=2.0, threshold=0.0, bias_time=1.0)
    D2 = latency_decode(b2, 3, t_max=30.0, t_min=2.0, silent=-1.0)
    assert D2[0, 1] == -1.0
    assert np.allclose(np.where(D2 < 0, 0.0, D2), Y, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="n_features"):
        latency_decode(b2, 5, t_max=30.0)
    with pytest.raises(ValueError, match="t_max"):
        latency_decode(b2, 3, t_max=1.0, t_min=2.0)


def test_random_affine_images_equals_scipy_bilinear_resampling():
    """Oracle: scipy.ndimage.affine_transform (order 1, zero padding with interpolation at the edges)
    with the matrix built from the same random draws."""
    from scipy.ndimage import affine_transform

    from eventsim.data import random_affine_images

    X, _ = digits_arrays("test")
    X = X[:25]
    rot, sc, sh = 15.0, 0.2, 0.7
    out = random_affine_images(X, (8, 8), np.random.default_rng(5), rot, sc, sh)
    u = np.random.default_rng(5).uniform(-1.0, 1.0, size=(len(X), 4))
    c = np.array([3.5, 3.5])
    for b in range(len(X)):
        th, s, t = np.deg2rad(rot) * u[b, 0], 1 + sc * u[b, 1], sh * u[b, 2:]
        M = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]]) / s
        ref = affine_transform(X[b].reshape(8, 8), M, offset=c - M @ (c + t), order=1, mode="grid-constant", cval=0.0)
        assert np.allclose(out[b].reshape(8, 8), np.clip(ref, 0, 1), atol=1e-12), b
    assert not np.allclose(out, X)
    # zero amplitudes: the identity
    assert np.array_equal(random_affine_images(X, (8, 8), np.random.default_rng(0), 0, 0, 0), X)
    assert np.all((out >= 0) & (out <= 1))
    for kw, name in [({"max_rotation": -1}, "max_rotation"), ({"max_scale": 1.0}, "max_scale"),
                     ({"max_shift": float("nan")}, "max_shift")]:
        with pytest.raises(ValueError, match=name):
            random_affine_images(X, (8, 8), np.random.default_rng(0), **kw)
    with pytest.raises(ValueError, match="shape"):
        random_affine_images(X, (7, 8), np.random.default_rng(0))
