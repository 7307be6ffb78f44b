"""Property-based tests of bad input: every invalid argument or hostile file gives a ValueError
that names what is wrong, never a deep IndexError/TypeError, a hang or a huge allocation.

The strategies draw invalid values for every public parameter (strings, booleans, NaN, inf,
negative, wrong shapes) and mutate valid network, spike, result and connectome files (an attribute
removed, retyped or made huge; a dataset removed, resized, retyped, or declared terabytes large
while storing nothing). A file either loads as a valid object or is refused with
``ValueError('path: ...')``; a command exits with status 0 or 2, never a traceback. Example counts
follow ``tests/fuzzing.py`` (derandomised in ``make test``; ``EVENTSIM_FUZZ=long`` for more).
"""
from __future__ import annotations

import contextlib
import io
import math

import h5py
import numpy as np
import pytest
from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

import eventsim as es
from eventsim.cli import main as cli_main
from eventsim.connectome import Connectome, load_connectome
from eventsim.result import load_result

BAD_NUMBERS = [None, "1.0", b"2", True, [1.0, 2.0], {"a": 1}, object()]
BAD_VALUES = BAD_NUMBERS + [math.nan, math.inf, -math.inf, -1.0, 0.0]


# ------------------------------------------------------------------------------------ parameters
@settings(max_examples=examples(60))
@given(field=st.sampled_from(["tau_mem", "tau_syn", "v_th", "v_reset", "v_leak", "t_ref"]),
       value=st.sampled_from(BAD_VALUES))
def test_lif_params_refuse_bad_values_naming_the_field(field, value):
    ok_for = {  # values that are valid for a field
        "v_th": lambda v: isinstance(v, float) and (v == math.inf or (math.isfinite(v) and v > 0.0)),
        "v_reset": lambda v: isinstance(v, float) and math.isfinite(v) and v < 1.0,
        "v_leak": lambda v: isinstance(v, float) and math.isfinite(v),
        "t_ref": lambda v: isinstance(v, float) and math.isfinite(v) and v >= 0.0,
    }
    if field in ok_for and ok_for[field](value):
        assert getattr(es.LIFParams(**{field: value}), field) == value
        return
    with pytest.raises(ValueError, match=field):
        es.LIFParams(**{field: value})


def test_lif_params_accept_numpy_numbers_and_refuse_text():
    p = es.LIFParams(tau_mem=np.float32(10.0), tau_syn=np.int64(2), t_ref=np.array(0.5))
    assert (p.tau_mem, p.tau_syn, p.t_ref) == (10.0, 2.0, 0.5)
    with pytest.raises(ValueError, match=r"t_ref must be a number \(ms\), got '1'"):
        es.LIFParams(t_ref="1")


# ----------------------------------------------------------------------------------- projections
def _valid_csr(rng, n_pre, n_post, density=0.5):
    M = rng.random((n_post, n_pre)) < density
    return es.Projection.from_dense("a", "b", rng.normal(size=(n_post, n_pre)), mask=M)


@settings(max_examples=examples(200))
@given(seed=st.integers(0, 2**16), part=st.sampled_from(["indptr", "indices", "weights", "delays", "n_pre", "n_post"]),
       how=st.sampled_from(["shorter", "longer", "negative", "huge", "nan", "fraction", "text", "duplicate"]))
