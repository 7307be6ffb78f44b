"""Norse (time-stepped, forward Euler) converges to eventsim's exact spike times as dt -> 0.

Both implement ``tau_m dV/dt = v_leak - V + I``, ``tau_s dI/dt = -I`` with the input added to I;
agreement of the limit shows that both describe the same model.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("norse")
from norse.torch.functional.lif import LIFFeedForwardState, LIFParameters, lif_feed_forward_step  # noqa: E402

import eventsim as es  # noqa: E402

TAU_M, TAU_S = 12.0, 4.0


def build(seed=3):
    rng = np.random.default_rng(seed)
    p = es.LIFParams(tau_mem=TAU_M, tau_syn=TAU_S)
    peak = es.psp_peak(TAU_M, TAU_S)
    W1 = rng.uniform(0.2, 0.8, (8, 5)) / peak
    W2 = rng.uniform(0.02, 0.12, (3, 8)) / peak
    net = es.Network()
    net.add_input("in", 5)
    net.add_population("hid", 8, p)
    net.add_population("out", 3, p)
    net.connect("in", "hid", W1)
    net.connect("hid", "out", W2)
    inputs = [(0.5 * k, int(i)) for k, i in zip(rng.integers(0, 30, 12), rng.integers(0, 5, 12))]
    return net, W1, W2, sorted(inputs)


def norse_spikes(W1, W2, inputs, dt, t_max):
    n_steps = int(round(t_max / dt))
    x = torch.zeros(n_steps, 5, dtype=torch.float64)
    for t, i in inputs:
        x[int(round(t / dt)), i] += 1.0
    p = LIFParameters(tau_syn_inv=torch.tensor(1 / TAU_S, dtype=torch.float64),
                      tau_mem_inv=torch.tensor(1 / TAU_M, dtype=torch.float64),
                      v_leak=torch.tensor(0.0, dtype=torch.float64), v_th=torch.tensor(1.0, dtype=torch.float64),
                      v_reset=torch.tensor(0.0, dtype=torch.float64))
    w1, w2 = torch.tensor(W1), torch.tensor(W2)
    s1 = LIFFeedForwardState(v=torch.zeros(8, dtype=torch.float64), i=torch.zeros(8, dtype=torch.float64))
    s2 = LIFFeedForwardState(v=torch.zeros(3, dtype=torch.float64), i=torch.zeros(3, dtype=torch.float64))
    out = {"hid": [], "out": []}
    with torch.no_grad():
        for n in range(n_steps):
            z1, s1 = lif_feed_forward_step(w1 @ x[n], s1, p, dt)
            z2, s2 = lif_feed_forward_step(w2 @ z1, s2, p, dt)
            for name, z in (("hid", z1), ("out", z2)):
                for k in torch.nonzero(z).flatten().tolist():
                    out[name].append(((n + 1) * dt, k))
    return out


def test_norse_converges_to_exact_spike_times():
    net, W1, W2, inputs = build()
    t_max = 40.0
    res = es.simulate(net, es.SpikeBatch.from_lists([inputs], 5), t_max)
    exact = {n: sorted(zip(res.spikes(n).times.tolist(), res.spikes(n).ids.tolist())) for n in ("hid", "out")}
    assert len(exact["hid"]) >= 5 and len(exact["out"]) >= 2
    errs = []
    for dt in (0.02, 0.005, 0.00125):
        nz = norse_spikes(W1, W2, inputs, dt, t_max)
        err = 0.0
        for name in ("hid", "out"):
            a = sorted(exact[name], key=lambda s: (s[1], s[0]))
            b = sorted(nz[name], key=lambda s: (s[1], s[0]))
            assert [k for _, k in a] == [k for _, k in b], f"spike pattern differs at dt={dt}"
            err = max(err, max(abs(x[0] - y[0]) for x, y in zip(a, b)))
        errs.append(err)
    # first-order convergence: error shrinks with dt and is small at the finest step
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.05
    assert errs[2] < errs[0] / 5
