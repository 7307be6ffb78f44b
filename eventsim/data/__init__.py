"""Built-in data sets (generated or shipped with a package; nothing is downloaded)."""
from .digits import digits_arrays

__all__ = ["digits_arrays"]
