"""Two synaptic currents (``LIFParams(tau_syn_inh=...)``): negative weights feed a second current.

Oracles: scipy ODE integration with event detection (tests/ode_oracle.py, which shares no code with
the kernels), the closed form written out here in numpy, dense-grid maxima and integrals, and the
one-current model where the two must agree (equal time constants; no inhibition).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from ode_oracle import ode_simulate

import eventsim as es


def _net(rng, n_in, n, params, p_conn=0.5, rec_scale=1.0, inh_scale=1.0, with_delays=True):
    peak = es.psp_peak(params.tau_mem, params.tau_syn)
    M = rng.random((n, n_in + n)) < p_conn
    exc = rng.random(M.shape) < 0.7
    W = np.where(exc, rng.uniform(0.3, 0.9, M.shape), -inh_scale * rng.uniform(0.3, 1.5, M.shape)) / peak * M
    W[:, n_in:] *= rec_scale
    D = np.where(M, rng.uniform(0.5, 3.0, M.shape) if with_delays else 0.0, 0.0)
    D[:, n_in:] = np.where(M[:, n_in:], np.maximum(D[:, n_in:], 0.2), 0.0)  # recurrent delays > 0 in the oracle
    net = es.Network()
    net.add_input("in", n_in)
    net.add_population("lif", n, params)
    net.connect("in", "lif", W[:, :n_in], delays=D[:, :n_in], mask=M[:, :n_in])
    net.connect("lif", "lif", W[:, n_in:], delays=D[:, n_in:], mask=M[:, n_in:])
    return net, W, D


def _ours(res, pop="lif"):
    sb = res.spikes(pop)
    return sorted(zip(sb.times.tolist(), sb.ids.tolist()))


def _compare(ours, ref, tol=1e-6):
    assert [k for _, k in ours] == [k for _, k in ref]
    err = max((abs(a - b) for (a, _), (b, _) in zip(ours, ref)), default=0.0)
    assert err < tol, f"max spike-time error {err} ms"


@pytest.mark.parametrize("seed,tau_m,tau_e,tau_i,v_leak,delays", [
    (0, 20.0, 5.0, 10.0, 0.0, True),    # Brette's CUBA time constants
    (1, 10.0, 2.0, 8.0, 0.0, True),
    (2, 15.0, 15.0, 6.0, 0.0, False),   # tau_m equal to the excitatory tau
    (3, 12.0, 3.0, 12.0, 0.0, True),    # tau_m equal to the inhibitory tau
    (4, 20.0, 8.0, 3.0, 0.0, True),     # inhibition faster than excitation
    (5, 20.0, 5.0, 10.0, 1.05, True),   # tonic drive: V can dip and rise again between events
])
def test_random_recurrent_networks_match_ode_integration(seed, tau_m, tau_e, tau_i, v_leak, delays):
    rng = np.random.default_rng(seed)
    n_in, n, t_max = 6, 8, 80.0
    p = es.LIFParams(tau_mem=tau_m, tau_syn=tau_e, tau_syn_inh=tau_i, v_th=1.0, v_reset=0.0, v_leak=v_leak)
    net, W, D = _net(rng, n_in, n, p, rec_scale=0.4, with_delays=delays)
    inputs = sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, 60, 40), rng.integers(0, n_in, 40)))
    ours = _ours(es.simulate(net, es.SpikeBatch.from_lists([inputs], n_in), t_max, v_init={"lif": 0.0}))
    ref = ode_simulate([tau_m] * n, [tau_e] * n, [1.0] * n, [0.0] * n, [v_leak] * n, W, D, inputs, n_in, t_max,
                       tau_i=[tau_i] * n, max_step=0.05)
    assert len(ours) >= 5, "test network too quiet to be informative"
    _compare(ours, ref)


def test_refractory_neurons_with_two_currents_match_ode_integration():
    rng = np.random.default_rng(7)
    n_in, n, t_max = 6, 8, 80.0
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0, tau_syn_inh=10.0, v_th=1.0, v_reset=0.0, t_ref=2.0)
    net, W, D = _net(rng, n_in, n, p, rec_scale=0.5)
    inputs = sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, 60, 60), rng.integers(0, n_in, 60)))
    ours = _ours(es.simulate(net, es.SpikeBatch.from_lists([inputs], n_in), t_max))
    ref = ode_simulate([20.0] * n, [5.0] * n, [1.0] * n, [0.0] * n, [0.0] * n, W, D, inputs, n_in, t_max,
                       tau_i=[10.0] * n, t_ref=[2.0] * n)
    assert len(ours) >= 5
    _compare(ours, ref)


def test_long_run_crosses_the_fast_path_rebases_and_matches_ode_integration():
    """tau 4 / 0.5 / 1 ms: the shared-exponential origin moves on every 15 ms, eight times."""
    rng = np.random.default_rng(11)
    n_in, n, t_max = 6, 8, 120.0
    p = es.LIFParams(tau_mem=4.0, tau_syn=0.5, tau_syn_inh=1.0, v_th=1.0, v_reset=0.0)
    net, W, D = _net(rng, n_in, n, p, rec_scale=0.3, inh_scale=0.5)
    inputs = sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, 110, 120), rng.integers(0, n_in, 120)))
    ours = _ours(es.simulate(net, es.SpikeBatch.from_lists([inputs], n_in), t_max))
    ref = ode_simulate([4.0] * n, [0.5] * n, [1.0] * n, [0.0] * n, [0.0] * n, W, D, inputs, n_in, t_max,
                       tau_i=[1.0] * n, max_step=0.1)
    assert len(ours) >= 20 and ours[-1][0] > 90.0, "test network too quiet to be informative"
    _compare(ours, ref)


def test_equal_synaptic_time_constants_give_the_one_current_model():
    rng = np.random.default_rng(3)
    n_in, n = 6, 8
    one = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    two = es.LIFParams(tau_mem=20.0, tau_syn=5.0, tau_syn_inh=5.0)
    net1, W, D = _net(rng, n_in, n, one, rec_scale=0.4)
    net2 = net1.copy()
    net2.populations["lif"].params = two
    batch = es.SpikeBatch.from_lists([sorted((float(t), int(i)) for t, i in
                                             zip(rng.uniform(0, 60, 40), rng.integers(0, n_in, 40)))], n_in)
    a, b = _ours(es.simulate(net1, batch, 80.0)), _ours(es.simulate(net2, batch, 80.0))
    assert len(a) >= 5
    _compare(b, a, tol=1e-9)


def test_without_inhibition_the_second_current_changes_nothing():
    rng = np.random.default_rng(4)
    n_in, n = 6, 8
    net1, W, D = _net(rng, n_in, n, es.LIFParams(tau_mem=20.0, tau_syn=5.0), rec_scale=0.2)
    for pr in net1.projections.values():
        pr.weights[:] = np.abs(pr.weights)
    net2 = net1.copy()
    net2.populations["lif"].params = es.LIFParams(tau_mem=20.0, tau_syn=5.0, tau_syn_inh=10.0)
    batch = es.SpikeBatch.from_lists([sorted((float(t), int(i)) for t, i in
                                             zip(rng.uniform(0, 60, 30), rng.integers(0, n_in, 30)))], n_in)
    a, b = _ours(es.simulate(net1, batch, 80.0)), _ours(es.simulate(net2, batch, 80.0))
    assert len(a) >= 5
    _compare(b, a, tol=1e-12)


def _closed_form(t, arrivals, tau_m, tau_e, tau_i, v_l=0.0):
    """V and I_e + I_i of one non-firing neuron from rest, by superposition (numpy, tau_m != tau_x)."""
    V = np.full_like(t, v_l)
    I = np.zeros_like(t)
    for ta, w in arrivals:
        tau = tau_e if w > 0 else tau_i
        s = np.clip(t - ta, 0.0, None)
        on = t >= ta
        V += on * w * tau / (tau_m - tau) * (np.exp(-s / tau_m) - np.exp(-s / tau))
        I += on * w * np.exp(-s / tau)
    return V, I


def _one_neuron(params, arrivals, t_max, **kw):
    net = es.Network()
    net.add_input("in", len(arrivals))
    net.add_population("out", 1, params)
    net.connect("in", "out", np.array([[w for _, w in arrivals]]))
    batch = es.SpikeBatch.from_lists([[(ta, q) for q, (ta, _) in enumerate(arrivals)]], len(arrivals))
    return es.simulate(net, batch, t_max, **kw)


ARRIVALS = [(1.0, 0.6), (2.0, -0.9), (6.0, 0.5), (7.5, -0.3), (12.0, 0.7)]


def test_recorded_voltage_and_current_match_the_closed_form():
    t = np.linspace(0.0, 40.0, 401)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0, tau_syn_inh=10.0, v_th=10.0)  # never fires
    res = _one_neuron(p, ARRIVALS, 40.0, record={"out": "all"}, record_times=t)
    V, I = _closed_form(t, ARRIVALS, 20.0, 5.0, 10.0)
    np.testing.assert_allclose(res.voltage("out")[0, :, 0], V, rtol=0, atol=1e-13)
    np.testing.assert_allclose(res.current("out")[0, :, 0], I, rtol=0, atol=1e-13)


def test_readout_max_and_integral_match_a_dense_grid():
    p = es.LIFParams.readout(tau_mem=20.0, tau_syn=5.0, tau_syn_inh=10.0)
    res = _one_neuron(p, ARRIVALS, 40.0)
    t = np.linspace(0.0, 40.0, 400_001)
    V, I = _closed_form(t, ARRIVALS, 20.0, 5.0, 10.0)
    assert abs(res.max_voltage("out")[0, 0] - V.max()) < 1e-9
    assert abs(res.max_voltage_time("out")[0, 0] - t[V.argmax()]) < 1e-3
    integral = float(np.sum((V[1:] + V[:-1]) / 2 * np.diff(t)))
    assert abs(res.voltage_integral("out")[0, 0] - integral) < 1e-6
    # the current just before the maximum (its left limit: the maximum sits on an arrival here)
    t_peak = res.max_voltage_time("out")[0, 0]
    _, I_left = _closed_form(np.array([t_peak - 1e-9]), ARRIVALS, 20.0, 5.0, 10.0)
    assert abs(res.tape.imax[0, res.layout.offsets["out"]] - I_left[0]) < 1e-8


def test_a_spike_reports_the_total_current():
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0, tau_syn_inh=10.0, v_th=0.15)
    arrivals = [(1.0, -0.5), (3.0, 2.0)]
    res = _one_neuron(p, arrivals, 20.0)
    assert res.n_spikes >= 1
    t0 = res.times[0]
    _, I = _closed_form(np.array([t0]), arrivals, 20.0, 5.0, 10.0)
    assert abs(res.currents[0] - I[0]) < 1e-12


def test_a_near_tangent_maximum_between_two_extrema_is_found():
    """Inhibition first, then excitation: V dips, rises to a maximum 1e-9 above threshold and
    decays; the spike must be found at that maximum (from a dense-grid bisection)."""
    tau_m, tau_e, tau_i = 20.0, 2.0, 10.0
    base = [(0.5, -0.4), (1.0, 1.0)]
    t = np.linspace(0.0, 30.0, 300_001)
    V, _ = _closed_form(t, base, tau_m, tau_e, tau_i)
    v_th = float(V.max()) - 1e-9  # a hair below the grid maximum: crossed twice, 1e-9 deep
    # after the last arrival V rises to its maximum, then falls below rest (the slow inhibition
    # outlasts the excitation) to a minimum: two extrema between events
    assert 1.0 < t[np.argmax(V)] < t[np.argmin(V)] < 30.0
    p = es.LIFParams(tau_mem=tau_m, tau_syn=tau_e, tau_syn_inh=tau_i, v_th=v_th)
    res = _one_neuron(p, base, 30.0)
    assert res.n_spikes == 1
    up = int(np.flatnonzero(V >= v_th)[0])
    lo, hi = t[up - 1], t[up]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _closed_form(np.array([mid]), base, tau_m, tau_e, tau_i)[0][0] >= v_th:
            hi = mid
        else:
            lo = mid
    assert abs(res.times[0] - hi) < 1e-9


def test_silent_peak_of_a_two_current_population_equals_its_readout_twin():
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0, tau_syn_inh=10.0, v_th=5.0)  # never reached
    res = _one_neuron(p, ARRIVALS, 40.0)
    twin = _one_neuron(es.LIFParams.readout(20.0, 5.0, tau_syn_inh=10.0), ARRIVALS, 40.0)
    vmax, tmax = res.silent_peak("out")
    assert vmax[0, 0] == pytest.approx(twin.max_voltage("out")[0, 0], abs=1e-13)
    assert tmax[0, 0] == pytest.approx(twin.max_voltage_time("out")[0, 0], abs=1e-12)
    assert res.silent_peak_current("out")[0, 0] == pytest.approx(twin.tape.imax[0, twin.layout.offsets["out"]], abs=1e-12)


def test_the_second_time_constant_survives_a_file(tmp_path):
    net = es.Network()
    net.add_input("in", 2)
    net.add_population("a", 3, es.LIFParams(tau_syn_inh=10.0))
    net.add_population("b", 3)
    net.connect("in", "a", np.ones((3, 2)))
    net.save(tmp_path / "n.h5")
    back = es.load_network(tmp_path / "n.h5")
    assert back.populations["a"].params.tau_syn_inh == 10.0
    assert back.populations["b"].params.tau_syn_inh is None
    assert back.populations["a"].params == net.populations["a"].params


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, "10", True])
def test_a_bad_second_time_constant_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="tau_syn_inh"):
        es.LIFParams(tau_syn_inh=bad)


def test_changing_a_population_to_two_currents_rebuilds_the_layout():
    net = es.Network()
    net.add_input("in", 1)
    net.add_population("a", 1)
    net.connect("in", "a", np.array([[-1.0]]))
    first = net.layout()
    assert not first.neurons.dual[1]
    net.populations["a"].params = es.LIFParams(tau_syn_inh=10.0)
    second = net.layout()
    assert second is not first and second.neurons.dual[1] and second.neurons.tau_i[1] == 10.0


def test_t_max_is_refused_beyond_the_resolution_of_the_inhibitory_time_constant():
    net = es.Network()
    net.add_input("in", 1)
    net.add_population("a", 1, es.LIFParams(tau_syn_inh=1e-3))  # the shortest time constant: 1 us
    net.connect("in", "a", np.array([[-1.0]]))
    with pytest.raises(ValueError, match=r"t_max = .* shortest time constant \(0.001 ms, population 'a'\)"):
        es.simulate(net, None, 2e6)
