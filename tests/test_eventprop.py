"""EventProp API and behaviour: contract, batching, silent-neuron policy, heuristics, training, errors.

Gradient correctness against finite differences is in ``test_eventprop_fd.py``.
"""
import numpy as np
import pytest

import eventsim as es
from eventsim.eventprop import value_and_grad
from eventsim.losses import FirstSpikeCE, MaxVoltageCE, SpikeCountReg, VoltageIntegralCE


def random_batch(rng, n_in, n_samples, n_spikes, t_hi):
    return es.SpikeBatch.from_lists(
        [sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, t_hi, n_spikes), rng.integers(0, n_in, n_spikes)))
         for _ in range(n_samples)], n_in)


def small_net(seed=0, delays=0.0, readout=False):
    """5 inputs -> 20 LIF -> 3 LIF (or 3 non-spiking read-outs), all-to-all."""
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    peak = es.psp_peak(20.0, 5.0)
    rng = np.random.default_rng(seed)
    net = es.Network()
    net.add_input("in", 5)
    net.add_population("hidden", 20, p)
    net.add_population("out", 3, es.LIFParams.readout(20.0, 5.0) if readout else p)
    d = delays if delays else None
    net.connect("in", "hidden", rng.normal(0.5, 0.3, (20, 5)) / peak, delays=d)
    w_out = rng.normal(0.0, 0.3, (3, 20)) if readout else rng.normal(0.25, 0.1, (3, 20))
    net.connect("hidden", "out", w_out / peak, delays=d)
    return net


def test_contract_keys_shapes_and_result():
    rng = np.random.default_rng(0)
    net = small_net(delays=1.0)
    batch = random_batch(rng, 5, 4, 8, 10.0)
    labels = np.array([0, 1, 2, 0])
    L, g = value_and_grad(net, batch, labels, FirstSpikeCE(), 50.0)
    assert isinstance(L, float) and set(g) == set(net.parameters())
    assert all(g[k].shape == w.shape and g[k].dtype == np.float64 for k, w in net.parameters().items())
    L2, g2, res = value_and_grad(net, batch, labels, FirstSpikeCE(), 50.0, return_result=True, wants_delays=True)
    assert isinstance(res, es.Result) and L2 == L
    assert set(g2) == set(net.parameters()) | {"delay:" + k for k in net.parameters()}
    assert all(np.array_equal(g2[k], g[k]) for k in g)
    assert all(g2["delay:" + k].shape == w.shape for k, w in net.parameters().items())
    assert np.array_equal(FirstSpikeCE().predict(res), np.argmin(res.first_spike_times("out"), axis=1))


def test_batch_gradient_is_the_mean_of_sample_gradients_and_chunking_is_exact():
    rng = np.random.default_rng(1)
    net = small_net(seed=1, delays=0.5)
    batch = random_batch(rng, 5, 6, 8, 10.0)
    labels = rng.integers(0, 3, 6)
    loss = [FirstSpikeCE(tau0=2.0, tau1=10.0, alpha=1e-2), SpikeCountReg(target=1.0, strength=1e-2)]
    L, g = value_and_grad(net, batch, labels, loss, 50.0, wants_delays=True)
    per = [value_and_grad(net, batch.subset([i]), labels[i:i + 1], loss, 50.0, wants_delays=True) for i in range(6)]
    assert L == pytest.approx(np.mean([p[0] for p in per]), rel=1e-13)
    for k in g:
        np.testing.assert_allclose(g[k], np.mean([p[1][k] for p in per], axis=0), rtol=1e-11, atol=1e-15)
    for n_chunks in (1, 4, 6):
        _, gc = value_and_grad(net, batch, labels, loss, 50.0, wants_delays=True, n_chunks=n_chunks)
        for k in g:
            np.testing.assert_allclose(gc[k], g[k], rtol=1e-12, atol=1e-16)
    _, again = value_and_grad(net, batch, labels, loss, 50.0, wants_delays=True)
    assert all(np.array_equal(again[k], g[k]) for k in g)  # deterministic


def test_gradient_descent_decreases_the_loss():
    rng = np.random.default_rng(4)
    net = small_net()
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


