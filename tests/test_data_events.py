"""Address events to and from SpikeBatch, checked against tonic's own dtypes and transforms."""
import numpy as np
import pytest

tonic = pytest.importorskip("tonic")

from tonic.io import make_structured_array  # noqa: E402

import eventsim as es  # noqa: E402
from eventsim.data import from_events, to_events  # noqa: E402

NMNIST = tonic.datasets.NMNIST
SHD = tonic.datasets.SHD


def _camera_events(rng, n, size=NMNIST.sensor_size, t_hi=300_000):
    W, H, P = size
    return make_structured_array(rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, t_hi, n),
                                 rng.integers(0, P, n), dtype=NMNIST.dtype)


def test_counts_per_channel_equal_tonic_frames_of_2d_events():
    rng = np.random.default_rng(1)
    samples = [_camera_events(rng, n) for n in (400, 0, 37, 1500)]
    batch = es.SpikeBatch.from_events(samples, sensor_size=NMNIST.sensor_size)
    assert batch.n_samples == 4 and batch.n_neurons == 34 * 34 * 2
    counts = batch.counts()
    to_frame = tonic.transforms.ToFrame(sensor_size=NMNIST.sensor_size, event_count=10**9)
    for s, ev in enumerate(samples):
        if ev.size == 0:
            assert counts[s].sum() == 0
            continue
        frame = to_frame(np.sort(ev, order="t", kind="stable"))    # (1, P, H, W)
        assert frame.shape == (1, 2, 34, 34)
        np.testing.assert_array_equal(frame.reshape(-1), counts[s])


def test_time_bins_equal_tonic_frames_in_microseconds():
    """tonic bins the us time stamps; binning our ms times with the same windows must agree."""
    rng = np.random.default_rng(2)
    ev = np.sort(_camera_events(rng, 3000, t_hi=100_000), order="t", kind="stable")
    window = 7_000                                                        # us
    frames = tonic.transforms.ToFrame(sensor_size=NMNIST.sensor_size, time_window=window,
                                      start_time=0, end_time=100_000, include_incomplete=True)(ev)
    b = from_events(ev, sensor_size=NMNIST.sensor_size)
    times, ids = b.sample(0)
    n_bins = frames.shape[0]
    ours = np.zeros((n_bins, b.n_neurons), dtype=np.int64)
    np.add.at(ours, (np.floor(times / (window / 1000.0)).astype(int), ids), 1)
    np.testing.assert_array_equal(ours, frames.reshape(n_bins, -1))


def test_1d_events_of_tonic_audio_datasets_ignore_the_constant_polarity():
    # tonic's SHD reader gives t in us, x = channel and p = 1 for every event, sensor (700, 1, 1)
    rng = np.random.default_rng(3)
    n = 800
    ev = make_structured_array(rng.integers(0, 10**6, n), rng.integers(0, 700, n), 1, dtype=SHD.dtype)
    b = es.SpikeBatch.from_events(ev, sensor_size=SHD.sensor_size)
    assert b.n_neurons == 700
    frame = tonic.transforms.ToFrame(sensor_size=SHD.sensor_size, event_count=n)(np.sort(ev, order="t"))
    np.testing.assert_array_equal(frame.reshape(-1), b.counts()[0])
    # two polarities on a one-polarity sensor are refused, as tonic refuses them
    ev2 = ev.copy()
    ev2["p"][:5] = 0
    with pytest.raises(ValueError, match="one polarity"):
        from_events(ev2, sensor_size=SHD.sensor_size)
    with pytest.raises(ValueError, match="Single polarity"):
        tonic.transforms.ToFrame(sensor_size=SHD.sensor_size, event_count=n)(ev2)


def test_id_mapping_and_us_to_ms_conversion_are_exact():
    ev = make_structured_array(np.array([2, 0, 3]), np.array([1, 2, 0]), np.array([1500, 3, 1500]),
                               np.array([True, False, False]), dtype=NMNIST.dtype)
    b = from_events(ev, sensor_size=(4, 3, 2))
    t, i = b.sample(0)
    # sorted by time, ties (1500 us) keep their order; id = p*W*H + y*W + x
    np.testing.assert_array_equal(t, [0.003, 1.5, 1.5])
    np.testing.assert_array_equal(i, [0 * 12 + 2 * 4 + 0, 1 * 12 + 1 * 4 + 2, 0 * 12 + 0 * 4 + 3])
    assert b.n_neurons == 24
    # us -> ms is t / 1000 correctly rounded
    big = make_structured_array(np.array([0]), np.array([0]), np.array([123_456_789_012]), np.array([False]),
                                dtype=NMNIST.dtype)
    assert from_events(big, sensor_size=(1, 1, 1)).times[0] == 123_456_789_012 / 1000


