"""Loihi emulator: against Lava's own ProcessModel code (run in-process, step by step), against the
continuous model's closed form, batching, replication and input encoding. No Lava runtime here
(``test_hardware_lava.py`` runs the real one)."""
from __future__ import annotations

import functools as ft

import numpy as np
import pytest

import eventsim as es
from eventsim.hardware.loihi import EmulatorLayout, LoihiNet, emulate, encode_inputs, quantize


# ------------------------------------------------------------------ in-process Lava oracle
class _In:
    """Stands in for a PyInPort: recv() reduces like PyInPortVectorDense (zeros of the port dtype + data)."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.data = shape, dtype, []

    def recv(self):
        return ft.reduce(lambda acc, x: acc + x, self.data, np.zeros(self.shape, self.dtype))


class _Out:
    """Stands in for a PyOutPort: send() casts to the channel dtype (the source port's type)."""

    def __init__(self, dtype):
        self.dtype, self.sent = dtype, None

    def send(self, x):
        self.sent = np.asarray(x).astype(self.dtype)


def _lava_oracle(lnet: LoihiNet, raster_by_pop, T: int):
    pytest.importorskip("lava", reason="Lava's own process models are this test's oracle (lava extra)")
    """Run ``lnet`` with Lava 0.10's PyLifModelBitAcc / PyDenseModelBitAcc / PyDelayDenseModelBitAcc
    code (their run_spk) on fake ports, in Lava's step order. Returns {pop: (T, n) spikes}, {pop: (T, n) v}."""
    from eventsim.hardware.loihi.lava_graph import _prepare_lava_import, _sign_mode_enum

    _prepare_lava_import()
    from lava.proc.dense.models import PyDelayDenseModelBitAcc, PyDenseModelBitAcc
    from lava.proc.lif.models import PyLifModelBitAcc

    lifs, conns = {}, {}
    for name, p in lnet.populations.items():
        if p.is_input:
            continue
        m = PyLifModelBitAcc({})
        m.u = np.zeros(p.size, np.int32)
        m.v = p.v0.astype(np.int32)
        m.du, m.dv, m.vth = int(p.du), int(p.dv), int(p.vth)
        m.bias_mant = p.bias_mant.astype(np.int16)
        m.bias_exp = p.bias_exp.astype(np.int16)
        m.a_in = _In((p.size,), np.int16)
        m.s_out = _Out(np.int32)
        lifs[name] = m
    for name, pr in lnet.projections.items():
        params = {"weight_exp": pr.weight_exp, "num_weight_bits": pr.num_weight_bits}
        if pr.sign_mode is not None:
            params["sign_mode"] = _sign_mode_enum(pr.sign_mode)
        W = pr.to_dense(np.asarray(pr.weights)).astype(np.int32)
        if pr.delays is not None:
            m = PyDelayDenseModelBitAcc(params)
            m.delays = pr.to_dense(pr.delays).astype(np.int32)
            m.a_buff = np.zeros((pr.n_post, pr.max_delay + 1), np.int32)
        else:
            m = PyDenseModelBitAcc(params)
            m.a_buff = np.zeros(pr.n_post, np.int32)
        m.weights = W
        m.num_message_bits = np.array([0])
        m.s_in = _In((pr.n_pre,), bool)
        m.a_out = _Out(np.int32)
        conns[name] = (m, pr)
    spikes = {n: np.zeros((T, lnet.populations[n].size), bool) for n in lifs}
    volts = {n: np.zeros((T, lnet.populations[n].size), np.int64) for n in lifs}
    prev = {n: np.zeros(lnet.populations[n].size, np.int32) for n in lifs}
    for t in range(T):
        # connections send what they buffered at t-1, then receive the spikes of step t: run them
        # in two halves around the LIF updates, exactly as the runtime orders the messages
        # phase 1: a_out of every connection = its buffer (first statement of run_spk)
        outs = {}
        for name, (m, pr) in conns.items():
            buf = m.a_buff[:, 0] if m.a_buff.ndim == 2 else m.a_buff
            outs[name] = np.asarray(buf).astype(np.int32)
        for n, m in lifs.items():
            m.a_in.data = [outs[k] for k, (_, pr) in conns.items() if pr.dst == n]
            m.time_step = t + 1
            m.run_spk()
            spikes[n][t] = m.s_out.sent.astype(bool)
            volts[n][t] = m.v
        # phase 2: the connections' full run_spk with the spikes of step t
        for name, (m, pr) in conns.items():
            s = raster_by_pop[pr.src][:, t] if pr.src in raster_by_pop else lifs[pr.src].s_out.sent
            m.s_in.data = [np.asarray(s).astype(np.int32)]
            m.run_spk()
            np.testing.assert_array_equal(m.a_out.sent, outs[name])  # same buffer value as phase 1
    return spikes, volts


def _random_fixed_net(seed: int, extreme: bool = False) -> LoihiNet:
    rng = np.random.default_rng(seed)
    ln = LoihiNet("fixed", 1.0)
    ln.add_input("in", 12)
    nh, no = 15, 6
    ln.add_lif("h", nh, du=int(rng.integers(0, 10 if extreme else 4096)), dv=int(rng.integers(0, 600)),
               vth=int(rng.integers(1, 131072 if extreme else 400)),
               bias_mant=rng.integers(-4096 if extreme else -100, 4096 if extreme else 100, nh),
               bias_exp=rng.integers(0, 8 if extreme else 3, nh), v0=rng.integers(-5000, 5000, nh))
    ln.add_lif("o", no, du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 1000)), vth=int(rng.integers(1, 400)))
    wexp = int(rng.integers(5, 8)) if extreme else int(rng.integers(-1, 3))
    ln.connect("in", "h", rng.integers(-100 if extreme else -300, 300, (nh, 12)), mask=rng.random((nh, 12)) < 0.6,
               weight_exp=wexp,
               num_weight_bits=int(rng.integers(5, 9)), sign_mode=[None, "mixed"][seed % 2])
    ln.connect("h", "h", rng.integers(-80, 80, (nh, nh)), mask=rng.random((nh, nh)) < 0.3,
               weight_exp=int(rng.integers(-4, 2)))
    ln.connect("h", "o", rng.integers(0, 256, (no, nh)), mask=rng.random((no, nh)) < 0.7,
               delays=rng.integers(0, 6, (no, nh)), weight_exp=int(rng.integers(-2, 3)))
    ln.connect("in", "o", -rng.integers(0, 256, (no, 12)), mask=rng.random((no, 12)) < 0.4, weight_exp=0)
    return ln


