"""HDF5 files: networks, connectomes, spike data and simulation results.

Every file carries root attributes ``format`` (``eventsim.network``, ``eventsim.spikes``,
``eventsim.result``, ``eventsim.connectome``, ``eventsim.checkpoint``) and ``version`` (int).
Writes and opening go through ``eventsim.files`` (atomic: a crash never leaves a half-written file
where a good one was).

Network layout (version 1)::

    /                     attrs: readout ('first_spike'|'max'|'integral'; optional, see Network.readout)
    /populations/<name>   attrs: index (order), size, kind ('input'|'lif'),
                                 tau_mem, tau_syn, v_th, v_reset, v_leak, t_ref (lif only)
    /projections/<src->dst>  attrs: src, dst, n_pre, n_post
                             datasets: indptr (int64, n_pre+1), indices (int32), weights (float64),
                                       delays (float64, ms; optional)

Spike layout (SONATA-like, version 1)::

    /spikes/<population>   attrs: n_neurons, n_samples, sorting='by_time'
        timestamps (float64, attrs units='ms'), node_ids (int32), sample_offsets (int64, n_samples+1)
"""
from __future__ import annotations

import contextlib
from typing import Dict, Iterator, List, Mapping, Union

import numpy as np

from .files import FORMAT_VERSION, PathLike, atomic_h5, file_format, open_h5  # noqa: F401 (re-exported)
from .network import Network, Projection
from .params import LIFParams
from .spikes import SpikeBatch


# ------------------------------------------------------------------------------------ networks
def write_network_group(g, net: Network) -> None:
    """Write populations and projections of ``net`` (and its ``readout``, if set) into an open HDF5 group."""
    if net.readout is not None:
        g.attrs["readout"] = net.readout
    pg = g.create_group("populations")
    for i, (name, p) in enumerate(net.populations.items()):
        h = pg.create_group(name)
        h.attrs["index"] = i
        h.attrs["size"] = p.size
        h.attrs["kind"] = "input" if p.is_input else "lif"
        if p.params is not None:
            for k, v in p.params.to_dict().items():
                h.attrs[k] = v
    jg = g.create_group("projections")
    for name, pr in net.projections.items():
        h = jg.create_group(name)
        h.attrs["src"], h.attrs["dst"] = pr.src, pr.dst
        h.attrs["n_pre"], h.attrs["n_post"] = pr.n_pre, pr.n_post
        h.create_dataset("indptr", data=pr.indptr)
        h.create_dataset("indices", data=pr.indices)
        h.create_dataset("weights", data=pr.weights)
        if pr.delays is not None:
            d = h.create_dataset("delays", data=pr.delays)
            d.attrs["units"] = "ms"


def text_attr(h, key: str, what: str) -> str:
    """A string attribute; ValueError naming ``what`` if it is missing or not text."""
    if key not in h.attrs:
        raise ValueError(f"{what}: attribute {key!r} is missing")
    v = h.attrs[key]
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if not isinstance(v, str):
        raise ValueError(f"{what}: attribute {key!r} must be text, got {v!r}")
    return v


def number_attr(h, key: str, what: str) -> float:
    """A numeric attribute (never text: ``'1.0'`` stored as a string is refused)."""
    if key not in h.attrs:
        raise ValueError(f"{what}: attribute {key!r} is missing")
    v = h.attrs[key]
    if isinstance(v, np.ndarray) and v.shape in ((), (1,)):
        v = v.reshape(())[()]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what}: attribute {key!r} must be a number, got {v!r} of type {type(v).__name__}")
    return float(v)


def count_attr(h, key: str, what: str) -> int:
    """A non-negative integer attribute (a size or a count)."""
    v = number_attr(h, key, what)
    if not (np.isfinite(v) and v >= 0 and v == int(v)):
        raise ValueError(f"{what}: attribute {key!r} must be a non-negative integer, got {v!r}")
    return int(v)


