"""EventProp in three steps: ``forward`` (the exact simulation), loss parts, ``backward`` (the adjoint).

The forward pass is ``eventsim.simulate`` (exact). A loss (``eventsim.losses``) turns the ``Result``
into a value and the quantities the adjoint pass needs (``LossParts``: dL/dt of spikes, dL/dVmax,
dL/dQ, heuristic kicks); ``backward`` hands them to ``eventsim.kernels.eventprop.backward_batch``,
which runs the adjoint backwards over the same events and accumulates dL/dw (and dL/dd, dL/dt of
input spikes) per synapse. ``value_and_grad`` is the three in a row. ``backward`` also accepts parts
that come from elsewhere, e.g. an upstream gradient dL/d(first-spike times) of a torch loss
(``eventsim.torch``).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..kernels.tables import AdjointSources, SpikeTrains
from ..layout import layout_signature
from ..losses import LossParts, LossSpec, as_list
from ..network import Network
from ..result import Result
from ..simulate import simulate

_SIM_KW = ("max_spikes", "capacity", "progress", "chunk")
_OWN_KW = ("wants_delays", "wants_input_times", "n_chunks")

#: upstream parts for ``backward``: {population: LossParts}, or (population, LossParts) pairs
PartsSpec = Union[Mapping[str, LossParts], Sequence[Tuple[str, LossParts]]]


def first_spike_index(res, o: int, n: int) -> np.ndarray:
    """(B, n) index into ``res.times`` of each neuron's first spike (neurons o..o+n-1); -1 if silent."""
    B = res.n_samples
    out = np.full((B, n), -1, dtype=np.int64)
    samp = np.repeat(np.arange(B), np.diff(res.offsets))
    sel = np.flatnonzero((res.ids >= o) & (res.ids < o + n))
    # spikes are time-ordered within a sample, so the first occurrence is the first spike
    key = samp[sel] * n + (res.ids[sel] - o)
    _, first = np.unique(key, return_index=True)
    idx = sel[first]
    out[samp[idx], res.ids[idx] - o] = idx
    return out


def _check_kw(kw, what: str = "value_and_grad", own=_OWN_KW, sim=_SIM_KW) -> None:
    for k in kw:
        if k not in sim + own:
            raise ValueError(f"{what}: unknown keyword argument {k!r} "
                             f"(accepted: {', '.join(own + sim)})")
    n = kw.get("n_chunks")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"n_chunks must be a positive integer, got {n!r}")


def _check_net(net) -> None:
    if not isinstance(net, Network):
        raise ValueError(f"net must be a Network, got {type(net).__name__}")
    for name, pop in net.populations.items():
        if pop.params is not None and pop.params.t_ref != 0.0:
            raise ValueError(f"t_ref of population {name!r} is {pop.params.t_ref} ms; EventProp here "
                             "needs t_ref = 0 (the end of refractoriness would be an extra transition)")


def forward(net: Network, inputs, t_max: float, *, v_init: Optional[Dict[str, np.ndarray]] = None,
            **kw) -> Result:
    """The forward pass of EventProp: ``eventsim.simulate`` after the checks EventProp needs.

    Args:
        net: the network; every LIF population must have ``t_ref == 0`` (ValueError otherwise).
        inputs: SpikeBatch (or dict per input population), as for ``simulate``.
        t_max: simulated time (ms).
        v_init: initial voltages, as for ``simulate`` (constants, no gradient).
        **kw: ``max_spikes``, ``capacity``, ``progress``, ``chunk`` go to ``simulate``; anything
            else raises ValueError.

    Returns:
        the ``Result``, with the tape that ``backward`` replays.
    """
    _check_kw(kw, "forward", own=())
    _check_net(net)
    return simulate(net, inputs, t_max, v_init=v_init, **kw)


