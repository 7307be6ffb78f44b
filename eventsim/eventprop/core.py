"""``value_and_grad``: forward simulation, loss, and the adjoint pass over the recorded events."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from ..losses import LossSpec, as_list
from ..network import Network
from ..simulate import _merge_inputs, simulate


def _groups(layout):
    """Delay groups of the fan-out CSR: contiguous synapses of one source with one delay (cached)."""
    if getattr(layout, "_groups", None) is None:
        S = layout.n_synapses
        src = layout.src.astype(np.int64)
        start = np.ones(S, dtype=bool)
        if S:
            start[1:] = (src[1:] != src[:-1]) | (layout.d[1:] != layout.d[:-1])
        g_start = np.flatnonzero(start).astype(np.int64)
        g_end = np.append(g_start[1:], S).astype(np.int64)
        g_src = src[g_start] if S else np.zeros(0, np.int64)
        counts = np.bincount(g_src, minlength=layout.n_neurons).astype(np.int64)
        first = np.zeros(layout.n_neurons, dtype=np.int64)
        np.cumsum(counts[:-1], out=first[1:])
        layout._groups = (g_start, g_end, layout.d[g_start] if S else np.zeros(0), counts, first)
    return layout._groups


def _first_spike_index(res, o: int, n: int) -> np.ndarray:
    """(B, n) global index of each neuron's first spike in ``res`` (-1 if silent)."""
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


def value_and_grad(net: Network, inputs, labels, loss: LossSpec, t_max: float, *,
                   v_init: Optional[Dict[str, np.ndarray]] = None, return_result: bool = False):
    """Loss and its exact gradient with respect to every weight of ``net``.

    Args:
        net: the network (every LIF population must have ``t_ref == 0``).
        inputs: SpikeBatch (or dict per input population), as for ``simulate``.
        labels: int array (n_samples,).
        loss: a loss from ``eventsim.losses`` or a list of them (summed).
        t_max: simulated time (ms).
        v_init: initial voltages, as for ``simulate`` (treated as constants).
        return_result: also return the forward ``Result``.

    Returns:
        ``(loss_value, grads)`` or ``(loss_value, grads, result)``; ``grads`` maps each projection
        name ``"src->dst"`` to an array aligned with that projection's ``weights``.
    """
    losses = as_list(loss)
    for name, pop in net.populations.items():
        if pop.params is not None and pop.params.t_ref != 0.0:
            raise ValueError(f"t_ref of population {name!r} is {pop.params.t_ref}; EventProp needs t_ref = 0")
    for l in losses:
        net.population(l.population)
    res = simulate(net, inputs, t_max, v_init=v_init)
    layout = res.layout
    B, N = res.n_samples, layout.n_neurons
    n_sp = res.n_spikes
    G = np.zeros(n_sp)
    gmax = np.zeros((B, N))
    gint = np.zeros((B, N))
    phantom = np.zeros((B, N))
    total = 0.0
    for l in losses:
        value, parts = l.value_and_parts(res, labels)
        total += value
        o, n = layout.offsets[l.population], layout.sizes[l.population]
        if "first_spike_grad" in parts:
            idx = _first_spike_index(res, o, n)
            ok = idx >= 0
            np.add.at(G, idx[ok], parts["first_spike_grad"][ok])
        if "count_dev" in parts:
            samp = np.repeat(np.arange(B), np.diff(res.offsets))
            sel = np.flatnonzero((res.ids >= o) & (res.ids < o + n))
            G[sel] += parts["count_dev"][samp[sel], res.ids[sel] - o]
        if "vmax_grad" in parts:
            gmax[:, o:o + n] += parts["vmax_grad"]
        if "vint_grad" in parts:
            gint[:, o:o + n] += parts["vint_grad"]
        if "phantom_grad" in parts:
            p = net.populations[l.population].params
            phantom[:, o:o + n] += -parts["phantom_grad"] * p.tau_mem / (p.v_th - p.v_leak)

    ev = _events(net, layout, inputs, res, gmax, phantom)
    g_start, g_end = _groups(layout)[:2]
    grad = np.zeros((B, layout.n_synapses))
    if layout.n_synapses and (np.any(G) or np.any(gmax) or np.any(gint) or np.any(phantom)):
        from ..kernels.eventprop import backward_batch

        backward_batch(ev[0], ev[1], ev[2], ev[3], ev[4], ev[5], res.offsets, res.ids, res.currents, G,
                       layout.pop_of, layout.tau_m, layout.tau_s, layout.v_th, layout.v_reset, layout.v_leak,
                       layout.track, g_start, g_end, layout.tgt, layout.w, gint, res.tmax, res.imax, res.vmax,
                       gmax, res.t_max, grad)
    grads = layout.scatter(grad.sum(axis=0))
    if return_result:
        return total, grads, res
    return total, grads


