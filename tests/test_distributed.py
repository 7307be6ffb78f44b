"""eventsim.distributed on a LocalCluster of two worker processes: every result is compared with the
same computation in this process (simulate, EventProp, training: bit for bit), and sweeps write
each run exactly once, also when a worker dies mid-run, and redo nothing when started again."""
import contextlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import eventsim as es  # noqa: E402
from eventsim import distributed as ed  # noqa: E402
from eventsim.eventprop import value_and_grad  # noqa: E402
from eventsim.distributed.table import read_table  # noqa: E402
from eventsim.losses import FirstSpikeCE, SilentPeakReg, SpikeCountReg  # noqa: E402

T_MAX = 60.0
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def client():
    cluster = ed.local_cluster(2, numba_threads=1)
    c = distributed.Client(cluster, timeout="60s")
    yield c
    c.close()
    cluster.close()


def random_batch(rng, n_in, n_samples, n_spikes, t_hi):
    return es.SpikeBatch.from_lists(
        [sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, t_hi, n_spikes), rng.integers(0, n_in, n_spikes)))
         for _ in range(n_samples)], n_in)


def delayed_net(seed=0):
    """6 inputs -> 25 LIF -> 3 LIF, all-to-all, with per-synapse delays in [0, 3) ms."""
    p = es.LIFParams(tau_mem=20.0, tau_syn=5.0)
    peak = es.psp_peak(20.0, 5.0)
    rng = np.random.default_rng(seed)
    net = es.Network()
    net.add_input("in", 6)
    net.add_population("hidden", 25, p)
    net.add_population("out", 3, p)
    net.connect("in", "hidden", rng.normal(0.6, 0.3, (25, 6)) / peak, delays=rng.uniform(0, 3, (25, 6)))
    net.connect("hidden", "out", rng.normal(0.3, 0.1, (3, 25)) / peak, delays=rng.uniform(0, 3, (3, 25)))
    return net


def same(x, y) -> bool:
    """Equal arrays (NaN equal to NaN in float arrays), or both None."""
    if x is None or y is None:
        return x is None and y is None
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")


def assert_same_result(a, b):
    for name in ("times", "ids", "currents", "offsets", "vmax", "tmax", "vint", "record_times", "record_ids",
                 "record_V", "record_I"):
        x, y = getattr(a, name), getattr(b, name)
        assert same(x, y), name
    assert set(a.stats) == set(b.stats) and all(np.array_equal(a.stats[k], b.stats[k]) for k in a.stats)
    for x, y in zip(a.tape.inputs + (a.tape.v_init, a.tape.weights, a.tape.imax),
                    b.tape.inputs + (b.tape.v_init, b.tape.weights, b.tape.imax)):
        assert same(x, y)


def test_simulate_equals_one_process(client):
    rng = np.random.default_rng(1)
    net = delayed_net(1)
    batch = random_batch(rng, 6, 23, 12, 20.0)
    v0 = {"hidden": rng.uniform(-0.2, 0.5, (23, 25))}  # per-sample initial voltages are sliced per chunk
    kw = dict(v_init=v0, record={"out": "all", "hidden": [0, 3]}, record_times=np.linspace(0, T_MAX, 7))
    ref = es.simulate(net, batch, T_MAX, **kw)
    for n in (1, 4, 23, 50):
        got = ed.simulate(client, net, batch, T_MAX, n_chunks=n, **kw)
        assert got.n_samples == 23 and got.n_spikes == ref.n_spikes > 0
        assert_same_result(ref, got)
    # the split is the EventProp kernel's: contiguous, in order, covering every sample once
    assert ed.bounds(23, 4) == [(0, 5), (5, 11), (11, 17), (17, 23)]


