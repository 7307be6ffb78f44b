"""The SHD / SSC loader on small files written in the published layout (vlen float16 seconds,
vlen uint16 units), checked against the values written and against tonic's own SHD reader."""
import os

import h5py
import numpy as np
import pytest

from eventsim.data import load_heidelberg
from eventsim.data.heidelberg import FILE_NAMES, N_CHANNELS


def _write_shd(path, times_s, units, labels, *, time_dtype=np.float16, unit_dtype=np.uint16):
    """A file in the layout of shd_train.h5: spikes/times and spikes/units as vlen arrays, labels,
    and the extra group (speaker, keys)."""
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times_s),), dtype=h5py.vlen_dtype(time_dtype))
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(unit_dtype))
        for k, (tt, uu) in enumerate(zip(times_s, units)):
            t[k] = np.asarray(tt, dtype=time_dtype)
            u[k] = np.asarray(uu, dtype=unit_dtype)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
        f.create_dataset("extra/speaker", data=np.arange(len(labels), dtype=np.uint16) % 3)
        f.create_dataset("extra/keys", data=np.array([b"zero", b"one", b"two"]))
    return path


def _random_samples(rng, n):
    times, units = [], []
    for _ in range(n):
        k = int(rng.integers(0, 300))
        t = np.sort(rng.uniform(0.0, 1.2, k)).astype(np.float16)   # seconds, as published: float16
        times.append(t)
        units.append(rng.integers(0, N_CHANNELS, k).astype(np.uint16))
    return times, units


def test_times_units_and_labels_match_the_values_written(tmp_path):
    rng = np.random.default_rng(0)
    times, units = _random_samples(rng, 6)
    labels = rng.integers(0, 20, 6)
    path = _write_shd(tmp_path / "shd_test.h5", times, units, labels)
    spikes, y = load_heidelberg(path)
    assert spikes.n_samples == 6 and spikes.n_neurons == 700
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    for k in range(6):
        t, i = spikes.sample(k)
        order = np.argsort(times[k], kind="stable")
        # seconds -> ms: the float16 value exactly widened, times 1000
        np.testing.assert_allclose(t, times[k][order].astype(np.float64) * 1e3, rtol=1e-15, atol=0)
        np.testing.assert_array_equal(i, units[k][order])
    assert "shd_train.h5" in FILE_NAMES and "ssc_valid.h5" in FILE_NAMES


def test_agrees_with_tonic_reading_the_same_file(tmp_path):
    tonic = pytest.importorskip("tonic")
    rng = np.random.default_rng(1)
    times, units = _random_samples(rng, 5)
    labels = rng.integers(0, 20, 5)
    folder = tmp_path / "SHD"
    folder.mkdir()
    path = _write_shd(folder / "shd_train.h5", times, units, labels)
    (folder / "shd_train.h5.zip").write_bytes(b"")     # tonic only checks that the archive exists
    ds = tonic.datasets.SHD(save_to=str(tmp_path), train=True)
    spikes, y = load_heidelberg(path)
    assert len(ds) == spikes.n_samples
    for k in range(len(ds)):
        ev, target = ds[k]
        assert target == y[k]
        ref = es_from_tonic(ev)
        t, i = spikes.sample(k)
        np.testing.assert_array_equal(i, ref[1])
        # tonic truncates to whole microseconds: agreement within 1 us
        np.testing.assert_allclose(t, ref[0], rtol=0, atol=1e-3)


def es_from_tonic(ev):
    """tonic's events (t in us, x = unit) as our (times ms, ids) by a stable sort by time."""
    order = np.argsort(ev["t"], kind="stable")
    return ev["t"][order] / 1000.0, ev["x"][order]