def test_inconsistent_csr_arrays_give_value_error(seed, part, how):
    rng = np.random.default_rng(seed)
    p = _valid_csr(rng, 4, 5, 0.6)
    args = {"n_pre": p.n_pre, "n_post": p.n_post, "indptr": p.indptr.copy(), "indices": p.indices.astype(np.int64),
            "weights": p.weights.copy(), "delays": rng.random(p.n_synapses)}
    a = args[part]
    if part in ("n_pre", "n_post"):
        args[part] = {"shorter": a - 1, "longer": a + 1, "negative": -a, "huge": 2**40, "nan": math.nan,
                      "fraction": a + 0.5, "text": str(a), "duplicate": a - 1}[how]
    elif how == "shorter":
        args[part] = a[:-1]
    elif how == "longer":
        args[part] = np.append(a, a[-1:])
    elif how == "negative":
        args[part] = a.copy()
        args[part][-1] = -1
    elif how == "huge":
        args[part] = np.full(a.shape, np.inf)
    elif how == "nan":
        args[part] = a.astype(np.float64)
        args[part][0] = math.nan
    elif how == "fraction":
        args[part] = a.astype(np.float64) + 0.5
    elif how == "text":
        args[part] = a.astype(str)
    elif how == "duplicate":
        if part != "indices":
            args[part] = a[::-1].copy()
        else:  # a presynaptic row that names one target twice
            row = int(np.flatnonzero(np.diff(p.indptr) >= 2)[0])
            args[part] = a.copy()
            args[part][p.indptr[row] + 1] = args[part][p.indptr[row]]
    valid = _csr_is_valid(**args)
    try:
        q = es.Projection("a", "b", args["n_pre"], args["n_post"], args["indptr"], args["indices"],
                          args["weights"], args["delays"])
    except ValueError as e:
        msg = str(e)
        assert "a->b" in msg or part in msg, msg
        assert not valid, (part, how, msg)
        return
    assert valid, (part, how)
    assert q.n_synapses == len(args["weights"])


def _csr_is_valid(n_pre, n_post, indptr, indices, weights, delays) -> bool:
    """The definition of a valid projection, written out element by element in plain Python."""
    def is_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))

    def as_ints(a):
        out = []
        for x in list(a):
            if isinstance(x, (float, np.floating)) and math.isfinite(x) and x == int(x):
                x = int(x)
            if not is_int(x):
                return None
            out.append(int(x))
        return out

    if not (is_int(n_pre) and is_int(n_post) and n_pre >= 0 and n_post >= 0):
        return False
    ptr, idx = as_ints(indptr), as_ints(indices)
    if ptr is None or idx is None or len(ptr) != n_pre + 1 or ptr[0] != 0:
        return False
    if any(b < a for a, b in zip(ptr, ptr[1:])) or len(idx) != ptr[-1]:
        return False
    if len(weights) != ptr[-1] or len(delays) != ptr[-1]:
        return False
    if any(not (0 <= j < n_post) for j in idx):
        return False
    for i in range(n_pre):
        row = idx[ptr[i]:ptr[i + 1]]
        if len(set(row)) != len(row):
            return False
    for x in list(weights) + list(delays):
        if isinstance(x, (str, bytes, np.str_)) or not math.isfinite(float(x)):
            return False
    return all(float(x) >= 0 for x in delays)


def test_duplicate_synapses_are_refused_and_sparse_duplicates_summed():
    with pytest.raises(ValueError, match=r"presynaptic neuron 1 lists target 2 twice"):
        es.Projection("a", "b", 2, 3, [0, 1, 3], [0, 2, 2], [1.0, 2.0, 3.0])
    import scipy.sparse as sp

    A = sp.coo_matrix(([1.0, 2.0, 5.0], ([2, 2, 0], [1, 1, 0])), shape=(3, 2))  # (post 2, pre 1) twice
    p = es.Projection.from_sparse("a", "b", A)
    assert p.n_synapses == 2
    assert p.to_dense()[2, 1] == 3.0 and p.to_dense()[0, 0] == 5.0


# ------------------------------------------------------------------------------------- simulate
def _net():
    net = es.Network()
    net.add_input("in", 3)
    net.add_population("h", 4, es.LIFParams(tau_mem=10.0, tau_syn=5.0))
    net.add_population("out", 2, es.LIFParams.readout(10.0, 5.0))
    rng = np.random.default_rng(0)
    net.connect("in", "h", rng.uniform(0.5, 1.5, (4, 3)), delays=rng.uniform(0, 2, (4, 3)))
    net.connect("h", "h", rng.normal(0, 0.3, (4, 4)) * (1 - np.eye(4)), mask=~np.eye(4, dtype=bool), delays=0.5)
    net.connect("h", "out", rng.normal(0.5, 0.2, (2, 4)))
    net.readout = "max"
    return net


def _batch(n_samples=2, n_neurons=3):
    return es.SpikeBatch.from_lists([[(1.0, 0), (2.0, 1), (2.0, 2)]] * n_samples, n_neurons=n_neurons)