@pytest.mark.parametrize("resimulate", [False, True], ids=["kept-results", "resimulated"])
def test_value_and_grad_bit_identical_with_delays(client, monkeypatch, resimulate):
    from eventsim.distributed import batch as dbatch

    monkeypatch.setattr(dbatch, "RESIMULATE", resimulate)
    rng = np.random.default_rng(2)
    net = delayed_net(2)
    batch = random_batch(rng, 6, 19, 12, 20.0)
    labels = rng.integers(0, 3, 19)
    # a batch-wide term (neurons silent on every sample) and a per-sample heuristic kick
    loss = [FirstSpikeCE(silent="phantom"), SilentPeakReg(population="hidden", strength=1e-2),
            SpikeCountReg(population="hidden", target=2.0, strength=1e-3)]
    with quiet():
        for n in (1, 3, 8):
            L1, g1, r1 = value_and_grad(net, batch, labels, loss, T_MAX, n_chunks=n, wants_delays=True,
                                        return_result=True)
            L2, g2, r2 = ed.value_and_grad(client, net, batch, labels, loss, T_MAX, n_chunks=n, wants_delays=True,
                                           return_result=True)
            assert L1 == L2
            assert set(g1) == set(g2) == {"in->hidden", "hidden->out", "delay:in->hidden", "delay:hidden->out"}
            for k in g1:
                assert np.array_equal(g1[k], g2[k]), (n, k)
                assert g1[k].tobytes() == g2[k].tobytes(), (n, k)  # the same bits, signed zeros included
            assert np.any(g1["delay:in->hidden"] != 0) and np.any(g1["in->hidden"] != 0)
            assert_same_result(r1, r2)
    with pytest.raises(ValueError, match="n_chunks"):
        ed.value_and_grad(client, net, batch, labels, loss, T_MAX, n_chunks=0)


