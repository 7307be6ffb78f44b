"""Learning synaptic delays with fit: one step is value_and_grad(wants_delays) plus Adam with the
delays' own learning rate, delays stay >= 0, checkpoints resume bit for bit, and the optimiser's
per-parameter learning rates equal torch parameter groups."""
import numpy as np
import pytest

import eventsim as es
from eventsim.data import yin_yang_spikes
from eventsim.losses import FirstSpikeCE
from eventsim.optim import SGD, Adam
from eventsim.train import delay_parameters, fit, load_checkpoint

T_MAX = 60.0


def _tiny(seed=1, n=48):
    inp, y = yin_yang_spikes("train", size=n)
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    net = es.Network.feedforward([5, 20, 3], params=p, seed=seed, init=[(1.5, 0.78), (0.93, 0.1)])
    rng = np.random.default_rng(seed)
    for proj in net.projections.values():
        proj.delays = rng.uniform(0.0, 3.0, proj.n_synapses)
    return net, inp, y


def test_one_step_is_value_and_grad_with_delays_plus_adam_with_the_delay_rate():
    net, inp, y = _tiny()
    ref = net.copy()
    fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, batch_size=inp.n_samples, lr=1e-2, seed=0,
        progress=False, learn_delays=True, delay_lr=0.5)
    order = np.random.Generator(np.random.PCG64(0)).permutation(inp.n_samples)
    _, g = es.eventprop.value_and_grad(ref, inp.subset(order), y[order], FirstSpikeCE(), T_MAX, wants_delays=True)
    assert any(np.any(g[k] != 0) for k in g if k.startswith("delay:"))
    params = {**ref.parameters(), **delay_parameters(ref)}
    Adam(params, lr=1e-2, lr_scale={k: 0.5 / 1e-2 for k in params if k.startswith("delay:")}).step(g)
    for k, w in net.parameters().items():
        np.testing.assert_array_equal(w, params[k])
    for k, proj in net.projections.items():
        np.testing.assert_array_equal(proj.delay_array(), np.maximum(params["delay:" + k], 0.0))
        assert not np.array_equal(proj.delay_array(), ref.projections[k].delay_array())


def test_delays_never_go_below_zero_and_the_simulation_uses_the_new_ones():
    net, inp, y = _tiny()
    for proj in net.projections.values():
        proj.delays = np.full(proj.n_synapses, 0.01)
    fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=2, batch_size=16, lr=1e-2, delay_lr=1.0, seed=1,
        progress=False, learn_delays=True)
    d = np.concatenate([p.delay_array() for p in net.projections.values()])
    assert d.min() >= 0.0 and np.any(d == 0.0) and np.any(d > 0.01)
    # the network's layout follows the trained delays: a fresh copy simulates identically
    a = es.simulate(net, inp, T_MAX)
    b = es.simulate(net.copy(), inp, T_MAX)
    np.testing.assert_array_equal(a.times, b.times)
    c = es.simulate(_tiny()[0], inp, T_MAX)  # the untrained network spikes otherwise
    assert a.times.shape != c.times.shape or not np.array_equal(a.times, c.times)


def test_without_learn_delays_the_delays_stay():
    net, inp, y = _tiny()
    before = {k: p.delay_array().copy() for k, p in net.projections.items()}
    fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, batch_size=16, lr=1e-2, progress=False)
    for k, p in net.projections.items():
        np.testing.assert_array_equal(p.delay_array(), before[k])


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resume_with_learned_delays_is_exact(tmp_path, optimizer):
    kw = dict(batch_size=16, seed=7, progress=False, optimizer=optimizer, lr=5e-3, delay_lr=0.2,
              learn_delays=True)
    val = yin_yang_spikes("val", size=24)
    net_a, inp, y = _tiny()
    ha = fit(net_a, inp, y, FirstSpikeCE(), T_MAX, epochs=3, val=val, restore_best=True, **kw)
    ck = tmp_path / "ck.h5"
    net_b, _, _ = _tiny()
    fit(net_b, inp, y, FirstSpikeCE(), T_MAX, epochs=1, checkpoint=ck, val=val, restore_best=True, **kw)
    net_c, _, _ = _tiny(seed=5)  # other weights and delays: everything must come from the checkpoint
    hc = fit(net_c, inp, y, FirstSpikeCE(), T_MAX, epochs=3, checkpoint=ck, resume=True, val=val,
             restore_best=True, **kw)
    assert ha["loss"] == hc["loss"] and ha["best_epoch"] == hc["best_epoch"]
    for k, p in net_a.projections.items():
        np.testing.assert_array_equal(p.weights, net_c.projections[k].weights)
        np.testing.assert_array_equal(p.delay_array(), net_c.projections[k].delay_array())
    c = load_checkpoint(ck)
    assert c["config"]["learn_delays"] is True
    assert c["config"]["optimizer"]["lr_scale"] == {"delay:" + k: pytest.approx(40.0) for k in net_a.projections}
    with pytest.raises(ValueError, match="learn_delays"):
        fit(net_c, inp, y, FirstSpikeCE(), T_MAX, epochs=3, checkpoint=ck, resume=True,
            **{**kw, "learn_delays": False, "delay_lr": None})


@pytest.mark.parametrize("kw, match", [
    ({"learn_delays": "yes"}, "learn_delays"),
    ({"delay_lr": 0.1}, "delay_lr"),
    ({"learn_delays": True, "delay_lr": -1.0}, "delay_lr"),
    ({"learn_delays": True, "delay_lr": float("nan")}, "delay_lr"),
])
def test_bad_delay_settings_are_refused(kw, match):
    net, inp, y = _tiny(n=8)
    with pytest.raises(ValueError, match=match):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, progress=False, **kw)


def test_learn_delays_refuses_an_optimizer_object():
    net, inp, y = _tiny(n=8)
    with pytest.raises(ValueError, match="learn_delays"):
        fit(net, inp, y, FirstSpikeCE(), T_MAX, epochs=1, progress=False, learn_delays=True,
            optimizer=Adam(net.parameters(), lr=1e-3))


def test_lr_scale_equals_torch_parameter_groups():
    """Adam and SGD with lr_scale: 15 steps on random gradients equal torch's optimisers with one
    parameter group per learning rate (float64)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a0, b0 = rng.normal(size=(3, 4)), rng.normal(size=7)
    grads = [(rng.normal(size=(3, 4)), rng.normal(size=7)) for _ in range(15)]
    for ours, theirs in [(lambda p: Adam(p, lr=1e-2, lr_scale={"b": 30.0}),
                          lambda ta, tb: torch.optim.Adam([{"params": [ta]}, {"params": [tb], "lr": 0.3}],
                                                          lr=1e-2, eps=1e-8)),
                         (lambda p: SGD(p, lr=1e-2, momentum=0.9, lr_scale={"b": 30.0}),
                          lambda ta, tb: torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 0.3}],
                                                         lr=1e-2, momentum=0.9))]:
        p = {"a": a0.copy(), "b": b0.copy()}
        opt = ours(p)
        ta, tb = (torch.tensor(v.copy(), requires_grad=True) for v in (a0, b0))
        topt = theirs(ta, tb)
        for ga, gb in grads:
            opt.step({"a": ga, "b": gb})
            ta.grad, tb.grad = torch.tensor(ga), torch.tensor(gb)
            topt.step()
        np.testing.assert_allclose(p["a"], ta.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(p["b"], tb.detach().numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="lr_scale"):
        Adam({"a": a0.copy()}, lr_scale={"c": 2.0})
    with pytest.raises(ValueError, match="lr_scale"):
        SGD({"a": a0.copy()}, lr_scale={"a": 0.0})
