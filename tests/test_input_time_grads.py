"""Gradients with respect to input spike times (``wants_input_times=True``) against independent oracles.

- Central finite differences of the loss value (``simulate`` + the loss, independent of the adjoint
  code) with respect to every input spike time, with the stencil, the event-pattern check and the
  error measure of tests/test_eventprop_fd.py (relative 1e-6 down to 1/1000 of the largest entry):
  feed-forward, recurrent with delays, two synaptic currents, a read-out maximum sitting on an input
  arrival (kink), two input populations.
- Time-translation invariance: with every neuron at rest at t = 0, shifting all input spikes by
  delta shifts every spike by delta, so for L = sum of spike times the input-time gradients sum to
  (number of spikes) / B.
- The arrival time of a synapse is t_k + d: summed over an input neuron's spikes, dL/dt_k equals
  the sum of dL/dd over that neuron's synapses.
"""
import numpy as np
import pytest

import eventsim as es
from eventsim.eventprop import backward, forward, value_and_grad
from eventsim.losses import LossParts, MaxVoltageCE
from test_eventprop_fd import (FLOOR, LOSSES, REL_TOL, SpikeTimeSum, _kink_network, _same_pattern, event_pattern,
                               feedforward, first_config, loss_value, random_batch, recurrent)


def _with_times(batch, times):
    return es.SpikeBatch(times, batch.ids, batch.offsets, batch.n_neurons)


def fd_input_times(net, inputs, labels, loss, t_max, name, steps=(1e-4, 1e-5, 1e-6)):
    """Central finite differences of the loss with respect to every spike time of input ``name``."""
    single = isinstance(inputs, es.SpikeBatch)
    batch = inputs if single else inputs[name]

    def run(times):
        b = _with_times(batch, times)
        inp = b if single else dict(inputs, **{name: b})
        L, r = loss_value(net, inp, labels, loss, t_max)
        return L, r, b

    _, r0, _ = run(batch.times)
    ref = event_pattern(net, batch, r0) if single else [r0.ids, r0.offsets]
    fd = np.zeros(batch.n_spikes)
    for k in range(batch.n_spikes):
        t0 = float(batch.times[k])
        for rel in steps:
            h = rel * max(1.0, abs(t0))
            vals, same = {}, True
            for s in (4, 2, 1, -1, -2, -4):
                t = batch.times.copy()
                t[k] = t0 + s * h / 2
                vals[s], r, b = run(t)
                same &= _same_pattern(event_pattern(net, b, r) if single else [r.ids, r.offsets], ref)
            if same:
                break
        assert same, f"spike pattern changes under a perturbation of input spike {k} at every step size"
        d_h = (-vals[4] + 8 * vals[2] - 8 * vals[-2] + vals[-4]) / (12 * h)
        d_h2 = (-vals[2] + 8 * vals[1] - 8 * vals[-1] + vals[-2]) / (6 * h)
        fd[k] = (16 * d_h2 - d_h) / 15
    return fd


def check_input_times(net, inputs, labels, loss, t_max, names=None):
    L, g = value_and_grad(net, inputs, labels, loss, t_max, wants_input_times=True)
    names = names or [net.input_names[0]]
    fds = {n: fd_input_times(net, inputs, labels, loss, t_max, n) for n in names}
    scale = max(np.abs(v).max() for v in fds.values())
    assert scale > 0
    worst = 0.0
    for n, fd in fds.items():
        gi = g["input:" + n]
        assert gi.shape == fd.shape
        err = np.abs(fd - gi) / np.maximum(np.abs(fd), FLOOR * scale)
        worst = max(worst, float(err.max(initial=0.0)))
        assert err.max(initial=0.0) < REL_TOL, (n, err.max(), fd, gi)
    return worst, g


