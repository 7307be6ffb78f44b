"""eventsim.torch: EventProp as a torch layer, judged against value_and_grad, finite differences,
torch.autograd.gradcheck and the numpy training path.

- ``EventPropLoss`` gradients equal ``eventsim.eventprop.value_and_grad`` exactly (weights, delays,
  input times), and its value equals the loss's.
- A torch loss on first-spike times (cross-entropy of -t/tau) gets the gradient that central finite
  differences of the same torch expression give (the stencil and criterion of
  tests/test_eventprop_fd.py, spike pattern unchanged at every point).
- ``torch.autograd.gradcheck`` (float64) of the read-out with respect to weights, delays and input
  times of a tiny recurrent network with delays.
- Input times produced by a torch op (softplus of a parameter) upstream of the layer: gradient vs
  finite differences, and Adam on that parameter lowers the loss.
- torch's cross-entropy on the max-voltage / voltage-integral read-outs reproduces
  ``MaxVoltageCE`` / ``VoltageIntegralCE`` (value and gradient, independent softmax code).
- A few full-batch epochs of Yin-Yang with ``torch.optim.Adam`` give the weights of the numpy
  ``eventsim.optim.Adam`` run (rtol 1e-12).
"""
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import eventsim as es  # noqa: E402
from eventsim.eventprop import value_and_grad  # noqa: E402
from eventsim.losses import FirstSpikeCE, MaxVoltageCE, SilentPeakReg, VoltageIntegralCE  # noqa: E402
from eventsim.torch import EventPropFunction, EventPropLoss, Readout, Simulation, SpikingNetwork, parameter_key  # noqa: E402
from test_eventprop_fd import FLOOR, REL_TOL, feedforward, first_config, recurrent  # noqa: E402


def stencil(f, x0: float, steps=(1e-4, 1e-5, 1e-6)):
    """4-point central difference, Richardson-combined over h and h/2 (tests/test_eventprop_fd.py);
    ``f(x) -> (value, pattern)``; the pattern must be the same at all points of some step."""
    _, ref = f(x0)
    for rel in steps:
        h = rel * max(1.0, abs(x0))
        vals, same = {}, True
        for s in (4, 2, 1, -1, -2, -4):
            vals[s], pat = f(x0 + s * h / 2)
            same &= all(np.array_equal(a, b) for a, b in zip(pat, ref))
        if same:
            d_h = (-vals[4] + 8 * vals[2] - 8 * vals[-2] + vals[-4]) / (12 * h)
            d_h2 = (-vals[2] + 8 * vals[1] - 8 * vals[-1] + vals[-2]) / (6 * h)
            return (16 * d_h2 - d_h) / 15
    raise AssertionError("the spike pattern changes at every step size")


def fd_tensor(value_fn, p: torch.Tensor) -> np.ndarray:
    """Finite differences of ``value_fn() -> (float, pattern)`` with respect to every entry of ``p``."""
    out = np.zeros(p.numel())
    flat = p.data.view(-1)
    for i in range(p.numel()):
        x0 = float(flat[i])

        def f(x):
            flat[i] = x
            return value_fn()

        out[i] = stencil(f, x0)
        flat[i] = x0
    return out.reshape(p.shape)


def assert_matches_fd(fd: np.ndarray, g: np.ndarray, scale: float):
    err = np.abs(fd - g) / np.maximum(np.abs(fd), FLOOR * scale)
    assert err.max(initial=0.0) < REL_TOL, (err.max(), fd, g)


def pattern(res):
    return [res.ids, res.offsets]


# ------------------------------------------------------------------ exact equality with value_and_grad
@pytest.mark.parametrize("delays", [False, True])
def test_eventprop_loss_gradients_equal_value_and_grad_exactly(delays):
    net, batch, labels, t_max = first_config(recurrent, 4.0, "first_spike")
    loss = [FirstSpikeCE(tau0=2.0, tau1=10.0, alpha=1e-2), SilentPeakReg("hidden", 1e-3, scope="sample")]
    L_ref, g_ref = value_and_grad(net, batch, labels, loss, t_max, wants_delays=delays, wants_input_times=True)
    module = EventPropLoss(net.copy(), loss, t_max, wants_delays=delays)
    times = torch.tensor(batch.times, requires_grad=True)
    L = module(batch, labels, times=times)
    L.backward()
    assert L.dtype == torch.float64 and L.item() == L_ref
    for name, key in module.keys.items():
        np.testing.assert_array_equal(module.weights[key].grad.numpy(), g_ref[name])
        if delays:
            np.testing.assert_array_equal(module.delays[key].grad.numpy(), g_ref["delay:" + name])
    np.testing.assert_array_equal(times.grad.numpy(), g_ref["input:in"])
    assert module.last_result.n_spikes > 0


