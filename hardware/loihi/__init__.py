"""Loihi via Lava: quantisation, a bit-exact emulator, Lava process graphs, resource estimates.

    from hardware.loihi import quantize, emulate, run_lava, resources
    lnet = quantize(net, dt=0.5)                 # eventsim Network -> LoihiNet (+ lnet.report)
    res = emulate(lnet, batch, t_max=100.0)      # Numba, bit-exact with Lava fixed_pt
    res_lava = run_lava(lnet, batch, t_max=100.0)  # Lava Loihi2SimCfg (fixed_pt / floating_pt)
    res.spikes("out")                            # eventsim SpikeBatch (times = step * dt ms)

No module here imports Lava at import time; ``lava_graph`` imports it inside its functions.
"""
from .model import LoihiNet, LoihiPopulation, LoihiProjection, load_loihi, save_loihi
from .quantize import QuantReport, discretise, quantize
from .emulator import DiscreteResult, EmulatorLayout, InputEvents, emulate, encode_inputs


def __getattr__(name):
    # lazy: these modules are cheap, but keep the import graph of ``hardware.loihi`` minimal
    if name in ("to_lava", "run_lava", "LavaGraph", "lava_available", "loihi_hw_available"):
        from . import lava_graph

        return getattr(lava_graph, name)
    if name in ("resources", "CoreLimits", "LOIHI1", "LOIHI2"):
        from . import resources as _r

        return getattr(_r, name) if name != "resources" else _r.resources
    if name in ("plot_emulation",):
        from . import plots

        return getattr(plots, name)
    raise AttributeError(name)


__all__ = ["LoihiNet", "LoihiPopulation", "LoihiProjection", "load_loihi", "save_loihi", "QuantReport", "discretise",
           "quantize", "DiscreteResult", "EmulatorLayout", "InputEvents", "emulate", "encode_inputs", "to_lava",
           "run_lava", "resources", "plot_emulation"]
