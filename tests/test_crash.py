"""Crash safety of every writer, stale-temporary cleanup, and refusal of non-regular files.

Each writer runs in a child process that is killed inside its write: a function the writer calls
is replaced in the child by one that SIGKILLs the process, at these points

- ``start``: right after the temporary file is created, before any content;
- ``mid``: half-way through the content (HDF5: after half the datasets, flushed to disk; text and
  figures: half the bytes written);
- ``rename``: the temporary is complete and flushed, just before ``os.replace``;
- ``renamed``: just after ``os.replace``;
- ``fsize``: a file-size limit (``RLIMIT_FSIZE``) smaller than the new content, as on a full disk:
  the write fails with an OSError;
- ``fsize_signal``: the same limit with SIGXFSZ at its default action, which kills the process.

The destination must then load and equal the old content (or the new one after ``renamed``),
and the next successful write must leave no temporary of ours in the folder. Children are forked
from a forkserver that has the writers' modules imported, so a case costs a fork, not an import;
nothing in a child compiles Numba code (networks, results and Loihi networks are built by hand).
"""
from __future__ import annotations

import importlib.util
import io
import json
import multiprocessing
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import eventsim as es
import eventsim.files as files

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
_spec = importlib.util.spec_from_file_location("_crash_results_table", BENCH / "results_table.py")
results_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results_table)

FSIZE_LIMIT = 256          # bytes: smaller than every writer's new content
POINTS = ["start", "mid", "rename", "renamed", "fsize", "fsize_signal"]


# --------------------------------------------------------------------------------- contents
def make_net(v: int, delays: bool = True, t_ref: float = 0.0) -> es.Network:
    """A small network; version ``v`` = 1 is larger than version 0 and has other weights."""
    rng = np.random.default_rng(v)
    n_in, n_hid = 3 + 5 * v, 4 + 30 * v
    net = es.Network(readout="max")
    net.add_input("in", n_in)
    net.add_population("hid", n_hid, es.LIFParams(tau_mem=10.0 + v, tau_syn=5.0, t_ref=t_ref))
    net.add_population("out", 2, es.LIFParams.readout(tau_mem=10.0, tau_syn=5.0))
    net.connect("in", "hid", rng.normal(1.0, 0.3, (n_hid, n_in)),
                delays=rng.uniform(0, 2, (n_hid, n_in)) if delays else None)
    net.connect("hid", "out", rng.normal(0.5, 0.2, (2, n_hid)))
    return net


def make_spikes(v: int):
    rng = np.random.default_rng(10 + v)
    out = {}
    for name, n in (("in", 5 + v), ("aux", 3)):
        samples = [sorted((float(t), int(i)) for t, i in zip(rng.uniform(0, 20, 6 + 40 * v), rng.integers(0, n, 6 + 40 * v)))
                   for _ in range(3 + v)]
        out[name] = es.SpikeBatch.from_lists(samples, n)
    return out


def make_result(v: int):
    from eventsim.result import Result

    net = make_net(v, delays=False)
    lay = net.layout()
    rng = np.random.default_rng(20 + v)
    B, o, n = 2 + v, lay.offsets["hid"], lay.sizes["hid"]
    per = [np.sort(rng.uniform(0, 30, 5 + 20 * v)) for _ in range(B)]
    times = np.concatenate(per)
    ids = rng.integers(o, o + n, times.size).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([p.size for p in per])]).astype(np.int64)
    N = lay.n_neurons
    return Result(lay, 30.0, times, ids, rng.normal(size=times.size), offsets,
                  rng.normal(size=(B, N)), rng.uniform(0, 30, (B, N)), rng.normal(size=(B, N)))


def make_lnet(v: int):
    from eventsim.hardware.loihi.model import LoihiNet

    rng = np.random.default_rng(30 + v)
    n_in, n_hid = 3 + 4 * v, 4 + 20 * v
    ln = LoihiNet("fixed", 1.0)
    ln.add_input("in", n_in)
    ln.add_lif("hid", n_hid, du=100 + v, dv=200, vth=1000)
    ln.add_lif("out", 2, du=300, dv=150, vth=900 + v)
    ln.connect("in", "hid", rng.integers(-100, 100, (n_hid, n_in)))
    ln.connect("hid", "out", rng.integers(-100, 100, (2, n_hid)))
    return ln


def make_fig(v: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2 + v, 2), dpi=40)
    ax = fig.add_subplot()
    ax.plot(np.arange(10), np.arange(10) ** (1 + v))
    ax.set_title(f"version {v}")
    return fig


