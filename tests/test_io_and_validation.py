"""Files (exact round trips, atomic writes, foreign/corrupt files) and validation of bad input."""
import math
import os

import h5py
import numpy as np
import pytest
import scipy.sparse as sp

import eventsim as es
from eventsim.cli import main as cli_main


def small_net(seed=0):
    rng = np.random.default_rng(seed)
    net = es.Network()
    net.add_input("in", 4)
    net.add_population("hid", 6, es.LIFParams(tau_mem=15.0, tau_syn=4.0, v_reset=-0.2, t_ref=1.0))
    net.add_population("out", 2, es.LIFParams.readout(tau_mem=10.0, tau_syn=10.0))
    net.connect("in", "hid", rng.normal(1.0, 0.5, (6, 4)), delays=rng.uniform(0, 2, (6, 4)))
    net.connect("hid", "hid", sp.random(6, 6, density=0.4, random_state=1, format="csr"), delays=0.5)
    net.connect("hid", "out", rng.normal(0.5, 0.2, (2, 6)))
    return net


def test_network_round_trip_is_exact(tmp_path):
    net = small_net()
    net.save(tmp_path / "n.h5")
    net2 = es.load(tmp_path / "n.h5")
    assert list(net2.populations) == list(net.populations)
    for n, p in net.populations.items():
        assert net2.populations[n].size == p.size and net2.populations[n].params == p.params
    for n, pr in net.projections.items():
        q = net2.projections[n]
        for a in ("indptr", "indices", "weights"):
            np.testing.assert_array_equal(getattr(q, a), getattr(pr, a))
        np.testing.assert_array_equal(q.delay_array(), pr.delay_array())
    b = es.SpikeBatch.from_lists([[(0.5, 0), (1.0, 3), (2.0, 1)], [(0.1, 2)]], 4)
    r1, r2 = es.simulate(net, b, 30.0), es.simulate(net2, b, 30.0)
    np.testing.assert_array_equal(r1.times, r2.times)
    np.testing.assert_array_equal(r1.max_voltage("out"), r2.max_voltage("out"))


def test_spikes_round_trip_and_cli_simulate(tmp_path):
    net = small_net()
    net.save(tmp_path / "net.h5")
    rng = np.random.default_rng(0)
    samples = [sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, 10, 8), rng.integers(0, 4, 8)))
               for _ in range(5)]
    b = es.SpikeBatch.from_lists(samples, 4)
    es.save_spikes(b, tmp_path / "in.h5", population="in")
    assert es.load_spikes(tmp_path / "in.h5")["in"] == b
    rc = cli_main(["simulate", str(tmp_path / "net.h5"), str(tmp_path / "in.h5"), "--t-max", "30",
                   "--out", str(tmp_path / "res.h5")])
    assert rc == 0
    out = es.load(tmp_path / "res.h5")
    direct = es.simulate(net, b, 30.0)
    assert out["spikes"]["hid"] == direct.spikes("hid")
    np.testing.assert_array_equal(out["readout"]["out"]["v_max"], direct.max_voltage("out"))


def test_connectome_round_trip(tmp_path):
    W = np.arange(12.0).reshape(3, 4) - 5
    c = es.Connectome.from_dense(W, W > 0, provenance={"method": "test", "density": 0.5, "loss": [1.0, 0.5]})
    c.save(tmp_path / "c.h5")
    c2 = es.load(tmp_path / "c.h5")
    np.testing.assert_array_equal(c2.to_dense(), np.where(W > 0, W, 0))
    assert c2.provenance["method"] == "test"
    np.testing.assert_array_equal(c2.provenance["loss"], [1.0, 0.5])
    net = es.Network()
    net.add_input("a", 4)
    net.add_population("b", 3)
    pr = net.connect("a", "b", c2)
    assert pr.n_synapses == int((W > 0).sum())


