"""EventProp gradients against central finite differences (float64), and basic training behaviour."""
import numpy as np
import pytest

import eventsim as es
from eventsim.eventprop import value_and_grad
from eventsim.losses import FirstSpikeCE, MaxVoltageCE, SpikeCountReg, VoltageIntegralCE


def fd_errors(net, batch, labels, loss, t_max, eps=1e-5):
    """Errors |fd - g| / (|fd| + 1e-4) per weight, fd a 4-point central difference (truncation O(eps^4)).

    The spike pattern (count, order, neurons) must be the same at w +- eps and w +- 2 eps, else the
    difference would measure a jump; the returned errors are < 1e-6 exactly when
    |fd - g| <= 1e-6 |fd| + 1e-10 (the floor absorbs round-off of weights with zero gradient).
    """
    _, g = value_and_grad(net, batch, labels, loss, t_max)
    ref = es.simulate(net, batch, t_max)
    errs = []
    for name, W in net.parameters().items():
        for i in range(W.size):
            w0 = W[i]
            vals = []
            for h in (2, 1, -1, -2):
                W[i] = w0 + h * eps
                L, _, r = value_and_grad(net, batch, labels, loss, t_max, return_result=True)
                assert np.array_equal(r.ids, ref.ids) and np.array_equal(r.offsets, ref.offsets), \
                    f"spike pattern changed under a perturbation of {name}[{i}]: choose another configuration"
                vals.append(L)
            W[i] = w0
            fd = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * eps)
            errs.append(abs(fd - g[name][i]) / (abs(fd) + 1e-4))
    return np.array(errs), g


def random_batch(rng, n_in, n_samples, n_spikes, t_hi):
    return es.SpikeBatch.from_lists(
        [sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, t_hi, n_spikes), rng.integers(0, n_in, n_spikes)))
         for _ in range(n_samples)], n_in)


@pytest.mark.parametrize("tau_syn", [5.0, 20.0])
def test_feedforward_first_spike_gradients_match_finite_differences(tau_syn):
    rng = np.random.default_rng(1)
    p = es.LIFParams(tau_mem=20.0, tau_syn=tau_syn)
    peak = es.psp_peak(20.0, tau_syn)
    net = es.Network.feedforward([4, 6, 3], params=p, seed=2, init=[(0.45 / peak, 0.2 / peak), (0.3 / peak, 0.15 / peak)])
    batch = random_batch(rng, 4, 3, 6, 10.0)
    res = es.simulate(net, batch, 60.0)
    assert res.spikes("out").n_spikes >= 3 and res.spikes("hidden").n_spikes >= 6
    errs, g = fd_errors(net, batch, np.array([0, 1, 2]), FirstSpikeCE(), 60.0)
    assert np.count_nonzero(g["in->hidden"]) > 5
    assert errs.max() < 1e-6, errs.max()


@pytest.mark.parametrize("tau_syn", [4.0, 10.0])
def test_recurrent_with_delays_gradients_match_finite_differences(tau_syn):
    rng = np.random.default_rng(5)
    tm = 10.0
    p = es.LIFParams(tau_mem=tm, tau_syn=tau_syn)
    peak = es.psp_peak(tm, tau_syn)
    net = es.Network()
    net.add_input("in", 3)
    net.add_population("hidden", 5, p)
    net.add_population("out", 2, p)
    net.connect("in", "hidden", rng.uniform(0.4, 0.9, (5, 3)) / peak, delays=rng.uniform(0.0, 2.0, (5, 3)))
    Wr = rng.uniform(-0.3, 0.3, (5, 5)) / peak
    net.connect("hidden", "hidden", Wr, delays=rng.uniform(0.5, 3.0, (5, 5)), mask=rng.random((5, 5)) < 0.5)
    net.connect("hidden", "out", rng.uniform(0.2, 0.5, (2, 5)) / peak, delays=1.0)
    net.connect("out", "hidden", rng.uniform(-0.2, 0.2, (5, 2)) / peak, delays=0.7)
    batch = random_batch(rng, 3, 2, 5, 8.0)
    res = es.simulate(net, batch, 50.0)
    assert res.spikes("out").n_spikes >= 2 and res.spikes("hidden").n_spikes >= 5
    errs, _ = fd_errors(net, batch, np.array([0, 1]), FirstSpikeCE(tau0=2.0, tau1=10.0, alpha=1e-2), 50.0)
    assert errs.max() < 1e-6, errs.max()


@pytest.mark.parametrize("loss_cls", [MaxVoltageCE, VoltageIntegralCE])
@pytest.mark.parametrize("tau_syn", [5.0, 20.0])
def test_readout_losses_gradients_match_finite_differences(loss_cls, tau_syn):
    rng = np.random.default_rng(3)
    p = es.LIFParams(tau_mem=20.0, tau_syn=tau_syn)
    peak = es.psp_peak(20.0, tau_syn)
    net = es.Network()
    net.add_input("in", 4)
    net.add_population("hidden", 6, p)
    net.add_population("out", 3, es.LIFParams.readout(tau_mem=20.0, tau_syn=tau_syn))
    net.connect("in", "hidden", rng.uniform(0.3, 0.8, (6, 4)) / peak)
    net.connect("hidden", "out", rng.normal(0.0, 0.5, (3, 6)))
    batch = random_batch(rng, 4, 3, 6, 10.0)
    assert es.simulate(net, batch, 40.0).spikes("hidden").n_spikes >= 6
    errs, _ = fd_errors(net, batch, np.array([2, 0, 1]), loss_cls(), 40.0)
    assert errs.max() < 1e-6, errs.max()


