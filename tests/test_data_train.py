"""Data sets, latency encoding and the training loop (determinism, exact resume)."""
import numpy as np
import pytest

import eventsim as es
from eventsim.data import digits_arrays, latency_encode, yin_yang, yin_yang_class
from eventsim.losses import FirstSpikeCE
from eventsim.train import evaluate, fit, load_checkpoint


def test_yin_yang_reference_splits():
    X, y = yin_yang("train")
    assert X.shape == (5000, 4)
    # class counts of the reference publication data (Kriener et al.): 1681/1702/1617 and 350/316/334
    assert np.bincount(y).tolist() == [1681, 1702, 1617]
    Xt, yt = yin_yang("test")
    assert np.bincount(yt).tolist() == [350, 316, 334]
    assert yin_yang("val")[0].shape == (1000, 4)
    np.testing.assert_allclose(X[:, 2:], 1 - X[:, :2])
    assert np.all(np.hypot(X[:, 0] - 0.5, X[:, 1] - 0.5) <= 0.5)
    assert all(yin_yang_class(a, b) == c for (a, b), c in zip(X[:200, :2], y[:200]))
    np.testing.assert_array_equal(yin_yang("train", size=50)[0], X[:50])


def test_yin_yang_class_geometry():
    assert yin_yang_class(0.75, 0.5) == 2 and yin_yang_class(0.25, 0.5) == 2   # the dots
    assert yin_yang_class(0.5, 0.95) == 1                                       # top: yin
    assert yin_yang_class(0.5, 0.05) == 0                                       # bottom: yang
    with pytest.raises(ValueError, match="split"):
        yin_yang("nope")


def test_digits_split_is_fixed_and_stratified():
    X, y = digits_arrays("train")
    Xt, yt = digits_arrays("test")
    assert X.shape == (1438, 64) and Xt.shape == (359, 64)
    assert X.min() >= 0 and X.max() <= 1
    assert np.all(np.bincount(yt) >= 35)
    np.testing.assert_array_equal(digits_arrays("test")[0], Xt)


def test_latency_encoding():
    X = np.array([[0.0, 0.5, 1.0]])
    b = latency_encode(X, t_max=30.0, bias_time=0.0)
    assert b.n_neurons == 4
    assert b.to_lists()[0] == [(0.0, 0), (0.0, 3), (15.0, 1), (30.0, 2)]
    b2 = latency_encode(X, t_max=20.0, invert=True, threshold=0.1)
    assert b2.to_lists()[0] == [(0.0, 2), (10.0, 1)]
    with pytest.raises(ValueError, match="within"):
        latency_encode(np.array([[1.5]]))


def _tiny_problem():
    X, y = yin_yang("train", size=96)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    net = es.Network.feedforward([5, 30, 3], params=p, seed=1, init=[(1.5, 0.78), (0.93, 0.1)])
    return net, latency_encode(X, t_max=30.0, bias_time=0.0), y


def test_training_reduces_loss_and_is_deterministic():
    net, inp, y = _tiny_problem()
    loss = FirstSpikeCE()
    l0, _ = evaluate(net, inp, y, loss, 100.0)
    h = fit(net, inp, y, loss, 100.0, epochs=4, batch_size=16, lr=5e-3, seed=3, progress=False)
    l1, a1 = evaluate(net, inp, y, loss, 100.0)
    assert l1 < l0
    net2, _, _ = _tiny_problem()
    h2 = fit(net2, inp, y, loss, 100.0, epochs=4, batch_size=16, lr=5e-3, seed=3, progress=False)
    assert h["loss"] == h2["loss"]
    for k in net.parameters():
        np.testing.assert_array_equal(net.parameters()[k], net2.parameters()[k])


def test_checkpoint_resume_is_exact(tmp_path):
    loss = FirstSpikeCE()
    net_a, inp, y = _tiny_problem()
    fit(net_a, inp, y, loss, 100.0, epochs=2, batch_size=16, seed=7, progress=False)
    net_b, _, _ = _tiny_problem()
    ck = str(tmp_path / "ck.h5")
    fit(net_b, inp, y, loss, 100.0, epochs=1, batch_size=16, seed=7, progress=False, checkpoint=ck)
    net_c, _, _ = _tiny_problem()  # fresh weights: everything must come from the checkpoint
    fit(net_c, inp, y, loss, 100.0, epochs=2, batch_size=16, seed=7, progress=False, checkpoint=ck, resume=True)
    for k in net_a.parameters():
        np.testing.assert_array_equal(net_a.parameters()[k], net_c.parameters()[k])
    _, _, epoch, hist = load_checkpoint(ck)
    assert epoch == 2 and len(hist["loss"]) == 2


def test_fit_rejects_bad_input():
    net, inp, y = _tiny_problem()
    with pytest.raises(ValueError, match="labels"):
        fit(net, inp, y[:5], FirstSpikeCE(), 100.0, epochs=1, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        fit(net, inp, y, FirstSpikeCE(), 100.0, epochs=1, optimizer="rmsprop", progress=False)
    with pytest.raises(ValueError, match="resume"):
        fit(net, inp, y, FirstSpikeCE(), 100.0, epochs=1, resume=True, progress=False)