def test_round_trip_through_tonic_dtypes_is_exact_for_whole_microseconds():
    rng = np.random.default_rng(4)
    samples = [_camera_events(rng, n) for n in (250, 3, 0)]
    b = es.SpikeBatch.from_events(samples, sensor_size=NMNIST.sensor_size)
    back = b.to_events(sensor_size=NMNIST.sensor_size, dtype=NMNIST.dtype)
    assert [a.dtype for a in back] == [NMNIST.dtype] * 3
    for ev, got in zip(samples, back):
        np.testing.assert_array_equal(got, np.sort(ev, order="t", kind="stable") if ev.size else ev)
    assert from_events(back, sensor_size=NMNIST.sensor_size) == b
    # tonic's own bool-polarity dtype (tonic.io.events_struct) round-trips too
    back2 = to_events(b, sensor_size=NMNIST.sensor_size, dtype=tonic.io.events_struct)
    assert back2[0]["p"].dtype == bool and from_events(back2, sensor_size=NMNIST.sensor_size) == b


def test_to_events_rounds_to_the_nearest_microsecond_or_keeps_floats():
    b = es.SpikeBatch.from_lists([[(0.0012, 0), (2.0004, 1), (2.0006, 1)]], n_neurons=2)
    ev = b.to_events()[0]
    assert ev.dtype == SHD.dtype
    np.testing.assert_array_equal(ev["t"], [1, 2000, 2001])
    np.testing.assert_array_equal(ev["x"], [0, 1, 1])
    f = b.to_events(dtype=[("t", "f8"), ("x", "i4")])[0]
    np.testing.assert_allclose(f["t"], [1.2, 2000.4, 2000.6], rtol=1e-15)


def test_plain_arrays_with_ordering_and_channel_callables():
    a = np.array([[5, 1, 0], [0, 3, 1], [9, 2, 1]])          # columns t, x, p
    b = from_events(a, ordering="txp", sensor_size=(4, 1, 2))
    np.testing.assert_array_equal(b.sample(0)[1], [1 * 4 + 3, 1, 1 * 4 + 2])
    c = from_events([a], ordering="txp", channel=lambda ev: ev["x"] * 10, n_neurons=40)
    np.testing.assert_array_equal(c.sample(0)[1], [30, 10, 20])
    assert c.n_neurons == 40
    # without sensor_size: extents are the largest index plus one
    assert from_events(a, ordering="txp").n_neurons == 4 * 1 * 2


@pytest.mark.parametrize("bad, match", [
    (dict(events=np.zeros(3, dtype=[("x", "i8"), ("t", "i8")]), sensor_size=(3, 1, 0)), "sensor_size"),
    (dict(events=np.zeros(3, dtype=[("x", "i8")]), sensor_size=(3, 1, 1)), "missing"),
    (dict(events=np.array([(5, -1)], dtype=[("x", "i8"), ("t", "i8")]), sensor_size=(6, 1, 1)), ">= 0 us"),
    (dict(events=np.array([(5, 1)], dtype=[("x", "i8"), ("t", "i8")]), sensor_size=(5, 1, 1)), "x = 5"),
    (dict(events=np.array([(1.5, 1)], dtype=[("x", "f8"), ("t", "i8")]), sensor_size=(5, 1, 1)), "integers"),
    (dict(events=np.array([(1, np.nan)], dtype=[("x", "i8"), ("t", "f8")])), "finite"),
    (dict(events=np.zeros((3, 2))), "ordering"),
    (dict(events=np.zeros((3, 2)), ordering="tq"), "ordering"),
])
def test_bad_events_are_refused_with_a_named_reason(bad, match):
    with pytest.raises(ValueError, match=match):
        from_events(**bad)


def test_bad_to_events_arguments_are_refused():
    b = es.SpikeBatch.from_lists([[(1.0, 5)]], n_neurons=8)
    with pytest.raises(ValueError, match="8"):
        to_events(b, sensor_size=(3, 1, 1))
    with pytest.raises(ValueError, match="'y'"):
        to_events(b, sensor_size=(2, 2, 2), dtype=SHD.dtype)
    with pytest.raises(ValueError, match="cannot hold"):
        to_events(b, dtype=[("t", "i1"), ("x", "i8")])         # 1000 us does not fit int8
    with pytest.raises(TypeError):
        to_events([1, 2])
