"""Export formats: NIR (round trip through nir.write/nir.read, Norse running our file), lava-dl
netx HDF5 (read back by a reader written from netx's documented layout), the CLI."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import eventsim as es
from eventsim.hardware.loihi import emulate, load_loihi, quantize


def _net(seed=0, recurrent=True, delays=False, readout=False, v_leak=0.0, v_reset=0.0):
    rng = np.random.default_rng(seed)
    p = es.LIFParams(tau_mem=10.0, tau_syn=5.0, v_leak=v_leak, v_reset=v_reset)
    net = es.Network()
    net.add_input("in", 10)
    net.add_population("hidden", 30, p)
    net.add_population("out", 5, es.LIFParams.readout(10.0, 5.0) if readout else p)
    D = None
    if delays:
        D = np.broadcast_to(rng.uniform(0, 4, 10)[None, :], (30, 10))     # per presynaptic neuron
    net.connect("in", "hidden", rng.normal(0.9, 0.7, (30, 10)), delays=D)
    if recurrent:
        Wr = rng.normal(0, 0.3, (30, 30)) * (rng.random((30, 30)) < 0.2)
        net.connect("hidden", "hidden", Wr, mask=Wr != 0)
    net.connect("hidden", "out", rng.normal(0.3, 0.4, (5, 30)))
    return net


def _same_network(a, b, atol=1e-12):
    assert list(a.populations) == list(b.populations)
    for n, p in a.populations.items():
        q = b.populations[n]
        assert p.size == q.size and p.is_input == q.is_input
        if not p.is_input:
            for k, v in p.params.to_dict().items():
                assert getattr(q.params, k) == pytest.approx(v, rel=1e-12), (n, k)
    assert set(a.projections) == set(b.projections)
    for k, pr in a.projections.items():
        qr = b.projections[k]
        np.testing.assert_allclose(qr.to_dense(), pr.to_dense(), rtol=1e-12, atol=atol)
        np.testing.assert_array_equal(qr.mask(), pr.mask())
        if pr.delays is not None:
            Dp = np.zeros((pr.n_post, pr.n_pre))
            Dp[pr.indices, pr.pre_indices()] = pr.delays
            Dq = np.zeros((qr.n_post, qr.n_pre))
            Dq[qr.indices, qr.pre_indices()] = qr.delay_array()
            np.testing.assert_allclose(Dq, Dp, rtol=1e-12, atol=1e-12)


def test_nir_round_trip_through_files(tmp_path):
    nir = pytest.importorskip("nir")

    from eventsim.hardware.nir import from_nir, to_nir, write_nir

    net = _net(1, recurrent=True, delays=True, readout=True, v_leak=0.1, v_reset=-0.2)
    path = tmp_path / "net.nir"
    write_nir(net, path, dt=0.5)
    g = nir.read(str(path))                     # type-checks shapes along every edge
    types = {k: type(v).__name__ for k, v in g.nodes.items()}
    assert types["in"] == "Input" and types["hidden"] == "CubaLIF" and types["out"] == "CubaLI"
    assert types["in->hidden"] == "Linear" and types["in->hidden.delay"] == "Delay" and types["output"] == "Output"
    assert ("hidden", "hidden->hidden") in [tuple(e) for e in g.edges]
    np.testing.assert_allclose(g.nodes["hidden"].tau_mem, 0.010)            # seconds
    np.testing.assert_allclose(g.nodes["hidden"].w_in, 5.0 / 0.5)           # tau_syn / dt
    back = from_nir(g)                                                     # dt from metadata
    _same_network(net, back)
    _same_network(net, from_nir(to_nir(net, 0.25), dt=0.25))
    # bad input
    ref = es.Network()
    ref.add_input("in", 2)
    ref.add_population("n", 2, es.LIFParams(t_ref=1.0))
    ref.connect("in", "n", np.ones((2, 2)))
    with pytest.raises(ValueError, match="t_ref"):
        to_nir(ref, 1.0)
    with pytest.raises(ValueError, match="dt"):
        to_nir(net, 0)
    bad = _net(2)
    bad.connect("in", "out", np.ones((5, 10)), delays=np.random.default_rng(0).uniform(0, 2, (5, 10)))
    with pytest.raises(ValueError, match="delays"):
        to_nir(bad, 1.0)
    g2 = to_nir(net, 0.5)
    g2.nodes["hidden"].tau_mem[0] *= 2
    with pytest.raises(ValueError, match="tau_mem"):
        from_nir(g2)


def _dual_net(seed=0, recurrent=True, delays=True):
    """A network whose hidden population and read-out have two synaptic currents."""
    rng = np.random.default_rng(seed)
    net = es.Network()
    net.add_input("in", 6)
    net.add_population("hidden", 8, es.LIFParams(tau_mem=10.0, tau_syn=3.0, tau_syn_inh=7.0, v_reset=-0.1))
    net.add_population("out", 3, es.LIFParams.readout(10.0, 5.0, tau_syn_inh=2.0))
    D = np.broadcast_to(rng.uniform(0, 2, 6)[None, :], (8, 6)) if delays else None
    net.connect("in", "hidden", rng.normal(0.6, 1.0, (8, 6)), delays=D)
    if recurrent:
        Wr = rng.normal(0, 0.5, (8, 8)) * (rng.random((8, 8)) < 0.4)
        net.connect("hidden", "hidden", Wr, mask=Wr != 0)
    net.connect("hidden", "out", rng.normal(0, 1, (3, 8)))
    return net


def test_nir_two_currents_round_trip(tmp_path):
    """A population with two currents is a NIR LIF fed by two LI synapse nodes; each projection
    into it is split by sign; reading the file back gives the same network."""
    nir = pytest.importorskip("nir")
    from eventsim.hardware.nir import from_nir, to_nir, write_nir

    net = _dual_net()
    path = tmp_path / "dual.nir"
    write_nir(net, path, dt=0.5)
    g = nir.read(str(path))
    types = {k: type(v).__name__ for k, v in g.nodes.items()}
    assert types["hidden"] == "LIF" and types["hidden.exc"] == "LI" and types["hidden.inh"] == "LI"
    assert types["in->hidden.exc"] == types["in->hidden.inh"] == "Linear"
    np.testing.assert_allclose(g.nodes["hidden.exc"].tau, 0.003)            # seconds
    np.testing.assert_allclose(g.nodes["hidden.inh"].tau, 0.007)
    np.testing.assert_allclose(g.nodes["hidden.inh"].r, 7.0 / 0.5)          # tau / dt
    assert np.all(g.nodes["in->hidden.exc"].weight >= 0) and np.all(g.nodes["in->hidden.inh"].weight <= 0)
    assert np.isinf(g.nodes["out"].v_threshold).all()
    _same_network(net, from_nir(g))
    # without the metadata the two synapse nodes are told apart by the signs of their weights
    for k in ("hidden.exc", "hidden.inh", "out.exc", "out.inh"):
        g.nodes[k].metadata = {}
    _same_network(net, from_nir(g))
    # a LIF fed directly by a Linear has no synaptic current
    g2 = to_nir(net, 0.5)
    g2.edges = [e for e in g2.edges if e[1] != "hidden"] + [("in->hidden.exc", "hidden")]
    g2.edges = [e for e in g2.edges if e != ("in->hidden.exc", "hidden.exc")]
    with pytest.raises(ValueError, match="synapse nodes"):
        from_nir(g2)


def _euler_run_nir(graph, inputs: np.ndarray, dt: float) -> dict:
    """Forward-Euler run of a feed-forward NIR graph of Input, Linear, LI and LIF nodes, written
    from NIR's equations (tau dv/dt = v_leak - v + r * input, a spike is x = 1 in one step):
    the independent reading of what our file says. Returns {LIF node: (T, n) spikes}."""
    import nir

    nodes, T = graph.nodes, inputs.shape[0]
    pred = {}
    for a, b in graph.edges:
        pred.setdefault(b, []).append(a)
    v = {k: np.array(n.v_leak, dtype=float) for k, n in nodes.items() if isinstance(n, (nir.LI, nir.LIF))}
    out = {k: np.zeros((T, v[k].size)) for k, n in nodes.items() if isinstance(n, nir.LIF)}
    spikes = {}

    def value(k, t):          # what node k sends at step t
        n = nodes[k]
        if isinstance(n, nir.Input):
            return inputs[t].astype(float)
        if isinstance(n, nir.Linear):
            return n.weight @ sum(value(p, t) for p in pred[k])
        if isinstance(n, nir.LIF):
            return spikes[k]
        return v[k]            # an LI synapse: its state is the current

    lifs = sorted(out, key=lambda k: len(_ancestors(graph, k)))
    for t in range(T):
        for k in lifs:         # upstream layers first: a spike reaches the next layer in its step
            for syn in pred[k]:
                n = nodes[syn]
                u = sum(value(p, t) for p in pred.get(syn, []))
                v[syn] = v[syn] + dt / (n.tau * 1e3) * (n.v_leak - v[syn] + n.r * u)
            n = nodes[k]
            i_syn = sum(v[syn] for syn in pred[k])
            v[k] = v[k] + dt / (n.tau * 1e3) * (n.v_leak - v[k] + n.r * i_syn)
            z = v[k] >= n.v_threshold
            v[k] = np.where(z, n.v_reset, v[k])
            spikes[k] = z.astype(float)
            out[k][t] = z
    return out


def _ancestors(graph, k):
    pred = {}
    for a, b in graph.edges:
        pred.setdefault(b, []).append(a)
    seen, todo = set(), [k]
    while todo:
        for p in pred.get(todo.pop(), []):
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def test_nir_two_currents_file_means_the_exact_model():
    """Integrating our two-current NIR graph by NIR's own equations (forward Euler, small dt)
    gives eventsim's exact spikes: the same count per neuron, times within a few steps."""
    pytest.importorskip("nir")
    from eventsim.hardware.nir import to_nir

    net = _dual_net(3, recurrent=False, delays=False)
    dt, t_max = 0.002, 40.0
    T = int(round(t_max / dt))
    rng = np.random.default_rng(1)
    steps = np.sort(rng.choice(T // 2, size=30, replace=False))
    ids = rng.integers(0, 6, 30)
    R = np.zeros((T, 6), dtype=bool)
    R[steps, ids] = True
    ours = es.simulate(net, es.SpikeBatch(steps * dt, ids, [0, 30]), t_max).spikes("hidden")
    theirs = _euler_run_nir(to_nir(net, dt), R, dt)["hidden"]
    assert len(ours.times) >= 5
    for j in range(8):
        t_exact = np.sort(ours.times[ours.ids == j])
        t_euler = np.flatnonzero(theirs[:, j]) * dt
        assert t_euler.size == t_exact.size, j
        np.testing.assert_allclose(t_euler, t_exact, atol=20 * dt)


def test_norse_runs_our_nir_file_like_our_discrete_reference(tmp_path):
    """Norse's NIR import (norse.torch.from_nir: forward-Euler CubaLIF, float32) on our file gives
    the same spikes, step by step, as our discrete-time reference of the same model (the emulator
    in float precision with method='euler'). Norse passes spikes between layers within a step, Lava
    one step later: layer k of Norse at step t is layer k of ours at step t + k."""
    pytest.importorskip("nir")
    pytest.importorskip("norse")
    from eventsim.hardware.nir import norse_run, write_nir

    net = _net(3, recurrent=True)
    dt = 0.5
    path = tmp_path / "net.nir"
    write_nir(net, path, dt, outputs="all")
    T = 300
    R = np.random.default_rng(0).random((T, 10)) < 0.06
    out = norse_run(path, R, dt)
    ref = emulate(quantize(net, dt, precision="float", method="euler"), R.T, T + 2)
    for pop, depth in (("hidden", 1), ("out", 2)):
        ours = ref.raster(pop)[depth:depth + T]
        theirs = out[pop].astype(bool)
        assert ours.sum() > 50, pop
        np.testing.assert_array_equal(theirs, ours, err_msg=pop)


def test_netx_export_layout_and_reader(tmp_path):
    from eventsim.hardware.netx import quantize_for_netx, read_netx, write_netx

    net = _net(4, recurrent=True)
    path = tmp_path / "net.net"
    written = write_netx(net, path, dt=0.5, t_sample=100)
    with h5py.File(path, "r") as f:
        assert sorted(f["layer"].keys()) == ["0", "1"]
        l0, l1 = f["layer/0"], f["layer/1"]
        assert l0["type"][0] == b"dense_rec" and l1["type"][0] == b"dense"
        assert l0["type"].dtype == np.dtype("S10")
        assert l0["weight"].shape == (30, 10) and l0["weight_rec"].shape == (30, 30) and l1["weight"].shape == (5, 30)
        for h in (l0, l1):
            w = h["weight"][()]
            assert np.all(w == np.round(w)) and w.min() >= -256 and w.max() <= 254
            assert h["neuron/type"][0] == b"CUBA"
            assert 1 <= int(h["neuron/iDecay"][()]) <= 4096 and 0 <= int(h["neuron/vDecay"][()]) <= 4095
        assert list(l0["shape"][()]) == [30]
        assert float(f["simulation/Ts"][()]) == 0.5
    back = read_netx(path)
    assert [p.size for p in back.populations.values()] == [10, 30, 5]
    R = np.random.default_rng(1).random((3, 10, 120)) < 0.08
    a, b = emulate(written, R, 120), emulate(back, R, 120)
    assert a.n_spikes > 100
    assert a.mismatches(b) == {"hidden": 0, "out": 0}
    # the written network is the netx-constrained quantisation
    assert emulate(quantize_for_netx(net, 0.5), R, 120).same_spikes(a)
    # what netx cannot hold
    skip = _net(5)
    skip.connect("in", "out", np.ones((5, 10)))
    with pytest.raises(ValueError, match="in->out|projections"):
        write_netx(skip, tmp_path / "x.net", dt=0.5)
    with pytest.raises(ValueError, match="v_leak"):
        write_netx(_net(6, v_leak=0.3), tmp_path / "y.net", dt=0.5)
    with pytest.raises(ValueError, match="read-out"):
        write_netx(_net(7, recurrent=False, readout=True), tmp_path / "z.net", dt=0.5)
    with pytest.raises(ValueError, match="netx"):
        f2 = tmp_path / "plain.h5"
        net.save(f2)
        read_netx(f2)


def test_cli_export_and_emulate(tmp_path, capsys):
    pytest.importorskip("lava", reason="exports for and runs on Lava (lava extra)")
    pytest.importorskip("nir")
    from eventsim.cli import main

    net = _net(8, recurrent=False)
    src = tmp_path / "net.h5"
    net.save(src)
    assert main(["export", "--to", "lava", str(src), "--dt", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "tau_syn" in out and "cores" in out
    lfile = tmp_path / "net.loihi.h5"
    ln = load_loihi(lfile)
    assert ln.provenance["source_sha256"] and ln.provenance["lava_nc_version"] == "0.10.0"
    with h5py.File(lfile, "r") as f:
        assert "source" in f and "report" in f
    assert main(["export", "--to", "nir", str(src), "--dt", "0.5"]) == 0
    assert (tmp_path / "net.nir").exists()
    assert main(["export", "--to", "netx", str(src), "--dt", "0.5", "--quiet"]) == 0
    assert (tmp_path / "net.net").exists()
    spk = tmp_path / "in.h5"
    es.save_spikes(es.SpikeBatch.from_lists([[(1.0, 0), (2.0, 3)], [(0.5, 9)]], n_neurons=10), spk, "in")
    res = tmp_path / "out.h5"
    assert main(["emulate", str(lfile), "--spikes", str(spk), "--t-max", "20", "--out", str(res)]) == 0
    got = es.load_spikes(res)
    assert set(got) == {"hidden", "out"} and got["hidden"].n_samples == 2
    assert main(["emulate", str(src), "--dt", "0.5", "--random-rate", "80", "--samples", "2", "--steps", "60",
                 "--backend", "lava", "--compare", "--copies", "2"]) == 0
    assert "identical spikes" in capsys.readouterr().out
    # errors are reported (exit code 2) with the parameter named
    assert main(["emulate", str(src), "--random-rate", "10", "--steps", "10"]) == 2
    assert "--dt" in capsys.readouterr().err
    assert main(["export", "--to", "lava", str(spk), "--dt", "0.5"]) == 2


def test_nir_and_netx_exports_are_atomic(tmp_path, monkeypatch):
    """Both exports write through a fresh temporary name renamed into place: no fixed '<out>.tmp',
    nothing left beside the file, and a write that fails leaves the previous file as it was."""
    nir = pytest.importorskip("nir")
    from eventsim.hardware.netx import write_netx
    from eventsim.hardware.nir import write_nir

    net = _net(3, recurrent=False)
    out_nir, out_netx = tmp_path / "n.nir", tmp_path / "n.net"
    (tmp_path / "n.nir.tmp").symlink_to(tmp_path / "elsewhere")  # a fixed temporary name would follow it
    write_nir(net, out_nir, 0.5)
    write_netx(net, out_netx, dt=0.5)
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.net", "n.nir", "n.nir.tmp"]
    before = out_nir.read_bytes()

    def broken_write(file, graph):   # write_nir hands nir.write an open file object
        file.write(b"half a file")
        file.flush()
        raise OSError("disk full")

    monkeypatch.setattr(nir, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_nir(net, out_nir, 0.5)
    assert out_nir.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.net", "n.nir", "n.nir.tmp"]
