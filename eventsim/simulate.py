"""``simulate()``: exact event-driven simulation of a Network for a batch of input spike trains.

No time grid is used: the state of each neuron is advanced in closed form between the events that
concern it, and spike times are roots of V(t) = v_th found by bracketing (see ``kernels.lif``) and
refined to float64 precision. Samples run in parallel (numba ``prange``). See ``kernels.event_loop``
for the algorithm.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

from .checks import positive_int
from .network import Network
from .params import positive_ms
from .kernels.tables import ReadOuts, Recording, SpikeBuffers, SpikeTrains
from .result import STAT_NAMES, Result, SimulationTape
from .spikes import SpikeBatch

Inputs = Union[SpikeBatch, Mapping[str, SpikeBatch]]


def _merge_inputs(net: Network, inputs: Inputs, layout):
    names = net.input_names
    if isinstance(inputs, SpikeBatch):
        if len(names) != 1:
            raise ValueError(f"inputs: the network has {len(names)} input populations {names}; pass a dict")
        inputs = {names[0]: inputs}
    if not isinstance(inputs, Mapping):
        raise ValueError(f"inputs must be a SpikeBatch or a dict of them, got {type(inputs).__name__}")
    if not inputs:
        raise ValueError(f"inputs is an empty dict; give spikes for some of the input populations {names} "
                         "or inputs=None for one sample without input")
    for k, sb in inputs.items():
        if k not in names:
            raise ValueError(f"inputs: {k!r} is not an input population (have {names})")
        if not isinstance(sb, SpikeBatch):
            raise ValueError(f"inputs[{k!r}] must be a SpikeBatch, got {type(sb).__name__}")
        size = net.populations[k].size
        if sb.n_spikes and int(sb.ids.max()) >= size:
            raise ValueError(f"inputs[{k!r}]: neuron id {int(sb.ids.max())} out of range for population of size {size}")
        if sb.n_neurons > size:
            raise ValueError(f"inputs[{k!r}] has n_neurons={sb.n_neurons}, more than population {k!r} "
                             f"has ({size})")
    n_samples = {sb.n_samples for sb in inputs.values()}
    if len(n_samples) > 1:
        raise ValueError(f"inputs: all populations must have the same number of samples, got {sorted(n_samples)}")
    B = n_samples.pop() if n_samples else 1
    if len(inputs) == 1:
        (k, sb), = inputs.items()
        return B, sb.times, (sb.ids.astype(np.int64) + layout.offsets[k]).astype(np.int32), sb.offsets
    ts, ids, smp = [], [], []
    for k, sb in inputs.items():
        ts.append(sb.times)
        ids.append(sb.ids.astype(np.int64) + layout.offsets[k])
        smp.append(np.repeat(np.arange(B), np.diff(sb.offsets)))
    t, i, s = np.concatenate(ts), np.concatenate(ids), np.concatenate(smp)
    order = np.lexsort((t, s))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(s, minlength=B))]).astype(np.int64)
    return B, t[order], i[order].astype(np.int32), offsets


#: spike times are exact while t_max is at most this many times the shortest LIF time constant
#: (float64 times near t_max must resolve the dynamics; see the simulator's parameter range)
MAX_T_OVER_TAU = 1e9


def _check_resolution(net: Network, t_max: float) -> None:
    """ValueError naming ``t_max`` when it exceeds ``MAX_T_OVER_TAU`` times the shortest time
    constant (ms) of a LIF population: beyond that, float64 times no longer resolve the dynamics."""
    taus = [(min(p.params.tau_mem, p.params.tau_syn, p.params.tau_syn_inh or p.params.tau_syn), name)
            for name, p in net.populations.items() if p.params is not None]
    if not taus:
        return
    tau, name = min(taus)
    if t_max > MAX_T_OVER_TAU * tau:
        raise ValueError(f"t_max = {t_max!r} ms is more than {MAX_T_OVER_TAU:g} times the shortest time constant "
                         f"({tau!r} ms, population {name!r}); float64 spike times would no longer be exact there")


def _initial_v(net: Network, layout, B: int, v_init) -> np.ndarray:
    V = np.zeros((B, layout.n_neurons))
    if v_init is not None and not isinstance(v_init, Mapping):
        raise ValueError(f"v_init must be a dict {{population: V}}, got {type(v_init).__name__}")
    provided = dict(v_init or {})
    for k in provided:
        if k not in net.populations or net.populations[k].is_input:
            raise ValueError(f"v_init: {k!r} is not a LIF population")
    for name, p in net.populations.items():
        o, n = layout.offsets[name], p.size
        if p.is_input:
            continue
        if name in provided:
            try:
                v = np.asarray(provided[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"v_init[{name!r}] must be numbers, got {provided[name]!r}") from None
            if v.ndim == 0:
                v = np.full(n, float(v))
            if v.shape not in ((n,), (B, n)):
                raise ValueError(f"v_init[{name!r}] must be a scalar, shape ({n},) or ({B}, {n}), got {v.shape}")
            if not np.all(np.isfinite(v)):
                raise ValueError(f"v_init[{name!r}] must be finite")
            if p.params.spiking and np.any(v >= p.params.v_th):
                raise ValueError(f"v_init[{name!r}] must be below v_th={p.params.v_th}")
            V[:, o:o + n] = v
        else:
            V[:, o:o + n] = min(p.params.v_leak, p.params.v_th - 1e-12 * max(1.0, abs(p.params.v_th))) \
                if p.params.spiking else p.params.v_leak
    return V


def simulate(net: Network, inputs: Optional[Inputs], t_max: float, *,
             v_init: Optional[Mapping[str, np.ndarray]] = None,
             record: Optional[Mapping[str, Union[str, Sequence[int]]]] = None,
             record_times: Optional[np.ndarray] = None,
             max_spikes: int = 10_000_000, capacity: Optional[int] = None,
             progress: Optional[bool] = None, chunk: int = 512) -> Result:
    """Simulate ``net`` exactly on [0, t_max] ms for every sample of ``inputs``.

    Args:
        net: the network.
        inputs: a SpikeBatch for the single input population, a dict {population: SpikeBatch}
            (all with the same number of samples), or None for one sample without input.
        t_max: end of the simulation (ms, > 0); events at exactly t_max are included.
        v_init: initial membrane potential per LIF population (scalar, (n,) or (n_samples, n));
            default: v_leak (the resting potential).
        record: populations and neurons whose V and I are recorded at ``record_times``, e.g.
            ``{"hidden": "all"}`` or ``{"out": [0, 2]}``; values are exact (closed form).
        record_times: sorted times (ms) in [0, t_max].
        max_spikes: per-sample limit; exceeding it raises ValueError (runaway activity).
        capacity: initial spike-buffer size per sample (grown automatically).
        progress: show a progress bar (default: when there are more than ``chunk`` samples).
        chunk: samples per kernel call when showing progress.

    Returns:
        Result with the spikes of every LIF population and read-out statistics.
    """
    from .kernels.event_loop import run_batch

    t_max = positive_ms("t_max", t_max)
    if not isinstance(net, Network):
        raise ValueError(f"net must be a Network, got {type(net).__name__}")
    max_spikes = positive_int("max_spikes", max_spikes)
    chunk = positive_int("chunk", chunk)
    if capacity is not None:
        capacity = positive_int("capacity", capacity)
    _check_resolution(net, t_max)
    layout = net.layout()
    if inputs is None:
        B, in_t, in_id, in_off = 1, np.zeros(0), np.zeros(0, np.int32), np.zeros(2, np.int64)
    else:
        B, in_t, in_id, in_off = _merge_inputs(net, inputs, layout)
    V0 = _initial_v(net, layout, B, v_init)

    rec_ids = np.zeros(0, np.int32)
    rec_t = np.zeros(0)
    if record is not None and not isinstance(record, Mapping):
        raise ValueError(f"record must be a dict {{population: 'all' or neuron ids}}, got {type(record).__name__}")
    if record:
        ids = []
        for name, sel in record.items():
            if name not in net.populations:
                raise ValueError(f"record: population {name!r} does not exist (have {list(net.populations)})")
            pop = net.populations[name]
            if pop.is_input:
                raise ValueError(f"record: {name!r} is an input population")
            if isinstance(sel, str) and sel == "all":
                loc = np.arange(pop.size)
            else:
                loc = np.asarray(sel)
                if isinstance(sel, str) or loc.ndim > 1 or (loc.size and not np.issubdtype(loc.dtype, np.integer)):
                    raise ValueError(f"record[{name!r}] must be 'all' or a list of neuron ids, got {sel!r}")
                loc = loc.astype(np.int64).reshape(-1)
            if loc.size and (loc.min() < 0 or loc.max() >= pop.size):
                raise ValueError(f"record[{name!r}]: neuron ids out of range [0, {pop.size})")
            ids.append(loc + layout.offsets[name])
        rec_ids = np.concatenate(ids).astype(np.int32)
        if record_times is None:
            raise ValueError("record_times must be given with record")
        try:
            rec_t = np.ascontiguousarray(record_times, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise ValueError(f"record_times must be an array of times (ms), got {record_times!r}") from None
        if rec_t.size and (not np.all(np.isfinite(rec_t)) or rec_t.min() < 0 or rec_t.max() > t_max
                           or np.any(np.diff(rec_t) < 0)):
            raise ValueError(f"record_times must be sorted, finite and within [0, t_max={t_max}]")
    elif record_times is not None:
        raise ValueError("record_times given without record")

    N = layout.n_neurons
    n_rt, n_rn = rec_t.size, rec_ids.size
    if capacity is None:
        per = max(1, in_t.size // max(B, 1))
        # start from what this network produced last time (kept on the cached layout), else a guess
        capacity = max(64, 4 * per + N // 4, int(1.25 * layout.last_max_spikes))
    cap = int(min(max(capacity, 1), max_spikes))

    inputs_seen = SpikeTrains(np.ascontiguousarray(in_t, dtype=np.float64), np.ascontiguousarray(in_id, dtype=np.int32),
                              np.ascontiguousarray(in_off, dtype=np.int64))
    blocks = []  # (sample indices, their spike counts, their spikes concatenated in that order)
    # read-out statistics exist for non-spiking populations only; every other column stays NaN
    ro = ReadOuts(*(np.full((B, N), np.nan) for _ in range(4)))
    rec = Recording(rec_t, rec_ids, np.empty((B, n_rt, n_rn)), np.empty((B, n_rt, n_rn)))
    stats = np.zeros((B, 4), dtype=np.int64)

    def run(samples: np.ndarray, cap: int):
        m = samples.size
        out = SpikeBuffers(np.empty((m, cap)), np.empty((m, cap), dtype=np.int32), np.empty((m, cap)),
                           np.zeros(m, dtype=np.int64))
        if m == B:  # every sample at once (the usual first pass): the kernel writes the results in place
            r_ro, r_rec, st = ro, rec, stats
            st[:] = 0  # the kernel accumulates its counters
        else:
            r_ro = ReadOuts(*(np.full((m, N), np.nan) for _ in range(4)))
            r_rec = Recording(rec_t, rec_ids, np.empty((m, n_rt, n_rn)), np.empty((m, n_rt, n_rn)))
            st = np.zeros((m, 4), dtype=np.int64)
        run_batch(samples, layout.neurons, layout.synapses, inputs_seen, V0, t_max, r_rec, out,
                  int(max_spikes), r_ro, st)
        return out, r_ro, r_rec, st

    show = (B > chunk) if progress is None else bool(progress)
    starts = list(range(0, B, chunk if show else max(B, 1)))
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=B, desc="simulate", unit="sample")
    for a in starts:
        todo = np.arange(a, min(B, a + (chunk if show else B)), dtype=np.int64)
        c = cap
        while todo.size:
            out, r_ro, r_rec, st = run(todo, c)
            counts = out.counts
            if np.any(counts < 0):
                bad = int(todo[np.flatnonzero(counts < 0)[0]])
                raise ValueError(f"sample {bad} exceeded max_spikes={max_spikes}: runaway activity? "
                                 "(raise max_spikes if this is intended)")
            done = counts <= c
            qd = np.flatnonzero(done)
            sd = todo[qd]
            if r_ro is not ro:
                for whole, part in zip(ro + (rec.V, rec.I), r_ro + (r_rec.V, r_rec.I)):
                    whole[sd] = part[qd]
                stats[sd] = st[qd]
            n = counts[qd]
            keep = np.arange(c)[None, :] < n[:, None]  # row-major: sample by sample, in time order
            if qd.size == todo.size:
                blocks.append((sd, n, out.times[keep], out.ids[keep], out.currents[keep]))
            else:
                blocks.append((sd, n, out.times[qd][keep], out.ids[qd][keep], out.currents[qd][keep]))
            if not np.all(done):
                c = int(min(max_spikes, 2 * counts[~done].max()))
            todo = todo[~done]
        if bar is not None:
            bar.update(min(B, a + chunk) - a)
    if bar is not None:
        bar.close()
    lens = np.zeros(B, dtype=np.int64)
    for sd, n, *_ in blocks:
        lens[sd] = n
    layout.last_max_spikes = int(lens.max()) if lens.size else 0
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    times = np.empty(offsets[-1])
    ids = np.empty(offsets[-1], dtype=np.int32)
    cur = np.empty(offsets[-1])
    for sd, n, bt, bi, bc in blocks:
        start_in_block = np.cumsum(n) - n
        dest = np.repeat(offsets[sd] - start_in_block, n) + np.arange(bt.size)
        times[dest], ids[dest], cur[dest] = bt, bi, bc
    # the weights simulated: refresh_weights makes a new array, so these stay valid
    tape = SimulationTape(inputs_seen, V0, layout.synapses.w, ro.imax)
    return Result(layout, t_max, times, ids, cur, offsets, ro.vmax, ro.tmax, ro.vint,
                  rec_t if n_rn else None, rec_ids if n_rn else None,
                  rec.V if n_rn else None, rec.I if n_rn else None,
                  tape=tape, stats={k: stats[:, i].copy() for i, k in enumerate(STAT_NAMES)})
