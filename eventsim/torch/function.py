"""``EventPropFunction``: the exact simulation as a ``torch.autograd.Function``, EventProp as its backward.

The tensors handed to ``EventPropFunction.apply(sim, inputs, *tensors)`` are, in this order: the
weights of every projection (in ``net.projections`` order, each aligned with ``Projection.weights``),
then, if ``sim.delays``, the delays of every projection (ms), then, for each input population named
in ``sim.input_times``, the times (ms) of its spikes, aligned with ``inputs[name].times``. All are
float64. The forward writes them into the network (weights in place, delays as new arrays), runs
``eventsim.eventprop.forward`` and returns ``sim.readout``'s value (n_samples, n). The backward feeds
the upstream gradient into ``eventsim.eventprop.backward`` and returns dL/dw, dL/dd (1/ms) and dL/dt
of the input spikes (1/ms).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

from ..eventprop.core import backward, forward
from ..network import Network
from ..spikes import SpikeBatch
from .readout import as_readout


@dataclass
class Simulation:
    """What an ``EventPropFunction`` call simulates (everything but the tensors).

    Attributes:
        net: the network (its weights and delays are overwritten by the forward).
        t_max: simulated time (ms).
        readout: the output (``Readout``, or a kind name read from the last population).
        delays: the delay tensors follow the weights.
        input_times: names of the input populations whose spike-time tensors follow.
        v_init: initial voltages, as for ``simulate`` (not differentiated).
        n_chunks: as for ``eventsim.eventprop.value_and_grad``.
        sim_kw: ``max_spikes``, ``capacity``, ``progress``, ``chunk`` for ``simulate``.
        last_result: the ``Result`` of the latest forward (for predictions and monitoring).
    """

    net: Network
    t_max: float
    readout: Any = "first_spike"
    delays: bool = False
    input_times: Tuple[str, ...] = ()
    v_init: Optional[Dict[str, np.ndarray]] = None
    n_chunks: Optional[int] = None
    sim_kw: Dict[str, Any] = field(default_factory=dict)
    last_result: Any = None

    def __post_init__(self):
        if not isinstance(self.net, Network):
            raise TypeError(f"net must be a Network, got {type(self.net).__name__}")
        self.readout = as_readout(self.readout, self.net)
        self.input_times = tuple(self.input_times)
        for name in self.input_times:
            if name not in self.net.input_names:
                raise ValueError(f"input_times: {name!r} is not an input population (have {self.net.input_names})")


def _array(t, what: str, shape) -> np.ndarray:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype != torch.float64:
        raise TypeError(f"{what} must be float64 (exact simulation), got {t.dtype}")
    a = t.detach().cpu().numpy()
    if a.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {tuple(a.shape)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or inf")
    return a


def _as_dict(net: Network, inputs) -> Dict[str, SpikeBatch]:
    if isinstance(inputs, SpikeBatch):
        if len(net.input_names) != 1:
            raise ValueError(f"inputs: the network has {len(net.input_names)} input populations "
                             f"{net.input_names}; pass a dict")
        return {net.input_names[0]: inputs}
    if not isinstance(inputs, Mapping):
        raise ValueError(f"inputs must be a SpikeBatch or a dict of them, got {type(inputs).__name__}")
    return dict(inputs)


def load_tensors(net: Network, inputs, tensors, delays: bool = False,
                 input_times: Tuple[str, ...] = ()) -> Tuple[Any, Dict[str, np.ndarray]]:
    """Write the weight (and, with ``delays``, delay) tensors into ``net``; returns the inputs to
    simulate (with the tensors of the input populations named in ``input_times`` in place of their
    batches' times, sorted within each sample) and, per such population, the order: sorted position
    i holds the tensor's entry ``order[i]``. The tensors come as for ``EventPropFunction``."""
    projs = list(net.projections.values())
    P = len(projs)
    n = P * (2 if delays else 1) + len(input_times)
    if len(tensors) != n:
        raise ValueError(f"{n} tensors expected (weights{', delays' if delays else ''}"
                         f"{', input times' if input_times else ''}), got {len(tensors)}")
    for proj, t in zip(projs, tensors[:P]):
        proj.weights[...] = _array(t, f"weights of {proj.name}", proj.weights.shape)
    if delays:
        for proj, t in zip(projs, tensors[P:2 * P]):
            d = _array(t, f"delays of {proj.name}", (proj.n_synapses,))
            if d.size and d.min() < 0:
                raise ValueError(f"delays of {proj.name} must be >= 0 ms, got min {d.min()!r} "
                                 "(clamp them after each step: with torch.no_grad(): d.clamp_(min=0))")
            if not np.array_equal(proj.delay_array(), d):
                proj.delays = d.copy()  # a new array: the network rebuilds its kernel layout
    orders: Dict[str, np.ndarray] = {}
    if not input_times:
        return inputs, orders
    batches = _as_dict(net, inputs)
    for name, t in zip(input_times, tensors[(2 if delays else 1) * P:]):
        if name not in batches:
            raise ValueError(f"input_times names {name!r}, but inputs has no SpikeBatch for it")
        sb = batches[name]
        times = _array(t, f"input times of {name!r}", sb.times.shape)
        if times.size and times.min() < 0:
            raise ValueError(f"input times of {name!r} must be >= 0 ms, got min {times.min()!r}")
        samp = np.repeat(np.arange(sb.n_samples), np.diff(sb.offsets))
        order = np.lexsort((times, samp))  # stable: ties keep their given order
        batches[name] = SpikeBatch(times[order], sb.ids[order], sb.offsets, sb.n_neurons, validate=False)
        orders[name] = order
    return batches, orders


def input_time_grads(grads: Dict[str, np.ndarray], orders: Dict[str, np.ndarray], names) -> List[np.ndarray]:
    """dL/dt per input population in ``names``, back in the order of the tensors given."""
    out = []
    for name in names:
        g = np.empty_like(grads["input:" + name])
        g[orders[name]] = grads["input:" + name]
        out.append(g)
    return out


class EventPropFunction(torch.autograd.Function):
    """``EventPropFunction.apply(sim, inputs, *tensors) -> (n_samples, n)`` float64 tensor.

    ``sim``: a ``Simulation``; ``inputs``: SpikeBatch (or dict per input population), as for
    ``simulate``; ``tensors``: see the module docstring. The output is ``sim.readout``'s value; its
    backward is EventProp: exact for the current spike pattern (a silent neuron's first-spike time
    has gradient 0). Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, sim: Simulation, inputs, *tensors):
        if not isinstance(sim, Simulation):
            raise TypeError(f"sim must be a Simulation, got {type(sim).__name__}")
        run_inputs, orders = load_tensors(sim.net, inputs, tensors, sim.delays, sim.input_times)
        res = forward(sim.net, run_inputs, sim.t_max, v_init=sim.v_init, **sim.sim_kw)
        sim.last_result = res
        ctx.sim, ctx.res, ctx.orders = sim, res, orders
        ctx.devices = [t.device for t in tensors]
        return torch.from_numpy(sim.readout.value(res)).to(tensors[0].device if tensors else "cpu")

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        sim, res = ctx.sim, ctx.res
        g = grad_output.detach().cpu().numpy().astype(np.float64)
        parts = sim.readout.parts(res, g)
        grads = backward(sim.net, res, [(sim.readout.population, parts)], wants_delays=sim.delays,
                         wants_input_times=bool(sim.input_times), n_chunks=sim.n_chunks)
        names = list(sim.net.projections)
        out = [grads[n] for n in names]
        if sim.delays:
            out += [grads["delay:" + n] for n in names]
        out += input_time_grads(grads, ctx.orders, sim.input_times)
        return (None, None) + tuple(torch.from_numpy(a).to(dev) for a, dev in zip(out, ctx.devices))
