"""Resource estimate: neurons, synapses, fan-in/out per core against Loihi's per-core limits.

Each LIF population is spread evenly over ``c`` neuro-cores, with ``c`` the smallest number that
satisfies every per-core limit (``CoreLimits``):

- neurons per core: ``ceil(n / c) <= neurons_per_core``;
- synapses per core: ``ceil(S_in / c) <= synapses_per_core`` (``S_in``: synapses into the population,
  counted per Lava connection part) and synaptic memory ``bits <= synapse_bits_per_core`` with
  ``bits = synapses * (weight bits + delay bits + index bits)`` (index bits = log2 of the neurons
  on the core);
- input axons per core (fan-in): every presynaptic neuron that has a target on the core needs one
  input axon per connection part; the estimate takes the distinct presynaptic neurons of the
  population's incoming connections (an upper bound for one core, exact when a presynaptic
  neuron reaches every core) and requires ``<= in_axons_per_core``; a population whose fan-in
  alone exceeds it cannot be placed by splitting neurons (reported as a violation);
- output axons per core (fan-out): a neuron needs one output axon per destination core it
  reaches; per core ``ceil(n / c) * sum over outgoing parts of min(fan-out of the neuron,
  cores of the destination)`` must be ``<= out_axons_per_core``.

Input populations are spike sources on the host/embedded side (RingBuffer); they use no
neuro-core but their fan-out is counted like a neuron's. Totals: cores, chips
(``ceil(cores / cores_per_chip)``).

Limits: ``LOIHI1`` are Loihi 1's documented values (1024 compartments, 4096 input and 4096 output
axons, 16384 x 64 synapse bits per core, 128 cores per chip; as used by nengo-loihi).
``LOIHI2`` uses Intel's public chip figures divided by 128 cores (1 M neurons -> 8192 neurons
per core, 120 M synapses -> 937 500 synapses per core) and keeps Loihi 1's axon counts; Intel has
not published Loihi 2's per-core axon and synaptic-memory limits, so these are estimates, flagged
``verified=False``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Union

import numpy as np

from .model import LoihiNet


@dataclass(frozen=True)
class CoreLimits:
    name: str
    neurons_per_core: int
    synapses_per_core: Optional[int]
    synapse_bits_per_core: Optional[int]
    in_axons_per_core: int
    out_axons_per_core: int
    cores_per_chip: int
    weight_bits: int = 8
    verified: bool = False
    source: str = ""


LOIHI1 = CoreLimits("loihi1", 1024, None, 16384 * 64, 4096, 4096, 128, 8, True,
                    "Loihi 1 per-core limits as encoded in nengo-loihi (block.py)")
LOIHI2 = CoreLimits("loihi2", 8192, 937_500, None, 4096, 4096, 128, 8, False,
                    "Intel's chip totals (1 M neurons, 120 M synapses, 128 cores) / 128; axons as Loihi 1 "
                    "(per-core values not published)")
PRESETS = {"loihi1": LOIHI1, "loihi2": LOIHI2}


@dataclass
class ResourceReport:
    limits: CoreLimits
    populations: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    connections: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    total_cores: int = 0
    chips: int = 0
    neurons: int = 0
    synapses: int = 0
    violations: List[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.violations

    def to_dict(self) -> Dict[str, Any]:
        return {"limits": asdict(self.limits), "populations": self.populations, "connections": self.connections,
                "total_cores": self.total_cores, "chips": self.chips, "neurons": self.neurons,
                "synapses": self.synapses, "violations": self.violations, "fits": self.fits}

    def table(self) -> str:
        L = self.limits
        lines = [f"Resources on {L.name} ({'documented' if L.verified else 'estimated'} limits: "
                 f"{L.neurons_per_core} neurons, "
                 + (f"{L.synapses_per_core} synapses, " if L.synapses_per_core else "")
                 + (f"{L.synapse_bits_per_core} synapse bits, " if L.synapse_bits_per_core else "")
                 + f"{L.in_axons_per_core} in / {L.out_axons_per_core} out axons per core; "
                 f"{L.cores_per_chip} cores per chip)"]
        lines.append(f"{'population':<12} {'neurons':>8} {'syn in':>9} {'fan-in max':>10} {'fan-out max':>11} "
                     f"{'in axons':>9} {'cores':>6} {'limited by':<14} {'per core: n / syn / in ax / out ax'}")
        for n, p in self.populations.items():
            lines.append(f"{n:<12} {p['neurons']:>8} {p['synapses_in']:>9} {p['fan_in_max']:>10} "
                         f"{p['fan_out_max']:>11} {p['in_axons']:>9} {p['cores']:>6} {p['limited_by']:<14} "
                         f"{p['per_core_neurons']} / {p['per_core_synapses']} / {p['per_core_in_axons']} / "
                         f"{p['per_core_out_axons']}")
        lines.append(f"total: {self.neurons} neurons, {self.synapses} synapses, {self.total_cores} cores, "
                     f"{self.chips} chip(s); " + ("fits" if self.fits else "violations: " + "; ".join(self.violations)))
        return "\n".join(lines)


def estimate_resources(net, limits: Union[str, CoreLimits] = "loihi2", dt: Optional[float] = None) -> ResourceReport:
    """Estimate the cores a network needs. ``net``: a LoihiNet, or an eventsim Network (then
    quantised with ``dt``, default 1 ms: the counts do not depend on dt except for delays)."""
    from eventsim.network import Network

    if isinstance(limits, str):
        if limits not in PRESETS:
            raise ValueError(f"limits must be one of {list(PRESETS)} or a CoreLimits, got {limits!r}")
        limits = PRESETS[limits]
    if isinstance(net, Network):
        from .quantize import quantize

        net = quantize(net, 1.0 if dt is None else dt)
    if not isinstance(net, LoihiNet):
        raise ValueError(f"net must be a LoihiNet or an eventsim Network, got {type(net).__name__}")
    L = limits
    rep = ResourceReport(L)
    lifs = net.lif_names
    fan_out = {n: np.zeros(p.size, np.int64) for n, p in net.populations.items()}
    for pr in net.projections.values():
        fan_out[pr.src] += np.diff(pr.indptr)
    cores: Dict[str, int] = {}
    for name in lifs:
        pop = net.populations[name]
        inc = net.incoming(name)
        syn_in = sum(p.n_synapses for p in inc)
        fan_in = np.zeros(pop.size, np.int64)
        in_axons = 0
        bits_per_syn = []
        for p in inc:
            fan_in += np.bincount(p.indices, minlength=pop.size)
            in_axons += int(np.count_nonzero(np.diff(p.indptr)))
            bits_per_syn.append((p.n_synapses, L.weight_bits + (6 if p.delays is not None else 0)))
        n = pop.size
        c = 1
        while True:
            per_n = math.ceil(n / c)
            idx_bits = max(1, math.ceil(math.log2(max(per_n, 2))))
            per_syn = math.ceil(syn_in / c)
            bits = sum(math.ceil(k / c) * (b + idx_bits) for k, b in bits_per_syn)
            ok_n = per_n <= L.neurons_per_core
            ok_s = L.synapses_per_core is None or per_syn <= L.synapses_per_core
            ok_b = L.synapse_bits_per_core is None or bits <= L.synapse_bits_per_core
            if (ok_n and ok_s and ok_b) or c >= n:
                break
            c += 1
        limited = "neurons" if math.ceil(n / max(c - 1, 1)) > L.neurons_per_core and c > 1 else \
            ("synapses" if c > 1 else "-")
        cores[name] = c
        rep.populations[name] = {"neurons": n, "synapses_in": int(syn_in),
                                 "fan_in_max": int(fan_in.max()) if n else 0,
                                 "fan_in_mean": float(fan_in.mean()) if n else 0.0,
                                 "fan_out_max": int(fan_out[name].max()) if n else 0,
                                 "in_axons": in_axons, "cores": c, "limited_by": limited,
                                 "per_core_neurons": math.ceil(n / c), "per_core_synapses": math.ceil(syn_in / c),
                                 "per_core_synapse_bits": bits, "per_core_in_axons": in_axons}
        if in_axons > L.in_axons_per_core:
            rep.violations.append(f"{name}: {in_axons} input axons (distinct presynaptic neurons per connection) "
                                  f"> {L.in_axons_per_core} per core")
        if not (ok_n and ok_s and ok_b):
            rep.violations.append(f"{name}: does not fit even with one neuron per core")
    # fan-out: output axons per core
    for name in lifs:
        pop = net.populations[name]
        c = cores[name]
        out = 0
        for pr in net.projections.values():
            if pr.src != name:
                continue
            fo = np.diff(pr.indptr)
            out += int(np.minimum(fo, cores[pr.dst]).max()) if fo.size else 0
        per_core_out = math.ceil(pop.size / c) * out
        rep.populations[name]["per_core_out_axons"] = per_core_out
        if per_core_out > L.out_axons_per_core:
            rep.violations.append(f"{name}: {per_core_out} output axons per core > {L.out_axons_per_core}")
    for name in net.input_names:
        pop = net.populations[name]
        rep.connections[f"input {name}"] = {"neurons": pop.size,
                                            "fan_out_max": int(fan_out[name].max()) if pop.size else 0,
                                            "host_side": True}
    for pname, pr in net.projections.items():
        rep.connections[pname] = {"synapses": pr.n_synapses, "density": pr.n_synapses / max(1, pr.n_pre * pr.n_post),
                                  "weight_exp": int(pr.weight_exp), "sign_mode": pr.sign_mode,
                                  "max_delay_steps": pr.max_delay}
    rep.total_cores = int(sum(cores.values()))
    rep.chips = int(math.ceil(rep.total_cores / L.cores_per_chip)) if rep.total_cores else 0
    rep.neurons = int(sum(net.populations[n].size for n in lifs))
    rep.synapses = int(sum(p.n_synapses for p in net.projections.values()))
    return rep


estimate = estimate_resources
