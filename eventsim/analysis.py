"""Firing rates of a simulation: per neuron and per population, in Hz.

Times are in ms and rates in Hz (spikes per second), so a count ``c`` over a window of ``T`` ms
is the rate ``1000 * c / T``. The window ``[t_start, t_stop]`` is closed at both ends (a spike at
exactly ``t_stop``, which ``simulate`` reports when it falls on ``t_max``, is counted) and is cut
into bins ``[e_j, e_{j+1})`` of ``bin_ms``, the last of which is closed and may be shorter:

    firing_rates[s, i]        = 1000 * (spikes of neuron i in sample s in the window) / (t_stop - t_start)
    population_rate.rate[s, j] = 1000 * (spikes of the population in sample s in bin j) / (n_neurons * width_j)

so ``rate`` is the population-averaged instantaneous rate (Brian2's ``PopulationRateMonitor``
binned, NEST's ``spike_recorder`` histogram divided by the population size), and the bin rates,
weighted by the bin widths, average to the mean of ``firing_rates`` over the neurons.

The spikes of an input population are the inputs the simulation received (kept on the Result
``simulate`` returns), so input rates can be read too.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple

import numpy as np

from .checks import finite_number, positive_number
from .result import Result
from .spikes import SpikeBatch

__all__ = ["PopulationRate", "population_spikes", "firing_rates", "population_rate"]


class PopulationRate(NamedTuple):
    """Output of ``population_rate``."""

    edges: np.ndarray       #: (n_bins + 1,) bin edges, ms
    rate: np.ndarray        #: (n_samples, n_bins) population-averaged rate per bin, Hz
    per_neuron: np.ndarray  #: (n_samples, n_neurons) rate of every neuron over the window, Hz

    @property
    def centers(self) -> np.ndarray:
        """(n_bins,) bin centres, ms."""
        return 0.5 * (self.edges[:-1] + self.edges[1:])

    @property
    def mean_rate(self) -> np.ndarray:
        """(n_samples,) mean rate of the population's neurons over the window, Hz."""
        return self.per_neuron.mean(axis=1)


def population_spikes(result: Result, population: str) -> SpikeBatch:
    """The spikes of ``population`` (local ids): a LIF population's from ``result.spikes``, an input
    population's from the inputs the simulation received (ValueError if ``result`` has no tape,
    e.g. one read from a file)."""
    _check_result(result)
    o, n = result._pop(population)
    lay = result.layout
    p = lay.pop_index[population]
    if not np.isfinite(lay.neurons.v_th[p]) and not lay.neurons.track[p]:  # an input population
        if result.tape is None:
            raise ValueError(f"population {population!r} is an input and result holds no inputs (it was not "
                             "returned by simulate)")
        inp = result.tape.inputs
        sel = (inp.ids >= o) & (inp.ids < o + n)
        samp = np.repeat(np.arange(result.n_samples), np.diff(inp.offsets))
        counts = np.bincount(samp[sel], minlength=result.n_samples)
        offs = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return SpikeBatch(inp.times[sel], inp.ids[sel] - o, offs, n, validate=False)
    if lay.neurons.track[p]:
        raise ValueError(f"population {population!r} is a non-spiking read-out (v_th=inf): it has no rates")
    return result.spikes(population)


def _check_result(result) -> None:
    if not isinstance(result, Result):
        raise TypeError(f"result must be a Result (from simulate), got {type(result).__name__}")


def _window(result: Result, t_start, t_stop) -> Tuple[float, float]:
    _check_result(result)
    t0 = finite_number("t_start", t_start)
    t1 = result.t_max if t_stop is None else finite_number("t_stop", t_stop)
    if t0 < 0 or not t0 < t1:
        raise ValueError(f"the window must satisfy 0 <= t_start < t_stop, got t_start={t0!r}, t_stop={t1!r} ms")
    return t0, t1


def _sample_index(sp: SpikeBatch) -> np.ndarray:
    return np.repeat(np.arange(sp.n_samples), np.diff(sp.offsets))


def firing_rates(result: Result, population: str, *, t_start: float = 0.0,
                 t_stop: Optional[float] = None) -> np.ndarray:
    """(n_samples, n_neurons) rate in Hz of every neuron of ``population`` over the window
    ``[t_start, t_stop]`` (ms, closed; ``t_stop`` defaults to the simulated ``t_max``)."""
    t0, t1 = _window(result, t_start, t_stop)
    sp = population_spikes(result, population)
    inside = (sp.times >= t0) & (sp.times <= t1)
    counts = np.zeros((sp.n_samples, sp.n_neurons))
    np.add.at(counts, (_sample_index(sp)[inside], sp.ids[inside]), 1.0)
    return counts * (1000.0 / (t1 - t0))


def population_rate(result: Result, population: str, bin_ms: float, *, t_start: float = 0.0,
                    t_stop: Optional[float] = None) -> PopulationRate:
    """Rate of ``population`` in bins of ``bin_ms`` (ms, > 0) over ``[t_start, t_stop]`` (ms;
    ``t_stop`` defaults to ``t_max``), averaged over its neurons, per sample, in Hz; with the rate
    of every neuron over the window (``PopulationRate``; the module docstring gives the formulas).
    The last bin ends at ``t_stop`` and is shorter when the window is not a whole number of bins."""
    bin_ms = positive_number("bin_ms", bin_ms)
    t0, t1 = _window(result, t_start, t_stop)
    n_bins = max(1, math.ceil((t1 - t0) / bin_ms - 1e-9))
    edges = t0 + bin_ms * np.arange(n_bins + 1, dtype=np.float64)
    edges[-1] = t1
    sp = population_spikes(result, population)
    inside = (sp.times >= t0) & (sp.times <= t1)
    b = np.searchsorted(edges, sp.times[inside], side="right") - 1
    b = np.minimum(b, n_bins - 1)  # a spike at exactly t_stop belongs to the last bin
    counts = np.zeros((sp.n_samples, n_bins))
    np.add.at(counts, (_sample_index(sp)[inside], b), 1.0)
    rate = counts * 1000.0 / (max(sp.n_neurons, 1) * np.diff(edges))
    return PopulationRate(edges, rate, firing_rates(result, population, t_start=t0, t_stop=t1))
