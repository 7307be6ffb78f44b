"""``SpikingNetwork`` and ``EventPropLoss``: a Network's weights (and delays) as torch parameters."""
from __future__ import annotations

import re
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from ..eventprop.core import value_and_grad
from ..losses import as_list
from ..network import Network
from .function import EventPropFunction, Simulation, input_time_grads, load_tensors


def parameter_key(name: str) -> str:
    """A projection name ``"src->dst"`` as a torch parameter name: ``"src__dst"``, other characters
    that are not letters, digits or ``_`` replaced by ``_``."""
    return re.sub(r"\W", "_", name.replace("->", "__"))


class _NetworkParameters(nn.Module):
    """The weights (``self.weights``, an ``nn.ParameterDict``) and optionally the delays
    (``self.delays``) of every projection of ``net``, as float64 parameters; ``keys`` maps each
    projection name to its parameter name, ``projections`` the other way."""

    def __init__(self, net: Network, wants_delays: bool = False):
        super().__init__()
        if not isinstance(net, Network):
            raise TypeError(f"net must be a Network, got {type(net).__name__}")
        self.net = net
        self.keys: Dict[str, str] = {}
        for name in net.projections:
            key, i = parameter_key(name), 2
            while key in self.keys.values():
                key, i = f"{parameter_key(name)}_{i}", i + 1
            self.keys[name] = key
        self.projections = {k: n for n, k in self.keys.items()}
        self.weights = nn.ParameterDict({self.keys[n]: nn.Parameter(torch.tensor(p.weights, dtype=torch.float64))
                                         for n, p in net.projections.items()})
        self.wants_delays = bool(wants_delays)
        if self.wants_delays:
            self.delays = nn.ParameterDict({self.keys[n]: nn.Parameter(torch.tensor(p.delay_array(), dtype=torch.float64))
                                            for n, p in net.projections.items()})

    def _tensors(self):
        ts = [self.weights[self.keys[n]] for n in self.net.projections]
        if self.wants_delays:
            ts += [self.delays[self.keys[n]] for n in self.net.projections]
        return ts

    def _times(self, inputs, times):
        """(input population names, time tensors) for the ``times`` argument of forward."""
        if times is None:
            return (), []
        if isinstance(times, torch.Tensor):
            if len(self.net.input_names) != 1:
                raise ValueError(f"times: the network has {len(self.net.input_names)} input populations; "
                                 "pass a dict {population: tensor}")
            times = {self.net.input_names[0]: times}
        if not isinstance(times, dict):
            raise TypeError(f"times must be a tensor or a dict of tensors, got {type(times).__name__}")
        return tuple(times), list(times.values())

    def write_back(self) -> None:
        """Copy the parameters into the network (the forward does this before every simulation)."""
        load_tensors(self.net, None, self._tensors(), self.wants_delays)


class SpikingNetwork(_NetworkParameters):
    """An eventsim network as a torch layer: ``forward(inputs, times=None)`` returns the read-out.

    Args:
        net: the network; its weights (and delays) become float64 parameters ``weights[key]``
            (``delays[key]``), ``key = parameter_key("src->dst")``; they are written back into
            ``net`` before every simulation.
        t_max: simulated time (ms).
        readout: a ``Readout`` (or a kind name for the last population): first-spike times (ms; a
            silent neuron gets t_max by default, gradient 0), max voltage or voltage integral of a
            non-spiking read-out; the output has shape (n_samples, n).
        wants_delays: make the delays (ms) parameters too (keep them >= 0 when stepping).
        v_init: initial voltages, as for ``simulate`` (not differentiated).
        n_chunks: as for ``eventsim.eventprop.value_and_grad``.
        **sim_kw: ``max_spikes``, ``capacity``, ``progress``, ``chunk`` for ``simulate``.

    ``forward(inputs, times=None)``: ``inputs`` a SpikeBatch (or dict per input population);
    ``times`` (optional) a float64 tensor aligned with ``inputs.times`` (or a dict per input
    population) that replaces those times (ms), so gradients flow into whatever produced them.
    ``last_result`` is the latest forward's ``Result``.
    """

    def __init__(self, net: Network, t_max: float, readout="first_spike", *, wants_delays: bool = False,
                 v_init=None, n_chunks: Optional[int] = None, **sim_kw):
        super().__init__(net, wants_delays)
        self.t_max = float(t_max)
        self.sim = Simulation(net, self.t_max, readout, delays=self.wants_delays, v_init=v_init,
                              n_chunks=n_chunks, sim_kw=dict(sim_kw))
        self.readout = self.sim.readout

    @property
    def last_result(self):
        return self.sim.last_result

    def forward(self, inputs, times=None) -> torch.Tensor:
        names, tts = self._times(inputs, times)
        s = self.sim
        sim = Simulation(s.net, s.t_max, s.readout, delays=s.delays, input_times=names, v_init=s.v_init,
                         n_chunks=s.n_chunks, sim_kw=s.sim_kw)
        out = EventPropFunction.apply(sim, inputs, *self._tensors(), *tts)
        self.sim.last_result = sim.last_result
        return out