def write_checkpoint(v: int, path) -> None:
    from eventsim.optim import Adam
    from eventsim.train import save_checkpoint

    net = make_net(v)
    opt = Adam(net.parameters(), lr=1e-3)
    opt.step_count = 3 + v
    hist = {"loss": [1.0, 0.5, 0.25][: 2 + v], "acc": [0.1, 0.2, 0.3][: 2 + v]}
    best = (0.5 + v / 10, 1 + v, {k: w.copy() for k, w in net.parameters().items()})
    save_checkpoint(path, net, opt, 2 + v, hist, rng=np.random.default_rng(v), config={"v": v}, best=best)


def write_table(v: int, path) -> None:
    rows = [{"run": i, "acc": 0.5 + v / 10 + i / 100} for i in range(3)]
    if v:
        rows += [{"run": i, "acc": i / 40, "note": "x" * 40} for i in range(3, 20)]
    results_table.append_rows(Path(path).stem, rows, key=("run",), folder=Path(path).parent)


def _connectome(v: int):
    rng = np.random.default_rng(40 + v)
    W = rng.normal(size=(4 + 20 * v, 5 + 10 * v))
    return es.Connectome.from_dense(W, np.abs(W) > 0.5, provenance={"method": "crash", "v": v, "loss": [1.0, 0.5 * v]})


def _metrics(v: int) -> str:
    return json.dumps({"recipe": "crash", "v": v, "accuracy": 0.9 + v / 100, "history": list(range(5 + 300 * v))})


def _nir(v, path):
    from eventsim.hardware.nir import write_nir

    write_nir(make_net(v, delays=False), path, dt=0.5)


def _netx(v, path):
    from eventsim.hardware.netx import write_netx

    write_netx(make_lnet(v), path)


def _loihi(v, path):
    from eventsim.hardware.loihi.model import save_loihi

    save_loihi(make_lnet(v), path)


def _read_nir(path):
    from eventsim.hardware.nir import read_nir

    return read_nir(path)


def _read_netx(path):
    from eventsim.hardware.netx import read_netx

    return read_netx(path)


def _read_loihi(path):
    from eventsim.hardware.loihi.model import load_loihi

    return load_loihi(path)


def _read_png(path):
    import matplotlib.image

    return matplotlib.image.imread(str(path), format="png")


def _read_table(path):
    return results_table.read_rows(Path(path).stem, Path(path).parent)


# name: (medium, file name, write(version, path), read(path))
WRITERS = {
    "network": ("h5", "net.h5", lambda v, p: make_net(v).save(p), es.load_network),
    "spikes": ("h5", "spikes.h5", lambda v, p: es.save_spikes(make_spikes(v), p), es.load_spikes),
    "result": ("h5", "result.h5", lambda v, p: make_result(v).save(p), lambda p: es.load(p)),
    "connectome": ("h5", "conn.h5", lambda v, p: _connectome(v).save(p), lambda p: es.load(p)),
    "checkpoint": ("h5", "ckpt.h5", write_checkpoint, lambda p: es.load(p)),
    "metrics_json": ("text", "m_metrics.json", lambda v, p: files.atomic_write_text(p, _metrics(v)),
                     lambda p: json.loads(Path(p).read_text(encoding="utf-8"))),
    "results_table": ("text", "crash.jsonl", write_table, _read_table),
    "figure": ("fig", "plot.png", lambda v, p: files.atomic_savefig(make_fig(v), p), _read_png),
    "nir": ("h5", "net.nir", _nir, _read_nir),
    "netx": ("h5", "net.netx.h5", _netx, _read_netx),
    "loihi": ("h5", "loihi.h5", _loihi, _read_loihi),
}


#: writers and loaders that need an extra
EXTRAS = {"nir": "nir", "read_nir": "nir", "from_nir": "nir"}


def needs_extra(name: str) -> None:
    """Import the extra ``name`` needs (the test is skipped on a core-only install without it)."""
    if name in EXTRAS:
        pytest.importorskip(EXTRAS[name])


