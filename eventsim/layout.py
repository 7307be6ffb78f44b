"""``KernelLayout``: a Network flattened into the kernels' named tuples (``eventsim.kernels.tables``).

Global neuron ids run over the populations in insertion order (``offsets``). Synapses are put in
fan-out order: one CSR over global source ids with every row sorted by (delay, target), so that
one delivery covers the synapses of a source that share a delay. ``perm`` maps that order to the
concatenation of the projections' weight arrays (in ``net.projections`` order), so
``w = concat(weights)[perm]`` and gradients scatter back by ``g_concat[perm] = g``.

The layout reads a Network's attributes but does not import ``eventsim.network``: the network
builds (and caches) its layout, not the other way round.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from .kernels.tables import DelayGroups, NeuronTable, SynapseTable


def layout_signature(net) -> tuple:
    """What a cached layout depends on: the populations with their parameters, and each
    projection's structure (its index and delay arrays by identity; weights are re-read anyway)."""
    pops = tuple((n, p.size, p.params) for n, p in net.populations.items())
    projs = tuple((k, p.n_synapses, id(p.indices), id(p.delays)) for k, p in net.projections.items())
    return pops, projs


def neuron_table(net) -> NeuronTable:
    """Per-population parameter arrays of ``net`` (inputs: ``v_th = inf``, unit time constants)."""
    names = list(net.populations)
    P = len(names)
    tau_m, tau_s, tau_i = np.ones(P), np.ones(P), np.ones(P)
    dual = np.zeros(P, dtype=np.bool_)
    v_th, v_reset, v_leak, t_ref = np.full(P, np.inf), np.zeros(P), np.zeros(P), np.zeros(P)
    track = np.zeros(P, dtype=np.bool_)
    for i, n in enumerate(names):
        p = net.populations[n].params
        if p is None:
            continue
        tau_m[i], tau_s[i] = p.tau_mem, p.tau_syn
        dual[i] = p.tau_syn_inh is not None
        tau_i[i] = p.tau_syn_inh if dual[i] else p.tau_syn
        v_th[i], v_reset[i], v_leak[i], t_ref[i] = p.v_th, p.v_reset, p.v_leak, p.t_ref
        track[i] = not p.spiking
    pop_of = np.repeat(np.arange(P, dtype=np.int32), [net.populations[n].size for n in names])
    return NeuronTable(pop_of, tau_m, tau_s, tau_i, dual, v_th, v_reset, v_leak, t_ref, track)


class KernelLayout:
    """A Network as the kernels see it.

    Attributes: ``neurons`` (NeuronTable), ``synapses`` (SynapseTable; its ``w`` is refreshed from
    the projections by ``refresh_weights``), ``src`` (source of each synapse), ``perm``, and the
    name maps ``pop_names``, ``pop_index``, ``offsets``, ``sizes``, ``proj_names``,
    ``proj_slices``. ``last_max_spikes``: the most spikes one sample produced in the last
    simulation with this layout (a starting capacity for the next one).
    """

    def __init__(self, net, signature) -> None:
        self.signature = signature
        # keep the arrays named (by id) in the signature alive, so that their ids cannot be reused
        self._signature_refs = [(p.indices, p.delays) for p in net.projections.values()]
        self.pop_names = list(net.populations)
        self.pop_index = {n: i for i, n in enumerate(self.pop_names)}
        self.offsets = net.offsets
        self.sizes = {n: p.size for n, p in net.populations.items()}
        self.neurons = neuron_table(net)
        N = int(self.neurons.pop_of.size)
        self.n_neurons = N
        offs = self.offsets
        srcs, tgts, ds = [], [], []
        self.proj_names = list(net.projections)
        self.proj_slices: Dict[str, slice] = {}
        o = 0
        for name, pr in net.projections.items():
            srcs.append(pr.pre_indices() + offs[pr.src])
            tgts.append(pr.indices.astype(np.int64) + offs[pr.dst])
            ds.append(pr.delay_array())
            self.proj_slices[name] = slice(o, o + pr.n_synapses)
            o += pr.n_synapses
        src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
        tgt = np.concatenate(tgts) if tgts else np.zeros(0, np.int64)
        d = np.concatenate(ds) if ds else np.zeros(0)
        perm = np.lexsort((tgt, d, src))
        self.perm = perm
        self.src = src[perm].astype(np.int32)
        indptr = np.zeros(N + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.src, minlength=N), out=indptr[1:])
        self.n_synapses = int(src.size)
        self.synapses = SynapseTable(indptr, tgt[perm].astype(np.int32), np.zeros(src.size),
                                     np.ascontiguousarray(d[perm]))
        self.last_max_spikes = 0
        self._delay_groups: Optional[DelayGroups] = None

    def refresh_weights(self, net) -> None:
        """Re-read the projections' weights into ``synapses.w`` (a new array: arrays handed out before stay valid)."""
        if self.n_synapses:
            cat = np.concatenate([net.projections[n].weights for n in self.proj_names])
            self.synapses = self.synapses._replace(w=np.ascontiguousarray(cat[self.perm], dtype=np.float64))

    def scatter(self, g_global: np.ndarray) -> Dict[str, np.ndarray]:
        """Per-projection arrays (aligned with each projection's ``weights``) from a global-order array."""
        cat = np.empty_like(g_global)
        cat[self.perm] = g_global
        return {n: cat[self.proj_slices[n]].copy() for n in self.proj_names}

    def delay_groups(self) -> DelayGroups:
        """The fan-out CSR's delay groups (computed once per layout).

        Rows are sorted by (delay, target), so the synapses of one source with one delay are
        contiguous: group g covers synapses ``start[g]:end[g]`` with delay ``d[g]``, and source j
        owns groups ``ptr[j]:ptr[j+1]`` in increasing delay.
        """
        if self._delay_groups is None:
            S, N, d = self.n_synapses, self.n_neurons, self.synapses.d
            src = self.src.astype(np.int64)
            start = np.ones(S, dtype=bool)
            if S:
                start[1:] = (src[1:] != src[:-1]) | (d[1:] != d[:-1])
            g_start = np.flatnonzero(start).astype(np.int64)
            g_end = np.append(g_start[1:], S).astype(np.int64)
            g_d = np.ascontiguousarray(d[g_start]) if S else np.zeros(0)
            g_ptr = np.zeros(N + 1, dtype=np.int64)
            if S:
                np.cumsum(np.bincount(src[g_start], minlength=N), out=g_ptr[1:])
            self._delay_groups = DelayGroups(g_ptr, g_start, g_end, g_d)
        return self._delay_groups
