"""Contiguous chunks of a batch: sample ranges, the inputs of one chunk, and a Result put back together.

A batch of B samples is split into ``n`` chunks exactly as the EventProp kernel splits it
(``eventsim.kernels.eventprop.backward_batch``): chunk c holds samples ``(B c) // n`` to
``(B (c + 1)) // n - 1``. A worker returns its chunk's ``ChunkResult`` (the arrays of a Result,
without the layout, which the caller already has), and ``assemble`` concatenates them in sample
order into one ``Result`` equal, array for array, to a simulation of the whole batch in one process.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..kernels.tables import SpikeTrains
from ..result import Result, SimulationTape
from ..spikes import SpikeBatch


def bounds(n_samples: int, n_chunks: int) -> List[Tuple[int, int]]:
    """``[(b0, b1), ...]``: the sample range of each of ``n_chunks`` contiguous chunks of ``n_samples``
    (the EventProp kernel's split; ``n_chunks`` is capped at ``n_samples``, so no chunk is empty)."""
    n = max(1, min(int(n_chunks), int(n_samples)))
    return [((n_samples * c) // n, (n_samples * (c + 1)) // n) for c in range(n)]


def n_samples_of(inputs) -> int:
    """Number of samples of ``inputs`` as ``eventsim.simulate`` reads them (None: one sample)."""
    if inputs is None:
        return 1
    if isinstance(inputs, SpikeBatch):
        return inputs.n_samples
    if isinstance(inputs, Mapping) and inputs:
        sizes = {sb.n_samples for sb in inputs.values() if isinstance(sb, SpikeBatch)}
        if len(sizes) == 1:
            return sizes.pop()
    return -1  # not a valid batch: simulate itself says why, on the whole batch


def slice_inputs(inputs, b0: int, b1: int):
    """The samples ``b0 .. b1-1`` of ``inputs`` (a SpikeBatch, a dict of them, or None)."""
    if inputs is None:
        return None
    idx = np.arange(b0, b1)
    if isinstance(inputs, SpikeBatch):
        return inputs.subset(idx)
    return {k: sb.subset(idx) for k, sb in inputs.items()}


def slice_v_init(v_init: Optional[Mapping], b0: int, b1: int, n_samples: int):
    """``v_init`` for samples ``b0 .. b1-1``: per-sample arrays (shape (n_samples, n)) are sliced,
    scalars and (n,) arrays apply to every sample and pass unchanged."""
    if v_init is None or not isinstance(v_init, Mapping):
        return v_init
    out = {}
    for k, v in v_init.items():
        a = np.asarray(v) if not np.isscalar(v) else None
        out[k] = a[b0:b1] if a is not None and a.ndim == 2 and a.shape[0] == n_samples else v
    return out


class Columns(NamedTuple):
    """A (n_samples, n) float array sent compactly: the first row, and the columns in which some
    row differs from it (bit for bit). Read-out statistics are NaN in every column of a spiking
    neuron and initial voltages are mostly equal across samples, so little is left to send."""

    first: np.ndarray
    varying: np.ndarray
    values: np.ndarray
    n_rows: int

    @classmethod
    def pack(cls, a: np.ndarray) -> "Columns":
        a = np.ascontiguousarray(a)
        if a.shape[0] == 0:
            return cls(np.zeros(a.shape[1], a.dtype), np.zeros(0, np.int64), a[:, :0].copy(), 0)
        bits = a.view(np.uint64) if a.dtype == np.float64 else a
        varying = np.flatnonzero((bits != bits[:1]).any(axis=0))
        return cls(a[0].copy(), varying, np.ascontiguousarray(a[:, varying]), a.shape[0])

    def unpack(self) -> np.ndarray:
        out = np.tile(self.first, (self.n_rows, 1))
        out[:, self.varying] = self.values
        return out


def _unpack(a):
    return a.unpack() if isinstance(a, Columns) else a


class ChunkResult(NamedTuple):
    """The arrays of one chunk's ``Result`` (see ``eventsim.result``), as a worker sends them back."""

    t_max: float
    times: np.ndarray
    ids: np.ndarray
    currents: np.ndarray
    offsets: np.ndarray
    vmax: np.ndarray
    tmax: np.ndarray
    vint: np.ndarray
    record_times: Optional[np.ndarray]
    record_ids: Optional[np.ndarray]
    record_V: Optional[np.ndarray]
    record_I: Optional[np.ndarray]
    tape: Optional[SimulationTape]
    stats: Optional[Dict[str, np.ndarray]]

    @classmethod
    def of(cls, res: Result) -> "ChunkResult":
        """The arrays of ``res`` (its layout left out; the (n_samples, n_neurons) arrays as ``Columns``)."""
        tape = res.tape
        if tape is not None:
            tape = SimulationTape(tape.inputs, Columns.pack(tape.v_init), tape.weights, Columns.pack(tape.imax))
        return cls(res.t_max, res.times, res.ids, res.currents, res.offsets, Columns.pack(res.vmax),
                   Columns.pack(res.tmax), Columns.pack(res.vint), res.record_times, res.record_ids,
                   res.record_V, res.record_I, tape, res.stats)


def _csr_offsets(parts: Sequence[np.ndarray]) -> np.ndarray:
    out = [np.zeros(1, np.int64)]
    base = 0
    for off in parts:
        out.append(np.asarray(off[1:], dtype=np.int64) + base)
        base += int(off[-1])
    return np.concatenate(out)


def _cat(arrays: Sequence[Optional[np.ndarray]]) -> Optional[np.ndarray]:
    return None if arrays[0] is None else np.concatenate(arrays, axis=0)


def assemble(layout, chunks: Sequence[ChunkResult]) -> Result:
    """One Result from the chunks of a batch, in sample order (``layout``: the network's
    ``KernelLayout``). Spikes, read-outs, recordings, statistics and the tape are concatenated."""
    if not chunks:
        raise ValueError("assemble needs at least one chunk")
    first = chunks[0]
    tape = None
    if all(c.tape is not None for c in chunks):
        tapes = [c.tape for c in chunks]
        inputs = SpikeTrains(np.concatenate([t.inputs.times for t in tapes]),
                             np.concatenate([t.inputs.ids for t in tapes]),
                             _csr_offsets([t.inputs.offsets for t in tapes]))
        tape = SimulationTape(inputs, np.concatenate([_unpack(t.v_init) for t in tapes]), first.tape.weights,
                              np.concatenate([_unpack(t.imax) for t in tapes]))
    stats = None
    if all(c.stats is not None for c in chunks):
        stats = {k: np.concatenate([c.stats[k] for c in chunks]) for k in first.stats}
    return Result(layout, first.t_max, np.concatenate([c.times for c in chunks]),
                  np.concatenate([c.ids for c in chunks]), np.concatenate([c.currents for c in chunks]),
                  _csr_offsets([c.offsets for c in chunks]), np.concatenate([_unpack(c.vmax) for c in chunks]),
                  np.concatenate([_unpack(c.tmax) for c in chunks]), np.concatenate([_unpack(c.vint) for c in chunks]),
                  first.record_times, first.record_ids, _cat([c.record_V for c in chunks]),
                  _cat([c.record_I for c in chunks]), tape=tape, stats=stats)
