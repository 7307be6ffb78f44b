"""``value_and_grad``: forward simulation, loss, and the adjoint pass over the recorded events.

The forward pass is ``eventsim.simulate`` (exact). The loss (``eventsim.losses``) turns the
``Result`` into a value and the quantities the adjoint pass needs (dL/dt of spikes, dL/dVmax,
dL/dQ, heuristic kicks); ``eventsim.kernels.eventprop.backward_batch`` then runs the adjoint
backwards over the same events and accumulates dL/dw (and dL/dd) per synapse.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..losses import LossSpec, as_list
from ..network import Network
from ..simulate import simulate

_SIM_KW = ("max_spikes", "capacity", "progress", "chunk")
_OWN_KW = ("wants_delays", "n_chunks")


def delay_groups(layout):
    """Delay groups of the layout's fan-out CSR (cached on the layout).

    Rows of the CSR are sorted by (delay, target), so the synapses of one source with one delay are
    contiguous: group g covers synapses ``g_start[g]:g_end[g]`` with delay ``g_d[g]``, and source j
    owns groups ``g_ptr[j]:g_ptr[j+1]`` in increasing delay. Returns (g_ptr, g_start, g_end, g_d).
    """
    cached = getattr(layout, "_eventprop_groups", None)
    if cached is not None:
        return cached
    S = layout.n_synapses
    src = layout.src.astype(np.int64)
    start = np.ones(S, dtype=bool)
    if S:
        start[1:] = (src[1:] != src[:-1]) | (layout.d[1:] != layout.d[:-1])
    g_start = np.flatnonzero(start).astype(np.int64)
    g_end = np.append(g_start[1:], S).astype(np.int64)
    g_d = np.ascontiguousarray(layout.d[g_start]) if S else np.zeros(0)
    g_ptr = np.zeros(layout.n_neurons + 1, dtype=np.int64)
    if S:
        np.cumsum(np.bincount(src[g_start], minlength=layout.n_neurons), out=g_ptr[1:])
    layout._eventprop_groups = (g_ptr, g_start, g_end, g_d)
    return layout._eventprop_groups


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
    peaks = None  # (vmax, tmax, imax) with the peaks of silent spiking neurons filled in, if a loss asks
    for l in losses:
        value, parts = l.value_and_parts(res, labels)
        total += float(value)
        o, n = layout.offsets[l.population], layout.sizes[l.population]
        unknown = set(parts) - {"first_spike_grad", "spike_grad", "spike_kick", "vmax_grad", "vint_grad",
                                "phantom_grad"}
        if unknown:
            raise ValueError(f"loss {type(l).__name__} returned unknown parts {sorted(unknown)}")
        if "first_spike_grad" in parts:
            idx = first_spike_index(res, o, n)
            ok = idx >= 0
            np.add.at(G, idx[ok], parts["first_spike_grad"][ok])
        if "spike_grad" in parts:
            G += parts["spike_grad"]
        if "spike_kick" in parts:
            sel = np.flatnonzero((res.ids >= o) & (res.ids < o + n))
            kick[sel] += parts["spike_kick"][samp[sel], res.ids[sel] - o]
        if "vmax_grad" in parts:
            gmax[:, o:o + n] += parts["vmax_grad"]
            if not layout.track[layout.pop_index[l.population]]:
                # a spiking population: only neurons silent in the sample have a (differentiable) peak
                pv, pt = res.silent_peak(l.population)
                pi = res.silent_peak_current(l.population)
                asked = parts["vmax_grad"] != 0
                if np.any(asked & np.isnan(pv)):
                    raise ValueError(f"loss {type(l).__name__} returned vmax_grad for neurons of {l.population!r} "
                                     "that fired; only silent neurons of a spiking population have a peak gradient")
                if peaks is None:
                    peaks = [res.vmax.copy(), res.tmax.copy(), getattr(res, "imax", np.zeros((B, N))).copy()]
                for arr, src in zip(peaks, (pv, pt, pi)):
                    arr[:, o:o + n] = np.where(asked, src, arr[:, o:o + n])
        if "vint_grad" in parts:
            gint[:, o:o + n] += parts["vint_grad"]
        if "phantom_grad" in parts:
            # a spike at t_max with direct derivative G would get a_V = -G / Vdot-; the reference
            # slope Vdot- = (v_th - v_leak) / tau_mem is used (the neuron did not fire: heuristic)
            p = net.populations[l.population].params
            inj_ph[:, o:o + n] += -parts["phantom_grad"] * p.tau_mem / (p.v_th - p.v_leak)

    S = layout.n_synapses
    grad = np.zeros(S)
    dgrad = np.zeros(S)
    if S and B and (np.any(G) or np.any(kick) or np.any(gmax) or np.any(gint) or np.any(inj_ph)):
        in_t, in_id, in_off = res.merged_inputs
        n_chunks = kw.get("n_chunks")
        if n_chunks is None:
            import numba

            n_chunks = max(8, numba.get_num_threads())
        n_chunks = min(int(n_chunks), B)
        g_ptr, g_start, g_end, g_d = delay_groups(layout)
        gr = np.zeros((n_chunks, S))
        dg = np.zeros((n_chunks, S if wants_delays else 0))
        imax = getattr(res, "imax", None)
        if imax is None:
            imax = np.zeros((B, N))
        vmax_b, tmax_b = res.vmax, res.tmax
        if peaks is not None:
            vmax_b, tmax_b, imax = peaks
        backward_batch(n_chunks, res.offsets, res.times, res.ids, res.currents, G, kick,
                       np.ascontiguousarray(in_off, dtype=np.int64), np.ascontiguousarray(in_t, dtype=np.float64),
                       np.ascontiguousarray(in_id, dtype=np.int32),
                       layout.pop_of, layout.tau_m, layout.tau_s, layout.v_th, layout.v_reset, layout.v_leak,
                       g_ptr, g_start, g_end, g_d, layout.tgt, layout.w,
                       gint, gmax, tmax_b, vmax_b, imax, inj_ph, float(res.t_max), wants_delays, gr, dg)
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