def test_parameter_names_are_sanitised_and_written_back():
    net, batch, labels, t_max = first_config(recurrent, 4.0, "first_spike")
    m = SpikingNetwork(net, t_max, wants_delays=True)
    assert set(m.keys) == set(net.projections) and parameter_key("in->hidden") == "in__hidden"
    names = {n for n, _ in m.named_parameters()}
    assert names == {f"{kind}.{parameter_key(p)}" for p in net.projections for kind in ("weights", "delays")}
    assert all(p.dtype == torch.float64 for p in m.parameters())
    with torch.no_grad():
        m.weights["in__hidden"].mul_(1.5)
        m.delays["hidden__out"].add_(0.25)
    w_new = m.weights["in__hidden"].detach().numpy().copy()
    d_new = m.delays["hidden__out"].detach().numpy().copy()
    m.write_back()
    np.testing.assert_array_equal(net.projections["in->hidden"].weights, w_new)
    np.testing.assert_array_equal(net.projections["hidden->out"].delays, d_new)
    out = m(batch)  # simulates the network as written back
    ref = es.simulate(net, batch, t_max).first_spike_times("out")
    np.testing.assert_array_equal(out.detach().numpy(), np.where(np.isfinite(ref), ref, t_max))


# ------------------------------------------------------------------ a torch loss vs finite differences
def test_torch_cross_entropy_on_first_spike_times_matches_finite_differences():
    net, batch, labels, t_max = first_config(feedforward, 5.0, "first_spike")
    m = SpikingNetwork(net, t_max, readout=Readout("out", "first_spike"))
    y = torch.tensor(labels)
    tau = 2.0

    def value():
        with torch.no_grad():
            t = m(batch)
            return float(torch.nn.functional.cross_entropy(-t / tau, y)), pattern(m.last_result)

    t = m(batch)
    loss = torch.nn.functional.cross_entropy(-t / tau, y)
    loss.backward()
    grads = {k: p.grad.numpy().copy() for k, p in m.weights.items()}
    fds = {k: fd_tensor(value, p) for k, p in m.weights.items()}
    scale = max(np.abs(v).max() for v in fds.values())
    assert scale > 0
    for k in grads:
        assert_matches_fd(fds[k], grads[k], scale)


def test_silent_neurons_read_t_max_or_inf_and_get_no_gradient():
    net, batch, labels, t_max = first_config(feedforward, 5.0, "first_spike")
    proj = net.projections["hidden->out"]
    proj.weights[proj.indices == 2] = 0.0  # output neuron 2 stays silent
    m_inf = SpikingNetwork(net, t_max, readout=Readout("out", "first_spike", silent="inf"))
    assert np.all(np.isinf(m_inf(batch)[:, 2].detach().numpy()))
    m = SpikingNetwork(net, t_max, readout=Readout("out", "first_spike", silent="t_max"))
    rng = np.random.default_rng(0)
    grads = []
    for _ in range(2):  # the silent column's upstream gradient differs between the two runs
        m.zero_grad()
        t = m(batch)
        assert np.all(t[:, 2].detach().numpy() == t_max) and np.isfinite(m.last_result.first_spike_times("out")[:, :2]).all()
        c = np.ones(t.shape)
        c[:, 2] = rng.normal(size=t.shape[0]) * 100
        (t * torch.tensor(c)).sum().backward()
        grads.append({k: p.grad.numpy().copy() for k, p in m.weights.items()})
    for k in grads[0]:
        np.testing.assert_array_equal(grads[0][k], grads[1][k])
        assert np.count_nonzero(grads[0][k])


