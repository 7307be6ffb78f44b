"""Built-in data sets (generated, or shipped with eventsim; nothing is downloaded).

- ``yin_yang(split)``: the Yin-Yang data set (Kriener et al. 2021) as arrays; ``yin_yang_spikes(split)``
  latency-coded (5 input neurons, bias spike at 0 ms).
- ``digits_arrays(split)``: the 8x8 handwritten digits (UCI, shipped) as arrays on a fixed split; ``digits(split)``
  latency-coded (64 input neurons).
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
from .yin_yang import yin_yang, yin_yang_class

__all__ = ["digits", "digits_arrays", "drop_spikes", "latency_decode", "latency_encode", "random_affine_images", "shift_image_spikes", "yin_yang", "yin_yang_class", "yin_yang_spikes"]
