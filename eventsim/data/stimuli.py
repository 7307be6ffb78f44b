"""Stimulus generators: Poisson and regular spike trains, and spikes at given times.

The counterparts of NEST's ``poisson_generator_ps`` / ``spike_generator`` and Brian2's
``PoissonGroup`` / ``SpikeGeneratorGroup``, with exact (continuous, not binned) times in ms, as
``SpikeBatch`` inputs for ``simulate`` and training.

**Poisson trains** (``poisson``). Neuron ``i`` with rate ``r_i`` (Hz) and dead time ``t_ref``
(ms) fires a renewal process whose inter-spike intervals are ``t_ref + E`` with ``E``
exponential of mean ``1000 / r_i - t_ref`` ms, so the mean rate is ``r_i`` including the dead
time (as NEST's ``dead_time``; it needs ``r_i t_ref < 1000``). The process is stationary from
0 ms: the first spike is at ``D + E`` where ``D`` is, with probability ``r_i t_ref / 1000``,
uniform in ``[0, t_ref)`` (the process is in a dead time at 0 ms) and otherwise 0 (the forward
recurrence time of the renewal process), so the expected count in ``[0, t_max]`` is exactly
``r_i t_max / 1000``. With ``t_ref = 0`` the counts are Poisson (variance equal to the mean,
Fano factor 1) and the intervals exponential; with a dead time the Fano factor of long windows
tends to ``(1 - r_i t_ref / 1000)^2``.

**Regular trains** (``regular``). Neuron ``i`` fires at ``phase_i + k period_i`` ms for
k = 0, 1, ... up to ``t_max`` (included), each time computed from ``k`` (no accumulated
rounding); ``period_i = 1000 / r_i`` for a rate in Hz, and a rate of 0 gives no spikes.

**Given times** (``spike_generator``, ``spike_trains``). One sample from flat arrays of times
and neuron ids (NEST's ``spike_generator``, Brian2's ``SpikeGeneratorGroup(N, indices,
times)``) or from one list of times per neuron; spikes are sorted by time, ties keep their order.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np

from ..checks import nonnegative_number, positive_int, positive_number, show
from ..spikes import SpikeBatch

__all__ = ["poisson", "regular", "spike_generator", "spike_trains"]

Seed = Union[int, np.random.Generator]
#: intervals drawn at once in ``poisson`` (bounds its memory to about 32 MB per draw)
_ELEMENTS = 1 << 22


def _generator(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise ValueError(f"seed must be an integer >= 0 or a numpy.random.Generator, got {show(seed)}")
    return np.random.default_rng(int(seed))


def _per_neuron(name: str, values, n_neurons: Optional[int], unit: str) -> np.ndarray:
    """``values`` (a number or a 1-D array) as a float64 array of one value per neuron."""
    v = np.asarray(values, dtype=np.float64) if not isinstance(values, (str, bytes)) else None
    if v is None or v.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D array ({unit}) of one value per neuron, "
                         f"got {show(values) if v is None else f'shape {v.shape}'}")
    if v.ndim == 0:
        n = 1 if n_neurons is None else positive_int("n_neurons", n_neurons, 0)
        v = np.full(n, float(v))
    elif n_neurons is not None and v.size != n_neurons:
        raise ValueError(f"{name} has {v.size} values, but n_neurons = {n_neurons}")
    if not np.all(np.isfinite(v)) or (v.size and v.min() < 0):
        bad = v[~np.isfinite(v) | (v < 0)][0]
        raise ValueError(f"{name} must be finite and >= 0 ({unit}), got {show(bad)}")
    return v


def poisson(rates, t_max: float, n_samples: int = 1, *, seed: Seed, t_ref: float = 0.0,
            n_neurons: Optional[int] = None) -> SpikeBatch:
    """Independent Poisson spike trains (with an optional dead time), exact times in [0, t_max] ms.

    Args:
        rates: mean rate per neuron in Hz (a 1-D array), or one rate for ``n_neurons`` neurons.
        t_max: end of the trains (ms, > 0).
        n_samples: independent samples (each a fresh draw), >= 1.
        seed: an integer >= 0 or a ``numpy.random.Generator``.
        t_ref: dead time after each spike (ms, >= 0); the mean rate stays ``rates`` (module
            docstring), so every ``rate * t_ref`` must be below 1000.
        n_neurons: the number of neurons when ``rates`` is one number (default 1).

    Returns:
        SpikeBatch of ``n_samples`` samples and ``len(rates)`` neurons.
    """
    r = _per_neuron("rates", rates, n_neurons, "Hz")
    t_max = positive_number("t_max", t_max)
    n_samples = positive_int("n_samples", n_samples)
    t_ref = nonnegative_number("t_ref", t_ref)
    rng = _generator(seed)
    if t_ref > 0 and r.size and r.max() * t_ref >= 1000.0:
        i = int(np.argmax(r))
        raise ValueError(f"rates[{i}] = {show(r[i])} Hz with t_ref = {show(t_ref)} ms: a dead time allows "
                         f"at most {1000.0 / t_ref:g} Hz (rate * t_ref must be below 1000)")
    N = r.size
    active = np.flatnonzero(r > 0)
    mean_gap = np.full(N, np.inf)
    mean_gap[active] = 1000.0 / r[active] - t_ref            # mean of the exponential part (ms)
    # the processes: one per (sample, active neuron), in that order
    proc_neuron = np.tile(active, n_samples)
    proc_sample = np.repeat(np.arange(n_samples), active.size)
    gap = mean_gap[proc_neuron]
    start = rng.exponential(gap) if proc_neuron.size else np.zeros(0)
    if t_ref > 0 and proc_neuron.size:
        in_dead = rng.random(proc_neuron.size) < t_ref / (t_ref + gap)
        start = start + np.where(in_dead, t_ref * rng.random(proc_neuron.size), 0.0)
    t_s, i_s, s_s = [], [], []
    keep = start <= t_max
    t_s.append(start[keep])
    i_s.append(proc_neuron[keep])
    s_s.append(proc_sample[keep])
    last, running = start[keep], np.flatnonzero(keep)       # processes whose train goes on
    while running.size:
        # intervals for every process still running: enough for its expected remainder, at least 8
        remaining = (t_max - last) / (t_ref + gap[running])
        k = int(min(4096, max(8, math.ceil(np.max(remaining + 4.0 * np.sqrt(remaining) + 4.0)))))
        n_rows = max(1, _ELEMENTS // k)
        rows, lr = running[:n_rows], last[:n_rows]
        steps = t_ref + rng.exponential(gap[rows][:, None], size=(rows.size, k))
        t = lr[:, None] + np.cumsum(steps, axis=1)
        inside = t <= t_max
        t_s.append(t[inside])
        i_s.append(np.broadcast_to(proc_neuron[rows][:, None], t.shape)[inside])
        s_s.append(np.broadcast_to(proc_sample[rows][:, None], t.shape)[inside])
        going = inside[:, -1]
        running = np.concatenate([rows[going], running[n_rows:]])
        last = np.concatenate([t[going, -1], last[n_rows:]])
    times = np.concatenate(t_s)
    ids = np.concatenate(i_s)
    samples = np.concatenate(s_s)
    order = np.lexsort((times, samples))
    offsets = np.searchsorted(samples[order], np.arange(n_samples + 1)).astype(np.int64)
    return SpikeBatch(times[order], ids[order], offsets, N)


def regular(rates=None, t_max: Optional[float] = None, *, periods=None, phase=0.0, n_samples: int = 1,
            n_neurons: Optional[int] = None) -> SpikeBatch:
    """Regular spike trains: neuron ``i`` fires at ``phase_i + k period_i`` ms, k = 0, 1, ...,
    while the time is at most ``t_max``.

    Args:
        rates: rate per neuron in Hz (``period = 1000 / rate`` ms; 0 Hz: silent), a 1-D array or
            one number for ``n_neurons`` neurons; give either ``rates`` or ``periods``.
        t_max: end of the trains (ms, > 0); a spike at exactly ``t_max`` is included.
        periods: period per neuron in ms (> 0), instead of ``rates``.
        phase: time of the first spike per neuron (ms, >= 0), a number or a 1-D array.
        n_samples: the number of (identical) samples, >= 1.
        n_neurons: the number of neurons when ``rates`` / ``periods`` is one number (default 1).

    Returns:
        SpikeBatch of ``n_samples`` identical samples.
    """
    if (rates is None) == (periods is None):
        raise ValueError("give exactly one of rates (Hz) and periods (ms)")
    if t_max is None:
        raise ValueError("t_max (ms) is required")
    t_max = positive_number("t_max", t_max)
    n_samples = positive_int("n_samples", n_samples)
    if rates is not None:
        r = _per_neuron("rates", rates, n_neurons, "Hz")
        per = np.full(r.size, np.inf)
        per[r > 0] = 1000.0 / r[r > 0]
    else:
        per = _per_neuron("periods", periods, n_neurons, "ms")
        if per.size and per.min() <= 0:
            raise ValueError(f"periods must be > 0 ms, got {show(per.min())}")
    ph = _per_neuron("phase", phase, per.size, "ms")
    live = np.isfinite(per) & (ph <= t_max)
    counts = np.zeros(per.size, np.int64)
    counts[live] = np.floor((t_max - ph[live]) / per[live]).astype(np.int64) + 1
    # the division may round across an integer: drop a last time beyond t_max, add a missing one
    while True:
        last = ph + (counts - 1) * np.where(live, per, 0.0)
        over = live & (counts > 0) & (last > t_max)
        under = live & (ph + counts * np.where(live, per, 0.0) <= t_max)
        if not (over.any() or under.any()):
            break
        counts[over] -= 1
        counts[under] += 1
    ids = np.repeat(np.arange(per.size), counts)
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    times = ph[ids] + k * per[ids]
    order = np.lexsort((ids, times))
    times, ids = times[order], ids[order]
    n = times.size
    return SpikeBatch(np.tile(times, n_samples), np.tile(ids, n_samples),
                      np.arange(n_samples + 1, dtype=np.int64) * n, per.size)


def spike_generator(times, ids, n_neurons: Optional[int] = None) -> SpikeBatch:
    """One sample from flat arrays: neuron ``ids[k]`` fires at ``times[k]`` ms (NEST's
    ``spike_generator``, Brian2's ``SpikeGeneratorGroup(n_neurons, ids, times)``).

    Args:
        times: spike times (ms, finite, >= 0), any order.
        ids: neuron index of each spike (integers >= 0).
        n_neurons: population size (default: the largest id plus one).

    Returns:
        A one-sample SpikeBatch, spikes sorted by time (ties keep their given order).
    """
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    i = np.asarray(ids).reshape(-1)
    if t.shape != i.shape:
        raise ValueError(f"times and ids must have the same length, got {t.size} and {i.size}")
    if n_neurons is not None:
        n_neurons = positive_int("n_neurons", n_neurons, 0)
    return SpikeBatch.from_arrays([t], [i], n_neurons=n_neurons)


def spike_trains(trains: Sequence, n_neurons: Optional[int] = None) -> SpikeBatch:
    """One sample from one sequence of spike times (ms) per neuron: neuron ``i`` fires at
    ``trains[i]`` (NEST's ``spike_times`` per generator).

    Args:
        trains: ``trains[i]`` is an array or list of times (ms, finite, >= 0) of neuron ``i``.
        n_neurons: population size, >= ``len(trains)`` (default ``len(trains)``).

    Returns:
        A one-sample SpikeBatch, spikes sorted by time (ties: lower neuron first).
    """
    if isinstance(trains, (str, bytes)) or not hasattr(trains, "__len__"):
        raise TypeError(f"trains must be a sequence of one array of times per neuron, got {type(trains).__name__}")
    arrays = [np.asarray(tr, dtype=np.float64).reshape(-1) for tr in trains]
    n = len(arrays) if n_neurons is None else positive_int("n_neurons", n_neurons, 0)
    if n < len(arrays):
        raise ValueError(f"n_neurons = {n} is smaller than the number of trains ({len(arrays)})")
    ids = np.repeat(np.arange(len(arrays)), [a.size for a in arrays])
    t = np.concatenate(arrays) if arrays else np.zeros(0)
    return spike_generator(t, ids, n)