def canon(x):
    """A comparable form of what a reader returns (arrays by dtype, shape and bytes, so NaN == NaN)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "O":
            return ("object-array", x.shape, canon(x.tolist()))
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, np.generic):
        return canon(x.item())
    if isinstance(x, float):
        return ("float", repr(x))
    if isinstance(x, (str, bytes, int, bool, type(None))):
        return x
    if isinstance(x, dict):
        return ("dict", tuple((str(k), canon(v)) for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))))
    if isinstance(x, (list, tuple)):
        return ("seq", tuple(canon(v) for v in x))
    if hasattr(x, "__dict__"):
        return (type(x).__name__, canon({k: v for k, v in vars(x).items() if not k.startswith("_")}))
    return repr(x)


def fingerprint(writer: str, path) -> object:
    return canon(WRITERS[writer][3](path))


def ours(folder: Path, name: str):
    """Our temporaries of destination ``name`` in ``folder``."""
    pat = files._tmp_pattern(name)
    return sorted(p.name for p in folder.iterdir() if pat.fullmatch(p.name))


# ------------------------------------------------------------------------------ the children
def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(point: str, medium: str, n_datasets: int) -> None:
    """Make this (child) process die at ``point`` of the coming write."""
    if point == "start":
        real_create = files._create_tmp

        def create(folder, name):
            real_create(folder, name)
            _die()

        files._create_tmp = create
    elif point == "mid" and medium == "h5":
        import h5py

        real_cd = h5py.Group.create_dataset
        calls = [0]

        def create_dataset(self, *a, **k):
            calls[0] += 1
            if calls[0] > max(1, n_datasets // 2):
                self.file.flush()
                _die()
            return real_cd(self, *a, **k)

        h5py.Group.create_dataset = create_dataset
    elif point == "mid" and medium == "text":
        def write_text(self, data, encoding=None, errors=None, newline=None):
            with open(self, "w", encoding=encoding) as f:
                f.write(data[: len(data) // 2])
                f.flush()
            _die()

        Path.write_text = write_text
    elif point == "mid" and medium == "fig":
        from matplotlib.figure import Figure

        real_sf = Figure.savefig

        def savefig(self, fname, **kw):
            buf = io.BytesIO()
            real_sf(self, buf, **kw)
            data = buf.getvalue()
            with open(fname, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
            _die()

        Figure.savefig = savefig
    elif point == "rename":
        os.replace = lambda *a, **k: _die()
    elif point == "renamed":
        real_replace = os.replace

        def replace(*a, **k):
            real_replace(*a, **k)
            _die()

        os.replace = replace
    elif point in ("fsize", "fsize_signal"):
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))  # no core file
        resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL if point == "fsize_signal" else signal.SIG_IGN)
    else:
        raise ValueError(f"point: unknown kill point {point!r}")


def _child(writer: str, point: str, path: str, n_datasets: int) -> None:
    medium, _, write, _ = WRITERS[writer]
    try:
        _arm(point, medium, n_datasets)
        write(1, path)
    except OSError:
        os._exit(3)
    except BaseException:
        os._exit(4)
    os._exit(0)


def _concurrent_writer(path: str, text: str, n: int) -> None:
    try:
        for _ in range(n):
            files.atomic_write_text(path, text)
    except BaseException:
        os._exit(5)
    os._exit(0)


_CTX = None


def context():
    """The forkserver context, its server preloaded with the writers' modules."""
    global _CTX
    if _CTX is None:
        _CTX = multiprocessing.get_context("forkserver")
        _CTX.set_forkserver_preload(["h5py", "numpy", "eventsim", "eventsim.train", "eventsim.hardware.nir",
                                     "eventsim.hardware.netx", "nir", "matplotlib.figure",
                                     "matplotlib.backends.backend_agg", Path(__file__).stem])
    return _CTX


def run_child(target, *args, timeout: float = 60.0) -> int:
    p = context().Process(target=target, args=args)
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        pytest.fail(f"child {target.__name__}{args} did not finish in {timeout} s")
    return p.exitcode


# ---------------------------------------------------------------------------------- crash
_REF = {}


def reference(writer: str, tmp_path_factory):
    """(fingerprint of version 0, fingerprint of version 1, datasets written for version 1),
    from an uninterrupted write of each version in turn to the same path."""
    if writer not in _REF:
        import h5py

        folder = tmp_path_factory.mktemp(f"ref_{writer}")
        path = folder / WRITERS[writer][1]
        write = WRITERS[writer][2]
        write(0, path)
        fp0 = fingerprint(writer, path)
        real_cd, calls = h5py.Group.create_dataset, [0]

        def counting(self, *a, **k):
            calls[0] += 1
            return real_cd(self, *a, **k)

        h5py.Group.create_dataset = counting
        try:
            write(1, path)
        finally:
            h5py.Group.create_dataset = real_cd
        fp1 = fingerprint(writer, path)
        assert fp0 != fp1
        assert sorted(p.name for p in folder.iterdir()) == [path.name]
        _REF[writer] = (fp0, fp1, calls[0])
    return _REF[writer]


EXPECTED_EXIT = {"start": -signal.SIGKILL, "mid": -signal.SIGKILL, "rename": -signal.SIGKILL,
                 "renamed": -signal.SIGKILL, "fsize": 3, "fsize_signal": -signal.SIGXFSZ}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("writer", list(WRITERS))
