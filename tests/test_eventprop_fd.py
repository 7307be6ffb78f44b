"""EventProp gradients against central finite differences (the judge), float64, every parameter.

Finite differences of the loss *value* computed from ``simulate`` + the loss (independent of the
adjoint code): the 4-point central stencil D(h) = (L(p-2h) - 8L(p-h) + 8L(p+h) - L(p+2h)) / 12h,
Richardson-combined over two steps, fd = (16 D(h/2) - D(h)) / 15 (truncation O(h^6)), with
h = 1e-4 * max(1, |p|). Float64 spike times carry root-finding jitter of ~1e-14 ms, so a plain
difference with a much smaller step is dominated by noise (~1e-14/h), and a larger single step by
truncation where the loss is strongly curved (e.g. a read-out maximum next to a kink).
The event pattern must be identical at all 8 points: the spike pattern (neuron ids, their order,
per-sample counts) and the position of every synaptic arrival relative to its target's spikes and
read-out maximum (``event_pattern``; an arrival crossing its target's spike is a kink of the loss
that the spike ids alone do not show). If it is not, the step is reduced to 1e-5 and then 1e-6
(relative); if it still differs the test fails.

Error measure: err = |fd - g| / max(|fd|, 1e-3 * max|fd|) over all parameters of the network (every
weight; every delay where tested), required < 1e-6. That is a relative error of 1e-6 for every
entry down to 1/1000 of the largest gradient, and an absolute error of 1e-9 * max|gradient| below.

Configurations are built to be away from tangent crossings; a builder returns None for a seed
whose activity is unusable (e.g. no output spike to use as a label) and the next seed is used; the
gradient comparison itself is never retried.
"""
import numpy as np
import pytest

import eventsim as es
from eventsim.eventprop import value_and_grad
from eventsim.losses import FirstSpikeCE, Loss, MaxVoltageCE, VoltageIntegralCE, as_list

REL_TOL = 1e-6
FLOOR = 1e-3
REPORT = {}


def loss_value(net, batch, labels, loss, t_max, v_init=None):
    res = es.simulate(net, batch, t_max, v_init=v_init)
    return sum(l.value(res, labels) for l in as_list(loss)), res


def _events_before(n, t, is_ev, events_first):
    """For each entry: how many events (is_ev) of the same neuron n come before it in (t, kind) order."""
    kind = np.where(is_ev, 0, 1) if events_first else np.where(is_ev, 1, 0)
    order = np.lexsort((kind, t, n))
    ev = is_ev[order].astype(np.int64)
    ce = np.cumsum(ev) - ev  # events strictly before in the sorted order
    ns = n[order]
    start = np.flatnonzero(np.r_[True, ns[1:] != ns[:-1]])
    base = np.repeat(ce[start], np.diff(np.r_[start, ns.size]))
    out = np.empty(n.size, dtype=np.int64)
    out[order] = ce - base
    return out


def event_pattern(net, batch, res):
    """What must not change between finite-difference points, beyond smooth motion of event times.

    The spike pattern (neuron ids in time order per sample) and, for every synaptic arrival, where
    it falls relative to the spikes of its target and to the time of a read-out's maximum (counts
    of those events strictly before it and at or before it: the latter catches ties such as a
    maximum on an arrival). The order of arrivals among themselves is irrelevant (linear dynamics).
    """
    lay = net.layout()
    o_in = lay.offsets[net.input_names[0]]
    track = np.flatnonzero(lay.neurons.track[lay.neurons.pop_of])
    parts = [res.ids, res.offsets]
    for b in range(res.n_samples):
        a0, a1 = batch.offsets[b], batch.offsets[b + 1]
        s0, s1 = res.offsets[b], res.offsets[b + 1]
        src_t = np.concatenate([batch.times[a0:a1], res.times[s0:s1]])
        src_id = np.concatenate([batch.ids[a0:a1].astype(np.int64) + o_in, res.ids[s0:s1]])
        syn = [np.arange(lay.synapses.indptr[j], lay.synapses.indptr[j + 1]) for j in src_id]
        syn = np.concatenate(syn) if syn else np.zeros(0, np.int64)
        t_arr = np.repeat(src_t, lay.synapses.indptr[src_id + 1] - lay.synapses.indptr[src_id]) + lay.synapses.d[syn]
        keep = t_arr <= res.t_max
        syn, t_arr = syn[keep], t_arr[keep]
        n = np.concatenate([lay.synapses.tgt[syn], res.ids[s0:s1], track])
        t = np.concatenate([t_arr, res.times[s0:s1], res.tmax[b, track]])
        is_ev = np.r_[np.zeros(syn.size, bool), np.ones(s1 - s0 + track.size, bool)]
        lt = _events_before(n, t, is_ev, events_first=False)[:syn.size]
        le = _events_before(n, t, is_ev, events_first=True)[:syn.size]
        label = lay.perm[syn]
        o = np.lexsort((le, lt, label))
        parts += [label[o], lt[o], le[o]]
    return parts