class _LossFunction(torch.autograd.Function):
    """Scalar loss of ``value_and_grad``; its backward returns ``value_and_grad``'s gradients times
    the upstream scalar."""

    @staticmethod
    def forward(ctx, owner, inputs, labels, names, *tensors):
        run_inputs, orders = load_tensors(owner.net, inputs, tensors, owner.wants_delays, names)
        kw = dict(owner.sim_kw, wants_delays=owner.wants_delays, wants_input_times=bool(names))
        if owner.n_chunks is not None:
            kw["n_chunks"] = owner.n_chunks
        L, grads, res = value_and_grad(owner.net, run_inputs, labels, owner.loss, owner.t_max, v_init=owner.v_init,
                                       return_result=True, **kw)
        owner.last_result = res
        projs = list(owner.net.projections)
        out = [grads[n] for n in projs]
        if owner.wants_delays:
            out += [grads["delay:" + n] for n in projs]
        out += input_time_grads(grads, orders, names)
        ctx.grads = out
        ctx.devices = [t.device for t in tensors]
        return torch.tensor(L, dtype=torch.float64, device=tensors[0].device if tensors else "cpu")

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        s = float(grad_output)
        return (None, None, None, None) + tuple(torch.from_numpy(g if s == 1.0 else g * s).to(dev)
                                          for g, dev in zip(ctx.grads, ctx.devices))


class EventPropLoss(_NetworkParameters):
    """The value of an eventsim loss as a torch scalar, with ``value_and_grad``'s exact gradients.

    Args:
        net: the network; its weights (and delays) become parameters as in ``SpikingNetwork``.
        loss: a loss from ``eventsim.losses`` or a list of them (summed).
        t_max: simulated time (ms).
        wants_delays: make the delays (ms) parameters too.
        v_init: initial voltages, as for ``simulate`` (not differentiated).
        n_chunks: as for ``eventsim.eventprop.value_and_grad``.
        **sim_kw: ``max_spikes``, ``capacity``, ``progress``, ``chunk`` for ``simulate``.

    ``forward(inputs, labels, times=None)`` returns ``L`` (a 0-d float64 tensor); after
    ``L.backward()`` each parameter's ``grad`` equals ``value_and_grad``'s gradient for it (and
    ``times.grad`` its ``grads["input:NAME"]``). ``last_result`` is the latest ``Result``, e.g. for
    ``loss.predict``.
    """

    def __init__(self, net: Network, loss, t_max: float, *, wants_delays: bool = False, v_init=None,
                 n_chunks: Optional[int] = None, **sim_kw):
        super().__init__(net, wants_delays)
        self.loss = as_list(loss)
        for l in self.loss:
            l.check(net)
        self.t_max = float(t_max)
        self.v_init, self.n_chunks, self.sim_kw = v_init, n_chunks, dict(sim_kw)
        self.last_result = None

    def forward(self, inputs, labels, times=None) -> torch.Tensor:
        names, tts = self._times(inputs, times)
        for name in names:
            if name not in self.net.input_names:
                raise ValueError(f"times: {name!r} is not an input population (have {self.net.input_names})")
        return _LossFunction.apply(self, inputs, np.asarray(labels), names, *self._tensors(), *tts)
