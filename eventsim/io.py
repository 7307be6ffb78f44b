"""HDF5 files: networks, connectomes, spike data and simulation results.

Every file carries root attributes ``format`` (``eventsim.network``, ``eventsim.spikes``,
``eventsim.result``, ``eventsim.connectome``, ``eventsim.checkpoint``) and ``version`` (int).
Writes and opening go through ``eventsim.files`` (atomic: a crash never leaves a half-written file
where a good one was; sizes checked before reading). Each type reads and writes its own group
(``eventsim.network``: ``write_network_group``/``read_network_group``; ``eventsim.spikes``: the
spike groups); this module holds the file-level functions and the summaries.

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

from typing import Dict, List, Mapping, Union

import numpy as np

from .files import FORMAT_VERSION, PathLike, atomic_h5, file_format, open_h5, reading  # noqa: F401 (re-exported)
from .network import Network, read_network_group, write_network_group  # noqa: F401 (re-exported)
from .spikes import SpikeBatch, read_spikes_group, write_spikes_group  # noqa: F401 (re-exported)


# ------------------------------------------------------------------------------------ networks
def save_network(net: Network, path: PathLike) -> None:
    """Write ``net`` to ``path`` (format ``eventsim.network``), atomically."""
    with atomic_h5(path, "eventsim.network") as f:
        write_network_group(f, net)


def load_network(path: PathLike) -> Network:
    """Read a network written by ``save_network``."""
    with open_h5(path, "eventsim.network") as f, reading(path):
        return read_network_group(f)


# ------------------------------------------------------------------------------------ spikes
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
