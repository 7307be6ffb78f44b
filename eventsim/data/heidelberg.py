"""The Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) files.

Cramer, Stradmann, Schemmel & Zenke (2020), "The Heidelberg spiking data sets for the systematic
evaluation of spiking neural networks", IEEE TNNLS. Spoken words passed through a model of the
inner ear and 700 auditory nerve fibres (input channels 0..699); each sample is the spike train
of those channels over about one second.

| data set | files | classes | words |
|---|---|---|---|
| SHD | ``shd_train.h5``, ``shd_test.h5`` | 20 | English and German digits 0-9 |
| SSC | ``ssc_train.h5``, ``ssc_valid.h5``, ``ssc_test.h5`` | 35 | Speech Commands v0.02 words |

eventsim downloads nothing: fetch the files from https://zenkelab.org/datasets/ (zipped; unzip
them) and pass a path to ``load_heidelberg``. Each file holds, in the published layout,

- ``spikes/times``: one variable-length array of spike times per sample, in **seconds** (float16
  in the published files: steps of 0.24 ms between 0.25 s and 0.5 s, 0.49 ms up to 1 s and
  0.98 ms up to 2 s);
- ``spikes/units``: the matching variable-length arrays of channel indices (0..699, uint16);
- ``labels``: one integer class per sample (0..19 for SHD, 0..34 for SSC);
- ``extra/``: ``speaker``, ``keys`` (the class names) and further metadata (not read here).

Times are converted to ms as ``1000 * float64(t)`` (the stored float16 or float32 value widened
exactly, then multiplied once).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..checks import positive_int, positive_number
from ..files import PathLike, check_backed, read_dataset, reading, require_regular_file
from ..spikes import SpikeBatch

__all__ = ["load_heidelberg", "N_CHANNELS", "N_CLASSES", "FILE_NAMES"]

#: input channels of both data sets
N_CHANNELS = 700
#: number of classes per data set
N_CLASSES = {"shd": 20, "ssc": 35}
#: the official file names
FILE_NAMES = ("shd_train.h5", "shd_test.h5", "ssc_train.h5", "ssc_valid.h5", "ssc_test.h5")


def _vlen_dataset(f, key: str, kinds: str, n: Optional[int]):
    """The dataset ``f[key]``, checked from its metadata alone to be 1-D (of ``n`` rows if given)
    with variable-length elements of a numeric kind in ``kinds``."""
    import h5py

    if key not in f:
        raise ValueError(f"dataset {key!r} is missing")
    ds = f[key]
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{key!r} is not a dataset")
    base = h5py.check_vlen_dtype(ds.dtype)
    if base is None or base.kind not in kinds:
        raise ValueError(f"dataset {key!r} must hold variable-length arrays of "
                         f"{'numbers' if 'f' in kinds else 'integers'}, got dtype {ds.dtype}"
                         + (f" of {base}" if base is not None else ""))
    if ds.ndim != 1 or (n is not None and ds.shape[0] != n):
        want = "1-D" if n is None else f"shape ({n},)"
        raise ValueError(f"dataset {key!r} must be {want} to match the rest of the file, got shape {ds.shape}")
    check_backed(ds, f"dataset {key!r}")
    return ds


def load_heidelberg(path: PathLike, *, t_max: Optional[float] = None,
                    max_samples: Optional[int] = None) -> Tuple[SpikeBatch, np.ndarray]:
    """Read an SHD or SSC file (``shd_train.h5``, ..., see the module docstring).

    Args:
        path: an HDF5 file in the published layout (``spikes/times`` in s, ``spikes/units``,
            ``labels``).
        t_max: if given (ms, > 0), spikes later than ``t_max`` are dropped (a spike at exactly
            ``t_max`` is kept, as ``simulate`` includes events at its ``t_max``).
        max_samples: if given, only the first ``max_samples`` samples are read.

    Returns:
        ``(spikes, labels)``: a SpikeBatch of ``n_neurons = 700`` with times in ms, sorted by
        time within each sample, and the labels as an int64 array.

    Raises:
        ValueError: ``path: ...`` when the path is not a regular file, not HDF5, or its content is
            missing or inconsistent (a dataset missing, of the wrong type or length, a sample
            whose times and units differ in length, a unit outside 0..699, a time negative or
            not finite).
    """
    import h5py

    path = require_regular_file(path)
    if t_max is not None:
        t_max = positive_number("t_max", t_max)
    if max_samples is not None:
        max_samples = positive_int("max_samples", max_samples)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"path: {str(path)!r} is not a readable HDF5 file ({e})") from None
    with f, reading(path):
        if "labels" not in f:
            raise ValueError("dataset 'labels' is missing")
        times_ds = _vlen_dataset(f, "spikes/times", "f", None)
        n_all = times_ds.shape[0]
        units_ds = _vlen_dataset(f, "spikes/units", "iu", n_all)
        labels = read_dataset(f, "labels", "labels", n_all, "iu").astype(np.int64)
        n = n_all if max_samples is None else min(n_all, max_samples)
        try:
            times_s = times_ds[:n]
            units = units_ds[:n]
        except (OSError, RuntimeError) as e:
            raise ValueError(f"the spike arrays cannot be read ({e})") from None
        t_list, u_list = [], []
        for k in range(n):
            t = np.asarray(times_s[k]).astype(np.float64) * 1000.0
            u = np.asarray(units[k]).astype(np.int64)
            if t.shape != u.shape or t.ndim != 1:
                raise ValueError(f"sample {k}: spikes/times and spikes/units differ in length "
                                 f"({t.size} vs {u.size})")
            if not np.all(np.isfinite(t)) or (t.size and t.min() < 0):
                bad = t[~np.isfinite(t) | (t < 0)][0] / 1000.0
                raise ValueError(f"sample {k}: spike times must be finite and >= 0 s, got {bad!r}")
            if u.size and (u.min() < 0 or u.max() >= N_CHANNELS):
                bad = int(u[(u < 0) | (u >= N_CHANNELS)][0])
                raise ValueError(f"sample {k}: unit {bad} is outside 0..{N_CHANNELS - 1}")
            if t_max is not None:
                keep = t <= t_max
                t, u = t[keep], u[keep]
            if t.size > 1 and np.any(t[1:] < t[:-1]):         # the published samples are sorted already
                order = np.argsort(t, kind="stable")
                t, u = t[order], u[order]
            t_list.append(t)
            u_list.append(u)
    return SpikeBatch.from_arrays(t_list, u_list, n_neurons=N_CHANNELS, sort=False), labels[:n]
