"""The product surface: the ``eventsim`` command (version, help with defaults, ``info`` on every
format eventsim writes, one-line hints for missing extras) and the core working without any extra."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import eventsim as es
from eventsim.cli import main
from eventsim.formats import known_formats

# Modules of the extras: the core must work with every one of them unimportable.
EXTRA_MODULES = ("torch", "norse", "lava", "nir", "dask", "distributed", "sklearn")


def _run_blocked(code: str, blocked=EXTRA_MODULES, cwd=None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which importing any of ``blocked`` fails."""
    prelude = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in blocked)
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)


def _small_net():
    net = es.Network.feedforward([4, 12, 3], seed=1)
    net.readout = "first_spike"
    return net


def test_version_and_help_show_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"eventsim {es.__version__}"
    with pytest.raises(SystemExit):
        main(["train", "yinyang", "--help"])
    out = capsys.readouterr().out
    assert "samples per mini-batch (default: 32)" in out
    assert "(default: None)" not in out


def test_readout_rule_is_saved_with_the_network(tmp_path):
    net = _small_net()
    net.save(tmp_path / "n.h5")
    assert es.load(tmp_path / "n.h5").readout == "first_spike"
    assert net.copy().readout == "first_spike"
    assert es.Network.feedforward([2, 2], seed=0).readout is None
    with pytest.raises(ValueError, match="readout"):
        net.readout = "mean"


def test_info_describes_every_core_format(tmp_path, capsys):
    net = _small_net()
    net.save(tmp_path / "net.h5")
    batch = es.SpikeBatch.from_lists([[(0.0, 0), (2.0, 3)], [(1.0, 1)]], n_neurons=4)
    es.save_spikes(batch, tmp_path / "in.h5")
    res = es.simulate(net, batch, 40.0)
    res.save(tmp_path / "res.h5")
    proj = net.projections["in->hidden"]
    es.Connectome(proj.n_pre, proj.n_post, proj.indptr, proj.indices, proj.weights, {"method": "test"}).save(
        tmp_path / "c.h5")
    opt = es.optim.Adam(net.parameters(), lr=1e-3)
    es.train.save_checkpoint(tmp_path / "ck.h5", net, opt, 3, {"loss": [1.0, 0.5], "acc": [0.2, 0.7]},
                             config={"seed": 5})
    from eventsim.egru import EGRUClassifier

    EGRUClassifier(3, 5, 2, seed=0).save(tmp_path / "egru.h5")
    (tmp_path / "table.jsonl").write_text(json.dumps({"study": "s", "seed": 0, "acc": 0.5}) + "\n"
                                          + json.dumps({"study": "s", "seed": 1, "acc": 0.75, "extra": 1}) + "\n")
    (tmp_path / "m.json").write_text(json.dumps({"recipe": "yinyang", "test_acc": 0.97, "history": {"a": [1]}}))

    expect = {
        "net.h5": ["network (eventsim.network)", f"({net.projections['in->hidden'].n_synapses + 36} synapses)",
                   "readout rule: first_spike", "population hidden: 12 LIF; tau_mem 20 ms"],
        "in.h5": ["spike data", "in: 2 samples x 4 neurons, 3 spikes"],
        "res.h5": ["simulation result", "simulated 40 ms", f"hidden: 2 samples x 12 neurons, {res.spikes('hidden').n_spikes} spikes"],
        "c.h5": ["connectome", f"4 -> 12: {proj.n_synapses} synapses", "method: test"],
        "ck.h5": ["training checkpoint", "epoch 3, optimiser Adam", "last epoch: acc 0.7, loss 0.5", "seed 5"],
        "egru.h5": ["EGRU model", "EGRU classifier 3 -> [5] -> 2"],
        "table.jsonl": ["results table, 2 rows; study s", "columns: study, seed, acc, extra"],
        "m.json": ["metrics of recipe yinyang", "test_acc: 0.97", "history: 1 entries"],
    }
    for name, parts in expect.items():
        assert main(["info", str(tmp_path / name)]) == 0
        out = capsys.readouterr().out
        for part in parts:
            assert part in out, (name, part, out)


def test_info_reads_the_formats_of_the_optional_parts(tmp_path, capsys):
    """Loihi networks (eventsim.hardware) and NTT results register through entry points."""
    from eventsim.hardware.loihi import quantize, save_loihi

    net = _small_net()
    save_loihi(quantize(net, 0.5), tmp_path / "l.h5", source=net)
    assert "eventsim.loihi" in known_formats() and "eventsim.ntt" in known_formats()
    assert type(es.load(tmp_path / "l.h5")).__name__ == "LoihiNet"
    assert main(["info", str(tmp_path / "l.h5")]) == 0
    out = capsys.readouterr().out
    assert "Loihi network (eventsim.loihi)" in out and "dt 0.5 ms" in out and "population hidden: 12 spiking" in out


def test_info_refuses_what_is_not_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    assert main(["info", str(fifo)]) == 2      # returns at once instead of blocking on the pipe
    assert "not a regular file" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "missing.h5")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\nnot json\n')
    assert main(["info", str(tmp_path / "bad.jsonl")]) == 2
    assert "line 2 is not JSON" in capsys.readouterr().err


def test_core_works_without_any_extra(tmp_path):
    """With torch, lava, nir, dask and scikit-learn unimportable: import, simulate, a gradient step,
    the digits data, save and info all work, and none of those modules is loaded."""
    code = """
import numpy as np, eventsim as es
from eventsim.cli import main
net = es.Network.feedforward([4, 10, 2], seed=0)
b = es.SpikeBatch.from_lists([[(0.0, 0), (1.0, 2)], [(0.5, 1)]], n_neurons=4)
res = es.simulate(net, b, 30.0)
loss, grads = es.eventprop.value_and_grad(net, b, np.array([0, 1]), es.losses.FirstSpikeCE(), t_max=30.0)
assert np.isfinite(loss) and set(grads) == set(net.parameters())
X, y = es.data.digits_arrays("test")
assert X.shape == (359, 64)
net.save("n.h5")
assert main(["info", "n.h5"]) == 0
loaded = [m for m in sys.modules if m.split(".")[0] in %r and sys.modules[m] is not None]
assert not loaded, loaded
print("ok", res.n_spikes)
""" % (EXTRA_MODULES,)
    r = _run_blocked(code, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].startswith("ok ")


def test_missing_extra_gives_a_one_line_hint(tmp_path):
    """Sub-commands of the optional parts stay listed and say which extra to install."""
    net = _small_net()
    net.save(tmp_path / "n.h5")
    code = """
from eventsim.cli import build_parser, main
assert "ntt" in build_parser().format_help() and "export" in build_parser().format_help()
rc1 = main(["ntt", "--layers", "64,32,10", "--density", "0.1", "--out", "x.h5"])
rc2 = main(["export", "--to", "nir", "--dt", "0.5", "n.h5", "--out", "n.nir"])
print(rc1, rc2)
"""
    r = _run_blocked(code, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2", "2"]
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines == ['eventsim ntt: this needs the \'torch\' extra: pip install "eventsim[torch]"',
                     'eventsim export: this needs the \'nir\' extra: pip install "eventsim[nir]"'], r.stderr
    assert "Traceback" not in r.stderr
    r = _run_blocked("from eventsim.extras import require\ntry:\n    require('lava', 'Lava runs')\n"
                     "except ImportError as e:\n    print(e)")
    assert r.stdout.strip() == 'Lava runs: this needs the \'lava\' extra (Python 3.10 only): pip install "eventsim[lava]"'
