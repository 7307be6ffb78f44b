"""Firing rates (eventsim.analysis) and the voltage-trace and population-rate plots.

Oracle: tonic LIF neurons (``v_leak > v_th``, no input) whose spike times are known in closed
form. From ``V(0) = v0`` the voltage is ``v_leak + (v0 - v_leak) exp(-t / tau_mem)``, so it
reaches ``v_th`` at ``tau_mem * ln((v_leak - v0) / (v_leak - v_th))``; after each spike it is held
at ``v_reset`` for ``t_ref`` and climbs again, so the spikes are

    t_k = tau_mem ln((v_leak - v0) / (v_leak - v_th)) + k * (t_ref + tau_mem ln((v_leak - v_reset) / (v_leak - v_th)))

and the rates are hand counts of these times. Input populations are checked against the spikes
that were fed in.
"""
from __future__ import annotations

import math

import matplotlib.image as mpimg
import numpy as np
import pytest

import eventsim as es
from eventsim.analysis import firing_rates, population_rate, population_spikes
from eventsim.plots import population_rate_plot, raster, voltage_trace

P = es.LIFParams(tau_mem=10.0, tau_syn=5.0, v_th=1.0, v_reset=0.0, v_leak=1.5, t_ref=2.0)
V0 = np.array([0.0, 0.3, 0.6, 0.9, 0.95])
T_MAX = 100.0


