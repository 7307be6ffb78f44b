"""Simulation results: spikes of every LIF population, read-out statistics and recordings.

Spikes are stored globally per sample (CSR over samples): ``times`` (ms), ``ids`` (global neuron
ids), ``currents`` (synaptic current I of the spiking neuron at the spike, used by EventProp).
For non-spiking read-out populations (``v_th = inf``) the exact maximum of V over [0, t_max], the
time of that maximum and the exact integral of V over [0, t_max] (ms) are kept.

A Result made by ``simulate`` also carries ``stats`` (per-sample kernel counters: synaptic events,
exact searches, bound updates, threshold events) and its ``tape`` (``SimulationTape``: what the
simulation saw, which EventProp's backward pass and ``silent_peak`` replay). A Result has no tape
when it is not made by ``simulate``.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional

import numpy as np

from .kernels.tables import ReadOuts, SpikeTrains
from .spikes import SpikeBatch

#: names of ``Result.stats``, the per-sample counters of the simulation kernel
STAT_NAMES = ("synaptic_events", "exact_searches", "bound_updates", "threshold_events")


class SimulationTape(NamedTuple):
    """What ``simulate`` saw, kept with its Result for the adjoint pass and for replays.

    ``inputs``: the input spikes as the kernel saw them (global ids, CSR over samples);
    ``v_init``: (n_samples, n_neurons) V at t = 0; ``weights``: the weights simulated, in the
    layout's fan-out order (later changes to the network do not affect them); ``imax``:
    (n_samples, n_neurons) synaptic current just before each read-out's maximum (NaN elsewhere).
    """

    inputs: SpikeTrains
    v_init: np.ndarray
    weights: np.ndarray
    imax: np.ndarray


class Result:
    """Output of ``simulate``; see the module docstring."""

    def __init__(self, layout, t_max: float, times: np.ndarray, ids: np.ndarray, currents: np.ndarray,
                 offsets: np.ndarray, vmax: np.ndarray, tmax: np.ndarray, vint: np.ndarray,
                 record_times: Optional[np.ndarray] = None, record_ids: Optional[np.ndarray] = None,
                 record_V: Optional[np.ndarray] = None, record_I: Optional[np.ndarray] = None, *,
                 tape: Optional[SimulationTape] = None, stats: Optional[Dict[str, np.ndarray]] = None):
        self.layout = layout
        self.t_max = float(t_max)
        self.times, self.ids, self.currents, self.offsets = times, ids, currents, offsets
        self.vmax, self.tmax, self.vint = vmax, tmax, vint
        self.record_times, self.record_ids = record_times, record_ids
        self.record_V, self.record_I = record_V, record_I
        self.tape = tape
        self.stats = stats
        self._first_spike_cache: Dict[str, np.ndarray] = {}
        self._silent_peak_cache: Dict[str, ReadOuts] = {}

    @property
    def n_samples(self) -> int:
        return self.offsets.size - 1

    @property
    def n_spikes(self) -> int:
        return int(self.times.size)

    def _pop(self, name: str):
        if name not in self.layout.offsets:
            raise ValueError(f"population {name!r} does not exist (have {list(self.layout.offsets)})")
        return self.layout.offsets[name], self.layout.sizes[name]

    def spikes(self, population: str) -> SpikeBatch:
        """Spikes of one population as a SpikeBatch (neuron ids local to the population)."""
        o, n = self._pop(population)
        sel = (self.ids >= o) & (self.ids < o + n)
        samp = np.repeat(np.arange(self.n_samples), np.diff(self.offsets))
        counts = np.bincount(samp[sel], minlength=self.n_samples).astype(np.int64)
        offs = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return SpikeBatch(self.times[sel], self.ids[sel] - o, offs, n, validate=False)

    def first_spike_times(self, population: str) -> np.ndarray:
        """(n_samples, n_neurons) first spike time in ms, ``inf`` where a neuron is silent."""
        cache = self._first_spike_cache  # a loss and its prediction both ask
        if population not in cache:
            cache[population] = self.spikes(population).first_spike_times()
        return cache[population].copy()

    def counts(self, population: str) -> np.ndarray:
        """(n_samples, n_neurons) spike counts."""
        return self.spikes(population).counts()

    def _readout(self, arr: np.ndarray, population: str) -> np.ndarray:
        o, n = self._pop(population)
        if not self.layout.neurons.track[self.layout.pop_index[population]]:
            raise ValueError(f"population {population!r} spikes; max/integral of V are kept only for "
                             "non-spiking read-outs (v_th=inf)")
        return arr[:, o:o + n].copy()

    def max_voltage(self, population: str) -> np.ndarray:
        """(n_samples, n) exact max of V over [0, t_max] of a non-spiking read-out population."""
        return self._readout(self.vmax, population)

    def max_voltage_time(self, population: str) -> np.ndarray:
        """(n_samples, n) time (ms) at which V reached its maximum."""
        return self._readout(self.tmax, population)

    def voltage_integral(self, population: str) -> np.ndarray:
        """(n_samples, n) exact integral of V over [0, t_max] (ms x voltage)."""
        return self._readout(self.vint, population)

    def silent_peak(self, population: str):
        """(vmax, tmax): exact max of V over [0, t_max] and its time (ms), shape (n_samples, n), for the
        neurons of a *spiking* population that did not fire in that sample; NaN where the neuron fired.

        A neuron that stayed silent never reset, so its V is the free response to its arrivals and its
        peak is what a read-out's tracking would give; it is replayed from the recorded spikes
        (``eventsim.kernels.silent_peak``) with the network as it was simulated (later changes to it do
        not affect the result). Also keeps
        I just before each peak (``silent_peak_current``) for EventProp (``vmax_grad`` of spiking populations).
        """
        o, n = self._pop(population)
        lay = self.layout
        if not np.isfinite(lay.neurons.v_th[lay.pop_index[population]]):
            raise ValueError(f"population {population!r} does not spike; use max_voltage for read-outs")
        if self.tape is None:
            raise ValueError("silent_peak needs a Result returned by simulate() (the input spikes, weights and "
                             "initial voltages it replays are not stored in result files)")
        cache = self._silent_peak_cache
        if population not in cache:
            from .kernels.silent_peak import silent_peaks_batch

            B, N = self.n_samples, lay.n_neurons
            sel = np.zeros((B, N), dtype=np.bool_)
            sel[:, o:o + n] = self.counts(population) == 0
            peaks = ReadOuts(*(np.full((B, N), np.nan) for _ in range(4)))
            syn = lay.synapses._replace(w=self.tape.weights)
            silent_peaks_batch(sel, self.tape.inputs, SpikeTrains(self.times, self.ids, self.offsets),
                               lay.neurons, syn, self.tape.v_init, self.t_max, peaks)
            cache[population] = ReadOuts(*(a[:, o:o + n] for a in peaks))
        peaks = cache[population]
        return peaks.vmax.copy(), peaks.tmax.copy()

    def silent_peak_current(self, population: str) -> np.ndarray:
        """(n_samples, n) synaptic current I just before each silent neuron's peak (``silent_peak``), NaN
        where the neuron fired; EventProp's term for a peak that sits on an arrival needs it."""
        self.silent_peak(population)
        return self._silent_peak_cache[population].imax.copy()

    def _recorded(self, arr: Optional[np.ndarray], population: str) -> np.ndarray:
        if arr is None:
            raise ValueError("nothing was recorded: pass record= and record_times= to simulate()")
        o, n = self._pop(population)
        cols = np.flatnonzero((self.record_ids >= o) & (self.record_ids < o + n))
        if cols.size == 0:
            raise ValueError(f"population {population!r} was not recorded")
        return arr[:, :, cols]

    def voltage(self, population: str) -> np.ndarray:
        """Recorded V, shape (n_samples, n_record_times, n_recorded_neurons_of_population)."""
        return self._recorded(self.record_V, population)

    def current(self, population: str) -> np.ndarray:
        """Recorded I, shape (n_samples, n_record_times, n_recorded_neurons_of_population)."""
        return self._recorded(self.record_I, population)

    def recorded_neurons(self, population: str) -> np.ndarray:
        """Local ids of the recorded neurons of ``population`` (column order of ``voltage``)."""
        o, n = self._pop(population)
        r = self.record_ids
        return r[(r >= o) & (r < o + n)] - o

    def spike_dict(self) -> Dict[str, SpikeBatch]:
        """Spikes of every LIF population."""
        return {n: self.spikes(n) for n, i in self.layout.pop_index.items() if np.isfinite(self.layout.neurons.v_th[i])}

    def save(self, path) -> None:
        """Write spikes (and read-outs, recordings) to HDF5 (format ``eventsim.result``), atomically."""
        from .files import atomic_h5
        from .spikes import write_spikes_group

        with atomic_h5(path, "eventsim.result") as f:
            f.attrs["t_max"] = self.t_max
            write_spikes_group(f, self.spike_dict())
            g = f.create_group("readout")
            for n, i in self.layout.pop_index.items():
                if self.layout.neurons.track[i]:
                    h = g.create_group(n)
                    h.create_dataset("v_max", data=self.max_voltage(n))
                    h.create_dataset("t_max", data=self.max_voltage_time(n)).attrs["units"] = "ms"
                    h.create_dataset("v_integral", data=self.voltage_integral(n))
            if self.record_V is not None:
                h = f.create_group("record")
                h.create_dataset("times", data=self.record_times).attrs["units"] = "ms"
                h.create_dataset("global_ids", data=self.record_ids)
                h.create_dataset("V", data=self.record_V)
                h.create_dataset("I", data=self.record_I)

    def __repr__(self) -> str:
        return f"Result(n_samples={self.n_samples}, n_spikes={self.n_spikes}, t_max={self.t_max})"


