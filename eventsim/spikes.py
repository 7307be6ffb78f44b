"""Batches of spike trains.

A ``SpikeBatch`` holds the spikes of ``n_samples`` independent samples in one flat CSR structure:
``times`` (float64, ms), ``ids`` (int32, neuron index within the population) and ``offsets``
(int64, length ``n_samples + 1``): the spikes of sample ``s`` are ``times[offsets[s]:offsets[s+1]]``,
sorted by time (ties keep their given order). Times are >= 0 and finite.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .files import count_attr, read_dataset


class SpikeBatch:
    """Spikes of a batch of samples of one population (see the module docstring)."""

    __slots__ = ("times", "ids", "offsets", "n_neurons")

    def __init__(self, times: np.ndarray, ids: np.ndarray, offsets: np.ndarray,
                 n_neurons: Optional[int] = None, *, validate: bool = True, sort: bool = False):
        times = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
        ids = np.ascontiguousarray(ids).reshape(-1)
        offsets = np.ascontiguousarray(offsets).reshape(-1)
        if validate:
            if times.shape != ids.shape:
                raise ValueError(f"times and ids must have the same length, got {times.size} and {ids.size}")
            if ids.size and not np.issubdtype(ids.dtype, np.integer):
                if not np.all(np.mod(ids, 1) == 0):
                    raise ValueError("ids must be integers")
            if offsets.size < 1 or (offsets.size and not np.issubdtype(offsets.dtype, np.integer)):
                raise ValueError(f"offsets must be a non-empty integer array, got {offsets!r}")
            if offsets[0] != 0 or offsets[-1] != times.size or np.any(np.diff(offsets) < 0):
                raise ValueError("offsets must start at 0, be non-decreasing and end at len(times)"
                                 f" ({times.size}), got {offsets[:5]}...{offsets[-3:]}")
            if not np.all(np.isfinite(times)):
                raise ValueError("times must be finite (no NaN or inf)")
            if times.size and times.min() < 0:
                raise ValueError(f"times must be >= 0 ms, got min {times.min()!r}")
            if ids.size and ids.min() < 0:
                raise ValueError(f"ids must be >= 0, got {int(ids.min())}")
            if n_neurons is not None:
                if int(n_neurons) < 0:
                    raise ValueError(f"n_neurons must be >= 0, got {n_neurons!r}")
                if ids.size and ids.max() >= n_neurons:
                    raise ValueError(f"ids out of range: max id {int(ids.max())} >= n_neurons {n_neurons}")
        ids = ids.astype(np.int32)
        offsets = offsets.astype(np.int64)
        if sort:
            order = np.lexsort((times, np.repeat(np.arange(offsets.size - 1), np.diff(offsets))))
            times, ids = times[order], ids[order]
        elif validate and times.size > 1:
            d = np.diff(times)
            starts = offsets[1:-1]
            ok = d >= 0
            ok[starts[(starts > 0) & (starts < times.size)] - 1] = True
            if not np.all(ok):
                bad = int(np.flatnonzero(~ok)[0])
                s = int(np.searchsorted(offsets, bad, side="right") - 1)
                raise ValueError(f"times must be sorted within each sample: sample {s} has "
                                 f"{times[bad].item()!r} before {times[bad + 1].item()!r}")
        self.times = times
        self.ids = ids
        self.offsets = offsets
        if n_neurons is None:
            n_neurons = int(ids.max()) + 1 if ids.size else 0
        self.n_neurons = int(n_neurons)

    # ----------------------------------------------------------------------------------- builders
    @classmethod
    def from_lists(cls, samples: Iterable[Iterable[Tuple[float, int]]], n_neurons: Optional[int] = None,
                   sort: bool = True) -> "SpikeBatch":
        """Build from one list of ``(time_ms, neuron_id)`` pairs per sample (sorted by time here)."""
        times: List[float] = []
        ids: List[int] = []
        offsets = [0]
        for k, sample in enumerate(samples):
            for item in sample:
                try:
                    t, i = item
                except (TypeError, ValueError):
                    raise ValueError(f"sample {k}: each spike must be a (time, id) pair, got {item!r}") from None
                times.append(float(t))
                ids.append(int(i))
            offsets.append(len(times))
        return cls(np.array(times, dtype=np.float64), np.array(ids, dtype=np.int64),
                   np.array(offsets, dtype=np.int64), n_neurons, sort=sort)

    @classmethod
    def from_arrays(cls, times: Sequence[np.ndarray], ids: Sequence[np.ndarray],
                    n_neurons: Optional[int] = None, sort: bool = True) -> "SpikeBatch":
        """Build from per-sample arrays of times (ms) and ids."""
        if len(times) != len(ids):
            raise ValueError(f"times and ids must list the same number of samples, got {len(times)} and {len(ids)}")
        lens = [np.size(t) for t in times]
        for k, (t, i) in enumerate(zip(times, ids)):
            if np.size(t) != np.size(i):
                raise ValueError(f"sample {k}: times and ids differ in length ({np.size(t)} vs {np.size(i)})")
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        t = np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in times]) if times else np.zeros(0)
        i = np.concatenate([np.asarray(x).ravel() for x in ids]).astype(np.int64) if ids else np.zeros(0, np.int64)
        return cls(t, i, offsets, n_neurons, sort=sort)

    @classmethod
    def from_first_spike_times(cls, first_times: np.ndarray) -> "SpikeBatch":
        """One spike per (sample, neuron) at ``first_times[s, i]`` (ms); ``inf`` or NaN means no spike."""
        ft = np.asarray(first_times, dtype=np.float64)
        if ft.ndim != 2:
            raise ValueError(f"first_times must be 2-D (n_samples, n_neurons), got shape {ft.shape}")
        keep = np.isfinite(ft)
        s_idx, n_idx = np.nonzero(keep)
        times = ft[s_idx, n_idx]
        offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))]).astype(np.int64)
        return cls(times, n_idx, offsets, ft.shape[1], sort=True)

    @classmethod
    def from_events(cls, events, *, sensor_size=None, ordering=None, channel=None,
                    n_neurons: Optional[int] = None) -> "SpikeBatch":
        """Build from address events in the tonic convention: a structured array with fields
        ``t`` (microseconds), ``x``, optionally ``y`` and ``p``, or a list of them (one sample
        each); neuron ``p*W*H + y*W + x`` for ``sensor_size = (W, H, P)``, time ``t / 1000`` ms.
        See ``eventsim.data.events.from_events`` for every argument."""
        from .data.events import from_events
        return from_events(events, sensor_size=sensor_size, ordering=ordering, channel=channel,
                           n_neurons=n_neurons)

    @classmethod
    def empty(cls, n_samples: int, n_neurons: int = 0) -> "SpikeBatch":
        """A batch of ``n_samples`` samples without spikes."""
        if int(n_samples) < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples!r}")
        return cls(np.zeros(0), np.zeros(0, np.int32), np.zeros(int(n_samples) + 1, np.int64), n_neurons)

    # ------------------------------------------------------------------------------------ access
    @property
    def n_samples(self) -> int:
        return self.offsets.size - 1

    def __len__(self) -> int:
        return self.n_samples

    @property
    def n_spikes(self) -> int:
        return int(self.times.size)

    def sample(self, s: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(times, ids)`` of sample ``s`` (views)."""
        if not 0 <= s < self.n_samples:
            raise IndexError(f"sample index {s} out of range for {self.n_samples} samples")
        a, b = self.offsets[s], self.offsets[s + 1]
        return self.times[a:b], self.ids[a:b]

    def subset(self, samples: Sequence[int]) -> "SpikeBatch":
        """A new batch with the given samples, in the given order."""
        idx = np.asarray(samples, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_samples):
            raise IndexError(f"sample indices out of range for {self.n_samples} samples")
        starts, ends = self.offsets[idx], self.offsets[idx + 1]
        lens = ends - starts
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        # the spikes of sample idx[k] are starts[k] + 0..lens[k]-1, laid end to end
        sel = np.repeat(starts - offsets[:-1], lens) + np.arange(offsets[-1], dtype=np.int64)
        return SpikeBatch(self.times[sel], self.ids[sel], offsets, self.n_neurons, validate=False)

    def counts(self) -> np.ndarray:
        """Spike counts, shape (n_samples, n_neurons)."""
        out = np.zeros((self.n_samples, self.n_neurons), dtype=np.int64)
        s = np.repeat(np.arange(self.n_samples), np.diff(self.offsets))
        np.add.at(out, (s, self.ids), 1)
        return out

    def first_spike_times(self) -> np.ndarray:
        """First spike time per (sample, neuron) in ms, ``inf`` where silent; shape (n_samples, n_neurons)."""
        out = np.full((self.n_samples, self.n_neurons), np.inf)
        s = np.repeat(np.arange(self.n_samples), np.diff(self.offsets))
        np.minimum.at(out, (s, self.ids), self.times)
        return out

    def to_lists(self) -> List[List[Tuple[float, int]]]:
        """Per-sample lists of ``(time, id)`` pairs."""
        return [list(zip(*(x.tolist() for x in self.sample(s)))) for s in range(self.n_samples)]

    def to_events(self, *, sensor_size=None, dtype=None) -> list:
        """The spikes as address events (tonic convention): one structured array per sample,
        ``t`` in microseconds (rounded to the nearest us in an integer field). See
        ``eventsim.data.events.to_events`` for every argument."""
        from .data.events import to_events
        return to_events(self, sensor_size=sensor_size, dtype=dtype)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpikeBatch):
            return NotImplemented
        return (self.n_neurons == other.n_neurons and np.array_equal(self.offsets, other.offsets)
                and np.array_equal(self.times, other.times) and np.array_equal(self.ids, other.ids))

    def __repr__(self) -> str:
        return f"SpikeBatch(n_samples={self.n_samples}, n_neurons={self.n_neurons}, n_spikes={self.n_spikes})"


def select_populations(spikes: Mapping[str, SpikeBatch], names: Sequence[str], *, what: str = "spikes",
                       require_all: bool = False) -> Dict[str, SpikeBatch]:
    """The entries of ``spikes`` (population -> SpikeBatch, as read from a spike file) for the
    input populations ``names`` of a network. ValueError naming ``what`` if the data hold a
    population the network does not have (a file meant for another network), if none of ``names``
    is present, or, with ``require_all``, if any is missing."""
    extra = [k for k in spikes if k not in names]
    if extra:
        raise ValueError(f"{what}: populations {extra} are not inputs of the network (its inputs: {list(names)})")
    missing = [k for k in names if k not in spikes]
    if missing and (require_all or len(missing) == len(names)):
        raise ValueError(f"{what}: no spikes for the input populations {missing} (the data have {list(spikes)})")
    return {k: spikes[k] for k in names if k in spikes}


# ------------------------------------------------------------------------------------ HDF5 group
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