def closed_form_times(v0: float, t_max: float = T_MAX) -> np.ndarray:
    first = P.tau_mem * math.log((P.v_leak - v0) / (P.v_leak - P.v_th))
    period = P.t_ref + P.tau_mem * math.log((P.v_leak - P.v_reset) / (P.v_leak - P.v_th))
    return first + period * np.arange(int((t_max - first) // period) + 1)


@pytest.fixture(scope="module")
def tonic():
    net = es.Network()
    net.add_input("in", 3)
    net.add_population("tonic", V0.size, P)
    net.add_population("out", 2, es.LIFParams.readout())
    net.connect("in", "out", np.full((2, 3), 0.1))
    inputs = es.SpikeBatch.from_lists([[(1.0, 0), (2.0, 0), (40.0, 2), (100.0, 1)], [(50.0, 1)]], n_neurons=3)
    v_init = {"tonic": np.tile(V0, (2, 1))}
    times = np.linspace(0.0, T_MAX, 401)
    return es.simulate(net, inputs, T_MAX, v_init=v_init, record={"tonic": [0, 3], "out": "all"},
                       record_times=times)


def test_spike_times_match_the_closed_form(tonic):
    sp = tonic.spikes("tonic")
    for s in range(2):
        t, i = sp.sample(s)
        for n, v0 in enumerate(V0):
            assert np.allclose(t[i == n], closed_form_times(v0), atol=1e-9)


@pytest.mark.parametrize("t_start, t_stop", [(0.0, None), (10.0, 60.0), (23.5, 24.5), (0.0, 12.0)])
def test_firing_rates_are_hand_counts(tonic, t_start, t_stop):
    stop = T_MAX if t_stop is None else t_stop
    want = np.array([[np.sum((ct >= t_start) & (ct <= stop)) for ct in map(closed_form_times, V0)]] * 2)
    got = firing_rates(tonic, "tonic", t_start=t_start, t_stop=t_stop)
    assert got.shape == (2, V0.size)
    assert np.allclose(got, want * 1000.0 / (stop - t_start))


def test_population_rate_bins_are_hand_counts(tonic):
    bin_ms = 7.0  # 100 ms is not a whole number of bins: the last bin is 2 ms wide
    r = population_rate(tonic, "tonic", bin_ms)
    edges = np.append(np.arange(0.0, T_MAX, bin_ms), T_MAX)
    assert np.allclose(r.edges, edges) and r.rate.shape == (2, edges.size - 1)
    all_t = np.concatenate([closed_form_times(v) for v in V0])
    for j in range(edges.size - 1):
        last = j == edges.size - 2
        n = np.sum((all_t >= edges[j]) & ((all_t <= edges[j + 1]) if last else (all_t < edges[j + 1])))
        assert r.rate[0, j] == pytest.approx(1000.0 * n / (V0.size * (edges[j + 1] - edges[j])))
    assert np.allclose(r.centers, 0.5 * (edges[1:] + edges[:-1]))
    # the bin rates, weighted by the bin widths, average to the mean rate of the neurons
    assert np.allclose((r.rate * np.diff(r.edges)).sum(axis=1) / T_MAX, r.mean_rate)
    assert np.allclose(r.per_neuron, firing_rates(tonic, "tonic"))


def test_input_rates_are_the_inputs_fed_in(tonic):
    """Sample 0 feeds neuron 0 twice, neuron 2 once and neuron 1 at exactly t_max (counted, in the
    last bin); sample 1 feeds neuron 1 once."""
    rates = firing_rates(tonic, "in")
    assert np.allclose(rates, np.array([[2, 1, 1], [0, 1, 0]]) * 1000.0 / T_MAX)
    r = population_rate(tonic, "in", 25.0)
    assert np.allclose(r.rate, np.array([[2, 1, 0, 1], [0, 0, 1, 0]]) * 1000.0 / (3 * 25.0))
    assert population_spikes(tonic, "in").to_lists()[1] == [(50.0, 1)]
    assert firing_rates(tonic, "in", t_start=99.0).tolist() == [[0.0, 1000.0, 0.0], [0.0, 0.0, 0.0]]


def test_rates_refuse_bad_arguments(tonic):
    with pytest.raises(ValueError, match="population 'nope' does not exist"):
        firing_rates(tonic, "nope")
    with pytest.raises(ValueError, match="'out' is a non-spiking read-out"):
        population_rate(tonic, "out", 5.0)
    with pytest.raises(ValueError, match="bin_ms must be positive"):
        population_rate(tonic, "tonic", 0.0)
    with pytest.raises(ValueError, match="0 <= t_start < t_stop, got t_start=50.0, t_stop=50.0"):
        firing_rates(tonic, "tonic", t_start=50.0, t_stop=50.0)
    with pytest.raises(ValueError, match="t_start"):
        firing_rates(tonic, "tonic", t_start=-1.0)
    with pytest.raises(ValueError, match="t_stop must be a finite number"):
        firing_rates(tonic, "tonic", t_stop=math.inf)
    with pytest.raises(TypeError, match="result must be a Result"):
        firing_rates({"spikes": {}}, "tonic")
    untaped = es.Result(tonic.layout, tonic.t_max, tonic.times, tonic.ids, tonic.currents, tonic.offsets,
                        tonic.vmax, tonic.tmax, tonic.vint)
    with pytest.raises(ValueError, match="'in' is an input and result holds no inputs"):
        firing_rates(untaped, "in")
    assert np.allclose(firing_rates(untaped, "tonic"), firing_rates(tonic, "tonic"))


# ------------------------------------------------------------------------------------------- plots
def _png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img[..., :3].std() > 0.01  # something was drawn
    return img


def test_plots_write_pngs(tonic, tmp_path):
    voltage_trace(tonic, "tonic", tmp_path / "v.png", sample=1, title="tonic")
    voltage_trace(tonic, "tonic", tmp_path / "v3.png", neurons=[3])
    voltage_trace(tonic, "out", tmp_path / "out.png")  # a read-out: no threshold line
    population_rate_plot(tonic, ["tonic", "in"], tmp_path / "rate.png", bin_ms=10.0)
    population_rate_plot(tonic, "tonic", tmp_path / "rate0.png", bin_ms=10.0, sample=0)
    raster(tonic, ["tonic"], tmp_path / "raster.png")
    for name in ("v", "v3", "out", "rate", "rate0", "raster"):
        _png(tmp_path / f"{name}.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.png" for n in
                                                                ("v", "v3", "out", "rate", "rate0", "raster"))


def test_plots_refuse_bad_arguments(tonic, tmp_path):
    with pytest.raises(ValueError, match="population 'in' was not recorded"):
        voltage_trace(tonic, "in", tmp_path / "x.png")
    with pytest.raises(ValueError, match="population 'nope' does not exist"):
        voltage_trace(tonic, "nope", tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"neurons \[1\] of 'tonic' were not recorded \(recorded: \[0, 3\]\)"):
        voltage_trace(tonic, "tonic", tmp_path / "x.png", neurons=[0, 1])
    with pytest.raises(ValueError, match=r"sample must be in \[0, 2\), got 2"):
        voltage_trace(tonic, "tonic", tmp_path / "x.png", sample=2)
    with pytest.raises(ValueError, match="populations must be a population name or a non-empty list"):
        population_rate_plot(tonic, [], tmp_path / "x.png")
    with pytest.raises(ValueError, match="bin_ms must be positive"):
        population_rate_plot(tonic, "tonic", tmp_path / "x.png", bin_ms=-1.0)
    with pytest.raises(ValueError, match="sample must be an integer >= 0, got -1"):
        population_rate_plot(tonic, "tonic", tmp_path / "x.png", sample=-1)
    plain = es.simulate(_tonic_net(), None, 20.0)
    with pytest.raises(ValueError, match="population 'tonic' was not recorded: pass record="):
        voltage_trace(plain, "tonic", tmp_path / "x.png")
    assert not list(tmp_path.iterdir())  # nothing written, not even a temporary file


def _tonic_net():
    net = es.Network()
    net.add_input("in", 1)
    net.add_population("tonic", 2, P)
    return net