def test_killed_writer_leaves_old_or_new_content(writer, point, tmp_path, tmp_path_factory):
    """Killed inside its write, a writer leaves the complete old file (or the new one once the
    rename is done); the next write removes the temporary the killed one left."""
    needs_extra(writer)
    fp0, fp1, n_datasets = reference(writer, tmp_path_factory)
    medium, name, write, _ = WRITERS[writer]
    if medium == "h5" and point == "mid":
        assert n_datasets >= 2
    path = tmp_path / name
    write(0, path)
    code = run_child(_child, writer, point, str(path), n_datasets)
    assert code == EXPECTED_EXIT[point], \
        f"the child did not die at {point!r} (exit code {code})"
    got = fingerprint(writer, path)                     # loads: never corrupt
    assert got == (fp1 if point == "renamed" else fp0)
    left = ours(tmp_path, name)
    assert len(left) == (1 if code < 0 and point != "renamed" else 0), left   # an exception removes its temporary
    write(1, path)                                      # the next write cleans up
    assert fingerprint(writer, path) == fp1
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", ["mid", "renamed"])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_killed_first_write_leaves_nothing_or_the_new_file(writer, point, tmp_path, tmp_path_factory):
    """With no previous file, a killed write leaves no destination (or the complete new one)."""
    needs_extra(writer)
    _, fp1, n_datasets = reference(writer, tmp_path_factory)
    medium, name, write, _ = WRITERS[writer]
    path = tmp_path / name
    assert run_child(_child, writer, point, str(path), n_datasets) == -signal.SIGKILL
    if point == "renamed":
        assert fingerprint(writer, path) == fp1
    else:
        assert not path.exists()
        assert len(ours(tmp_path, name)) == 1
    write(1, path)
    assert fingerprint(writer, path) == fp1
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


# ------------------------------------------------------------------------- stale temporaries
def _tmp_name(name: str, pid: int, host: str = None) -> str:
    return f".{name}.{pid}-{host or files._host_tag()}.0123abcd.tmp"


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.mark.timeout(30)
def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    """The next write to a destination removes our temporaries whose writer is gone, keeps a live
    writer's and leaves every other file alone."""
    dest = tmp_path / "m.json"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.1)
        names = {
            "dead": _tmp_name("m.json", _dead_pid()),
            "live": _tmp_name("m.json", live.pid),
            "self": _tmp_name("m.json", os.getpid()),
            "other_host_new": _tmp_name("m.json", 12345, "deadbeef"),
            "other_host_old": _tmp_name("m.json", 12346, "deadbeef"),
            "legacy_new": ".m.json.abc_12xy.tmp",
            "legacy_old": ".m.json.zzzz9999.tmp",
            "other_dest": _tmp_name("m.json5", _dead_pid()),
            "prefix_dest": _tmp_name("m", _dead_pid()),
            "not_pattern": ".m.json.12-0123.tmp",
            "plain": "m.json.tmp",
        }
        names["legacy_old_readable"] = ".m.json.abcd1234.tmp"        # mode 0644: a user's file, not ours
        for n in names.values():
            (tmp_path / n).write_text("partial")
            os.chmod(tmp_path / n, 0o600)
        os.chmod(tmp_path / names["legacy_old_readable"], 0o644)
        for k in ("other_host_old", "legacy_old", "legacy_old_readable"):
            _age(tmp_path / names[k], files.STALE_AGE + 60)
        folder_like = tmp_path / _tmp_name("m.json", _dead_pid())   # a folder with our name: not ours to remove
        folder_like.mkdir()
        files.atomic_write_text(dest, "{}")
        left = {p.name for p in tmp_path.iterdir()}
        for k in ("dead", "other_host_old", "legacy_old"):
            assert names[k] not in left, k
        for k in ("live", "self", "other_host_new", "legacy_new", "other_dest", "prefix_dest", "not_pattern", "plain",
                  "legacy_old_readable"):
            assert names[k] in left, k
        assert folder_like.name in left and dest.read_text() == "{}"
        live.kill()
        live.wait()
        files.atomic_write_text(dest, "{}")             # its writer is gone now
        assert names["live"] not in {p.name for p in tmp_path.iterdir()}
    finally:
        live.kill()
        live.wait()