@pytest.mark.parametrize("kind", ["first_spike", "vmax", "vint"])
@pytest.mark.parametrize("tau_syn", [5.0, 20.0])  # tau_mem = 20: tau_syn != tau_mem and ==
def test_feedforward_input_times_match_finite_differences(kind, tau_syn):
    net, batch, labels, t_max = first_config(feedforward, tau_syn, kind)
    _, g = check_input_times(net, batch, labels, LOSSES[kind](), t_max)
    assert np.count_nonzero(g["input:in"]) > batch.n_spikes // 2


@pytest.mark.parametrize("kind", ["first_spike", "vmax", "vint"])
def test_recurrent_with_delays_input_times_match_finite_differences(kind):
    net, batch, labels, t_max = first_config(recurrent, 4.0, kind)
    _, g = check_input_times(net, batch, labels, LOSSES[kind](), t_max)
    assert np.count_nonzero(g["input:in"]) > batch.n_spikes // 2


def test_two_synaptic_currents_input_times_match_finite_differences():
    net, batch, labels, t_max = first_config(recurrent, 4.0, "first_spike", 8.0)
    check_input_times(net, batch, labels, LOSSES["first_spike"](), t_max)


def test_read_out_maximum_on_an_input_arrival_moves_with_the_input():
    """out1's maximum sits on the inhibitory arrival of input spike 2 (a kink): its time moves the
    maximum, and that term is in the gradient."""
    net, batch = _kink_network(5.0)
    # away from t = 0 (only one side there) and from each other (each time moves on its own)
    batch = _with_times(batch, np.array([0.5, 1.5, 1.7]))
    res = es.simulate(net, batch, 30.0)
    assert res.max_voltage_time("out")[0, 1] == 1.7 + 2.0
    _, g = check_input_times(net, batch, np.array([1]), MaxVoltageCE(), 30.0)
    assert g["input:in"][2] != 0.0


def test_two_input_populations_are_aligned_with_their_batches():
    rng = np.random.default_rng(5)
    p = es.LIFParams(tau_mem=10.0, tau_syn=4.0)
    peak = es.psp_peak(10.0, 4.0)
    net = es.Network()
    net.add_input("a", 3)
    net.add_input("b", 2)
    net.add_population("hidden", 5, p)
    net.add_population("out", 2, es.LIFParams.readout(10.0, 4.0))
    net.connect("a", "hidden", rng.uniform(0.3, 0.8, (5, 3)) / peak, delays=rng.uniform(0.1, 2.0, (5, 3)))
    net.connect("b", "hidden", rng.uniform(0.3, 0.8, (5, 2)) / peak, delays=rng.uniform(0.1, 2.0, (5, 2)))
    net.connect("hidden", "out", rng.normal(0.0, 0.6, (2, 5)) / peak, delays=0.4)
    inputs = {"b": random_batch(rng, 2, 2, 4, 8.0), "a": random_batch(rng, 3, 2, 5, 8.0)}
    labels = np.array([0, 1])
    _, g = check_input_times(net, inputs, labels, MaxVoltageCE(), 40.0, names=["a", "b"])
    assert g["input:a"].shape == (10,) and g["input:b"].shape == (8,)


def test_shifting_every_input_shifts_every_spike():
    """Time-translation invariance (all neurons start at rest): for L = (1/B) sum of all spike times,
    the input-time gradients sum to (number of spikes) / B, per sample."""
    net, batch, labels, t_max = first_config(recurrent, 4.0, "first_spike")
    loss = SpikeTimeSum("hidden")
    L, g, res = value_and_grad(net, batch, labels, loss, t_max, wants_input_times=True, return_result=True)
    sb = res.spikes("hidden")
    B = batch.n_samples
    gi = g["input:in"]
    for b in range(B):
        got = gi[batch.offsets[b]:batch.offsets[b + 1]].sum()
        n_spikes = sb.offsets[b + 1] - sb.offsets[b]
        assert n_spikes >= 2
        assert got == pytest.approx(n_spikes / B, rel=1e-11)