def _parts_list(parts: PartsSpec) -> List[Tuple[str, LossParts]]:
    if isinstance(parts, Mapping):
        items = list(parts.items())
    elif isinstance(parts, (list, tuple)):
        items = []
        for it in parts:
            if not (isinstance(it, tuple) and len(it) == 2):
                raise ValueError("parts must be a dict {population: LossParts} or a list of (population, "
                                 f"LossParts) pairs, got an item of type {type(it).__name__}")
            items.append(it)
    else:
        raise ValueError("parts must be a dict {population: LossParts} or a list of (population, LossParts) "
                         f"pairs, got {type(parts).__name__}")
    out = []
    for pop, p in items:
        if not isinstance(p, LossParts):
            raise TypeError(f"parts[{pop!r}] must be LossParts, got {type(p).__name__}")
        out.append((pop, p))
    return out


def _check_part_shapes(net: Network, res: Result, pop: str, p: LossParts, who: str) -> None:
    """ValueError naming ``who`` if a part has the wrong shape or is not finite."""
    P = net.population(pop)
    if P.is_input:
        raise ValueError(f"{who}: population {pop!r} is an input population")
    shape = (res.n_samples, P.size)
    for field in ("first_spike_grad", "spike_kick", "vmax_grad", "vint_grad", "phantom_grad"):
        a = getattr(p, field)
        if a is not None and np.shape(a) != shape:
            raise ValueError(f"{who}: {field} must have shape {shape} (samples, neurons of {pop!r}), "
                             f"got {np.shape(a)}")
    if p.spike_grad is not None and np.shape(p.spike_grad) != (res.n_spikes,):
        raise ValueError(f"{who}: spike_grad must have shape ({res.n_spikes},) (one per recorded spike), "
                         f"got {np.shape(p.spike_grad)}")
    spiking = P.params.spiking
    for field, ok in (("first_spike_grad", spiking), ("spike_kick", spiking), ("phantom_grad", spiking),
                      ("vint_grad", not spiking)):
        if getattr(p, field) is not None and not ok:
            kind = "a non-spiking read-out" if spiking is False else "a spiking population"
            raise ValueError(f"{who}: {field} given for {pop!r}, which is {kind}")
    for field in ("first_spike_grad", "spike_grad", "spike_kick", "vmax_grad", "vint_grad", "phantom_grad"):
        a = getattr(p, field)
        if a is not None and not np.all(np.isfinite(a)):
            raise ValueError(f"{who}: {field} contains NaN or inf")


def _input_order(res: Result, net: Network) -> Dict[str, np.ndarray]:
    """For each input population: the positions in ``res.tape.inputs`` of its spikes, in the order
    of the SpikeBatch that was simulated (the merge of several input populations is a stable sort by
    (sample, time), so one population's spikes keep their relative order)."""
    ids = res.tape.inputs.ids
    out = {}
    for name in net.input_names:
        o, n = res.layout.offsets[name], res.layout.sizes[name]
        out[name] = np.flatnonzero((ids >= o) & (ids < o + n))
    return out


