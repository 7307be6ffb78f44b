"""Address events (the tonic convention) to and from ``SpikeBatch``.

Event cameras, silicon cochleas and the [tonic](https://tonic.readthedocs.io) library store a
recording as a NumPy structured array with one row per event and the fields

| field | meaning | unit |
|---|---|---|
| ``t`` | time stamp | microseconds (us) |
| ``x`` | column (or channel of a 1-D sensor) | pixel index, 0..W-1 |
| ``y`` | row (absent for a 1-D sensor) | pixel index, 0..H-1 |
| ``p`` | polarity (optional) | 0..P-1 (bool allowed) |

together with a ``sensor_size = (W, H, P)`` (tonic's ``dataset.sensor_size``; a 1-D sensor such
as the 700 channels of the Heidelberg digits has ``(700, 1, 1)``).

**Neuron index.** ``from_events`` maps the event ``(x, y, p)`` to the input neuron

    id = p * W * H + y * W + x,        n_neurons = W * H * P

which is the row-major flattening of tonic's frames (``ToFrame`` returns arrays of shape
``(T, P, H, W)``; ``frame.reshape(T, -1)[:, id]`` counts the events of neuron ``id``). Without a
``y`` field ``y = 0``; without a ``p`` field ``p = 0``. A sensor with a single polarity
(``P == 1``) ignores the ``p`` field, whatever constant value it holds (tonic's audio data sets
set ``p = 1`` throughout), but refuses events of two different polarities, as tonic does. Any
other mapping can be given as ``channel(events) -> ids``, a function of one sample's events.

**Times.** ``t`` is converted to milliseconds as ``t / 1000`` in float64: the correctly rounded
quotient, exact in the sense that ``round(1000 * ms)`` gives back every integer time stamp below
2**53 us. Events need not be sorted: each sample is sorted by time, stably (events with the same
time stamp keep their order). Time stamps must be finite and >= 0 (subtract a recording's first
time stamp yourself if it starts late: ``events["t"] -= events["t"][0]``).

``to_events`` is the inverse: neuron ``id`` goes back to ``x = id % W``, ``y = (id // W) % H``,
``p = id // (W H)``, and a time of ``ms`` milliseconds to ``t = round(1000 ms)`` us in an integer
``t`` field (to the nearest microsecond, ties to even: exact for times that are whole
microseconds, so ``from_events(to_events(b))`` equals ``b`` for them) or ``t = 1000 ms`` in a float
``t`` field (no rounding).
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..checks import positive_int, show
from ..spikes import SpikeBatch

__all__ = ["from_events", "to_events", "AUDIO_DTYPE", "CAMERA_DTYPE"]

#: tonic's dtype of 1-D (audio) events, e.g. ``tonic.datasets.SHD.dtype``
AUDIO_DTYPE = np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)])
#: tonic's dtype of 2-D (camera) events, e.g. ``tonic.datasets.NMNIST.dtype``
CAMERA_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])

SensorSize = Tuple[int, int, int]
Events = Union[np.ndarray, Sequence[np.ndarray]]


def _sensor_size(sensor_size) -> SensorSize:
    """``sensor_size`` as a tuple of three positive ints ``(W, H, P)``."""
    try:
        parts = tuple(sensor_size)
    except TypeError:
        raise ValueError(f"sensor_size must be (W, H, P), got {show(sensor_size)}") from None
    if len(parts) != 3:
        raise ValueError(f"sensor_size must be (W, H, P), three positive integers, got {show(sensor_size)}")
    try:
        return tuple(positive_int("sensor_size", v) for v in parts)   # type: ignore[return-value]
    except ValueError:
        raise ValueError(f"sensor_size must be (W, H, P), three positive integers, "
                         f"got {tuple(show(v) for v in parts)}") from None


def _as_structured(sample, ordering, k: int) -> np.ndarray:
    """One sample's events as a structured array (a plain 2-D array is named by ``ordering``)."""
    a = np.asarray(sample)
    if a.dtype.names is not None:
        if ordering is not None:
            raise ValueError(f"ordering applies to plain 2-D arrays only; sample {k} already has the fields "
                             f"{a.dtype.names}")
        return a.reshape(-1)
    if ordering is None:
        raise ValueError(f"sample {k}: events must be a structured array with fields t, x (y, p), or a plain "
                         f"2-D array with ordering= naming its columns (e.g. 'txyp'), got dtype {a.dtype} "
                         f"and shape {a.shape}")
    names = tuple(ordering)
    if len(set(names)) != len(names) or not set(names) <= {"t", "x", "y", "p"}:
        raise ValueError(f"ordering must name distinct columns among 't', 'x', 'y', 'p', got {ordering!r}")
    if a.ndim != 2 or a.shape[1] != len(names):
        raise ValueError(f"sample {k}: a plain array needs shape (n_events, {len(names)}) for ordering "
                         f"{ordering!r}, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"sample {k}: events must hold numbers, got dtype {a.dtype}")
    out = np.empty(a.shape[0], dtype=[(n, a.dtype) for n in names])
    for j, n in enumerate(names):
        out[n] = a[:, j]
    return out


def _samples(events, ordering) -> List[np.ndarray]:
    """The samples of ``events``: one array (one sample) or a sequence of arrays."""
    if isinstance(events, np.ndarray) and (events.dtype.names is not None or events.ndim == 2):
        return [_as_structured(events, ordering, 0)]
    if isinstance(events, (str, bytes)) or not hasattr(events, "__iter__"):
        raise TypeError(f"events must be a structured array or a list of them (one per sample), "
                        f"got {type(events).__name__}")
    return [_as_structured(s, ordering, k) for k, s in enumerate(events)]


def _integers(v: np.ndarray, name: str, k: int) -> np.ndarray:
    """``v`` (field ``name`` of sample ``k``) as int64; ValueError unless it holds integers
    (bool and integral floats allowed)."""
    if v.dtype == bool or np.issubdtype(v.dtype, np.integer):
        return v.astype(np.int64)
    if np.issubdtype(v.dtype, np.floating):
        if not np.all(np.isfinite(v)) or np.any(v != np.round(v)):
            bad = v[~np.isfinite(v) | (v != np.round(v))][0]
            raise ValueError(f"sample {k}: {name} must hold integers, got {show(bad)}")
        return v.astype(np.int64)
    raise ValueError(f"sample {k}: {name} must hold integers, got dtype {v.dtype}")


def _in_range(v: np.ndarray, name: str, n: int, k: int, what: str) -> None:
    if v.size and (v.min() < 0 or v.max() >= n):
        bad = v[(v < 0) | (v >= n)][0]
        raise ValueError(f"sample {k}: {name} = {show(bad)} is outside the sensor (0..{n - 1}, {what})")


def _times_ms(ev: np.ndarray, k: int) -> np.ndarray:
    """The ``t`` field (us) of one sample in ms, checked finite and >= 0."""
    t = ev["t"]
    if not (np.issubdtype(t.dtype, np.integer) or np.issubdtype(t.dtype, np.floating)):
        raise ValueError(f"sample {k}: field 't' must hold numbers (microseconds), got dtype {t.dtype}")
    ms = t.astype(np.float64) / 1000.0
    if not np.all(np.isfinite(ms)):
        raise ValueError(f"sample {k}: time stamps must be finite, got {show(t[~np.isfinite(ms)][0])}")
    if ms.size and ms.min() < 0:
        raise ValueError(f"sample {k}: time stamps must be >= 0 us, got {show(t.min())}")
    return ms


def from_events(events: Events, *, sensor_size: Optional[Sequence[int]] = None,
                ordering: Optional[Union[str, Sequence[str]]] = None,
                channel: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                n_neurons: Optional[int] = None) -> SpikeBatch:
    """A ``SpikeBatch`` from address events (the tonic convention; see the module docstring).

    Args:
        events: one structured array with fields ``t`` (us), ``x``, optionally ``y`` and ``p``
            (one sample), or a list of them (one sample each). A plain 2-D array of shape
            (n_events, n_columns) is accepted with ``ordering``.
        sensor_size: ``(W, H, P)`` as tonic gives it; ``n_neurons = W * H * P``. Without it, W, H
            and P are the largest ``x``, ``y`` and ``p`` over all samples plus one (1 where the
            field is absent); pass it whenever you know it, so that a batch does not depend on
            the events it happens to hold.
        ordering: the column names of plain 2-D arrays, e.g. ``"txyp"`` or ``("x", "t", "p")``.
        channel: ``channel(events) -> ids``: the neuron index of each event of one sample
            (integers >= 0), replacing the ``(x, y, p)`` mapping; only the ``t`` field is needed.
        n_neurons: the population size with ``channel`` (default ``W * H * P`` of
            ``sensor_size`` if given, else the largest id plus one); without ``channel`` it must
            equal ``W * H * P`` if given.

    Returns:
        SpikeBatch with one sample per array, times in ms (``t / 1000``), sorted stably by time.

    Raises:
        ValueError: a field missing or not integer, an index outside the sensor, time stamps
            negative or not finite, two polarities on a one-polarity sensor.
        TypeError: ``events`` is neither an array nor a list of arrays.
    """
    samples = _samples(events, ordering)
    size = None if sensor_size is None else _sensor_size(sensor_size)
    if n_neurons is not None:
        n_neurons = positive_int("n_neurons", n_neurons, 0)
    for k, ev in enumerate(samples):
        need = ("t",) if channel is not None else ("t", "x")
        missing = [f for f in need if f not in ev.dtype.names]
        if missing:
            raise ValueError(f"sample {k}: events need the fields {list(need)}, missing {missing} "
                             f"(fields: {list(ev.dtype.names)})")
    times = [_times_ms(ev, k) for k, ev in enumerate(samples)]
    if channel is not None:
        ids = []
        for k, ev in enumerate(samples):
            got = np.asarray(channel(ev))
            if got.shape != (ev.size,):
                raise ValueError(f"channel must return one id per event: sample {k} has {ev.size} events, "
                                 f"channel returned shape {got.shape}")
            ids.append(_integers(got, "channel id", k))
        if n_neurons is None:
            n_neurons = (int(np.prod(size)) if size is not None
                         else max((int(i.max()) + 1 for i in ids if i.size), default=0))
        for k, i in enumerate(ids):
            _in_range(i, "channel id", n_neurons, k, f"n_neurons = {n_neurons}")
    else:
        fields = [{f: (_integers(ev[f], f, k) if f in ev.dtype.names else np.zeros(ev.size, np.int64))
                   for f in "xyp"} for k, ev in enumerate(samples)]
        if size is None:
            def extent(f):
                return max((int(c[f].max()) + 1 for c in fields if c[f].size), default=1)
            size = (extent("x"), extent("y"), extent("p"))
        W, H, P = size
        if n_neurons is not None and n_neurons != W * H * P:
            raise ValueError(f"n_neurons = {n_neurons} differs from W * H * P = {W * H * P} of sensor_size {size}; "
                             "give n_neurons only with channel=")
        n_neurons = W * H * P
        polarities = {int(v) for c in fields for v in np.unique(c["p"])}
        if P == 1 and len(polarities) > 1:
            raise ValueError(f"sensor_size {size} has one polarity, but the events hold the polarities "
                             f"{sorted(polarities)}")
        ids = []
        for k, c in enumerate(fields):
            _in_range(c["x"], "x", W, k, f"W = {W}")
            _in_range(c["y"], "y", H, k, f"H = {H}")
            p = np.zeros_like(c["p"]) if P == 1 else c["p"]
            _in_range(p, "p", P, k, f"P = {P}")
            ids.append(p * (W * H) + c["y"] * W + c["x"])
    order = [np.argsort(t, kind="stable") for t in times]
    offsets = np.concatenate([[0], np.cumsum([t.size for t in times])]).astype(np.int64)
    t_all = np.concatenate([t[o] for t, o in zip(times, order)]) if times else np.zeros(0)
    i_all = np.concatenate([i[o] for i, o in zip(ids, order)]) if ids else np.zeros(0, np.int64)
    return SpikeBatch(t_all, i_all, offsets, n_neurons)


def to_events(batch: SpikeBatch, *, sensor_size: Optional[Sequence[int]] = None,
              dtype: Optional[np.dtype] = None) -> List[np.ndarray]:
    """The spikes of ``batch`` as address events: one structured array per sample.

    Args:
        batch: the spikes (times in ms).
        sensor_size: ``(W, H, P)`` with ``W * H * P == batch.n_neurons``; default
            ``(n_neurons, 1, 1)`` (a 1-D sensor).
        dtype: a structured dtype with a ``t`` and an ``x`` field and optionally ``y`` and ``p``
            (tonic's ``dataset.dtype``); default ``AUDIO_DTYPE`` (t, x, p) when ``H == 1``, else
            ``CAMERA_DTYPE`` (x, y, t, p), both int64 as tonic's data sets use them.

    Returns:
        A list of ``batch.n_samples`` structured arrays, events in time order. An integer ``t``
        field holds ``round(1000 ms)`` us (to the nearest microsecond, ties to even), a float one
        ``1000 ms``; ``x``, ``y``, ``p`` are the inverse of the mapping of ``from_events``.

    Raises:
        ValueError: the sensor does not have ``n_neurons`` pixels, the dtype lacks a field the
            sensor needs (``y`` when ``H > 1``, ``p`` when ``P > 1``) or has a field other than
            t, x, y, p, or a value does not fit its field.
    """
    if not isinstance(batch, SpikeBatch):
        raise TypeError(f"batch must be a SpikeBatch, got {type(batch).__name__}")
    size = (batch.n_neurons, 1, 1) if sensor_size is None else _sensor_size(sensor_size)
    W, H, P = size
    if W * H * P != batch.n_neurons:
        raise ValueError(f"sensor_size {size} has {W * H * P} pixels, the batch has n_neurons = {batch.n_neurons}")
    if dtype is None:
        dtype = AUDIO_DTYPE if H == 1 else CAMERA_DTYPE
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be a structured NumPy dtype, got {show(dtype)}") from None
    names = dtype.names or ()
    if "t" not in names or "x" not in names:
        raise ValueError(f"dtype must have the fields 't' and 'x', got {names or dtype}")
    extra = [n for n in names if n not in ("t", "x", "y", "p")]
    if extra:
        raise ValueError(f"dtype has fields other than t, x, y, p: {extra}")
    if H > 1 and "y" not in names:
        raise ValueError(f"sensor_size {size} has H = {H} rows, but dtype has no 'y' field")
    if P > 1 and "p" not in names:
        raise ValueError(f"sensor_size {size} has P = {P} polarities, but dtype has no 'p' field")
    ids = batch.ids.astype(np.int64)
    values = {"x": ids % W, "y": (ids // W) % H, "p": ids // (W * H)}
    t_kind = dtype["t"].kind
    if t_kind in "iu":
        t = np.rint(batch.times * 1000.0)
    elif t_kind == "f":
        t = batch.times * 1000.0
    else:
        raise ValueError(f"dtype field 't' must be an integer or float type, got {dtype['t']}")
    values["t"] = t
    out = np.empty(batch.n_spikes, dtype=dtype)
    for n in names:
        ft = dtype[n]
        v = values[n]
        if ft.kind in "iu" and v.size and (v.max() > np.iinfo(ft).max or v.min() < np.iinfo(ft).min):
            raise ValueError(f"dtype field {n!r} ({ft}) cannot hold the value {show(v.max())}")
        if ft.kind == "b":
            if v.size and v.max() > 1:
                raise ValueError(f"dtype field {n!r} is bool but a value is {show(v.max())}")
        elif ft.kind not in "iuf":
            raise ValueError(f"dtype field {n!r} must be numeric or bool, got {ft}")
        out[n] = v
    o = batch.offsets
    return [out[o[s]:o[s + 1]].copy() for s in range(batch.n_samples)]