def test_max_voltage_at_a_kink_moves_with_the_arrival():
    # The read-out rises after an excitatory input; an inhibitory spike from a hidden neuron arrives
    # while it rises, so the maximum sits exactly at that arrival: d Vmax / d t_arrival = dV/dt^-.
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    net = es.Network()
    net.add_input("in", 2)
    net.add_population("h", 1, p)
    net.add_population("out", 2, es.LIFParams.readout())
    net.connect("in", "h", np.array([[7.5, 0.0]]))
    net.connect("in", "out", np.array([[2.0, 0.0], [0.0, 1.0]]))
    net.connect("h", "out", np.array([[-30.0], [0.0]]))
    batch = es.SpikeBatch.from_lists([[(0.0, 0), (1.0, 1)]], 2)
    res = es.simulate(net, batch, 30.0)
    t_h = res.spikes("h").times
    assert t_h.size == 1
    assert res.max_voltage_time("out")[0, 0] == t_h[0]  # the maximum is at the kink
    errs, g = fd_errors(net, batch, np.array([1]), MaxVoltageCE(), 30.0)
    assert g["in->h"][0] != 0.0  # the hidden spike time matters only through the kink
    assert errs.max() < 1e-6, errs.max()


def test_coincident_input_spikes():
    rng = np.random.default_rng(0)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    peak = es.psp_peak(20.0, 5.0)
    net = es.Network.feedforward([3, 4, 2], params=p, seed=1, init=[(0.6 / peak, 0.2 / peak), (0.6 / peak, 0.2 / peak)])
    batch = es.SpikeBatch.from_lists([[(1.0, 0), (1.0, 1), (1.0, 2), (4.0, 0), (4.0, 2)]], 3)
    errs, _ = fd_errors(net, batch, np.array([1]), FirstSpikeCE(), 40.0)
    assert errs.max() < 1e-6


def test_gradient_descent_decreases_the_loss():
    rng = np.random.default_rng(4)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    peak = es.psp_peak(20.0, 5.0)
    net = es.Network.feedforward([5, 20, 3], params=p, seed=0, init=[(0.5 / peak, 0.3 / peak), (0.25 / peak, 0.1 / peak)])
    batch = random_batch(rng, 5, 16, 8, 10.0)
    labels = rng.integers(0, 3, 16)
    loss = FirstSpikeCE(tau0=2.0, tau1=10.0, alpha=1e-2)
    losses = []
    for _ in range(20):
        L, g = value_and_grad(net, batch, labels, loss, 50.0)
        losses.append(L)
        for k, W in net.parameters().items():
            W -= 20.0 * g[k]
    L1, _ = value_and_grad(net, batch, labels, loss, 50.0)
    assert L1 < 0.95 * losses[0]
    assert np.all(np.diff(losses) < 0)


def test_bad_input_raises():
    net = es.Network.feedforward([3, 4, 2], params=es.LIFParams(t_ref=1.0))
    b = es.SpikeBatch.from_lists([[(1.0, 0)]], 3)
    with pytest.raises(ValueError, match="t_ref"):
        value_and_grad(net, b, np.array([0]), FirstSpikeCE(), 10.0)
    net = es.Network.feedforward([3, 4, 2])
    with pytest.raises(ValueError, match="labels"):
        value_and_grad(net, b, np.array([0, 1]), FirstSpikeCE(), 10.0)
    with pytest.raises(ValueError, match="labels"):
        value_and_grad(net, b, np.array([5]), FirstSpikeCE(), 10.0)
    with pytest.raises(ValueError, match="nope"):
        value_and_grad(net, b, np.array([0]), FirstSpikeCE(population="nope"), 10.0)
    with pytest.raises(ValueError, match="tau0"):
        FirstSpikeCE(tau0=0.0)
    with pytest.raises(ValueError, match="loss"):
        value_and_grad(net, b, np.array([0]), "ce", 10.0)


def test_count_regulariser_pushes_activity_towards_target():
    rng = np.random.default_rng(2)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    peak = es.psp_peak(20.0, 5.0)
    net = es.Network.feedforward([5, 20, 3], params=p, seed=0, init=[(0.8 / peak, 0.3 / peak), (0.3 / peak, 0.1 / peak)])
    batch = random_batch(rng, 5, 8, 10, 10.0)
    reg = SpikeCountReg(population="hidden", target=0.5, strength=1.0)
    c0 = es.simulate(net, batch, 50.0).counts("hidden").mean()
    for _ in range(15):
        _, g = value_and_grad(net, batch, np.zeros(8, int), [FirstSpikeCE(), reg], 50.0)
        net.parameters()["in->hidden"] -= 2.0 * g["in->hidden"]
    c1 = es.simulate(net, batch, 50.0).counts("hidden").mean()
    assert c0 > 1.0 and c1 < c0