def _same_pattern(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def fd_gradient(net, batch, labels, loss, t_max, delays=False, v_init=None, steps=(1e-4, 1e-5, 1e-6)):
    """{key: fd array} for every weight (and delay) of ``net``, keys as ``value_and_grad`` returns them."""
    _, r = loss_value(net, batch, labels, loss, t_max, v_init)
    ref = event_pattern(net, batch, r)
    out = {}
    for name, proj in net.projections.items():
        targets = [(name, False)]
        if delays:  # every delay is tested, so none may sit at the boundary d = 0
            assert proj.delays is not None and proj.delays.min() > 1e-3, f"{name}: delays must be > 0 here"
            targets.append(("delay:" + name, True))
        for key, is_delay in targets:

            def set_param(i, value):
                if is_delay:  # a new array: the network's kernel layout is rebuilt when delays change
                    d = proj.delays.copy()
                    d[i] = value
                    proj.delays = d
                else:
                    proj.weights[i] = value

            fd = np.zeros(proj.n_synapses)
            for i in range(proj.n_synapses):
                p0 = float((proj.delays if is_delay else proj.weights)[i])
                for rel in steps:
                    h = rel * max(1.0, abs(p0))
                    vals, same = {}, True
                    for s in (4, 2, 1, -1, -2, -4):
                        set_param(i, p0 + s * h / 2)
                        vals[s], r = loss_value(net, batch, labels, loss, t_max, v_init)
                        same &= _same_pattern(event_pattern(net, batch, r), ref)
                    set_param(i, p0)
                    if same:
                        break
                assert same, f"spike pattern changes under a perturbation of {key}[{i}] at every step size"
                d_h = (-vals[4] + 8 * vals[2] - 8 * vals[-2] + vals[-4]) / (12 * h)
                d_h2 = (-vals[2] + 8 * vals[1] - 8 * vals[-1] + vals[-2]) / (6 * h)
                fd[i] = (16 * d_h2 - d_h) / 15
            out[key] = fd
    return out


def check_gradients(net, batch, labels, loss, t_max, delays=False, v_init=None, tag=None):
    """Assert EventProp == finite differences for every parameter; returns the max error."""
    L, g = value_and_grad(net, batch, labels, loss, t_max, wants_delays=delays, v_init=v_init)
    L_ref, _ = loss_value(net, batch, labels, loss, t_max, v_init)
    assert L == pytest.approx(L_ref, rel=1e-14, abs=1e-14)
    fd = fd_gradient(net, batch, labels, loss, t_max, delays=delays, v_init=v_init)
    assert set(fd) == set(g)
    scale = max(np.abs(v).max() for v in fd.values() if v.size)
    assert scale > 0
    worst = 0.0
    for k in fd:
        err = np.abs(fd[k] - g[k]) / np.maximum(np.abs(fd[k]), FLOOR * scale)
        worst = max(worst, float(err.max(initial=0.0)))
        assert err.max(initial=0.0) < REL_TOL, (k, err.max(), fd[k], g[k])
    REPORT[tag or len(REPORT)] = worst
    return worst, g


def random_batch(rng, n_in, n_samples, n_spikes, t_hi):
    return es.SpikeBatch.from_lists(
        [sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, t_hi, n_spikes), rng.integers(0, n_in, n_spikes)))
         for _ in range(n_samples)], n_in)