@contextlib.contextmanager
def quiet():
    """Warnings (silent outputs of an untrained network) are expected; the figures are compared."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _yinyang_subset(n_train=48, n_val=24):
    from eventsim.models import yinyang as yy

    (tr, y), (va, yv), _ = yy.data()
    return (tr.subset(np.arange(n_train)), y[:n_train]), (va.subset(np.arange(n_val)), yv[:n_val])


def test_fit_two_epochs_bit_identical(client, tmp_path):
    from eventsim.models import yinyang as yy

    (x, y), val = _yinyang_subset()
    kw = dict(epochs=2, batch_size=20, lr=5e-3, seed=3, val=val, progress=False)
    local = yy.build(3, 20)
    remote = yy.build(3, 20)
    with quiet():
        h1 = es.train.fit(local, x, y, yy.loss(), yy.T_MAX, **kw)
        h2 = ed.fit(remote, x, y, yy.loss(), yy.T_MAX, client=client, checkpoint=tmp_path / "ck.h5", **kw)
    for k, w in local.parameters().items():
        assert w.tobytes() == remote.parameters()[k].tobytes(), k
    assert not np.array_equal(local.parameters()["in->hidden"], yy.build(3, 20).parameters()["in->hidden"])
    for k in ("loss", "acc", "grad_norm", "val_loss", "val_acc"):
        assert h1[k] == h2[k], k
    assert es.train.load_checkpoint(tmp_path / "ck.h5")["epoch"] == 2


def _write_config(path: Path, table: Path, recipe: str, fixed: dict, vary: dict) -> Path:
    def val(v):
        return json.dumps(v)
    lines = [f'name = "tiny"', f"recipe = {val(recipe)}", f"table = {val(str(table))}", "[fixed]"]
    lines += [f"{k} = {val(v)}" for k, v in fixed.items()]
    lines += ["[vary]"] + [f"{k} = {val(v)}" for k, v in vary.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


TINY = dict(epochs=1, hidden=30, n_train=24, n_val=12, n_test=12, batch_size=12)


def test_sweep_rows_once_resume_and_cli(client, tmp_path):
    table = tmp_path / "tiny.jsonl"
    cfg = _write_config(tmp_path / "tiny.toml", table, "yinyang", TINY, {"seed": [0, 1], "lr": [0.005, 0.02]})
    config = ed.load_sweep_config(cfg)
    runs = ed.sweep_runs(config)
    assert [r.settings["seed"] for r in runs] == [0, 0, 1, 1] and [r.settings["lr"] for r in runs] == [0.005, 0.02] * 2
    s = ed.run_sweep(config, client=client, progress=False)
    assert sorted(s.written) == sorted(r.run_id for r in runs) and not s.skipped and not s.failed
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    assert sorted(r["run_id"] for r in rows) == sorted(r.run_id for r in runs)  # each run exactly once
    for r in rows:
        assert r["study"] == "tiny" and r["recipe"] == "yinyang" and r["hidden"] == 30 and 0 <= r["test_acc"] <= 1
    # a row's figures are those of the same run in this process
    from eventsim.distributed.recipes import yinyang

    r0 = next(r for r in rows if r["seed"] == 1 and r["lr"] == 0.02)
    with quiet():
        here = yinyang(seed=1, lr=0.02, **TINY)
    assert abs(here["train_loss"] - np.log(3)) > 1e-3  # the network fires: the figures are not the silent ones
    for k in ("train_loss", "train_acc", "val_acc", "test_loss", "test_acc"):
        assert r0[k] == here[k], k
    # started again (Python API, then the command line): nothing is redone
    before = table.read_text()
    s2 = ed.run_sweep(config, client=client, progress=False)
    assert not s2.written and sorted(s2.skipped) == sorted(s.written)
    from eventsim.cli import main

    assert main(["sweep", str(cfg), "--scheduler", client.scheduler.address, "--no-progress"]) == 0
    assert table.read_text() == before


RANDMAN_TINY = dict(samples_per_class=10, n_classes=3, n_in=6, hidden=8, epochs=1, batch_size=10)


def test_sweep_of_the_randman_recipe_with_and_without_delay_learning(client, tmp_path):
    from eventsim.distributed.recipes import randman

    table = tmp_path / "rm.jsonl"
    cfg = _write_config(tmp_path / "rm.toml", table, "randman", RANDMAN_TINY, {"learn_delays": [True, False]})
    s = ed.run_sweep(ed.load_sweep_config(cfg), client=client, progress=False)
    assert len(s.written) == 2 and not s.failed
    rows = {r["learn_delays"]: r for r in read_table(table)}
    for learn in (True, False):
        with quiet():
            here = randman(learn_delays=learn, **RANDMAN_TINY)
        for k in ("test_acc", "test_loss", "best_val_acc", "best_epoch", "train_acc_last"):
            assert rows[learn][k] == here[k], (learn, k)
    assert rows[True]["test_loss"] != rows[False]["test_loss"]  # the delays were trained in one of them
    with pytest.raises(ValueError, match="unknown settings"):
        randman(hidden_size=8)


def dies_once(seed: int, marker: str) -> dict:
    """A recipe whose run with seed 1 kills its own worker process the first time it runs."""
    if seed == 1 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(3)
    return {"double": 2 * seed, "pid": os.getpid()}


def test_worker_killed_mid_sweep_is_retried(client, tmp_path):
    marker = tmp_path / "killed"
    config = ed.SweepConfig(recipe=dies_once, fixed={"marker": str(marker)}, vary={"seed": [0, 1, 2, 3]},
                            name="fragile", table=tmp_path / "fragile.jsonl")
    s = ed.run_sweep(config, client=client, progress=False)
    assert marker.exists()  # a worker did die
    assert not s.failed and len(s.written) == 4
    rows = read_table(config.table)
    assert sorted(r["seed"] for r in rows) == [0, 1, 2, 3]  # each exactly once, the killed one included
    assert all(r["double"] == 2 * r["seed"] for r in rows)
    assert int(marker.read_text()) != next(r["pid"] for r in rows if r["seed"] == 1)  # re-run elsewhere
    client.wait_for_workers(2, timeout=60)
    assert not ed.run_sweep(config, client=client, progress=False).written


def test_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('recipe = "yinyang"\nseeds = [1]\n')
    with pytest.raises(ValueError, match="unknown keys"):
        ed.load_sweep_config(bad)
    with pytest.raises(ValueError, match="both fixed and varied"):
        ed.SweepConfig(recipe="yinyang", fixed={"seed": 0}, vary={"seed": [1]})
    with pytest.raises(ValueError, match="non-empty list"):
        ed.SweepConfig(recipe="yinyang", vary={"seed": []})
    with pytest.raises(ValueError, match="not registered"):
        ed.SweepConfig(recipe="nosuchrecipe")
    bad.write_text('recipe = "yinyang"\n[vary\n')
    with pytest.raises(ValueError, match="TOML"):
        ed.load_sweep_config(bad)


def test_import_eventsim_leaves_dask_out_and_missing_extra_hint():
    code = ("import sys, eventsim; assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n"
            "sys.modules['distributed'] = None\n"
            "try:\n    import eventsim.distributed\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "eventsim[dask]"' in out.stdout and len(out.stdout.strip().splitlines()) == 1
