"""The Randman recipe (``eventsim train randman``): end to end on Randman and on a tiny SHD-layout
folder, and the Norse side of ``benchmarks/randman_norse.py`` on the same samples and weights."""
import importlib.util
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import eventsim as es
from eventsim.cli import main
from eventsim.data import load_heidelberg, randman
from eventsim.models import randman as rm

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def test_quick_run_learns_above_chance_and_writes_its_files(tmp_path, capsys):
    rc = main(["train", "randman", "--quick", "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    m = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    s = rm.Settings(**rm.QUICK)
    n = s.n_classes * s.samples_per_class
    assert (m["n_train"], m["n_val"], m["n_test"]) == (int(0.8 * n), int(0.1 * n), int(0.1 * n))
    assert m["epochs"] == rm.QUICK["epochs"]
    # chance is 1/10; 13 or more right of 60 by guessing has probability 0.002
    assert m["test_acc"] > 0.2
    net = es.load(tmp_path / "randman_net.h5")
    assert [p.size for p in net.populations.values()] == [s.n_in, s.hidden, s.n_classes]
    assert "hidden->hidden" in net.projections
    assert not np.any(np.diag(net.projections["hidden->hidden"].to_dense()))  # no self-connections
    # the delays were trained: they moved from the initial draw, stayed >= 0, the read-out has none to start
    init = rm.build(s)
    for k in ("in->hidden", "hidden->hidden"):
        d0, d = init.projections[k].delay_array(), net.projections[k].delay_array()
        assert d0.max() > 0.5 * s.delay_max and d.min() >= 0.0 and np.mean(d != d0) > 0.5
    assert not np.any(init.projections["hidden->out"].delay_array())
    # the saved network scores the reported test accuracy on the test split (recomputed here)
    _, _, (te, yt) = rm.randman_splits(s)
    assert es.train.accuracy(net, te, yt, rm.loss(), s.t_max) == pytest.approx(m["test_acc"], abs=1e-12)
    ck = es.train.load_checkpoint(tmp_path / "checkpoint.h5")
    assert ck["epoch"] == rm.QUICK["epochs"]
    for f in ("randman_curves.png", "randman_raster.png"):
        assert (tmp_path / f).stat().st_size > 1000
    assert json.loads((tmp_path / "randman_metrics.json").read_text())["test_acc"] == m["test_acc"]


def test_splits_are_a_stratified_partition_of_the_generated_data():
    s = rm.Settings(samples_per_class=30, n_classes=4, n_in=6)
    full, labels = randman(4, 30, 6, seed=s.data_seed)
    T = full.first_spike_times()  # one spike per neuron: (samples, neurons)
    seen = []
    for (b, y), want in zip(rm.randman_splits(s), (24, 3, 3)):
        assert np.array_equal(np.bincount(y, minlength=4), [want] * 4)
        rows = b.first_spike_times()
        for r, lab in zip(rows, y):
            k = int(np.flatnonzero(np.all(T == r, axis=1))[0])
            assert labels[k] == lab
            seen.append(k)
    assert sorted(seen) == list(range(120))


def _write_shd(path, rng, labels, n_channels=700):
    """A file in the published layout: vlen float16 seconds, vlen uint16 units, uint8 labels; class c
    fires a burst on channels 30c..30c+9 (so the task is learnable)."""
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(labels),), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (len(labels),), dtype=h5py.vlen_dtype(np.uint16))
        for k, c in enumerate(labels):
            units = np.concatenate([30 * c + np.arange(10), rng.integers(0, n_channels, 5)])
            times = np.sort(rng.uniform(0.0, 0.06, units.size))
            t[k] = times.astype(np.float16)
            u[k] = units.astype(np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
        f.create_dataset("extra/speaker", data=np.zeros(len(labels), np.uint16))
    return path


def test_shd_folder_runs_the_same_recipe_with_700_inputs_and_20_classes(tmp_path, capsys):
    rng = np.random.default_rng(0)
    _write_shd(tmp_path / "shd_train.h5", rng, np.tile(np.arange(20), 10))
    _write_shd(tmp_path / "shd_test.h5", rng, np.tile(np.arange(20), 2))
    out = tmp_path / "out"
    rc = main(["train", "randman", "--data", f"shd:{tmp_path}", "--epochs", "2", "--hidden", "16", "--t-max", "100",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    m = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (m["n_train"], m["n_val"], m["n_test"]) == (180, 20, 40)  # 10 % of each class held out
    net = es.load(out / "randman_net.h5")
    assert [p.size for p in net.populations.values()] == [700, 16, 20]
    te, yt = load_heidelberg(tmp_path / "shd_test.h5", t_max=100.0)
    assert es.train.accuracy(net, te, yt, rm.loss(), 100.0) == pytest.approx(m["test_acc"], abs=1e-12)
    # one file: divided 80/10/10 within the file
    (tr, _), (va, _), (te1, _) = rm.shd_splits(tmp_path / "shd_train.h5", 100.0)
    assert (tr.n_samples, va.n_samples, te1.n_samples) == (160, 20, 20)
    assert main(["train", "randman", "--data", "shd:" + str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_data_argument_is_checked():
    assert rm.parse_data("randman") is None and rm.parse_data("shd:/a/b") == "/a/b"
    for bad in ("shd:", "mnist", "shd"):
        with pytest.raises(ValueError, match="data"):
            rm.parse_data(bad)
    with pytest.raises(ValueError, match="lr_decay"):
        rm.Settings(lr_decay=1.5)
    with pytest.raises(ValueError, match="delay_max"):
        rm.Settings(delay_max=-1.0)
    with pytest.raises(ValueError, match="learn_delays"):
        rm.Settings(learn_delays=1)
    fixed = rm.build(rm.Settings(delay_max=0.0))
    assert all(not np.any(p.delay_array()) for p in fixed.projections.values())


# ---- the Norse side of the benchmark --------------------------------------------------------------

def _bench():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("_bench_randman_norse", BENCH / "randman_norse.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


def test_norse_side_sees_the_same_samples_and_starts_from_the_same_network():
    torch = pytest.importorskip("torch")
    pytest.importorskip("norse")
    rn = _bench()
    s = rm.Settings(samples_per_class=20, n_classes=3, n_in=8, hidden=12, delay_max=0.0, learn_delays=False)
    splits = rm.randman_splits(s)
    for dt in (1.0, 0.5):
        for b, _ in splits:
            x = rn.dense_inputs(b, dt, s.t_max).numpy()
            assert x.shape == (int(round(s.t_max / dt)), b.n_samples, s.n_in)
            for k in range(b.n_samples):  # oracle: the sample's spikes placed one by one
                want = np.zeros((x.shape[0], s.n_in))
                for t, i in zip(*b.sample(k)):
                    want[int(t // dt), int(i)] += 1
                assert np.array_equal(x[:, k], want)
    with pytest.raises(ValueError, match="delays"):
        rn.NorseNet(rm.build(rm.Settings(samples_per_class=20, n_classes=3, n_in=8, hidden=12)), s, 1.0)
    net = rm.build(s)
    model = rn.NorseNet(net, s, 0.05)
    assert np.array_equal(model.cell.input_weights.detach().numpy(),
                          net.projections["in->hidden"].to_dense().astype(np.float32))
    assert np.array_equal(model.linear.weight.detach().numpy(),
                          net.projections["hidden->out"].to_dense().astype(np.float32))
    assert sum(p.numel() for p in model.parameters()) == s.n_in * s.hidden + s.hidden ** 2 + s.hidden * s.n_classes
    # the same network: at a fine step Norse's read-out maxima approach eventsim's exact ones
    (tr, _), _, _ = splits
    b = tr.subset(np.arange(6))
    with torch.no_grad():
        vmax = model(rn.dense_inputs(b, 0.05, s.t_max)).numpy()
    exact = es.simulate(net, b, s.t_max).max_voltage("out")
    assert np.max(np.abs(vmax - exact)) < 0.05 * np.max(np.abs(exact)) + 1e-3


def test_norse_training_runs_on_the_split_and_reports_its_figures():
    pytest.importorskip("torch")
    pytest.importorskip("norse")
    rn = _bench()
    s = rm.Settings(samples_per_class=20, n_classes=3, n_in=8, hidden=12, epochs=2, batch_size=16, delay_max=0.0,
                    learn_delays=False)
    splits = rm.randman_splits(s)
    fig = rn.train_norse(s, splits, dt=1.0, lr=2e-3, threads=1)
    assert len(fig["epoch_s"]) == 2 and fig["train_samples_per_s"] > 0
    assert 0.0 <= fig["test_acc"] <= 1.0 and fig["best_val_acc"] == max(fig["val_acc"])
