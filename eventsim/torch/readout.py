"""``Readout``: which output of a simulation a torch layer returns, and how its gradient enters EventProp."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from ..losses import LossParts

#: read-out kinds: first-spike times of a spiking population, max voltage or voltage integral of a
#: non-spiking read-out (``LIFParams.readout()``)
KINDS = ("first_spike", "max_voltage", "voltage_integral")


@dataclass(frozen=True)
class Readout:
    """The output tensor of an eventsim torch layer, shape (n_samples, n) for population ``population``.

    ``kind``:

    - ``"first_spike"``: each neuron's first spike time (ms). A neuron silent in a sample gets
      ``t_max`` (``silent="t_max"``, default: finite, so any torch loss can use it) or ``inf``
      (``silent="inf"``); either way its gradient is 0 (no spike, no gradient: EventProp is exact for
      the current spike pattern).
    - ``"max_voltage"``: the exact maximum of V over [0, t_max] of a non-spiking read-out
      (dimensionless).
    - ``"voltage_integral"``: the exact integral of V over [0, t_max] of a non-spiking read-out (ms).
    """

    population: str = "out"
    kind: str = "first_spike"
    silent: str = "t_max"

    def __post_init__(self):
        if not isinstance(self.population, str):
            raise TypeError(f"population must be a str, got {type(self.population).__name__}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.silent not in ("t_max", "inf"):
            raise ValueError(f"silent must be 't_max' or 'inf', got {self.silent!r}")

    def check(self, net) -> None:
        """ValueError if the population does not exist or is of the wrong kind for ``kind``."""
        pop = net.population(self.population)
        if pop.is_input:
            raise ValueError(f"readout: population {self.population!r} is an input population")
        if self.kind == "first_spike" and not pop.params.spiking:
            raise ValueError(f"readout 'first_spike' needs a spiking population; {self.population!r} is a "
                             "non-spiking read-out (v_th=inf)")
        if self.kind != "first_spike" and pop.params.spiking:
            raise ValueError(f"readout {self.kind!r} needs a non-spiking read-out population "
                             f"(LIFParams.readout()); {self.population!r} spikes")

    def value(self, result) -> np.ndarray:
        """(n_samples, n) float64: the read-out of ``result``."""
        if self.kind == "first_spike":
            t = result.first_spike_times(self.population)
            if self.silent == "t_max":
                t[~np.isfinite(t)] = result.t_max
            return t
        if self.kind == "max_voltage":
            return result.max_voltage(self.population)
        return result.voltage_integral(self.population)

    def parts(self, result, grad: np.ndarray) -> LossParts:
        """``LossParts`` for an upstream gradient ``grad`` = dL/d(read-out), shape (n_samples, n);
        entries of silent neurons (first-spike read-out) are dropped."""
        g = np.array(grad, dtype=np.float64)
        if self.kind == "first_spike":
            fires = np.isfinite(result.first_spike_times(self.population))
            return LossParts(first_spike_grad=np.where(fires, g, 0.0))
        if self.kind == "max_voltage":
            return LossParts(vmax_grad=g)
        return LossParts(vint_grad=g)


def as_readout(spec: Union[Readout, str, None], net) -> Readout:
    """``spec`` as a Readout checked against ``net``: a Readout, or a kind name (``"first_spike"``,
    ``"max_voltage"``, ``"voltage_integral"``) read from the network's last population; None means
    ``"first_spike"``."""
    if spec is None:
        spec = "first_spike"
    if isinstance(spec, str):
        lif = net.lif_names
        if not lif:
            raise ValueError("readout: the network has no LIF population")
        spec = Readout(population=lif[-1], kind=spec)
    if not isinstance(spec, Readout):
        raise TypeError(f"readout must be a Readout or one of {KINDS}, got {type(spec).__name__}")
    spec.check(net)
    return spec