@pytest.mark.parametrize("loss", [MaxVoltageCE(), VoltageIntegralCE()])
def test_readout_losses_decrease_and_predict(loss):
    rng = np.random.default_rng(5)
    net = small_net(seed=2, readout=True)
    batch = random_batch(rng, 5, 12, 8, 10.0)
    labels = rng.integers(0, 3, 12)
    losses = []
    for _ in range(15):
        L, g, res = value_and_grad(net, batch, labels, loss, 40.0, return_result=True)
        losses.append(L)
        net.parameters()["hidden->out"] -= 2.0 * g["hidden->out"]
        net.parameters()["in->hidden"] -= 2.0 * g["in->hidden"]
    assert losses[-1] < 0.9 * losses[0]
    pred = loss.predict(res)
    assert pred.shape == (12,) and pred.min() >= 0 and pred.max() < 3


def test_delay_gradient_descent_decreases_the_loss():
    """Delays learnt by assigning new arrays (the network's kernel layout is rebuilt)."""
    rng = np.random.default_rng(6)
    net = small_net(seed=3, delays=2.0)
    batch = random_batch(rng, 5, 8, 8, 10.0)
    labels = rng.integers(0, 3, 8)
    loss = FirstSpikeCE(tau0=2.0, tau1=10.0, alpha=1e-2)
    losses = []
    for _ in range(10):
        L, g = value_and_grad(net, batch, labels, loss, 50.0, wants_delays=True)
        losses.append(L)
        for k, proj in net.projections.items():
            proj.delays = np.clip(proj.delays - 5.0 * g["delay:" + k], 0.0, None)
    assert losses[-1] < losses[0]
    lay = net.layout()  # the kernel layout uses the new delays
    cat = np.concatenate([proj.delays for proj in net.projections.values()])
    assert np.array_equal(lay.synapses.d, cat[lay.perm]) and not np.all(cat == 2.0)


def _silent_label_net():
    """Two inputs -> two LIF outputs; with the batch returned, out0 fires and out1 stays below threshold."""
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    net = es.Network()
    net.add_input("in", 2)
    net.add_population("out", 2, p)
    net.connect("in", "out", np.array([[6.0, 6.0], [1.0, 1.0]]))
    return net, es.SpikeBatch.from_lists([[(1.0, 0), (2.0, 1)]], 2)


def test_silent_label_policy():
    """Label neuron silent: 'none' gives no gradient for that sample, 'phantom' pushes it to fire."""
    net, batch = _silent_label_net()
    res = es.simulate(net, batch, 30.0)
    assert np.isfinite(res.first_spike_times("out")[0, 0]) and np.isinf(res.first_spike_times("out")[0, 1])
    L, g = value_and_grad(net, batch, np.array([1]), FirstSpikeCE(), 30.0)
    assert np.isfinite(L) and not np.any(g["in->out"])
    loss = FirstSpikeCE(silent="phantom")
    for _ in range(200):
        L, g, res = value_and_grad(net, batch, np.array([1]), loss, 30.0, return_result=True)
        if np.isfinite(res.first_spike_times("out")[0, 1]):
            break
        proj = net.projections["in->out"]
        gd = np.zeros((2, 2))
        gd[proj.indices, proj.pre_indices()] = g["in->out"]  # dense [post, pre]
        assert np.all(gd[1] < 0) and not np.any(gd[0])
        proj.weights -= 0.5 * g["in->out"] / np.abs(g["in->out"]).max()
    assert np.isfinite(res.first_spike_times("out")[0, 1])  # the label neuron fires now


def test_count_regulariser_is_a_kick_and_pushes_activity_towards_target():
    rng = np.random.default_rng(2)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    peak = es.psp_peak(20.0, 5.0)
    net = es.Network.feedforward([5, 20, 3], params=p, seed=0, init=[(0.8 / peak, 0.3 / peak), (0.3 / peak, 0.1 / peak)])
    batch = random_batch(rng, 5, 8, 10, 10.0)
    reg = SpikeCountReg(population="hidden", target=0.5, strength=1.0)
    res = es.simulate(net, batch, 50.0)
    v, parts = reg.value_and_parts(res, None)
    c = res.counts("hidden")
    np.testing.assert_allclose(parts.spike_kick, (c - 0.5) / 8)
    assert v == pytest.approx(0.5 * np.mean(np.sum((c - 0.5) ** 2, axis=1)))
    c0 = c.mean()
    for _ in range(15):
        _, g = value_and_grad(net, batch, np.zeros(8, int), [FirstSpikeCE(), reg], 50.0)
        net.parameters()["in->hidden"] -= 2.0 * g["in->hidden"]
    c1 = es.simulate(net, batch, 50.0).counts("hidden").mean()
    assert c0 > 1.0 and c1 < c0
    with pytest.raises(ValueError, match="regulariser"):
        reg.predict(res)