def test_t_max_and_max_samples_truncate(tmp_path):
    times = [np.array([0.1, 0.5, 0.25, 0.75], np.float16), np.array([0.125], np.float16), np.array([], np.float16)]
    units = [np.array([1, 2, 3, 4]), np.array([9]), np.array([], np.int64)]
    path = _write_shd(tmp_path / "ssc_valid.h5", times, units, [3, 34, 0])
    spikes, y = load_heidelberg(path, t_max=float(np.float64(np.float16(0.5)) * 1e3))
    assert spikes.n_samples == 3
    t0, i0 = spikes.sample(0)
    np.testing.assert_array_equal(i0, [1, 3, 2])         # 0.5 s kept (t <= t_max), 0.75 s dropped
    assert t0.max() <= 500.0 + 1e-9 and spikes.sample(2)[0].size == 0
    spikes2, y2 = load_heidelberg(path, max_samples=2)
    assert spikes2.n_samples == 2 and y2.tolist() == [3, 34]
    assert load_heidelberg(path, max_samples=50)[0].n_samples == 3
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="t_max"):
            load_heidelberg(path, t_max=bad)
    with pytest.raises(ValueError, match="max_samples"):
        load_heidelberg(path, max_samples=0)


def test_float32_times_and_other_integer_units_are_read(tmp_path):
    path = _write_shd(tmp_path / "x.h5", [np.array([0.001, 0.002])], [np.array([0, 699])], [1],
                      time_dtype=np.float32, unit_dtype=np.int32)
    spikes, _ = load_heidelberg(path)
    np.testing.assert_allclose(spikes.times, np.array([0.001, 0.002], np.float32).astype(np.float64) * 1e3)


def test_refuses_non_regular_files_and_corrupt_content(tmp_path):
    with pytest.raises(ValueError, match="path: .* does not exist"):
        load_heidelberg(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="path: .* is a directory"):
        load_heidelberg(tmp_path)
    fifo = tmp_path / "fifo.h5"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        load_heidelberg(fifo)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(ValueError, match="path: .* not a readable HDF5 file"):
        load_heidelberg(junk)

    good = ([np.array([0.1, 0.2], np.float16)], [np.array([1, 2])], [0])
    # a missing dataset
    p = _write_shd(tmp_path / "a.h5", *good)
    with h5py.File(p, "a") as f:
        del f["labels"]
    with pytest.raises(ValueError, match="path: .*corrupt or incomplete: dataset 'labels' is missing"):
        load_heidelberg(p)
    p = _write_shd(tmp_path / "b.h5", *good)
    with h5py.File(p, "a") as f:
        del f["spikes/units"]
    with pytest.raises(ValueError, match="path: .*'spikes/units' is missing"):
        load_heidelberg(p)
    # times and units of one sample differ in length
    p = _write_shd(tmp_path / "c.h5", [np.array([0.1, 0.2], np.float16)], [np.array([1])], [0])
    with pytest.raises(ValueError, match="path: .*sample 0: spikes/times and spikes/units differ"):
        load_heidelberg(p)
    # a unit outside the 700 channels
    p = _write_shd(tmp_path / "d.h5", [np.array([0.1], np.float16)], [np.array([700])], [0])
    with pytest.raises(ValueError, match="path: .*unit 700 is outside"):
        load_heidelberg(p)
    # labels of another length than the samples
    p = _write_shd(tmp_path / "e.h5", *good)
    with h5py.File(p, "a") as f:
        del f["labels"]
        f["labels"] = np.array([0, 1], np.uint8)
    with pytest.raises(ValueError, match="path: .*'labels' must have shape"):
        load_heidelberg(p)
    # fixed-length times instead of the published variable-length arrays
    p = tmp_path / "f.h5"
    with h5py.File(p, "w") as f:
        f["spikes/times"] = np.zeros((2, 3), np.float16)
        f["spikes/units"] = np.zeros((2, 3), np.uint16)
        f["labels"] = np.zeros(2, np.uint8)
    with pytest.raises(ValueError, match="path: .*variable-length"):
        load_heidelberg(p)
    # a NaN time; a negative time
    for bad in (np.nan, -0.5):
        p = _write_shd(tmp_path / "g.h5", [np.array([0.1, bad], np.float16)], [np.array([1, 2])], [0])
        with pytest.raises(ValueError, match="path: .*finite and >= 0"):
            load_heidelberg(p)