@pytest.mark.parametrize("seed,extreme", [(0, False), (1, False), (2, False), (3, True), (4, True)])
def test_emulator_equals_lava_process_models_step_by_step(seed, extreme):
    """Spikes and v at every step equal those of Lava's own fixed_pt ProcessModel code, on random
    networks with mixed/excitatory/inhibitory weights, weight exponents of both signs, reduced
    weight bits, recurrence, delays, biases, initial voltages; 'extreme' ones drive u past 24 bits
    (wrap-around) and v into saturation."""
    ln = _random_fixed_net(seed, extreme)
    T = 60
    rng = np.random.default_rng(100 + seed)
    R = rng.random((12, T)) < (0.4 if extreme else 0.15)
    ref_s, ref_v = _lava_oracle(ln, {"in": R}, T)
    res = emulate(ln, R, T, record_v={"h": "all", "o": "all"}, track_stats=True)
    for pop in ("h", "o"):
        np.testing.assert_array_equal(res.raster(pop), ref_s[pop], err_msg=f"spikes of {pop}")
        np.testing.assert_array_equal(res.voltage(pop, raw=True)[0], ref_v[pop], err_msg=f"v of {pop}")
    assert sum(r.sum() for r in ref_s.values()) > 0
    if extreme:
        assert res.overflow["u_wraps"] > 0 and res.overflow["v_saturations"] > 0


def test_exact_discretisation_samples_the_continuous_voltage():
    """method='exact', float precision: with input spikes on the grid, v[n] equals the continuous
    V(n dt) (eventsim's closed form) between spikes, including the leak to v_leak."""
    p = es.LIFParams(tau_mem=12.0, tau_syn=4.0, v_th=1e9, v_reset=-0.2, v_leak=0.3)
    net = es.Network()
    net.add_input("in", 3)
    net.add_population("n", 2, p)
    net.connect("in", "n", np.array([[0.5, -0.3, 0.8], [1.2, 0.4, -0.6]]))
    dt = 0.25
    batch = es.SpikeBatch.from_lists([[(1.0, 0), (2.5, 1), (7.25, 2), (9.0, 0)]], n_neurons=3)
    ln = quantize(net, dt, precision="float", method="exact")
    T = 80
    res = emulate(ln, batch, T, record_v={"n": "all"})
    tt = np.arange(T) * dt
    ref = es.simulate(net, batch, tt[-1], record={"n": "all"}, record_times=tt)
    np.testing.assert_allclose(res.voltage("n")[0], ref.voltage("n")[0], rtol=0, atol=1e-12)
    # equal time constants too
    p2 = es.LIFParams(tau_mem=5.0, tau_syn=5.0, v_th=1e9)
    net2 = es.Network()
    net2.add_input("in", 3)
    net2.add_population("n", 2, p2)
    net2.connect("in", "n", np.array([[0.5, -0.3, 0.8], [1.2, 0.4, -0.6]]))
    res2 = emulate(quantize(net2, dt, precision="float"), batch, T, record_v={"n": "all"})
    ref2 = es.simulate(net2, batch, tt[-1], record={"n": "all"}, record_times=tt)
    np.testing.assert_allclose(res2.voltage("n")[0], ref2.voltage("n")[0], rtol=0, atol=1e-12)


