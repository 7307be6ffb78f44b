"""The emulator against Lava itself: Loihi2SimCfg runs (fixed_pt and floating_pt) must give the
same spike rasters, step by step. Each Lava run starts one OS process per Lava process (~1-3 s),
so the networks are small and batched (block-diagonal copies + reset windows)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava", reason="the lava extra (Python 3.10) runs these tests")

import eventsim as es  # noqa: E402
from eventsim.hardware.loihi import LoihiNet, emulate, quantize, run_lava  # noqa: E402


def _fixed_net(seed: int, extreme: bool = False) -> LoihiNet:
    rng = np.random.default_rng(seed)
    ln = LoihiNet("fixed", 1.0)
    ln.add_input("in", 16)
    nh, no = 24, 8
    ln.add_lif("h", nh, du=int(rng.integers(0, 8)) if extreme else 700, dv=int(rng.integers(0, 400)),
               vth=131000 if extreme else 300, bias_mant=rng.integers(-60, 90, nh), bias_exp=2,
               v0=rng.integers(-4000, 4000, nh))
    ln.add_lif("o", no, du=4095 if not extreme else 3, dv=150, vth=200 if not extreme else 50000)
    ln.connect("in", "h", rng.integers(-120 if extreme else -256, 256, (nh, 16)), mask=rng.random((nh, 16)) < 0.6,
               weight_exp=7 if extreme else 1, sign_mode=None if extreme else "mixed")
    ln.connect("h", "h", rng.integers(-60, 60, (nh, nh)), mask=rng.random((nh, nh)) < 0.25, weight_exp=-2,
               num_weight_bits=6)
    ln.connect("h", "o", rng.integers(0, 220, (no, nh)), mask=rng.random((no, nh)) < 0.6,
               delays=rng.integers(0, 7, (no, nh)))
    ln.connect("in", "o", -rng.integers(0, 256, (no, 16)), mask=rng.random((no, 16)) < 0.3, weight_exp=-1)
    return ln


@pytest.mark.parametrize("sparse", [False, True], ids=["Dense", "Sparse"])
def test_emulator_equals_lava_fixed_pt(sparse):
    """Random recurrent networks: mixed/excitatory/inhibitory weights, positive and negative weight
    exponents, 6-bit weights, delays (DelayDense/DelaySparse), biases, initial voltages. 5 samples
    as 2 block-diagonal copies x 3 windows with state resets in between."""
    ln = _fixed_net(11 if sparse else 10)
    R = np.random.default_rng(1).random((5, 16, 50)) < 0.12
    emu = emulate(ln, R, 50)
    lav = run_lava(ln, R, 50, sparse=sparse, copies=2)
    assert lav.timings["windows"] == 3 and lav.timings["copies"] == 2
    assert emu.n_spikes > 200
    assert emu.mismatches(lav) == {"h": 0, "o": 0}


def test_emulator_equals_lava_fixed_pt_in_overflow():
    """u beyond 24 bits (Lava's single wrap-around) and v in saturation."""
    ln = _fixed_net(12, extreme=True)
    R = np.random.default_rng(2).random((2, 16, 40)) < 0.5
    emu = emulate(ln, R, 40)
    assert emu.overflow["u_wraps"] > 0 and emu.overflow["v_saturations"] > 0
    lav = run_lava(ln, R, 40, copies=2)
    assert emu.mismatches(lav) == {"h": 0, "o": 0}


def test_quantised_eventsim_network_in_lava_equals_emulator_and_reads_back_v():
    """An eventsim network (leak != reset -> bias and initial voltage, mixed weights split into
    excitatory/inhibitory connections, recurrence, delays) mapped with quantize and run from
    run_lava(net, dt=...); spikes equal the emulator's and the Monitor's v equals the emulator's."""
    rng = np.random.default_rng(3)
    p = es.LIFParams(tau_mem=10.0, tau_syn=4.0, v_leak=0.3, v_reset=-0.2)
    net = es.Network()
    net.add_input("in", 10)
    net.add_population("h", 20, p)
    net.add_population("o", 3, p)
    net.connect("in", "h", rng.normal(0.8, 0.9, (20, 10)), delays=rng.uniform(0, 3, (20, 10)))
    Wr = rng.normal(0, 0.3, (20, 20)) * (rng.random((20, 20)) < 0.2)
    net.connect("h", "h", Wr, mask=Wr != 0)
    net.connect("h", "o", rng.normal(0.4, 0.5, (3, 20)))
    batch = es.SpikeBatch.from_arrays([rng.uniform(0, 20, 15) for _ in range(3)],
                                      [rng.integers(0, 10, 15) for _ in range(3)], n_neurons=10)
    ln = quantize(net, 0.5)
    emu = emulate(ln, batch, t_max=40.0, record_v={"o": "all"})
    lav = run_lava(net, batch, t_max=40.0, dt=0.5, copies=3, record_v=["o"])
    assert emu.n_spikes > 50
    assert emu.mismatches(lav) == {"h": 0, "o": 0}
    np.testing.assert_array_equal(lav.voltage("o", raw=True), emu.voltage("o", raw=True))
    sb = lav.spikes("h")
    assert isinstance(sb, es.SpikeBatch) and sb.n_samples == 3 and np.allclose(sb.times % 0.5, 0)


def test_float_model_equals_lava_floating_pt():
    rng = np.random.default_rng(4)
    ln = LoihiNet("float", 1.0)
    ln.add_input("in", 12)
    ln.add_lif("h", 16, du=0.25, dv=0.08, vth=1.0, bias_mant=rng.normal(0, 0.02, 16), v0=rng.normal(0, 0.3, 16))
    ln.add_lif("o", 4, du=0.5, dv=0.1, vth=0.6)
    ln.connect("in", "h", rng.normal(0.3, 0.3, (16, 12)), mask=rng.random((16, 12)) < 0.5)
    ln.connect("h", "h", rng.normal(-0.05, 0.2, (16, 16)), mask=rng.random((16, 16)) < 0.3,
               delays=rng.integers(0, 3, (16, 16)))
    ln.connect("h", "o", rng.normal(0.2, 0.3, (4, 16)))
    R = rng.random((2, 12, 80)) < 0.1
    emu = emulate(ln, R, 80)
    lav = run_lava(ln, R, 80, copies=2)
    assert emu.n_spikes > 100
    assert emu.mismatches(lav) == {"h": 0, "o": 0}


def test_loihi2_hardware_backend_needs_lava_loihi():
    from eventsim.hardware.loihi import loihi_hw_available

    ln = _fixed_net(0)
    if not loihi_hw_available():   # where Intel's lava-loihi is installed the chip path is not refused
        with pytest.raises(RuntimeError, match="lava-loihi"):
            run_lava(ln, None, 10, backend="loihi2")
    with pytest.raises(ValueError, match="backend"):
        run_lava(ln, None, 10, backend="gpu")
    with pytest.raises(ValueError, match="dt"):
        run_lava(es.Network.feedforward([2, 2]), None, 10)
