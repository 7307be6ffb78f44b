"""Neuron parameters.

The current-based LIF neuron with an exponential synaptic current (times in ms, voltage
dimensionless, threshold 1 by default)::

    tau_mem dV/dt = -(V - v_leak) + I
    tau_syn dI/dt = -I

A presynaptic spike adds the connection weight ``w`` to ``I`` of its target after the connection
delay. With ``tau_syn_inh`` set, the neuron has two synaptic currents, routed by the sign of the
weight as in NEST's ``iaf_psc_exp`` (``tau_syn_ex``, ``tau_syn_in``)::

    tau_mem dV/dt = -(V - v_leak) + I_e + I_i
    tau_syn dI_e/dt = -I_e              (w > 0 is added to I_e)
    tau_syn_inh dI_i/dt = -I_i          (w < 0 is added to I_i)
 When ``V`` reaches ``v_th`` from below the neuron emits a spike, ``V`` is set to ``v_reset``
and held there for ``t_ref`` ms (``I`` keeps decaying and integrating inputs meanwhile).
The post-synaptic potential of a weight ``w`` (from rest, ``v_leak = 0``) is::

    w * tau_syn / (tau_mem - tau_syn) * (exp(-t/tau_mem) - exp(-t/tau_syn))     (tau_mem != tau_syn)
    w * (t / tau_mem) * exp(-t/tau_mem)                                          (tau_mem == tau_syn)

``v_th = inf`` gives a non-spiking leaky integrator (the read-out of voltage losses).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, Optional

from .checks import real_number, show


def positive_ms(name: str, value) -> float:
    """``value`` as a float that is positive and finite (a duration in ms); ValueError naming
    ``name`` otherwise. The one check behind every time constant, dt and t_max argument
    (``eventsim.checks.real_number`` with the unit, then the range)."""
    v = real_number(name, value, "ms")
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite (ms), got {show(value)}")
    return v


@dataclass(frozen=True)
class LIFParams:
    """Parameters of one LIF population (see the module docstring for the equations).

    Attributes:
        tau_mem: membrane time constant (ms), > 0.
        tau_syn: synaptic current time constant (ms), > 0; ``tau_syn == tau_mem`` is allowed. With
            ``tau_syn_inh`` set, the time constant of the excitatory current (positive weights).
        tau_syn_inh: ``None`` (default): one synaptic current for every weight. A time constant
            (ms, > 0): negative weights feed a second, inhibitory current that decays with it.
        v_th: threshold (dimensionless); ``math.inf`` makes a non-spiking leaky integrator.
        v_reset: reset potential, < v_th.
        v_leak: resting (leak reversal) potential; ``v_leak >= v_th`` gives tonic firing.
        t_ref: absolute refractory period (ms), >= 0.
    """

    tau_mem: float = 20.0
    tau_syn: float = 5.0
    v_th: float = 1.0
    v_reset: float = 0.0
    v_leak: float = 0.0
    t_ref: float = 0.0
    tau_syn_inh: Optional[float] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_mem", positive_ms("tau_mem", self.tau_mem))
        object.__setattr__(self, "tau_syn", positive_ms("tau_syn", self.tau_syn))
        if self.tau_syn_inh is not None:
            object.__setattr__(self, "tau_syn_inh", positive_ms("tau_syn_inh", self.tau_syn_inh))
        for name in ("v_th", "v_reset", "v_leak", "t_ref"):
            object.__setattr__(self, name, real_number(name, getattr(self, name), "ms" if name == "t_ref" else ""))
        if math.isnan(self.v_th) or self.v_th == -math.inf:
            raise ValueError(f"v_th must be a finite number or +inf, got {self.v_th!r}")
        for name in ("v_reset", "v_leak", "t_ref"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.t_ref < 0:
            raise ValueError(f"t_ref must be >= 0 ms, got {self.t_ref!r}")
        if not self.v_reset < self.v_th:
            raise ValueError(f"v_reset must be below v_th, got v_reset={self.v_reset!r}, v_th={self.v_th!r}")

    @property
    def spiking(self) -> bool:
        """False for a non-spiking leaky integrator (``v_th == inf``)."""
        return math.isfinite(self.v_th)

    @classmethod
    def readout(cls, tau_mem: float = 20.0, tau_syn: float = 5.0,
                tau_syn_inh: Optional[float] = None) -> "LIFParams":
        """A non-spiking leaky-integrator read-out (``v_th = inf``)."""
        return cls(tau_mem=tau_mem, tau_syn=tau_syn, v_th=math.inf, tau_syn_inh=tau_syn_inh)

    @property
    def dual(self) -> bool:
        """True when negative weights feed a second current (``tau_syn_inh`` is set)."""
        return self.tau_syn_inh is not None

    def to_dict(self) -> Dict[str, float]:
        """Plain dict (for files and provenance); ``tau_syn_inh`` only when it is set."""
        d = asdict(self)
        if d["tau_syn_inh"] is None:
            del d["tau_syn_inh"]
        return d
