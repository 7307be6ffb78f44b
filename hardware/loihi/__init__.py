"""Loihi via Lava: quantisation, a bit-exact emulator, Lava process graphs, resource estimates.

    from eventsim.hardware.loihi import quantize, emulate, run_lava, estimate_resources
    lnet = quantize(net, dt=0.5)                 # eventsim Network -> LoihiNet (+ lnet.report)
    res = emulate(lnet, batch, t_max=100.0)      # Numba, bit-exact with Lava fixed_pt
    res_lava = run_lava(lnet, batch, t_max=100.0)  # Lava Loihi2SimCfg (fixed_pt / floating_pt)
    res.spikes("out")                            # eventsim SpikeBatch (times = step * dt ms)

No module here imports Lava at import time; ``lava_graph`` imports it inside its functions.
"""
from .model import LoihiNet, LoihiPopulation, LoihiProjection, load_loihi, save_loihi
from .quantize import QuantReport, discretise, quantize
from .emulator import DiscreteResult, EmulatorLayout, InputEvents, emulate, encode_inputs


_LAZY = {"to_lava": "lava_graph", "run_lava": "lava_graph", "LavaGraph": "lava_graph",
         "lava_available": "lava_graph", "loihi_hw_available": "lava_graph",
         "estimate_resources": "resources", "CoreLimits": "resources", "LOIHI1": "resources", "LOIHI2": "resources",
         "plot_emulation": "plots", "agreement": "agreement"}


def __getattr__(name):
    # lazy: keep ``import eventsim.hardware.loihi`` light (lava_graph imports Lava only inside its functions)
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LoihiNet", "LoihiPopulation", "LoihiProjection", "load_loihi", "save_loihi", "QuantReport", "discretise",
           "quantize", "DiscreteResult", "EmulatorLayout", "InputEvents", "emulate", "encode_inputs", "to_lava",
           "run_lava", "estimate_resources", "CoreLimits", "plot_emulation", "agreement"]