SIMULATE_BAD = {
    "t_max": [0.0, -1.0, math.nan, math.inf, "10", None, True],
    "max_spikes": [0, -5, 1.5, "10", None, True],
    "chunk": [0, -1, 2.5, "4", True],
    "capacity": [0, -3, 1.5, "8"],
    "inputs": [{}, [1, 2], "spikes", 3.0, {"nope": None}, {"in": [1, 2]}, {"h": None}],
    "v_init": [3.0, "x", {"in": 0.0}, {"h": "zero"}, {"h": math.nan}, {"h": np.zeros(7)}, {"h": 5.0}],
    "record": ["all", ["h"], {"in": "all"}, {"h": "some"}, {"h": [9]}, {"h": [[0, 1]]}, {"h": [0.5]}, {"nope": "all"}],
    "record_times": [None, "soon", [2.0, 1.0], [-1.0], [math.nan], [1e9]],
}


@settings(max_examples=examples(60))
@given(data=st.data())
def test_simulate_refuses_bad_arguments_naming_them(data):
    name = data.draw(st.sampled_from(sorted(SIMULATE_BAD)))
    value = data.draw(st.sampled_from(SIMULATE_BAD[name]))
    kw = {"t_max": 10.0, "inputs": _batch()}
    if name == "record_times":
        kw["record"] = {"h": "all"}
    kw[name] = value
    if name == "record" and value is not None:
        kw["record_times"] = np.array([1.0, 2.0])
    net = _net()
    with pytest.raises(ValueError) as info:
        es.simulate(net, kw.pop("inputs"), kw.pop("t_max"), **kw)
    msg = str(info.value)
    assert name in msg or (name == "inputs" and "input" in msg), msg


def test_simulate_refuses_t_max_beyond_the_exact_range():
    net = es.Network()
    net.add_input("in", 1)
    net.add_population("fast", 1, es.LIFParams(tau_mem=1e-3, tau_syn=2e-3))
    es.simulate(net, None, 1e6)  # 1e9 time constants: still exact
    with pytest.raises(ValueError, match=r"t_max = 2000000.0 ms is more than 1e\+09 times the shortest time constant "
                                         r"\(0.001 ms, population 'fast'\)"):
        es.simulate(net, None, 2e6)


def test_simulate_refuses_a_batch_wider_than_its_population():
    with pytest.raises(ValueError, match=r"inputs\['in'\] has n_neurons=5, more than population 'in' has \(3\)"):
        es.simulate(_net(), _batch(n_neurons=5), 10.0)


def test_read_out_statistics_are_nan_outside_non_spiking_populations():
    res = es.simulate(_net(), _batch(3), 20.0)
    lay = res.layout
    o, n = lay.offsets["out"], lay.sizes["out"]
    for arr in (res.vmax, res.tmax, res.vint, res.tape.imax):
        assert np.all(np.isnan(arr[:, :o]))              # inputs and the spiking population: no statistics
        assert np.all(np.isfinite(arr[:, o:o + n]))
    assert np.all(res.max_voltage("out") >= 0.0)


# ------------------------------------------------------------------------------- hostile files
def _mutations():
    value = st.sampled_from(["1.0", b"x", -1, 0, 2**40, math.nan, math.inf, np.array([1, 2]), True, 3.5])
    attr = st.tuples(st.just("attr"), value)
    drop = st.tuples(st.just("drop"), st.none())
    ds = st.tuples(st.just("dataset"), st.sampled_from(["shorter", "longer", "empty", "text", "2d", "fraction",
                                                       "negative", "out_of_range", "nan", "huge_declared"]))
    return st.one_of(attr, drop, ds)


def _nodes(f):
    """Every (group or dataset path, attribute name or None) in an open file, root attributes too."""
    out = [("/", k) for k in f.attrs if k not in ("format", "version")]

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out.append((name, None))
        for k in obj.attrs:
            out.append((name, k))
        if isinstance(obj, h5py.Group):
            out.append((name, "__group__"))
    f.visititems(visit)
    return sorted(out, key=str)