def read_dataset(h, key: str, what: str, shape, kind: str = "iuf") -> np.ndarray:
    """Read the dataset ``h[key]`` after checking, from its metadata alone, that it exists, holds
    numbers of a kind in ``kind`` (numpy kind letters) and has exactly ``shape`` (an int for 1-D):
    a file that declares a huge dataset, or one that disagrees with the file's other arrays, is
    refused with a ValueError naming ``what`` before anything is allocated."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
    if key not in h:
        raise ValueError(f"{what}: dataset {key!r} is missing")
    ds = h[key]
    if not hasattr(ds, "shape") or not hasattr(ds, "dtype"):
        raise ValueError(f"{what}: {key!r} is not a dataset")
    if ds.dtype.kind not in kind:
        raise ValueError(f"{what}: dataset {key!r} must hold numbers, got dtype {ds.dtype}")
    if ds.shape != shape:
        raise ValueError(f"{what}: dataset {key!r} must have shape {shape} to match the rest of the file, "
                         f"got {ds.shape}")
    check_backed(ds, f"{what}: dataset {key!r}")
    return ds[()]


#: datasets up to this size (bytes) are read whatever the file holds for them
BACKED_FREE_BYTES = 64 << 20
#: a larger dataset may declare at most this many times the bytes the file stores for it
BACKED_RATIO = 100


def check_backed(ds, what: str) -> None:
    """ValueError unless the file really holds the data ``ds`` declares. HDF5 lets a small file
    declare a dataset of terabytes (chunks that were never written read as zeros), so before a
    dataset above ``BACKED_FREE_BYTES`` is read, the bytes it declares must be at most
    ``BACKED_RATIO`` times the bytes stored for it (compression rarely reaches 10x on weights,
    times and ids)."""
    declared = int(np.prod(ds.shape, dtype=np.float64) * ds.dtype.itemsize) if ds.shape else ds.dtype.itemsize
    if declared <= BACKED_FREE_BYTES:
        return
    stored = int(ds.id.get_storage_size())
    if declared > BACKED_RATIO * stored:
        raise ValueError(f"{what} declares {declared:,} bytes but the file stores {stored:,} bytes for it; "
                         "refusing to read it")


def read_network_group(g) -> Network:
    """Inverse of ``write_network_group``; ValueError on missing or inconsistent content.

    Every size is checked against the file's other arrays before an array is read, so a corrupt
    or hostile file is refused without allocating what it declares."""
    readout = g.attrs.get("readout")
    net = Network(readout=readout.decode() if isinstance(readout, bytes) else readout)
    for part in ("populations", "projections"):
        if part not in g:
            raise ValueError(f"network: group {part!r} is missing")
    pops = []
    for name, h in g["populations"].items():
        pops.append((count_attr(h, "index", f"population {name!r}"), name, h))
    for index, name, h in sorted(pops, key=lambda x: x[0]):
        what = f"population {name!r}"
        kind = text_attr(h, "kind", what)
        size = count_attr(h, "size", what)
        if kind == "input":
            net.add_input(name, size)
        elif kind == "lif":
            values = {k: number_attr(h, k, what) for k in ("tau_mem", "tau_syn", "v_th", "v_reset", "v_leak", "t_ref")}
            try:
                params = LIFParams(**values)
            except ValueError as e:
                raise ValueError(f"{what}: {e}") from None
            net.add_population(name, size, params)
        else:
            raise ValueError(f"{what} has unknown kind {kind!r} (expected 'input' or 'lif')")
    for name, h in g["projections"].items():
        what = f"projection {name!r}"
        src, dst = text_attr(h, "src", what), text_attr(h, "dst", what)
        for role, pop in (("src", src), ("dst", dst)):
            if pop not in net.populations:
                raise ValueError(f"{what}: {role} population {pop!r} is not in the file")
        n_pre, n_post = count_attr(h, "n_pre", what), count_attr(h, "n_post", what)
        if (n_pre, n_post) != (net.populations[src].size, net.populations[dst].size):
            raise ValueError(f"{what}: n_pre, n_post = {n_pre}, {n_post} do not match the sizes of {src!r} and "
                             f"{dst!r} ({net.populations[src].size}, {net.populations[dst].size})")
        indptr = read_dataset(h, "indptr", what, n_pre + 1, "iu")
        nnz = int(indptr[-1])
        if nnz < 0 or nnz > n_pre * n_post or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError(f"{what}: indptr must start at 0, be non-decreasing and end at most at "
                             f"n_pre*n_post={n_pre * n_post}, got first {int(indptr[0])}, last {nnz}")
        indices = read_dataset(h, "indices", what, nnz, "iu")
        weights = read_dataset(h, "weights", what, nnz, "iuf")
        delays = read_dataset(h, "delays", what, nnz, "iuf") if "delays" in h else None
        try:
            pr = Projection(src, dst, n_pre, n_post, indptr, indices, weights, delays)
            net.add_projection(pr)
        except ValueError as e:
            raise ValueError(f"{what}: {e}") from None
    return net


@contextlib.contextmanager
def reading(path: PathLike) -> Iterator[None]:
    """Say which file is wrong: a ValueError raised while reading the content of ``path`` becomes
    ``path: '<path>' is corrupt or incomplete: <what is wrong>``."""
    try:
        yield
    except ValueError as e:
        msg = str(e)
        if msg.startswith("path: "):
            raise
        raise ValueError(f"path: {str(path)!r} is corrupt or incomplete: {msg}") from None


def save_network(net: Network, path: PathLike) -> None:
    """Write ``net`` to ``path`` (format ``eventsim.network``), atomically."""
    with atomic_h5(path, "eventsim.network") as f:
        write_network_group(f, net)


def load_network(path: PathLike) -> Network:
    """Read a network written by ``save_network``."""
    with open_h5(path, "eventsim.network") as f, reading(path):
        return read_network_group(f)


# ------------------------------------------------------------------------------------ spikes
def write_spikes_group(g, spikes: Mapping[str, SpikeBatch]) -> None:
    sg = g.create_group("spikes")
    for name, sb in spikes.items():
        h = sg.create_group(name)
        h.attrs["n_neurons"] = sb.n_neurons
        h.attrs["n_samples"] = sb.n_samples
        h.attrs["sorting"] = "by_time"
        t = h.create_dataset("timestamps", data=sb.times)
        t.attrs["units"] = "ms"
        h.create_dataset("node_ids", data=sb.ids)
        h.create_dataset("sample_offsets", data=sb.offsets)


def read_spikes_group(g) -> Dict[str, SpikeBatch]:
    """Inverse of ``write_spikes_group``: a dict population -> SpikeBatch. Sizes are checked
    against each other before the arrays are read; ValueError on missing or inconsistent content."""
    if "spikes" not in g:
        raise ValueError("spike data: group 'spikes' is missing")
    out = {}
    for name, h in g["spikes"].items():
        what = f"spikes of {name!r}"
        n_neurons = count_attr(h, "n_neurons", what)
        n_samples = count_attr(h, "n_samples", what)
        offsets = read_dataset(h, "sample_offsets", what, n_samples + 1, "iu")
        n_spikes = int(offsets[-1])
        times = read_dataset(h, "timestamps", what, n_spikes, "iuf")
        ids = read_dataset(h, "node_ids", what, n_spikes, "iu")
        try:
            out[name] = SpikeBatch(times, ids, offsets, n_neurons)
        except ValueError as e:
            raise ValueError(f"{what}: {e}") from None
    return out


def save_spikes(spikes: Union[SpikeBatch, Mapping[str, SpikeBatch]], path: PathLike, population: str = "in") -> None:
    """Write spike data (one SpikeBatch, stored under ``population``, or a dict of them), atomically."""
    if isinstance(spikes, SpikeBatch):
        spikes = {population: spikes}
    for k, v in spikes.items():
        if not isinstance(v, SpikeBatch):
            raise ValueError(f"spikes[{k!r}] must be a SpikeBatch, got {type(v).__name__}")
    with atomic_h5(path, "eventsim.spikes") as f:
        write_spikes_group(f, spikes)


def load_spikes(path: PathLike) -> Dict[str, SpikeBatch]:
    """Read spike data: a dict population -> SpikeBatch."""
    with open_h5(path, "eventsim.spikes") as f, reading(path):
        return read_spikes_group(f)


def load(path: PathLike):
    """Load any eventsim file by its ``format`` attribute, through the format registry
    (``eventsim.formats``): a Network, a dict of SpikeBatch, a result dict, a Connectome, a
    checkpoint dict, an EGRU model, and, where those parts are installed, a LoihiNet or an NTT result."""
    from .formats import lookup

    return lookup(file_format(path)).load(path)


# ----------------------------------------------------------------------------------- summaries
def _stats(a: np.ndarray) -> str:
    """``mean ± std [min, max]`` of a float array (``-`` when empty)."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return "-"
    return f"{a.mean():.4g} ± {a.std():.3g} [{a.min():.4g}, {a.max():.4g}]"