# ------------------------------------------------------------------ gradcheck
def test_gradcheck_weights_delays_and_input_times():
    net, batch, labels, t_max = first_config(recurrent, 4.0, "vmax")
    sim_w = Simulation(net, t_max, readout=Readout("out", "max_voltage"), delays=True, input_times=("in",))
    ws = [torch.tensor(p.weights.copy(), requires_grad=True) for p in net.projections.values()]
    ds = [torch.tensor(p.delay_array().copy(), requires_grad=True) for p in net.projections.values()]
    ts = torch.tensor(batch.times.copy(), requires_grad=True)

    def f(*tensors):
        return EventPropFunction.apply(sim_w, batch, *tensors)

    assert torch.autograd.gradcheck(f, (*ws, *ds, ts), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_first_spike_times():
    net, batch, labels, t_max = first_config(feedforward, 20.0, "first_spike")
    sim = Simulation(net, t_max, readout="first_spike")
    ws = [torch.tensor(p.weights.copy(), requires_grad=True) for p in net.projections.values()]
    assert torch.autograd.gradcheck(lambda *w: EventPropFunction.apply(sim, batch, *w), tuple(ws),
                                    eps=1e-6, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------ read-out losses vs eventsim's
@pytest.mark.parametrize("kind,loss", [("max_voltage", MaxVoltageCE()), ("voltage_integral", VoltageIntegralCE())])
def test_torch_cross_entropy_on_read_outs_reproduces_eventsim_losses(kind, loss):
    net, batch, labels, t_max = first_config(recurrent, 4.0, "vmax")
    L_ref, g_ref = value_and_grad(net, batch, labels, loss, t_max, wants_delays=True)
    m = SpikingNetwork(net.copy(), t_max, readout=kind, wants_delays=True)
    out = m(batch)
    logits = out if kind == "max_voltage" else out / t_max
    L = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    L.backward()
    assert L.item() == pytest.approx(L_ref, rel=1e-14)
    for name, key in m.keys.items():
        np.testing.assert_allclose(m.weights[key].grad.numpy(), g_ref[name], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(m.delays[key].grad.numpy(), g_ref["delay:" + name], rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ a layer behind another layer
def test_input_times_from_an_upstream_torch_op_train_and_match_finite_differences():
    net, batch, labels, t_max = first_config(feedforward, 5.0, "vmax")
    m = SpikingNetwork(net, t_max, readout="max_voltage")
    # softplus(theta) ms; the order within a sample differs from the batch's (the layer sorts)
    theta = torch.tensor(np.random.default_rng(1).uniform(0.5, 8.0, batch.n_spikes), requires_grad=True)
    y = torch.tensor(labels)

    def objective():
        return torch.nn.functional.cross_entropy(m(batch, times=torch.nn.functional.softplus(theta)), y)

    def value():
        with torch.no_grad():
            return float(objective()), pattern(m.last_result)

    L0 = objective()
    L0.backward()
    g = theta.grad.numpy().copy()
    fd = fd_tensor(value, theta)
    assert_matches_fd(fd, g, np.abs(fd).max())
    assert np.count_nonzero(g) > batch.n_spikes // 2
    theta0 = theta.detach().clone()
    opt = torch.optim.Adam([theta, *m.parameters()], lr=0.05)  # the upstream op and the network together
    for _ in range(20):
        opt.zero_grad()
        L = objective()
        L.backward()
        opt.step()
    assert float(objective()) < 0.5 * float(L0)
    assert (theta.detach() - theta0).abs().max() > 0.1


# ------------------------------------------------------------------ torch.optim.Adam == eventsim.optim.Adam
def test_yin_yang_epochs_with_torch_adam_match_numpy_adam():
    batch, y = es.data.yin_yang_spikes("train", size=24, seed=3)
    net = es.Network.feedforward([5, 20, 3], params=es.LIFParams(tau_mem=20.0, tau_syn=5.0), seed=0,
                                 init=[(1.5, 0.78), (0.93, 0.1)])
    loss, t_max, lr, steps = FirstSpikeCE(), 100.0, 5e-3, 8
    ref = net.copy()
    module = EventPropLoss(net, loss, t_max)
    topt = torch.optim.Adam(module.parameters(), lr=lr)
    opt = es.optim.Adam(ref.parameters(), lr=lr)
    w0 = {k: v.copy() for k, v in ref.parameters().items()}
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", es.losses.SilentOutputWarning)
        for _ in range(steps):
            L_ref, g = value_and_grad(ref, batch, y, loss, t_max)
            opt.step(g)
            topt.zero_grad()
            L = module(batch, y)
            L.backward()
            topt.step()
            losses.append(L_ref)
            assert L.item() == pytest.approx(L_ref, rel=1e-12)
    for name, key in module.keys.items():
        w = module.weights[key].detach().numpy()
        np.testing.assert_allclose(w, ref.projections[name].weights, rtol=1e-12, atol=1e-15)
        assert np.abs(w - w0[name]).max() > 0.5 * lr * (steps - 1)  # the weights moved
    assert losses[-1] < losses[0]


# ------------------------------------------------------------------ errors and the extra
def test_bad_tensors_are_refused():
    net, batch, labels, t_max = first_config(feedforward, 5.0, "first_spike")
    sim = Simulation(net, t_max)
    ws = [torch.tensor(p.weights.copy()) for p in net.projections.values()]
    with pytest.raises(TypeError, match="float64"):
        EventPropFunction.apply(sim, batch, ws[0].float(), ws[1])
    with pytest.raises(ValueError, match="tensors expected"):
        EventPropFunction.apply(sim, batch, ws[0])
    with pytest.raises(ValueError, match="shape"):
        EventPropFunction.apply(sim, batch, ws[0][:-1], ws[1])
    m = SpikingNetwork(net, t_max, wants_delays=True)
    with torch.no_grad():
        m.delays["in__hidden"][0] = -0.1
    with pytest.raises(ValueError, match="delays of in->hidden must be >= 0"):
        m(batch)
    with pytest.raises(ValueError, match="kind must be one of"):
        Readout("out", "spike_count")
    with pytest.raises(ValueError, match="needs a non-spiking read-out"):
        SpikingNetwork(net, t_max, readout="max_voltage")


def test_import_eventsim_does_not_import_torch_and_the_bridge_names_the_extra():
    code = ("import sys; import eventsim; assert 'torch' not in sys.modules\n"
            "sys.modules['torch'] = None\n"
            "try:\n    import eventsim.torch\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "eventsim.torch: this needs the 'torch' extra: pip install \"eventsim[torch]\""