def _events(net, layout, inputs, res, gmax, phantom) -> Tuple[np.ndarray, ...]:
    """Sorted backward events for all samples: (offsets, t, type, a, b, val)."""
    B = res.n_samples
    g_start, g_end, g_delay, g_count, g_first = _groups(layout)
    if inputs is None:
        in_t, in_id, in_off = np.zeros(0), np.zeros(0, np.int32), np.zeros(B + 1, np.int64)
    else:
        _, in_t, in_id, in_off = _merge_inputs(net, inputs, layout)
    # source spikes: inputs (acc index -1) then neuron spikes (acc index = global spike index)
    src_t = np.concatenate([in_t, res.times])
    src_id = np.concatenate([in_id.astype(np.int64), res.ids.astype(np.int64)])
    src_acc = np.concatenate([np.full(in_t.size, -1, np.int64), np.arange(res.n_spikes, dtype=np.int64)])
    src_s = np.concatenate([np.repeat(np.arange(B), np.diff(in_off)), np.repeat(np.arange(B), np.diff(res.offsets))])
    reps = g_count[src_id]
    a_s = np.repeat(src_s, reps)
    a_acc = np.repeat(src_acc, reps)
    starts = np.repeat(g_first[src_id], reps)
    within = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    a_g = starts + within
    a_t = np.repeat(src_t, reps) + g_delay[a_g]
    keep = a_t <= res.t_max
    a_s, a_acc, a_g, a_t = a_s[keep], a_acc[keep], a_g[keep], a_t[keep]
    # spikes
    sp_s = np.repeat(np.arange(B), np.diff(res.offsets))
    # injections: max-voltage read-outs at their maximum, phantom spikes at t_max
    ib, im = np.nonzero(gmax)
    pb, pm = np.nonzero(phantom)
    inj_s = np.concatenate([ib, pb])
    inj_t = np.concatenate([res.tmax[ib, im], np.full(pb.size, res.t_max)])
    inj_n = np.concatenate([im, pm]).astype(np.int64)
    inj_v = np.concatenate([gmax[ib, im], phantom[pb, pm]])
    t = np.concatenate([a_t, res.times, inj_t])
    typ = np.concatenate([np.zeros(a_t.size, np.int8), np.ones(res.n_spikes, np.int8), np.full(inj_t.size, 2, np.int8)])
    a = np.concatenate([a_acc, res.ids.astype(np.int64), inj_n])
    b = np.concatenate([a_g, np.arange(res.n_spikes, dtype=np.int64), np.zeros(inj_t.size, np.int64)])
    val = np.concatenate([np.zeros(a_t.size + res.n_spikes), inj_v])
    s = np.concatenate([a_s, sp_s, inj_s])
    order = np.lexsort((typ, -t, s))
    off = np.zeros(B + 1, dtype=np.int64)
    np.cumsum(np.bincount(s, minlength=B), out=off[1:])
    return off, t[order], typ[order], a[order], b[order], val[order]
