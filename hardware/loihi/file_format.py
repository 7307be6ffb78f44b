"""Registers the ``eventsim.loihi`` file format (quantised Loihi networks) with
``eventsim.formats``, so that ``eventsim.load`` and ``eventsim info`` read Loihi files."""
from __future__ import annotations

from typing import List

from eventsim.formats import FileFormat, register

from .model import FILE_FORMAT, LoihiNet, load_loihi


def describe_loihi(lnet: LoihiNet) -> List[str]:
    """Readable lines about a LoihiNet: precision, time step (ms), populations (decays, threshold)
    and projections (synapses, weight bits and exponent, delays in steps)."""
    lines = [f"{lnet.precision} point, dt {lnet.dt:g} ms, mapping {lnet.method}; "
             f"{len(lnet.populations)} populations, {len(lnet.projections)} projections"]
    for name, p in lnet.populations.items():
        if p.is_input:
            lines.append(f"  population {name}: {p.size} inputs")
        else:
            lines.append(f"  population {name}: {p.size} {'spiking' if p.spiking else 'non-spiking'} compartments; "
                         f"du {p.du}, dv {p.dv}, vth {p.vth}, scale {p.scale:.4g}")
    for name, pr in lnet.projections.items():
        d = f", delays up to {pr.max_delay} steps" if pr.delays is not None else ""
        lines.append(f"  projection {name}: {pr.n_synapses} synapses, {pr.num_weight_bits}-bit weights, "
                     f"weight_exp {pr.weight_exp}, sign mode {pr.resolved_sign_mode()}{d}")
    if lnet.report is not None:
        lines.append("  quantisation report: populations " + ", ".join(lnet.report.populations))
    return lines


register(FileFormat(FILE_FORMAT, "Loihi network", load_loihi, describe_loihi))