def test_foreign_and_corrupt_files_raise_value_error(tmp_path):
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ValueError, match="not an eventsim file"):
        es.load(tmp_path / "foreign.h5")
    (tmp_path / "garbage.h5").write_bytes(b"this is not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        es.load(tmp_path / "garbage.h5")
    small_net().save(tmp_path / "net.h5")
    with pytest.raises(ValueError, match="format"):
        es.load_spikes(tmp_path / "net.h5")
    with h5py.File(tmp_path / "broken.h5", "w") as f:
        f.attrs["format"] = "eventsim.network"
        f.attrs["version"] = 1
    with pytest.raises(ValueError, match="corrupt"):
        es.load(tmp_path / "broken.h5")
    assert cli_main(["info", str(tmp_path / "garbage.h5")]) == 2


def test_failed_write_leaves_previous_file_intact(tmp_path):
    net = small_net()
    path = tmp_path / "n.h5"
    net.save(path)
    before = path.read_bytes()

    class Boom(Exception):
        pass

    from eventsim.files import atomic_h5
    with pytest.raises(Boom):
        with atomic_h5(path, "eventsim.network") as f:
            f.create_dataset("partial", data=np.zeros(10))
            raise Boom()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["n.h5"]  # no temporary left behind


@pytest.mark.parametrize("kw,name", [
    (dict(tau_mem=0.0), "tau_mem"), (dict(tau_mem=-5.0), "tau_mem"), (dict(tau_syn=math.nan), "tau_syn"),
    (dict(tau_syn=math.inf), "tau_syn"), (dict(v_th=math.nan), "v_th"), (dict(v_reset=2.0), "v_reset"),
    (dict(t_ref=-1.0), "t_ref"), (dict(v_leak=math.inf), "v_leak"),
])
def test_bad_params_raise_naming_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        es.LIFParams(**kw)


def test_bad_weights_delays_shapes_raise():
    net = es.Network()
    net.add_input("in", 3)
    net.add_population("out", 2)
    with pytest.raises(ValueError, match="weights"):
        net.connect("in", "out", np.array([[1.0, np.nan, 0.0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="weights"):
        net.connect("in", "out", np.array([[1.0, np.inf, 0.0], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"shape \(n_post, n_pre\)"):
        net.connect("in", "out", np.ones((3, 2)))
    with pytest.raises(ValueError, match="delays"):
        net.connect("in", "out", np.ones((2, 3)), delays=-1.0)
    with pytest.raises(ValueError, match="delays"):
        net.connect("in", "out", np.ones((2, 3)), delays=np.ones((3, 3)))
    with pytest.raises(ValueError, match="dst"):
        net.connect("out", "in", np.ones((3, 2)))
    with pytest.raises(ValueError, match="src population 'nope'"):
        net.connect("nope", "out", np.ones((2, 3)))
    with pytest.raises(ValueError, match="size"):
        net.add_population("bad", 0)


def test_bad_spikes_raise():
    with pytest.raises(ValueError, match="sorted"):
        es.SpikeBatch.from_lists([[(2.0, 0), (1.0, 1)]], sort=False)
    with pytest.raises(ValueError, match=">= 0"):
        es.SpikeBatch.from_lists([[(-1.0, 0)]])
    with pytest.raises(ValueError, match="finite"):
        es.SpikeBatch.from_lists([[(math.nan, 0)]])
    with pytest.raises(ValueError, match="ids out of range"):
        es.SpikeBatch.from_lists([[(1.0, 5)]], n_neurons=3)
    with pytest.raises(ValueError, match="ids"):
        es.SpikeBatch.from_lists([[(1.0, -1)]])
    with pytest.raises(ValueError, match="same length"):
        es.SpikeBatch(np.zeros(3), np.zeros(2), np.array([0, 3]))
    net = es.Network.feedforward([3, 4, 2])
    with pytest.raises(ValueError, match="out of range"):
        es.simulate(net, es.SpikeBatch.from_lists([[(1.0, 7)]]), 10.0)
    with pytest.raises(ValueError, match="t_max"):
        es.simulate(net, es.SpikeBatch.empty(1, 3), -1.0)
    with pytest.raises(ValueError, match="t_max"):
        es.simulate(net, es.SpikeBatch.empty(1, 3), math.inf)
    with pytest.raises(ValueError, match="v_init"):
        es.simulate(net, es.SpikeBatch.empty(1, 3), 10.0, v_init={"hidden": np.ones(5)})
    with pytest.raises(ValueError, match="record_times"):
        es.simulate(net, es.SpikeBatch.empty(1, 3), 10.0, record={"out": "all"}, record_times=[5.0, 1.0])


def test_runaway_activity_is_reported():
    p = es.LIFParams(tau_mem=10.0, tau_syn=5.0, v_leak=5.0)  # tonic firing
    net = es.Network()
    net.add_population("x", 3, p)
    with pytest.raises(ValueError, match="max_spikes"):
        es.simulate(net, None, 1000.0, max_spikes=50)


def test_saved_files_get_the_umask_mode_not_the_temp_file_mode(tmp_path):
    """atomic_h5 writes through a temporary created with mode 0600; the final file has the mode a plain open() gives."""
    import os

    net = es.Network.feedforward([2, 3], seed=0)
    net.save(tmp_path / "n.h5")
    (tmp_path / "plain").write_text("x")
    assert os.stat(tmp_path / "n.h5").st_mode & 0o777 == os.stat(tmp_path / "plain").st_mode & 0o777


def test_spike_batch_subset_matches_selecting_the_lists():
    lists = [[(0.5, 1), (2.0, 0)], [], [(1.0, 2)], [(0.1, 0), (0.2, 1), (3.0, 2)]]
    b = es.SpikeBatch.from_lists(lists, 3)
    for idx in ([3, 0], [1, 1, 2], [], [2, 3, 0, 1, 3]):
        assert b.subset(idx) == es.SpikeBatch.from_lists([lists[i] for i in idx], 3)
    with pytest.raises(IndexError):
        b.subset([4])


def test_atomic_write_text_replaces_whole_or_not_at_all(tmp_path):
    """The metrics JSON writer: new text replaces the file; a failing write leaves the old file and no
    temporary file behind; a missing folder is a clear error."""
    from eventsim.files import atomic_write_text

    p = tmp_path / "m.json"
    atomic_write_text(p, '{"a": 1}')
    assert p.read_text() == '{"a": 1}'
    with pytest.raises(TypeError):
        atomic_write_text(p, 12345)          # not text: the write fails after the temp file exists
    assert p.read_text() == '{"a": 1}'
    assert sorted(f.name for f in tmp_path.iterdir()) == ["m.json"]
    with pytest.raises(ValueError, match="folder"):
        atomic_write_text(tmp_path / "missing" / "m.json", "{}")


def test_atomic_savefig_writes_the_format_of_the_suffix_and_never_half_a_file(tmp_path):
    """Plots go through a temporary file: the format follows the final suffix (not '.tmp'); a figure
    that fails to render leaves the old file and no temporary file behind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from eventsim.files import atomic_savefig

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    p, q = tmp_path / "a.png", tmp_path / "b.svg"
    atomic_savefig(fig, p, dpi=50)
    atomic_savefig(fig, q)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in q.read_bytes()[:500]
    old = p.read_bytes()
    ax.set_title("$\\frac{unbalanced$")  # mathtext error at draw time
    with pytest.raises(ValueError):
        atomic_savefig(fig, p)
    assert p.read_bytes() == old
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.png", "b.svg"]
    with pytest.raises(ValueError, match="folder"):
        atomic_savefig(fig, tmp_path / "missing" / "a.png")
    plt.close(fig)
