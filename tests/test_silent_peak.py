"""Peak voltage of silent spiking neurons (``Result.silent_peak``) and the ``SilentPeakReg`` gradient.

Oracles: the simulator's own read-out tracking on a twin network in which the hidden population does
not spike (for a neuron that stayed silent the trajectories are the same), V recorded on a fine grid
(recurrent network with delays), and central finite differences of the loss value (the judge of
``test_eventprop_fd``).
"""
import numpy as np
import pytest

import eventsim as es
from eventsim.eventprop import value_and_grad
from eventsim.losses import MaxVoltageCE, SilentPeakReg
from test_eventprop_fd import check_gradients, random_batch


def _feedforward(seed, tau_syn=5.0, hidden_params=None):
    """in(4) -> hidden(8) -> read-out(3); hidden neurons 4-7 get weak inputs (silent on some samples)."""
    rng = np.random.default_rng(seed)
    p = hidden_params or es.LIFParams(tau_mem=20.0, tau_syn=tau_syn)
    peak = es.psp_peak(20.0, tau_syn)
    W = rng.normal(0.6, 0.3, (8, 4)) / peak
    W[4:] *= 0.35
    net = es.Network()
    net.add_input("in", 4)
    net.add_population("hidden", 8, p)
    net.add_population("out", 3, es.LIFParams.readout(20.0, tau_syn))
    net.connect("in", "hidden", W, delays=rng.uniform(0.1, 1.5, (8, 4)))
    net.connect("hidden", "out", rng.normal(0.0, 0.5, (3, 8)) / peak, delays=rng.uniform(0.2, 1.0, (3, 8)))
    return net, random_batch(rng, 4, 4, 6, 10.0)


@pytest.mark.parametrize("tau_syn", [5.0, 20.0])
def test_silent_peak_equals_the_readout_tracking_of_a_non_spiking_twin(tau_syn):
    net, batch = _feedforward(0, tau_syn)
    res = es.simulate(net, batch, 60.0)
    silent = res.counts("hidden") == 0
    assert 0 < silent.sum() < silent.size  # some silent (sample, neuron) pairs, some firing
    vmax, tmax = res.silent_peak("hidden")
    assert np.array_equal(np.isnan(vmax), ~silent) and np.array_equal(np.isnan(tmax), ~silent)

    twin, _ = _feedforward(0, tau_syn, hidden_params=es.LIFParams.readout(20.0, tau_syn))
    ref = es.simulate(twin, batch, 60.0)
    np.testing.assert_allclose(vmax[silent], ref.max_voltage("hidden")[silent], rtol=0, atol=1e-13)
    np.testing.assert_allclose(tmax[silent], ref.max_voltage_time("hidden")[silent], rtol=0, atol=1e-12)
    o = ref.layout.offsets["hidden"]
    np.testing.assert_allclose(res.silent_peak_current("hidden")[silent], ref.tape.imax[:, o:o + 8][silent], rtol=0, atol=1e-12)
    assert np.all(np.isnan(res.silent_peak_current("hidden")[~silent]))
    assert np.all(vmax[silent] < 1.0)


def test_silent_peak_in_a_recurrent_network_with_delays_matches_a_fine_grid():
    rng = np.random.default_rng(3)
    p = es.LIFParams(tau_mem=10.0, tau_syn=4.0, v_leak=0.1, v_reset=-0.2)
    peak = es.psp_peak(10.0, 4.0)
    net = es.Network()
    net.add_input("in", 3)
    net.add_population("hidden", 6, p)
    W = rng.uniform(0.4, 0.9, (6, 3)) / peak
    W[3:] *= 0.2
    net.connect("in", "hidden", W, delays=rng.uniform(0.1, 2.0, (6, 3)))
    net.connect("hidden", "hidden", rng.uniform(-0.3, 0.3, (6, 6)) / peak, delays=rng.uniform(0.5, 3.0, (6, 6)))
    batch = random_batch(rng, 3, 3, 5, 8.0)
    grid = np.linspace(0.0, 50.0, 50001)
    res = es.simulate(net, batch, 50.0, record={"hidden": "all"}, record_times=grid)
    silent = res.counts("hidden") == 0
    assert silent.any() and (~silent).any() and res.counts("hidden").sum() > 0
    vmax, tmax = res.silent_peak("hidden")
    V = res.voltage("hidden")  # (B, T, n)
    gmax = V.max(axis=1)
    # the exact peak is never below the grid's maximum and within a grid step's worth of slope above it
    assert np.all(vmax[silent] >= gmax[silent] - 1e-12)
    assert np.all(vmax[silent] - gmax[silent] < 1e-4)  # |dV/dt| < 0.1 /ms, grid step 1e-3 ms
    at = np.take_along_axis(V, np.rint(np.nan_to_num(tmax) / 1e-3).astype(int)[:, None, :], 1)[:, 0]
    np.testing.assert_allclose(at[silent], vmax[silent], atol=1e-4)


