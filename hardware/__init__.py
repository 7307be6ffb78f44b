"""hardware: everything about target chips.

- ``eventsim.hardware.loihi``: map a continuous-time eventsim network onto Loihi's discrete-time CUBA LIF
  (fixed-point quantisation with an error report), a bit-exact Numba emulator of Lava's
  ``fixed_pt`` LIF + Dense/Sparse process models, Lava process graphs and runs
  (``Loihi2SimCfg``; ``Loihi2HwCfg`` where Intel's lava-loihi exists) and resource estimates.
- ``eventsim.hardware.nir``: NIR graph export/import (``nir`` package).
- ``eventsim.hardware.netx``: lava-dl netx HDF5 export and a reader written from the documented layout.

Importing ``hardware`` (or any of its modules) never imports Lava or torch; they are imported
inside the functions that need them.
"""
__all__ = ["loihi", "nir", "netx"]
