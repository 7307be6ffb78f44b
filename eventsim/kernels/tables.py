"""The typed seam between Python and the Numba kernels: named tuples of arrays.

A kernel takes a few of these whole instead of long positional argument lists; Numba compiles
attribute access on a named tuple to a plain field read, so the seam costs nothing at run time.
Indices: ``j`` a global neuron id (``N`` neurons), ``p`` a population (``P``), ``s`` a synapse in
fan-out order, ``b`` a sample of the batch (``B``). Built from a ``Network`` by
``eventsim.layout.KernelLayout``; the kernels read them and write only the output tuples.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class NeuronTable(NamedTuple):
    """Per-population LIF parameters and each neuron's population (input populations: ``v_th = inf``)."""

    pop_of: np.ndarray   #: (N,) int32, population of neuron j
    tau_m: np.ndarray    #: (P,) membrane time constant (ms)
    tau_s: np.ndarray    #: (P,) time constant (ms) of the synaptic current fed by positive weights (the only one unless ``dual``)
    tau_i: np.ndarray    #: (P,) time constant (ms) of the inhibitory current where ``dual``; equals ``tau_s`` elsewhere
    dual: np.ndarray     #: (P,) bool, negative weights feed a second current with ``tau_i``
    v_th: np.ndarray     #: (P,) threshold (dimensionless); inf for inputs and non-spiking read-outs
    v_reset: np.ndarray  #: (P,) reset potential
    v_leak: np.ndarray   #: (P,) resting potential
    t_ref: np.ndarray    #: (P,) refractory period (ms)
    track: np.ndarray    #: (P,) bool, non-spiking read-out whose max and integral of V are kept


class SynapseTable(NamedTuple):
    """Fan-out CSR over global source ids, each row sorted by (delay, target)."""

    indptr: np.ndarray   #: (N + 1,) int64, synapses of source j are ``indptr[j]:indptr[j+1]``
    tgt: np.ndarray      #: (S,) int32, target neuron
    w: np.ndarray        #: (S,) weight (dimensionless current added at arrival)
    d: np.ndarray        #: (S,) delay (ms)


class DelayGroups(NamedTuple):
    """Runs of one source's synapses that share a delay (contiguous in a fan-out row)."""

    ptr: np.ndarray      #: (N + 1,) int64, source j owns groups ``ptr[j]:ptr[j+1]`` in increasing delay
    start: np.ndarray    #: (G,) int64, first synapse of group g
    end: np.ndarray      #: (G,) int64, one past its last synapse
    d: np.ndarray        #: (G,) the group's delay (ms)


class SpikeTrains(NamedTuple):
    """Spikes of a batch, CSR over samples, time-sorted within each sample, global neuron ids."""

    times: np.ndarray    #: (n,) ms
    ids: np.ndarray      #: (n,) int32
    offsets: np.ndarray  #: (B + 1,) int64, sample b is ``offsets[b]:offsets[b+1]``


class Recording(NamedTuple):
    """V and I of chosen neurons at chosen times; the kernel fills ``V`` and ``I``."""

    times: np.ndarray    #: (T,) sorted ms
    ids: np.ndarray      #: (R,) int32 global neuron ids
    V: np.ndarray        #: (B, T, R)
    I: np.ndarray        #: (B, T, R) total synaptic current


class ReadOuts(NamedTuple):
    """Exact statistics of V over [0, t_max] for tracked (read-out) neurons, one row per sample."""

    vmax: np.ndarray     #: (B, N) max of V
    tmax: np.ndarray     #: (B, N) its time (ms)
    vint: np.ndarray     #: (B, N) integral of V (ms)
    imax: np.ndarray     #: (B, N) total current just before the maximum


class SpikeBuffers(NamedTuple):
    """Per-sample output buffers of a simulation kernel call (capacity ``cap`` spikes each)."""

    times: np.ndarray    #: (B, cap) ms
    ids: np.ndarray      #: (B, cap) int32
    currents: np.ndarray  #: (B, cap) total synaptic current of the neuron at its spike
    counts: np.ndarray   #: (B,) int64, spikes produced (> cap: re-run bigger; -1: max_spikes exceeded)


class AdjointSources(NamedTuple):
    """What a loss feeds into the adjoint pass (``kernels.eventprop``), per spike or per (sample, neuron)."""

    spike_grad: np.ndarray  #: (n,) dL/dt of each recorded spike (1/ms)
    spike_kick: np.ndarray  #: (n,) heuristic jump of a_V at each spike (0 for exact losses)
    vint_grad: np.ndarray   #: (B, N) dL/dQ, Q the integral of V over [0, t_max] (constant source of a_V)
    vmax_grad: np.ndarray   #: (B, N) dL/dVmax, injected into a_V at the maximum
    vmax_time: np.ndarray   #: (B, N) time of the maximum (ms)
    vmax: np.ndarray        #: (B, N) value of the maximum
    imax: np.ndarray        #: (B, N) total current just before the maximum
    phantom: np.ndarray     #: (B, N) a_V injected at t_max (phantom spikes of silent neurons)
