"""Built-in data sets (generated or shipped with a package; nothing is downloaded)."""
from .digits import digits_arrays
from .encoding import latency_encode
from .yin_yang import yin_yang, yin_yang_class

__all__ = ["digits_arrays", "latency_encode", "yin_yang", "yin_yang_class"]