def test_input_time_gradient_is_the_delay_gradient_summed_over_the_synapses():
    """An arrival happens at t_k + d, so d/dt_k and d/dd act alike: per input neuron j,
    sum over j's spikes of dL/dt_k = sum over j's synapses of dL/dd."""
    net, batch, labels, t_max = first_config(recurrent, 4.0, "vmax")
    _, g = value_and_grad(net, batch, labels, MaxVoltageCE(), t_max, wants_delays=True, wants_input_times=True)
    proj = net.projections["in->hidden"]
    pre = proj.pre_indices()
    active = np.unique(batch.ids)
    assert active.size >= 2
    for j in range(proj.n_pre):
        by_time = g["input:in"][batch.ids == j].sum()
        by_delay = g["delay:in->hidden"][pre == j].sum()
        assert (by_delay != 0.0) == (j in active)
        assert by_time == pytest.approx(by_delay, rel=1e-12, abs=1e-15)


def test_spikes_whose_arrivals_come_after_t_max_have_no_gradient():
    net, batch, labels, t_max = first_config(feedforward, 5.0, "vmax")
    times = np.concatenate([batch.times[:batch.offsets[1]], [t_max + 1.0]])
    ids = np.concatenate([batch.ids[:batch.offsets[1]], [0]])
    late = es.SpikeBatch(times, ids, np.array([0, times.size]), 4)
    _, g = value_and_grad(net, late, labels[:1], MaxVoltageCE(), t_max, wants_input_times=True)
    assert g["input:in"][-1] == 0.0 and np.count_nonzero(g["input:in"][:-1]) > 0


def test_weight_gradients_do_not_change_when_input_times_are_asked():
    net, batch, labels, t_max = first_config(recurrent, 4.0, "first_spike")
    loss = LOSSES["first_spike"]()
    L0, g0 = value_and_grad(net, batch, labels, loss, t_max, wants_delays=True)
    L1, g1 = value_and_grad(net, batch, labels, loss, t_max, wants_delays=True, wants_input_times=True)
    assert L0 == L1 and set(g1) == set(g0) | {"input:in"}
    for k in g0:
        np.testing.assert_array_equal(g0[k], g1[k])


def test_forward_and_backward_with_the_loss_parts_equal_value_and_grad():
    net, batch, labels, t_max = first_config(recurrent, 4.0, "first_spike")
    loss = LOSSES["first_spike"]()
    L, g = value_and_grad(net, batch, labels, loss, t_max, wants_delays=True, wants_input_times=True, n_chunks=2)
    res = forward(net, batch, t_max)
    value, parts = loss.value_and_parts(res, labels)
    g2 = backward(net, res, {"out": parts}, wants_delays=True, wants_input_times=True, n_chunks=2)
    assert value == L and set(g2) == set(g)
    for k in g:
        np.testing.assert_array_equal(g[k], g2[k])


def test_backward_refuses_bad_parts():
    net, batch, labels, t_max = first_config(feedforward, 5.0, "first_spike")
    res = forward(net, batch, t_max)
    B = batch.n_samples
    with pytest.raises(ValueError, match="first_spike_grad must have shape"):
        backward(net, res, {"out": LossParts(first_spike_grad=np.zeros((B, 2)))})
    with pytest.raises(ValueError, match="vint_grad given for 'out'"):
        backward(net, res, {"out": LossParts(vint_grad=np.zeros((B, 3)))})
    with pytest.raises(ValueError, match="NaN or inf"):
        backward(net, res, {"out": LossParts(first_spike_grad=np.full((B, 3), np.nan))})
    with pytest.raises(ValueError, match="does not exist"):
        backward(net, res, {"nope": LossParts()})
    with pytest.raises(TypeError, match="must be LossParts"):
        backward(net, res, {"out": {"first_spike_grad": np.zeros((B, 3))}})
    with pytest.raises(ValueError, match="unknown keyword"):
        forward(net, batch, t_max, wants_delays=True)