def _replacement(ds, how):
    a = ds[()]
    if how == "shorter":
        return a[:-1] if a.ndim else a
    if how == "longer":
        return np.concatenate([a, a[-1:]]) if a.ndim and a.size else np.zeros(3)
    if how == "empty":
        return np.zeros((0,), a.dtype)
    if how == "text":
        return np.array([b"x"] * max(1, a.size))
    if how == "2d":
        return np.zeros((2, 2), a.dtype)
    if how == "fraction":
        return a.astype(np.float64) + 0.25
    if how == "negative":
        b = a.astype(np.float64) if a.dtype.kind == "f" else a.copy()
        if b.size:
            b.flat[-1] = -7
        return b
    if how == "out_of_range":
        b = a.copy()
        if b.size:
            b.flat[0] = 10**6
        return b
    if how == "nan":
        b = a.astype(np.float64)
        if b.size:
            b.flat[0] = math.nan
        return b
    return None


def _mutate(path, target, mutation):
    kind, arg = mutation
    with h5py.File(path, "r+") as f:
        nodes = _nodes(f)
        node, key = nodes[target % len(nodes)]
        obj = f[node]
        if key == "__group__":
            if kind == "drop":
                del f[node]
            return
        if key is not None:  # an attribute
            if kind == "drop":
                del obj.attrs[key]
            elif kind == "attr":
                obj.attrs[key] = arg
            return
        if kind == "drop":
            del f[node]
        elif kind == "dataset":
            if arg == "huge_declared":  # a terabyte declared, nothing stored
                dtype = obj.dtype
                del f[node]
                f.create_dataset(node, shape=(2**37,), dtype=dtype, chunks=(1024,))
                return
            new = _replacement(obj, arg)
            del f[node]
            f[node] = new


def _write_all_formats(folder):
    net = _net()
    net.save(folder / "net.h5")
    es.save_spikes(_batch(2), folder / "spikes.h5", population="in")
    res = es.simulate(net, _batch(2), 10.0, record={"h": [0, 1]}, record_times=np.array([1.0, 5.0]))
    res.save(folder / "result.h5")
    Connectome.from_dense(np.array([[1.0, 0.0], [0.5, 2.0]]), provenance={"method": "test", "loss": [1.0, 0.5]}) \
        .save(folder / "conn.h5")
    _write_egru(folder / "egru.h5")
    _write_loihi(folder / "loihi.h5")
    _write_checkpoint(folder / "ckpt.h5")


def _write_egru(path):
    from eventsim.egru.model import EGRUClassifier

    EGRUClassifier(3, 4, 2, seed=0).save(path)


def _load_egru(path):
    from eventsim.egru.model import EGRUClassifier

    return EGRUClassifier.load(path)


def _write_loihi(path):
    from eventsim.hardware.loihi.model import save_loihi
    from eventsim.hardware.loihi.quantize import quantize

    net = _net()
    save_loihi(quantize(net, 1.0), path, source=net)


def _load_loihi(path):
    from eventsim.hardware.loihi.model import load_loihi

    return load_loihi(path)


def _write_checkpoint(path):
    net = _net()
    opt = es.optim.Adam(net.parameters(), lr=1e-3)
    es.train.save_checkpoint(path, net, opt, 2, {"loss": [1.0, 0.5], "acc": [0.2, 0.7]}, config={"seed": 5})


LOADERS = {"net.h5": es.load_network, "spikes.h5": es.load_spikes, "result.h5": load_result,
           "conn.h5": load_connectome, "egru.h5": _load_egru, "loihi.h5": _load_loihi,
           "ckpt.h5": es.train.load_checkpoint}


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("originals")
    _write_all_formats(folder)
    return {name: (folder / name).read_bytes() for name in LOADERS}


@settings(max_examples=examples(600))
@given(name=st.sampled_from(sorted(LOADERS)), target=st.integers(0, 10**6), mutation=_mutations())
def test_a_mutated_file_loads_or_gives_value_error(originals, tmp_path_factory, name, target, mutation):
    path = tmp_path_factory.mktemp("m") / name
    path.write_bytes(originals[name])
    _mutate(path, target, mutation)
    try:
        obj = LOADERS[name](path)
    except ValueError as e:
        assert str(e).startswith("path: "), str(e)
        return
    if name == "net.h5":  # a file that loads is a valid network: it simulates (or reports runaway activity)
        try:
            es.simulate(obj, None, 5.0, max_spikes=10_000)
        except ValueError as e:
            assert "exceeded max_spikes" in str(e)


