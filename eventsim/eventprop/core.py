"""``value_and_grad``: forward simulation, loss, and the adjoint pass over the recorded events.

The forward pass is ``eventsim.simulate`` (exact). The loss (``eventsim.losses``) turns the
``Result`` into a value and the quantities the adjoint pass needs (dL/dt of spikes, dL/dVmax,
dL/dQ, heuristic kicks); ``eventsim.kernels.eventprop.backward_batch`` then runs the adjoint
backwards over the same events and accumulates dL/dw (and dL/dd) per synapse.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..kernels.tables import AdjointSources, SpikeTrains
from ..losses import LossParts, LossSpec, as_list
from ..network import Network
from ..simulate import simulate

_SIM_KW = ("max_spikes", "capacity", "progress", "chunk")
_OWN_KW = ("wants_delays", "n_chunks")


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


def _check_kw(kw) -> None:
    for k in kw:
        if k not in _SIM_KW + _OWN_KW:
            raise ValueError(f"value_and_grad: unknown keyword argument {k!r} "
                             f"(accepted: {', '.join(_OWN_KW + _SIM_KW)})")
    n = kw.get("n_chunks")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"n_chunks must be a positive integer, got {n!r}")


def value_and_grad(net: Network, inputs, labels, loss: LossSpec, t_max: float, *,
                   v_init: Optional[Dict[str, np.ndarray]] = None, return_result: bool = False, **kw):
    """Loss and its exact EventProp gradient with respect to every weight (and optionally delay) of ``net``.

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
    from ..kernels.eventprop import backward_batch

    _check_kw(kw)
    wants_delays = bool(kw.get("wants_delays", False))
    if not isinstance(net, Network):
        raise ValueError(f"net must be a Network, got {type(net).__name__}")
    losses = as_list(loss)
    for name, pop in net.populations.items():
        if pop.params is not None and pop.params.t_ref != 0.0:
            raise ValueError(f"t_ref of population {name!r} is {pop.params.t_ref} ms; EventProp here "
                             "needs t_ref = 0 (the end of refractoriness would be an extra transition)")
    for l in losses:
        l.check(net)
    res = simulate(net, inputs, t_max, v_init=v_init, **{k: kw[k] for k in _SIM_KW if k in kw})
    layout = res.layout
    B, N = res.n_samples, layout.n_neurons
    n_sp = res.n_spikes
    G = np.zeros(n_sp)
    kick = np.zeros(n_sp)
    gmax = np.zeros((B, N))
    gint = np.zeros((B, N))
    inj_ph = np.zeros((B, N))
    samp = np.repeat(np.arange(B), np.diff(res.offsets))
    total = 0.0
    vmax_b, tmax_b, imax_b = res.vmax, res.tmax, res.tape.imax  # silent peaks are filled in if a loss asks
    for l in losses:
        value, parts = l.value_and_parts(res, labels)
        parts = LossParts.of(parts, type(l).__name__)
        total += float(value)
        o, n = layout.offsets[l.population], layout.sizes[l.population]
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
            if not layout.neurons.track[layout.pop_index[l.population]]:
                # a spiking population: only neurons silent in the sample have a (differentiable) peak
                pv, pt = res.silent_peak(l.population)
                pi = res.silent_peak_current(l.population)
                asked = parts.vmax_grad != 0
                if np.any(asked & np.isnan(pv)):
                    raise ValueError(f"loss {type(l).__name__} returned vmax_grad for neurons of {l.population!r} "
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
            p = net.populations[l.population].params
            inj_ph[:, o:o + n] += -parts.phantom_grad * p.tau_mem / (p.v_th - p.v_leak)

    S = layout.n_synapses
    grad = np.zeros(S)
    dgrad = np.zeros(S)
    if S and B and (np.any(G) or np.any(kick) or np.any(gmax) or np.any(gint) or np.any(inj_ph)):
        n_chunks = kw.get("n_chunks")
        if n_chunks is None:
            import numba

            n_chunks = max(8, numba.get_num_threads())
        n_chunks = min(int(n_chunks), B)
        gr = np.zeros((n_chunks, S))
        dg = np.zeros((n_chunks, S if wants_delays else 0))
        sources = AdjointSources(G, kick, gint, gmax, tmax_b, vmax_b, imax_b, inj_ph)
        backward_batch(n_chunks, SpikeTrains(res.times, res.ids, res.offsets), res.currents, res.tape.inputs,
                       layout.neurons, layout.delay_groups(), layout.synapses._replace(w=res.tape.weights),
                       sources, float(res.t_max), wants_delays, gr, dg)
        grad = gr.sum(axis=0)
        if wants_delays:
            dgrad = dg.sum(axis=0)
    grads = layout.scatter(grad)
    if wants_delays:
        for name, arr in layout.scatter(dgrad).items():
            grads["delay:" + name] = arr
    if return_result:
        return total, grads, res
    return total, grads
