"""Built-in data sets, readers of event data and stimulus generators (nothing is downloaded).

- ``yin_yang(split)``: the Yin-Yang data set (Kriener et al. 2021) as arrays; ``yin_yang_spikes(split)``
  latency-coded (5 input neurons, bias spike at 0 ms).
- ``digits_arrays(split)``: the 8x8 handwritten digits (UCI, shipped) as arrays on a fixed split; ``digits(split)``
  latency-coded (64 input neurons).
- ``randman(n_classes, n_samples_per_class, n_neurons, ...)``: the Randman task (Zenke & Vogels
  2021), one spike per input neuron on random smooth manifolds; ``randman_data`` also returns the
  coordinates and manifolds, ``random_manifold`` draws one manifold; ``train_val_test_split``
  splits any labelled ``SpikeBatch``, stratified by class.
- ``load_heidelberg(path)``: a Spiking Heidelberg Digits / Spiking Speech Commands HDF5 file
  (``shd_train.h5``, ...; 700 channels) as a ``SpikeBatch`` and labels.
- ``from_events(events, sensor_size=...)`` / ``to_events(batch, ...)``: tonic-style address
  events (structured arrays, ``t`` in us) to and from ``SpikeBatch`` (also
  ``SpikeBatch.from_events`` / ``SpikeBatch.to_events``).
- ``poisson(rates, t_max, ...)``, ``regular(rates, t_max, ...)``: Poisson (optionally with a dead
  time) and regular spike trains with exact times; ``spike_generator(times, ids)`` and
  ``spike_trains(per_neuron_times)``: spikes at given times.
- ``latency_encode(X, ...)``: values in [0, 1] -> one spike per feature (``SpikeBatch``);
  ``drop_spikes(batch, p, rng)``: input dropout for training; ``shift_image_spikes(batch, shape,
  max_shift, rng)``: random image translations for training; ``latency_decode(batch, ...)``: spike
  times back to values;
- ``random_affine_images(X, shape, rng, ...)``: small random rotations, scalings and sub-pixel
  shifts of images (training augmentation).
"""
from .augment import random_affine_images
from .digits import digits_arrays
from .encoding import digits, drop_spikes, latency_decode, latency_encode, shift_image_spikes, yin_yang_spikes
from .events import from_events, to_events
from .heidelberg import load_heidelberg
from .randman import random_manifold, randman, randman_data, train_val_test_split
from .stimuli import poisson, regular, spike_generator, spike_trains
from .yin_yang import yin_yang, yin_yang_class

__all__ = ["digits", "digits_arrays", "drop_spikes", "from_events", "latency_decode", "latency_encode",
           "load_heidelberg", "poisson", "random_affine_images", "random_manifold", "randman", "randman_data",
           "regular", "shift_image_spikes", "spike_generator", "spike_trains", "to_events", "train_val_test_split",
           "yin_yang", "yin_yang_class", "yin_yang_spikes"]