def _backward(net: Network, res: Result, items: List[Tuple[str, LossParts, str]], wants_delays: bool,
              wants_input_times: bool, n_chunks) -> Dict[str, np.ndarray]:
    from ..kernels.eventprop import backward_batch

    layout = res.layout
    B, N = res.n_samples, layout.n_neurons
    n_sp = res.n_spikes
    G = np.zeros(n_sp)
    kick = np.zeros(n_sp)
    gmax = np.zeros((B, N))
    gint = np.zeros((B, N))
    inj_ph = np.zeros((B, N))
    samp = np.repeat(np.arange(B), np.diff(res.offsets))
    vmax_b, tmax_b, imax_b = res.vmax, res.tmax, res.tape.imax  # silent peaks are filled in if a loss asks
    for pop, parts, who in items:
        o, n = layout.offsets[pop], layout.sizes[pop]
        if parts.first_spike_grad is not None:
            idx = first_spike_index(res, o, n)
            ok = idx >= 0
            np.add.at(G, idx[ok], parts.first_spike_grad[ok])
        if parts.spike_grad is not None:
            G += parts.spike_grad
        if parts.spike_kick is not None:
            sel = np.flatnonzero((res.ids >= o) & (res.ids < o + n))
            kick[sel] += parts.spike_kick[samp[sel], res.ids[sel] - o]
        if parts.vmax_grad is not None:
            gmax[:, o:o + n] += parts.vmax_grad
            if not layout.neurons.track[layout.pop_index[pop]]:
                # a spiking population: only neurons silent in the sample have a (differentiable) peak
                pv, pt = res.silent_peak(pop)
                pi = res.silent_peak_current(pop)
                asked = parts.vmax_grad != 0
                if np.any(asked & np.isnan(pv)):
                    raise ValueError(f"{who} returned vmax_grad for neurons of {pop!r} "
                                     "that fired; only silent neurons of a spiking population have a peak gradient")
                if vmax_b is res.vmax:
                    vmax_b, tmax_b, imax_b = vmax_b.copy(), tmax_b.copy(), imax_b.copy()
                for arr, src in zip((vmax_b, tmax_b, imax_b), (pv, pt, pi)):
                    arr[:, o:o + n] = np.where(asked, src, arr[:, o:o + n])
        if parts.vint_grad is not None:
            gint[:, o:o + n] += parts.vint_grad
        if parts.phantom_grad is not None:
            # a spike at t_max with direct derivative G would get a_V = -G / Vdot-; the reference
            # slope Vdot- = (v_th - v_leak) / tau_mem is used (the neuron did not fire: heuristic)
            p = net.populations[pop].params
            inj_ph[:, o:o + n] += -parts.phantom_grad * p.tau_mem / (p.v_th - p.v_leak)

    S = layout.n_synapses
    n_in = res.tape.inputs.times.size
    grad = np.zeros(S)
    dgrad = np.zeros(S)
    ingrad = np.zeros(n_in if wants_input_times else 0)
    if S and B and (np.any(G) or np.any(kick) or np.any(gmax) or np.any(gint) or np.any(inj_ph)):
        if n_chunks is None:
            import numba

            n_chunks = max(8, numba.get_num_threads())
        n_chunks = min(int(n_chunks), B)
        gr = np.zeros((n_chunks, S))
        dg = np.zeros((n_chunks, S if wants_delays else 0))
        sources = AdjointSources(G, kick, gint, gmax, tmax_b, vmax_b, imax_b, inj_ph)
        backward_batch(n_chunks, SpikeTrains(res.times, res.ids, res.offsets), res.currents, res.tape.inputs,
                       layout.neurons, layout.delay_groups(), layout.synapses._replace(w=res.tape.weights),
                       sources, float(res.t_max), wants_delays, gr, dg, wants_input_times, ingrad)
        grad = gr.sum(axis=0)
        if wants_delays:
            dgrad = dg.sum(axis=0)
    grads = layout.scatter(grad)
    if wants_delays:
        for name, arr in layout.scatter(dgrad).items():
            grads["delay:" + name] = arr
    if wants_input_times:
        for name, pos in _input_order(res, net).items():
            grads["input:" + name] = ingrad[pos]
    return grads