def load_result(path):
    """Read a result file: returns ``{'t_max': float, 'spikes': {pop: SpikeBatch}, 'readout': {...}}``."""
    from .files import number_attr, open_h5, read_dataset, reading
    from .spikes import read_spikes_group

    with open_h5(path, "eventsim.result") as f, reading(path):
        out = {"t_max": number_attr(f, "t_max", "result"), "spikes": read_spikes_group(f), "readout": {}}
        spikes = out["spikes"]
        n_samples = next(iter(spikes.values())).n_samples if spikes else None
        for n, h in f.get("readout", {}).items():
            what = f"read-out {n!r}"
            if "v_max" not in h or len(h["v_max"].shape) != 2:
                raise ValueError(f"{what}: dataset 'v_max' must be 2-D (n_samples, n_neurons)")
            shape = h["v_max"].shape
            if n_samples is not None and shape[0] != n_samples:
                raise ValueError(f"{what}: {shape[0]} samples, the spikes have {n_samples}")
            out["readout"][n] = {k: read_dataset(h, k, what, shape, "f") for k in ("v_max", "t_max", "v_integral")}
        if "record" in f:
            g = f["record"]
            what = "recording"
            for k in ("times", "global_ids", "V"):
                if k not in g:
                    raise ValueError(f"{what}: dataset {k!r} is missing")
            n_t, n_r = g["times"].shape[0] if g["times"].shape else -1, g["global_ids"].shape[0] if g["global_ids"].shape else -1
            n_b = g["V"].shape[0] if g["V"].shape else -1
            rec = {"times": read_dataset(g, "times", what, n_t, "f"),
                   "global_ids": read_dataset(g, "global_ids", what, n_r, "iu")}
            for k in ("V", "I"):
                rec[k] = read_dataset(g, k, what, (n_b, n_t, n_r), "f")
            out["record"] = rec
        return out


def describe_result(res: Dict) -> List[str]:
    """Readable lines about a loaded result file (``load_result``): simulated time, spikes per
    population, read-out statistics and recordings."""
    from .io import _stats, describe_spikes

    lines = [f"simulated {res['t_max']:g} ms"] + describe_spikes(res["spikes"])
    for name, r in res["readout"].items():
        lines.append(f"  read-out {name}: max V {_stats(r['v_max'])}; integral of V {_stats(r['v_integral'])} ms")
    if "record" in res:
        rec = res["record"]
        lines.append(f"  recorded V and I of {len(rec['global_ids'])} neurons at {len(rec['times'])} times")
    return lines


def _register() -> None:
    from .formats import FileFormat, register

    register(FileFormat("eventsim.result", "simulation result", load_result, describe_result))


_register()