def test_a_declared_terabyte_dataset_is_refused_without_reading(tmp_path):
    _net().save(tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "r+") as f:
        n_pre = int(f["projections/in->h"].attrs["n_pre"])
        for p in ("populations/in", ):
            f[p].attrs["size"] = 2**36
        f["projections/in->h"].attrs["n_pre"] = 2**36
        del f["projections/in->h/indptr"]
        f.create_dataset("projections/in->h/indptr", shape=(2**36 + 1,), dtype=np.int64, chunks=(4096,))
    assert n_pre == 3
    with pytest.raises(ValueError, match="declares 549,755,813,896 bytes but the file stores 0 bytes"):
        es.load_network(tmp_path / "net.h5")


def test_a_parameter_stored_as_text_is_refused(tmp_path):
    _net().save(tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "r+") as f:
        f["populations/h"].attrs["t_ref"] = "1.0"
    with pytest.raises(ValueError, match=r"population 'h': attribute 't_ref' must be a number, got '1.0'"):
        es.load_network(tmp_path / "net.h5")


@pytest.fixture(scope="module")
def ntt_file(tmp_path_factory):
    pytest.importorskip("torch")
    from eventsim.ntt import MLPTwin, prune_baseline

    path = tmp_path_factory.mktemp("ntt") / "ntt.h5"
    prune_baseline("random", MLPTwin([4, 6, 3]), 0.5, seed=0).save(path)
    return path.read_bytes()


@settings(max_examples=examples(150))
@given(target=st.integers(0, 10**6), mutation=_mutations())
def test_a_mutated_ntt_file_loads_or_gives_value_error(ntt_file, tmp_path_factory, target, mutation):
    from eventsim.ntt import load_result as load_ntt

    path = tmp_path_factory.mktemp("n") / "ntt.h5"
    path.write_bytes(ntt_file)
    _mutate(path, target, mutation)
    try:
        load_ntt(path)
    except ValueError as e:
        assert str(e).startswith("path: "), str(e)


# ------------------------------------------------------------------------------------ commands
def _commands(folder):
    net, spikes, out = str(folder / "net.h5"), str(folder / "spikes.h5"), str(folder / "out.h5")
    cmds = [["simulate", net, spikes, "--t-max", "5", "--out", out, "--no-progress"],
            ["info", net], ["info", spikes],
            ["emulate", net, "--dt", "1", "--spikes", spikes, "--t-max", "5"]]
    try:
        import nir  # noqa: F401
        cmds.append(["export", net, "--to", "nir", "--dt", "1", "--out", str(folder / "out.nir")])
    except ImportError:
        pass
    return cmds


@settings(max_examples=examples(150))
@given(which=st.sampled_from(["net.h5", "spikes.h5"]), target=st.integers(0, 10**6), mutation=_mutations(),
       command=st.integers(0, 4))
def test_commands_on_mutated_files_exit_cleanly(originals, tmp_path_factory, which, target, mutation, command):
    folder = tmp_path_factory.mktemp("c")
    for name in ("net.h5", "spikes.h5"):
        (folder / name).write_bytes(originals[name])
    _mutate(folder / which, target, mutation)
    cmds = _commands(folder)
    err_stream, out_stream = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err_stream), contextlib.redirect_stdout(out_stream):
        rc = cli_main(cmds[command % len(cmds)])
    err = err_stream.getvalue()
    assert rc in (0, 2)
    assert "Traceback" not in err
    if rc == 2:
        assert "error:" in err


def test_spikes_of_a_population_the_network_does_not_have_are_refused(tmp_path, capsys):
    _net().save(tmp_path / "net.h5")
    es.save_spikes({"in": _batch(1), "other": _batch(1)}, tmp_path / "spikes.h5")
    for cmd in (["simulate", str(tmp_path / "net.h5"), str(tmp_path / "spikes.h5"), "--t-max", "5",
                 "--out", str(tmp_path / "o.h5")],
                ["emulate", str(tmp_path / "net.h5"), "--dt", "1", "--spikes", str(tmp_path / "spikes.h5"),
                 "--t-max", "5"]):
        assert cli_main(cmd) == 2
        assert "populations ['other'] are not inputs of the network" in capsys.readouterr().err
    assert not (tmp_path / "o.h5").exists()