@pytest.mark.timeout(30)
def test_temporary_of_a_reused_pid_is_removed(tmp_path):
    """A process that started after the temporary was last written cannot be its writer."""
    dest = tmp_path / "n.h5"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tmp = tmp_path / _tmp_name("n.h5", live.pid)
        tmp.write_text("partial")
        os.chmod(tmp, 0o600)
        _age(tmp, 3600)
        assert files.remove_stale_temporaries(dest) == [tmp]
    finally:
        live.kill()
        live.wait()


@pytest.mark.timeout(60)
def test_concurrent_writers_never_remove_each_others_temporary(tmp_path):
    """Two processes writing the same file at once: every write succeeds (a removed temporary
    would make its rename fail), the file is one complete version, and nothing is left over."""
    dest = tmp_path / "shared.json"
    texts = [json.dumps({"writer": i, "pad": str(i) * 20000}) for i in range(2)]
    ctx = context()
    procs = [ctx.Process(target=_concurrent_writer, args=(str(dest), t, 150)) for t in texts]
    for p in procs:
        p.start()
    for p in procs:
        p.join(50)
    assert [p.exitcode for p in procs] == [0, 0]
    assert dest.read_text() in texts
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]


# ---------------------------------------------------------------------- non-regular files
def _special(kind: str, tmp_path: Path, name: str) -> Path:
    """A path of ``name`` in ``tmp_path`` that is a FIFO, a directory or (a link to) /dev/null."""
    p = tmp_path / name
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "directory":
        p.mkdir()
    else:
        p.symlink_to("/dev/null")
    return p


KIND_WORDS = {"fifo": "FIFO", "directory": "directory", "device": "character device"}


def _loaders():
    from eventsim.connectome import load_connectome
    from eventsim.describe import describe_file, describe_json, describe_table
    from eventsim.egru import EGRUClassifier
    from eventsim.hardware.loihi.model import load_loihi
    from eventsim.hardware.netx import read_netx
    from eventsim.hardware.nir import from_nir, read_nir
    from eventsim.ntt.io import load_result as load_ntt
    from eventsim.result import load_result
    from eventsim.train import load_checkpoint

    def open_h5(p):
        with files.open_h5(p, "eventsim.network"):
            pass

    return {
        "load": es.load, "load_network": es.load_network, "load_spikes": es.load_spikes,
        "load_result": load_result, "load_connectome": load_connectome, "load_checkpoint": load_checkpoint,
        "egru_load": EGRUClassifier.load, "ntt_load_result": load_ntt, "load_loihi": load_loihi,
        "open_h5": open_h5, "file_format": files.file_format, "require_regular_file": files.require_regular_file,
        "describe_file": describe_file, "describe_table": describe_table, "describe_json": describe_json,
        "read_netx": read_netx, "read_nir": read_nir, "from_nir": from_nir,
        "read_rows": lambda p: results_table.read_rows(p.stem, p.parent),
    }


LOADERS = ["load", "load_network", "load_spikes", "load_result", "load_connectome", "load_checkpoint", "egru_load",
           "ntt_load_result", "load_loihi", "open_h5", "file_format", "require_regular_file", "describe_file",
           "describe_table", "describe_json", "read_netx", "read_nir", "from_nir", "read_rows"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize("loader", LOADERS)
def test_loaders_refuse_non_regular_files_without_blocking(loader, kind, tmp_path):
    """A FIFO, a folder or a device given as a file is refused with a ValueError naming the path and
    what it is, before it is opened (opening a FIFO for reading would block)."""
    needs_extra(loader)
    fn = _loaders()[loader]
    p = _special(kind, tmp_path, "table.jsonl" if loader == "read_rows" else "x.h5")
    with pytest.raises(ValueError, match=re.escape(str(p)) + ".*" + KIND_WORDS[kind]):
        fn(p)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_writers_refuse_to_replace_non_regular_files(kind, tmp_path):
    """An atomic write never replaces a FIFO, a folder or a device (nor a link to one)."""
    p = _special(kind, tmp_path, "x.json")
    before = os.stat(p).st_mode
    with pytest.raises(ValueError, match=re.escape(str(p)) + ".*" + KIND_WORDS[kind]):
        files.atomic_write_text(p, "{}")
    with pytest.raises(ValueError, match=KIND_WORDS[kind]):
        make_net(0).save(p)
    assert os.stat(p).st_mode == before and stat.S_ISREG(before) is False
    assert sorted(q.name for q in tmp_path.iterdir()) == ["x.json"]


def test_missing_file_is_named():
    with pytest.raises(ValueError, match="graph: file '/nonexistent/x.nir' does not exist"):
        files.require_regular_file("/nonexistent/x.nir", "graph")
    with pytest.raises(ValueError, match="path must be a file path"):
        files.require_regular_file(12, "path")