def labels_for(net, batch, t_max, kind, rng):
    """Labels the test can use: for first-spike losses a firing output neuron per sample (else None)."""
    res = es.simulate(net, batch, t_max)
    if kind == "first_spike":
        t = res.first_spike_times("out")
        if not np.all(np.isfinite(t).any(axis=1)):
            return None
        return np.array([rng.choice(np.flatnonzero(np.isfinite(row))) for row in t])
    return rng.integers(0, net.populations["out"].size, batch.n_samples)


LOSSES = {"first_spike": lambda: FirstSpikeCE(tau0=2.0, tau1=10.0, alpha=1e-2),
          "vmax": MaxVoltageCE, "vint": VoltageIntegralCE}


def feedforward(seed, tau_syn, kind):
    rng = np.random.default_rng(seed)
    tm = 20.0
    p = es.LIFParams(tau_mem=tm, tau_syn=tau_syn)
    peak = es.psp_peak(tm, tau_syn)
    net = es.Network()
    net.add_input("in", 4)
    net.add_population("hidden", 6, p)
    net.add_population("out", 3, p if kind == "first_spike" else es.LIFParams.readout(tm, tau_syn))
    net.connect("in", "hidden", rng.normal(0.5, 0.25, (6, 4)) / peak)
    w_out = rng.normal(0.35, 0.15, (3, 6)) if kind == "first_spike" else rng.normal(0.0, 0.5, (3, 6))
    net.connect("hidden", "out", w_out / peak)
    batch = random_batch(rng, 4, 3, 6, 10.0)
    if es.simulate(net, batch, 60.0).spikes("hidden").n_spikes < 6:
        return None
    labels = labels_for(net, batch, 60.0, kind, rng)
    return None if labels is None else (net, batch, labels, 60.0)


def recurrent(seed, tau_syn, kind, tau_inh=None):
    """in -> hidden (recurrent, inhibitory and excitatory) -> out, random delays everywhere; for
    spiking outputs also out -> hidden feedback; v_reset and v_leak away from 0. ``tau_inh``: a
    second synaptic current for the negative weights."""
    rng = np.random.default_rng(seed)
    tm = 10.0
    p = es.LIFParams(tau_mem=tm, tau_syn=tau_syn, v_reset=-0.2, v_leak=0.1, tau_syn_inh=tau_inh)
    peak = es.psp_peak(tm, tau_syn)
    net = es.Network()
    net.add_input("in", 3)
    net.add_population("hidden", 5, p)
    spiking = kind == "first_spike"
    net.add_population("out", 2, p if spiking else es.LIFParams.readout(tm, tau_syn, tau_syn_inh=tau_inh))
    net.connect("in", "hidden", rng.uniform(0.4, 0.9, (5, 3)) / peak, delays=rng.uniform(0.1, 2.0, (5, 3)))
    net.connect("hidden", "hidden", rng.uniform(-0.3, 0.3, (5, 5)) / peak, delays=rng.uniform(0.5, 3.0, (5, 5)),
                mask=rng.random((5, 5)) < 0.5)
    w_out = rng.uniform(0.1, 0.3, (2, 5)) if spiking else rng.normal(0.0, 0.6, (2, 5))
    net.connect("hidden", "out", w_out / peak, delays=rng.uniform(0.2, 2.0, (2, 5)))
    if spiking:
        net.connect("out", "hidden", rng.uniform(-0.2, 0.2, (5, 2)) / peak, delays=rng.uniform(0.3, 1.5, (5, 2)))
    batch = random_batch(rng, 3, 2, 5, 8.0)
    if es.simulate(net, batch, 50.0).spikes("hidden").n_spikes < 5:
        return None
    labels = labels_for(net, batch, 50.0, kind, rng)
    return None if labels is None else (net, batch, labels, 50.0)


def first_config(builder, *args, seeds=range(10)):
    for s in seeds:
        cfg = builder(s, *args)
        if cfg is not None:
            return cfg
    raise AssertionError("no usable configuration")  # pragma: no cover