def describe_network(net: Network) -> List[str]:
    """Readable lines about ``net``: populations with their parameters, projections with their
    synapse counts, weights and delays (ms), and the prediction rule."""
    n_syn = sum(p.n_synapses for p in net.projections.values())
    lines = [f"{len(net.populations)} populations ({net.n_neurons} neurons), {len(net.projections)} projections "
             f"({n_syn} synapses); readout rule: {net.readout or 'not set'}"]
    for name, p in net.populations.items():
        if p.is_input:
            lines.append(f"  population {name}: {p.size} inputs")
            continue
        q = p.params
        kind = "LIF" if q.spiking else "non-spiking read-out"
        th = f"v_th {q.v_th:g}, v_reset {q.v_reset:g}, " if q.spiking else ""
        lines.append(f"  population {name}: {p.size} {kind}; tau_mem {q.tau_mem:g} ms, tau_syn {q.tau_syn:g} ms, "
                     f"{th}v_leak {q.v_leak:g}, t_ref {q.t_ref:g} ms")
    for name, pr in net.projections.items():
        dens = pr.n_synapses / max(1, pr.n_pre * pr.n_post)
        d = "no delays" if pr.delays is None else f"delays {_stats(pr.delays)} ms"
        lines.append(f"  projection {name}: {pr.n_synapses} synapses ({100 * dens:.3g} % of {pr.n_pre}x{pr.n_post}); "
                     f"weights {_stats(pr.weights)}; {d}")
    return lines


def describe_spikes(spikes: Mapping[str, SpikeBatch]) -> List[str]:
    """Readable lines about spike data: per population the samples, neurons, spike count and time range (ms)."""
    lines = []
    for name, sb in spikes.items():
        span = f"{sb.times.min():.4g}-{sb.times.max():.4g} ms" if sb.n_spikes else "no spikes"
        lines.append(f"  {name}: {sb.n_samples} samples x {sb.n_neurons} neurons, {sb.n_spikes} spikes "
                     f"({sb.n_spikes / max(1, sb.n_samples):.3g} per sample), {span}")
    return lines


def _register() -> None:
    from .formats import FileFormat, register

    register(FileFormat("eventsim.network", "network", load_network, describe_network))
    register(FileFormat("eventsim.spikes", "spike data", load_spikes, describe_spikes))


_register()