def test_no_input_and_no_gradient_cases():
    net = small_net()
    L, g = value_and_grad(net, None, np.array([0]), FirstSpikeCE(), 20.0)  # silent network
    assert np.isfinite(L) and all(not np.any(v) for v in g.values())


def test_bad_input_raises():
    b = es.SpikeBatch.from_lists([[(1.0, 0)]], 3)
    net = es.Network.feedforward([3, 4, 2], params=es.LIFParams(t_ref=1.0))
    with pytest.raises(ValueError, match="t_ref"):
        value_and_grad(net, b, np.array([0]), FirstSpikeCE(), 10.0)
    net = es.Network.feedforward([3, 4, 2])
    for bad in (np.array([0, 1]), np.array([[0]]), np.array([5]), np.array([-1]), np.array([0.0]), np.array([True])):
        with pytest.raises(ValueError, match="labels"):
            value_and_grad(net, b, bad, FirstSpikeCE(), 10.0)
    with pytest.raises(ValueError, match="nope"):
        value_and_grad(net, b, np.array([0]), FirstSpikeCE(population="nope"), 10.0)
    with pytest.raises(ValueError, match="'in'"):
        value_and_grad(net, b, np.array([0]), FirstSpikeCE(population="in"), 10.0)
    with pytest.raises(ValueError, match="read-out"):
        value_and_grad(net, b, np.array([0]), MaxVoltageCE(population="out"), 10.0)
    with pytest.raises(ValueError, match="read-out"):
        value_and_grad(net, b, np.array([0]), VoltageIntegralCE(population="hidden"), 10.0)
    ro = small_net(readout=True)
    with pytest.raises(ValueError, match="spiking"):
        value_and_grad(ro, es.SpikeBatch.from_lists([[(1.0, 0)]], 5), np.array([0]), FirstSpikeCE(), 10.0)
    with pytest.raises(ValueError, match="wants_delay"):
        value_and_grad(net, b, np.array([0]), FirstSpikeCE(), 10.0, wants_delay=True)
    with pytest.raises(ValueError, match="n_chunks"):
        value_and_grad(net, b, np.array([0]), FirstSpikeCE(), 10.0, n_chunks=0)
    with pytest.raises(ValueError, match="loss"):
        value_and_grad(net, b, np.array([0]), "ce", 10.0)
    with pytest.raises(ValueError, match="loss"):
        value_and_grad(net, b, np.array([0]), [], 10.0)
    with pytest.raises(ValueError, match="t_max"):
        value_and_grad(net, b, np.array([0]), FirstSpikeCE(), -1.0)
    with pytest.raises(ValueError, match="tau0"):
        FirstSpikeCE(tau0=0.0)
    with pytest.raises(ValueError, match="silent"):
        FirstSpikeCE(silent="bump")
    with pytest.raises(ValueError, match="strength"):
        SpikeCountReg(strength=-1.0)


def test_phantom_push_is_the_cross_entropy_part_only():
    """The phantom kick of a silent label neuron is (1 - s_l)/tau0 per sample, s_l being the softmax
    weight of a label spike at t_max; the regulariser's alpha/tau1 exp(t_max/tau1) is left out."""
    net, batch = _silent_label_net()
    t_max = 100.0
    res = es.simulate(net, batch, t_max)
    t0 = res.first_spike_times("out")[0, 0]
    loss = FirstSpikeCE(silent="phantom")
    _, parts = loss.value_and_parts(res, np.array([1]))
    z = -np.array([t0, t_max]) / loss.tau0
    s_label = np.exp(z[1] - z.max()) / np.exp(z - z.max()).sum()
    assert parts.phantom_grad[0, 1] == pytest.approx((1.0 - s_label) / loss.tau0, rel=1e-12)
    assert parts.phantom_grad[0, 1] <= 1.0 / loss.tau0  # bounded, whatever t_max