def test_batch_equals_single_samples_and_replication():
    ln = _random_fixed_net(7)
    rng = np.random.default_rng(0)
    R = rng.random((5, 12, 50)) < 0.2
    batch = emulate(ln, R, 50)
    for b in range(5):
        single = emulate(ln, R[b], 50)
        for pop in ("h", "o"):
            np.testing.assert_array_equal(batch.raster(pop, b), single.raster(pop, 0))
    big = ln.replicate(5)
    Rb = np.concatenate([R[c] for c in range(5)], axis=0)[None]
    rep = emulate(big, Rb, 50)
    for pop, n in (("h", 15), ("o", 6)):
        Rr = rep.raster(pop, 0)
        for c in range(5):
            np.testing.assert_array_equal(Rr[:, c * n:(c + 1) * n], batch.raster(pop, c))


def test_input_encoding_rounds_merges_and_drops():
    ln = LoihiNet("fixed", 0.5)
    ln.add_input("in", 2)
    ln.add_lif("h", 1, du=0, dv=0, vth=10)
    ln.connect("in", "h", np.array([[1, 1]]))
    sb = es.SpikeBatch.from_lists([[(0.2, 0), (0.24, 0), (0.74, 1), (10.0, 1)]], n_neurons=2)
    ev = encode_inputs(ln, sb, 10)
    assert ev.step.tolist() == [0, 1] and ev.src.tolist() == [0, 1]
    assert ev.stats["n_merged"] == 1 and ev.stats["n_dropped"] == 1
    assert ev.stats["max_time_error_ms"] == pytest.approx(0.24)
    with pytest.raises(ValueError, match="inputs"):
        encode_inputs(ln, np.zeros((3, 10), bool), 10)
    with pytest.raises(ValueError, match="binary"):
        encode_inputs(ln, np.full((2, 10), 2), 10)


def test_emulator_layout_reuse_and_capacity_growth():
    ln = _random_fixed_net(8)
    R = np.random.default_rng(1).random((2, 12, 80)) < 0.3
    a = emulate(ln, R, 80)
    b = emulate(ln, R, 80, layout=EmulatorLayout(ln), capacity=1)   # forces the retry path
    for pop in ("h", "o"):
        np.testing.assert_array_equal(a.rasters(pop), b.rasters(pop))


def test_voltage_integral_readout_converges_to_eventsim_and_predicts_alike():
    """DiscreteResult.voltage_integral (dt * sum of V after each step) of non-spiking read-outs is a
    Riemann sum of eventsim's exact integral: error O(dt); predictions with readout='integral' agree."""
    from eventsim.hardware.loihi.agreement import agreement, predict

    rng = np.random.default_rng(11)
    net = es.Network()
    net.add_input("in", 6)
    net.add_population("h", 20, es.LIFParams(tau_mem=10.0, tau_syn=5.0))
    net.add_population("out", 4, es.LIFParams.readout(tau_mem=10.0, tau_syn=5.0))
    net.connect("in", "h", rng.normal(0.8, 0.4, (20, 6)))
    net.connect("h", "out", rng.normal(0.0, 0.5, (4, 20)))
    batch = es.SpikeBatch.from_lists([[(0.5 * k + 0.25 * s, k) for k in range(6)] for s in range(5)], n_neurons=6)
    t_max = 30.0
    ref = es.simulate(net, batch, t_max)
    errs = []
    for dt in (0.05, 0.0125):
        res = emulate(quantize(net, dt, precision="float", method="exact"), batch, t_max=t_max, record_v={"out": "all"})
        errs.append(np.max(np.abs(res.voltage_integral("out") - ref.voltage_integral("out"))))
        np.testing.assert_array_equal(predict(res, net, readout="integral"), predict(ref, net, readout="integral"))
    assert errs[1] < errs[0] / 2.5 and errs[1] < 0.05
    r = agreement(net, batch, None, t_max, 0.0125, precision="float", readout="integral",
                  quantize_kwargs={"method": "exact"})
    assert r["agree"] == 1.0
    with pytest.raises(ValueError, match="readout"):
        predict(ref, net, readout="mean")