@pytest.mark.parametrize("kind", ["first_spike", "vmax", "vint"])
@pytest.mark.parametrize("tau_syn", [5.0, 20.0])  # tau_mem = 20: tau_syn != tau_mem and ==
def test_feedforward(kind, tau_syn):
    net, batch, labels, t_max = first_config(feedforward, tau_syn, kind)
    worst, g = check_gradients(net, batch, labels, LOSSES[kind](), t_max, tag=f"ff-{kind}-{tau_syn}")
    assert all(np.count_nonzero(v) > v.size // 2 for v in g.values())


@pytest.mark.parametrize("kind", ["first_spike", "vmax", "vint"])
@pytest.mark.parametrize("tau_syn", [4.0, 10.0])  # tau_mem = 10
def test_recurrent_with_delays_weights_and_delays(kind, tau_syn):
    net, batch, labels, t_max = first_config(recurrent, tau_syn, kind)
    worst, g = check_gradients(net, batch, labels, LOSSES[kind](), t_max, delays=True, tag=f"rec-{kind}-{tau_syn}")
    assert np.count_nonzero(g["hidden->hidden"]) > 0 and np.count_nonzero(g["delay:hidden->hidden"]) > 0


@pytest.mark.parametrize("kind", ["first_spike", "vmax", "vint"])
@pytest.mark.parametrize("tau_syn,tau_inh", [(4.0, 8.0), (4.0, 10.0)])  # tau_mem = 10: tau_inh != and == tau_mem
def test_two_synaptic_currents_recurrent_with_delays(kind, tau_syn, tau_inh):
    net, batch, labels, t_max = first_config(recurrent, tau_syn, kind, tau_inh)
    worst, g = check_gradients(net, batch, labels, LOSSES[kind](), t_max, delays=True,
                               tag=f"two-currents-{kind}-{tau_syn}-{tau_inh}")
    w = net.projections["hidden->hidden"].weights
    inhibitory = g["hidden->hidden"][w < 0]
    assert inhibitory.size and np.count_nonzero(inhibitory) > 0  # the second current's adjoint is exercised
    assert np.count_nonzero(g["delay:hidden->hidden"]) > 0


def test_initial_voltage_and_combined_losses():
    """v_init != rest and a sum of two exact losses on two read-outs."""
    net, batch, labels, t_max = first_config(recurrent, 4.0, "vmax")
    net.add_population("out2", 2, es.LIFParams.readout(10.0, 4.0))
    net.connect("hidden", "out2", np.random.default_rng(0).normal(0, 1.0, (2, 5)), delays=0.3)
    v_init = {"hidden": np.array([0.3, -0.2, 0.5, 0.0, 0.1]), "out": 0.4}
    check_gradients(net, batch, labels, [MaxVoltageCE(), VoltageIntegralCE(population="out2")], t_max,
                    delays=True, v_init=v_init, tag="v_init+combined")


def _kink_network(tau_syn):
    """Two read-outs rise after an excitatory input; each is turned down by an inhibitory arrival while
    rising, so each maximum sits exactly on that arrival: out0 via a hidden neuron's spike (delay 0.5 ms),
    out1 via an input spike (delay 2 ms)."""
    p = es.LIFParams(tau_mem=20.0, tau_syn=tau_syn)
    net = es.Network()
    net.add_input("in", 3)
    net.add_population("h", 1, p)
    net.add_population("out", 2, es.LIFParams.readout(20.0, tau_syn))
    net.connect("in", "h", np.array([[7.5, 0.0, 0.0]]) / (es.psp_peak(20.0, tau_syn) / es.psp_peak(20.0, 5.0)),
                delays=0.2)
    net.connect("in", "out", np.array([[2.0, 0.0, 0.0], [0.0, 1.0, -30.0]]), delays=np.array([[0.1, 0.1, 2.0]] * 2))
    net.connect("h", "out", np.array([[-30.0], [0.5]]), delays=0.5)
    batch = es.SpikeBatch.from_lists([[(0.0, 0), (1.0, 1), (1.0, 2)]], 3)
    return net, batch


@pytest.mark.parametrize("tau_syn", [5.0, 20.0])
def test_max_voltage_at_a_kink_moves_with_the_arrival(tau_syn):
    net, batch = _kink_network(tau_syn)
    res = es.simulate(net, batch, 30.0)
    t_h = res.spikes("h").times
    assert t_h.size == 1
    tmax = res.max_voltage_time("out")[0]
    assert tmax[0] == t_h[0] + 0.5 and tmax[1] == 1.0 + 2.0  # both maxima at the arrivals
    worst, g = check_gradients(net, batch, np.array([1]), MaxVoltageCE(), 30.0, delays=True, tag=f"kink-{tau_syn}")
    assert g["in->h"][0] != 0.0  # the hidden spike time matters only through the kink
    # without the kink term the delay gradient of the inhibitory synapse would be
    # -w (a_V/tau_m - a_I/tau_s) with a_V, a_I = 0 after the maximum: zero
    assert g["delay:h->out"][0] != 0.0


def test_coincident_input_spikes():
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    peak = es.psp_peak(20.0, 5.0)
    net = es.Network.feedforward([3, 4, 2], params=p, seed=1, init=[(0.6 / peak, 0.2 / peak), (0.6 / peak, 0.2 / peak)])
    batch = es.SpikeBatch.from_lists([[(1.0, 0), (1.0, 1), (1.0, 2), (4.0, 0), (4.0, 2)],
                                      [(0.5, 1), (0.5, 2), (2.0, 0), (2.0, 1)]], 3)
    res = es.simulate(net, batch, 40.0)
    labels = np.array([int(np.argmax(np.isfinite(r))) for r in res.first_spike_times("out")])
    check_gradients(net, batch, labels, FirstSpikeCE(), 40.0, tag="coincident inputs")


class SpikeTimeSum(Loss):
    """L = sum of all spike times of a population (mean over samples): every spike gets dL/dt = 1/B."""

    needs = "spiking"

    def __init__(self, population):
        self.population = population

    def value_and_parts(self, result, labels):
        o, n = result.layout.offsets[self.population], result.layout.sizes[self.population]
        sel = (result.ids >= o) & (result.ids < o + n)
        B = result.n_samples
        return float(result.times[sel].sum() / B), {"spike_grad": np.where(sel, 1.0 / B, 0.0)}


def test_all_spike_times_with_repeated_spikes():
    """Paper Fig. 2 style: the sum of all spike times (several spikes per neuron, resets included)."""
    net, batch, labels, t_max = first_config(recurrent, 4.0, "first_spike")
    res = es.simulate(net, batch, t_max)
    c = res.counts("hidden")
    assert c.max() >= 2
    worst, g = check_gradients(net, batch, labels, SpikeTimeSum("hidden"), t_max, delays=True, tag="spike-time sum")
    assert all(np.count_nonzero(v) for v in g.values())  # incl. the out -> hidden feedback


@pytest.mark.parametrize("tau_syn", [5.0, 20.0])
def test_single_neuron_matches_implicit_function_theorem(tau_syn):
    """dt/dw = -(dV/dw)/Vdot- at the crossing, in closed form, for each input weight."""
    tm, v_th = 20.0, 1.0
    p = es.LIFParams(tau_mem=tm, tau_syn=tau_syn, v_th=v_th)
    w = np.array([[1.2, 2.0]]) / es.psp_peak(tm, tau_syn)
    net = es.Network()
    net.add_input("in", 2)
    net.add_population("out", 1, p)
    net.connect("in", "out", w)
    t_in = np.array([1.0, 3.0])
    batch = es.SpikeBatch.from_lists([[(1.0, 0), (3.0, 1)]], 2)
    loss = FirstSpikeCE(tau0=1.0, tau1=8.0, alpha=0.1)  # one neuron: L = alpha (exp(t/tau1) - 1)
    L, g, res = value_and_grad(net, batch, np.array([0]), loss, 50.0, return_result=True)
    t = res.times[0]
    s = t - t_in
    f = s / tm * np.exp(-s / tm) if tau_syn == tm else tau_syn / (tm - tau_syn) * (np.exp(-s / tm) - np.exp(-s / tau_syn))
    I = np.sum(w[0] * np.exp(-s / tau_syn))
    assert res.currents[0] == pytest.approx(I, rel=1e-13)
    dt_dw = -f / ((I - v_th) / tm)
    dL_dt = loss.alpha / loss.tau1 * np.exp(t / loss.tau1)
    assert L == pytest.approx(loss.alpha * np.expm1(t / loss.tau1), rel=1e-14)
    np.testing.assert_allclose(g["in->out"], dL_dt * dt_dw, rtol=1e-12)


def test_report():
    """Prints the worst errors of the tests above (run with -s to see them)."""
    for k, v in REPORT.items():
        print(f"  max err {v:.2e}  {k}")