def backward(net: Network, result: Result, parts: PartsSpec, *, wants_delays: bool = False,
             wants_input_times: bool = False, n_chunks: Optional[int] = None) -> Dict[str, np.ndarray]:
    """The adjoint pass of EventProp: gradients of a loss whose derivative with respect to the
    outputs of ``result`` is ``parts``.

    Args:
        net: the network simulated (its neuron parameters are read; the weights and spikes come from
            ``result``'s tape, so later changes to the weights do not matter).
        result: the ``Result`` of ``forward`` (or ``simulate``) for this network.
        parts: ``{population: LossParts}`` or a list of ``(population, LossParts)`` pairs (summed;
            a population may appear twice). The fields are dL/d(output) of that population, e.g.
            ``first_spike_grad`` (n_samples, n) = dL/dt of each neuron's first spike (1/ms; ignored
            for silent neurons), ``vmax_grad`` / ``vint_grad`` for non-spiking read-outs; see
            ``eventsim.losses.LossParts``. Nothing is divided by the batch size here.
        wants_delays: add ``grads["delay:src->dst"]`` = dL/dd (1/ms).
        wants_input_times: add ``grads["input:NAME"]`` = dL/dt_k (1/ms) of every input spike of each
            input population, aligned with the ``times`` of the SpikeBatch simulated for it (empty
            for an input population that got no spikes).
        n_chunks: as for ``value_and_grad``.

    Returns:
        ``grads``: projection name ``"src->dst"`` -> dL/dw aligned with its ``weights``, plus the
        delay and input-time entries asked for.
    """
    _check_net(net)
    if not isinstance(result, Result) or result.tape is None:
        raise ValueError("result must be the Result of forward() or simulate() (it carries the tape replayed)")
    if result.layout.signature[0] != layout_signature(net)[0]:
        raise ValueError("result was not simulated with this network (its populations or their parameters differ)")
    _check_kw({"n_chunks": n_chunks} if n_chunks is not None else {}, "backward")
    items = []
    for pop, p in _parts_list(parts):
        who = f"parts[{pop!r}]"
        _check_part_shapes(net, result, pop, p, who)
        items.append((pop, p, who))
    return _backward(net, result, items, bool(wants_delays), bool(wants_input_times), n_chunks)


def value_and_grad(net: Network, inputs, labels, loss: LossSpec, t_max: float, *,
                   v_init: Optional[Dict[str, np.ndarray]] = None, return_result: bool = False, **kw):
    """Loss and its exact EventProp gradient with respect to every weight (and optionally delay) of ``net``.

    ``forward``, then each loss's ``value_and_parts``, then ``backward``.

    Args:
        net: the network; every LIF population must have ``t_ref == 0`` (ValueError otherwise).
        inputs: SpikeBatch (or dict per input population), as for ``simulate``.
        labels: int array (n_samples,) with values in [0, n_classes).
        loss: a loss from ``eventsim.losses`` or a list of them (summed; the first one predicts).
        t_max: simulated time (ms).
        v_init: initial voltages, as for ``simulate`` (constants, no gradient).
        return_result: also return the forward ``Result``.
        **kw: ``wants_delays=True`` adds ``grads["delay:src->dst"]`` = dL/dd (1/ms, aligned with the
            projection's synapses; the derivative at the current delays, which must stay >= 0);
            ``wants_input_times=True`` adds ``grads["input:NAME"]`` = dL/dt_k (1/ms) for every input
            spike of each input population, aligned with the ``times`` of its SpikeBatch;
            ``n_chunks`` (samples are split into this many chunks accumulated separately and summed;
            default ``max(8, numba threads)``, capped by the batch size: results are bit-identical
            for a given value); ``max_spikes``, ``capacity``, ``progress``, ``chunk`` go to
            ``simulate``. Anything else raises ValueError.

    Returns:
        ``(loss_value, grads)`` or ``(loss_value, grads, result)``; ``grads`` maps each projection
        name ``"src->dst"`` (the keys of ``net.parameters()``) to dL/dw aligned with that
        projection's ``weights``. The loss is a mean over the batch, so is the gradient.

    The gradient is exact for the current spike pattern (no term creates or removes spikes); it is
    infinite where a threshold crossing is tangential (dV/dt = 0 at the crossing). See
    docs/eventprop.md for the equations and for which loss terms are heuristic.
    """
    _check_kw(kw)
    _check_net(net)
    losses = as_list(loss)
    for l in losses:
        l.check(net)
    res = simulate(net, inputs, t_max, v_init=v_init, **{k: kw[k] for k in _SIM_KW if k in kw})
    total = 0.0
    items = []
    for l in losses:
        value, parts = l.value_and_parts(res, labels)
        parts = LossParts.of(parts, type(l).__name__)
        total += float(value)
        items.append((l.population, parts, f"loss {type(l).__name__}"))
    grads = _backward(net, res, items, bool(kw.get("wants_delays", False)),
                      bool(kw.get("wants_input_times", False)), kw.get("n_chunks"))
    if return_result:
        return total, grads, res
    return total, grads