def test_silent_peak_uses_the_weights_that_were_simulated():
    net, batch = _feedforward(0)
    res = es.simulate(net, batch, 60.0)
    net2, _ = _feedforward(0)
    net.projections["in->hidden"].weights *= 0.5  # then simulate again: the layout's weights are refreshed
    es.simulate(net, batch, 60.0)
    ref = es.simulate(net2, batch, 60.0)
    np.testing.assert_array_equal(res.silent_peak("hidden")[0], ref.silent_peak("hidden")[0])


def test_silent_peak_rejects_read_outs():
    net, batch = _feedforward(0)
    res = es.simulate(net, batch, 60.0)
    with pytest.raises(ValueError, match="does not spike"):
        res.silent_peak("out")
    res.tape = None  # as a Result built without simulate() (e.g. read from a file)
    with pytest.raises(ValueError, match="simulate"):
        res.silent_peak("hidden")


@pytest.mark.parametrize("scope", ["batch", "sample"])
def test_silent_peak_reg_gradient_matches_finite_differences(scope):
    net, batch = _feedforward(1)
    res = es.simulate(net, batch, 60.0)
    labels = np.arange(batch.n_samples) % 3
    reg = SilentPeakReg("hidden", strength=0.5, scope=scope)
    assert reg.silent_set(res).any()
    check_gradients(net, batch, labels, [MaxVoltageCE(), reg], 60.0, delays=True, tag=f"silent-peak-{scope}")
    # the term alone moves only the weights into the silent neurons, and moves all of them up
    _, g = value_and_grad(net, batch, labels, reg, 60.0)
    S = reg.silent_set(res).any(axis=0)
    post = net.projections["in->hidden"].indices  # postsynaptic neuron of each synapse
    gi = g["in->hidden"]
    assert np.all(gi[~S[post]] == 0) and np.all(gi[S[post]] <= 0) and np.any(gi[S[post]] < 0)
    assert not np.any(g["hidden->out"])


def test_silent_peak_reg_value_and_validation():
    net, batch = _feedforward(1)
    res = es.simulate(net, batch, 60.0)
    reg = SilentPeakReg("hidden", strength=2.0, scope="sample")
    vmax, _ = res.silent_peak("hidden")
    silent = res.counts("hidden") == 0
    assert reg.value(res, np.zeros(batch.n_samples, int)) == pytest.approx(
        2.0 * np.sum((1.0 - vmax)[silent]) / batch.n_samples, rel=1e-14)
    with pytest.raises(ValueError, match="strength"):
        SilentPeakReg(strength=-1.0)
    with pytest.raises(ValueError, match="scope"):
        SilentPeakReg(scope="all")
    with pytest.raises(ValueError, match="regulariser"):
        reg.predict(res)


def test_vmax_grad_on_a_neuron_that_fired_is_rejected():
    from eventsim.losses import Loss, LossParts

    class Bad(Loss):
        population = "hidden"

        def value_and_parts(self, result, labels):
            return 0.0, LossParts(vmax_grad=np.ones(result.counts("hidden").shape))

    net, batch = _feedforward(0)
    with pytest.raises(ValueError, match="fired"):
        value_and_grad(net, batch, np.zeros(batch.n_samples, int), [MaxVoltageCE(), Bad()], 60.0)
