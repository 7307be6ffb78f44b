"""Batches on a Dask cluster: ``simulate`` and ``value_and_grad``, split into contiguous chunks of samples.

``simulate`` runs ``eventsim.simulate`` on each chunk on a worker and concatenates the chunks in
sample order: the Result equals the one-process Result array for array (samples are independent).

``value_and_grad`` gives the loss and gradient of ``eventsim.eventprop.value_and_grad(...,
n_chunks=n)`` bit for bit. In one process the loss is evaluated on the whole batch (a mean over it,
so each sample's share of dL/dt, dL/dVmax, ... is divided by the batch size B, and batch-wide terms
such as ``SilentPeakReg(scope="batch")`` see every sample), then the adjoint kernel accumulates
chunk c's samples into row c of a (n, n_synapses) array, and the rows are summed
(``rows.sum(axis=0)``). Here:

1. the workers simulate their chunks and keep each chunk's Result; the driver assembles the batch's
   Result from their arrays (``chunks.assemble``);
2. the driver evaluates the losses on it as ``eventprop.value_and_grad`` does (the value, and each
   loss's ``LossParts`` for the whole batch);
3. each worker runs the adjoint pass on its chunk's Result with the chunk's slice of those parts
   (``eventsim.eventprop.backward(..., n_chunks=1)``), which yields row c exactly;
4. the driver stacks the rows in chunk order and sums them the same way.

Where ``eventsim.eventprop.backward`` does not exist (or ``RESIMULATE`` is set), step 3 is instead
``eventprop.value_and_grad(..., n_chunks=1)`` on the chunk with losses that hand back the chunk's
slice of the parts (``GivenParts``): the same row, at the cost of simulating the chunk again.

The network is sent once per worker per call (``client.scatter(..., broadcast=True)``); each chunk's
input spikes go only to the worker that runs it, and its Result stays there.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..checks import positive_int
from ..losses import Loss, LossParts, LossSpec, as_list
from ..network import Network
from ..result import Result
from .cluster import limit_numba_threads
from .chunks import ChunkResult, assemble, bounds, n_samples_of, slice_inputs, slice_v_init

#: keywords of ``eventsim.simulate`` passed through to every chunk
SIM_KW = ("v_init", "record", "record_times", "max_spikes", "capacity", "chunk")
#: keywords of ``eventsim.eventprop.value_and_grad`` passed through to every chunk
GRAD_SIM_KW = ("max_spikes", "capacity", "chunk")
#: True: step 3 simulates each chunk again (``GivenParts``) even where ``eventprop.backward`` exists
RESIMULATE = False


def _backward_available() -> bool:
    from .. import eventprop

    return not RESIMULATE and callable(getattr(eventprop, "backward", None))


def total_threads(client) -> int:
    """Worker threads of the cluster behind ``client`` (at least 1)."""
    return max(1, int(sum(client.nthreads().values())))


def ship(client, net: Network):
    """A future of ``net`` held by every worker (one transfer per worker; the cached kernel layout,
    which a worker rebuilds anyway, is left out)."""
    return client.scatter(net.copy(), broadcast=True, hash=False)


def _check_client(client) -> None:
    if not (hasattr(client, "submit") and hasattr(client, "scatter")):
        raise TypeError(f"client must be a dask.distributed Client, got {type(client).__name__}")


# ------------------------------------------------------------------------------------ on the workers
#: worker side: the most spikes a sample had in the last chunk of a network of this shape, so that a
#: network shipped anew each step starts with a spike buffer of the right size (as a cached layout does)
_LAST_MAX_SPIKES: Dict[tuple, int] = {}


def forward_chunk(net: Network, inputs, t_max: float, kw: Mapping) -> Result:
    """Worker side: ``eventsim.simulate`` on one chunk; the Result stays on the worker."""
    from ..simulate import simulate as _simulate

    limit_numba_threads()
    lay = net.layout()
    shape = (tuple(lay.sizes.items()), lay.n_synapses)
    lay.last_max_spikes = max(lay.last_max_spikes, _LAST_MAX_SPIKES.get(shape, 0))
    res = _simulate(net, inputs, t_max, progress=False, **kw)
    _LAST_MAX_SPIKES[shape] = lay.last_max_spikes
    return res


def simulate_chunk(net: Network, inputs, t_max: float, kw: Mapping) -> ChunkResult:
    """Worker side: ``eventsim.simulate`` on one chunk, its arrays returned."""
    return ChunkResult.of(forward_chunk(net, inputs, t_max, kw))


def chunk_arrays(res: Result) -> ChunkResult:
    """Worker side: the arrays of a chunk's Result, for the driver."""
    return ChunkResult.of(res)


def backward_chunk(net: Network, res: Result, parts: List[Tuple[str, LossParts]],
                   wants_delays: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Worker side: the chunk's row of dL/dw (and dL/dd) in kernel synapse order, from its kept
    Result and its slice of the parts (``eventsim.eventprop.backward`` with one chunk)."""
    from ..eventprop import backward

    limit_numba_threads()
    return flat_rows(net, backward(net, res, parts, wants_delays=wants_delays, n_chunks=1), wants_delays)


class GivenParts(Loss):
    """A loss whose parts were computed elsewhere: ``value_and_parts`` returns (0, ``parts``).

    Used on a worker with the chunk's slice of the parts of a loss evaluated on the whole batch, so
    that EventProp on the chunk sees exactly the adjoint sources of those samples."""

    uses_labels = False

    def __init__(self, population: str, needs: str, parts: LossParts):
        self.population, self.needs, self.parts = population, needs, parts

    def value_and_parts(self, result, labels):
        return 0.0, self.parts


def flat_rows(net: Network, grads: Dict[str, np.ndarray], wants_delays: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Per-projection gradients back in the kernel's synapse order (``KernelLayout.scatter`` inverted)."""
    lay = net.layout()

    def flat(prefix: str) -> np.ndarray:
        if not lay.n_synapses:
            return np.zeros(0)
        return np.concatenate([grads[prefix + n] for n in lay.proj_names])[lay.perm]

    return flat(""), (flat("delay:") if wants_delays else np.zeros(0))


def grad_chunk(net: Network, inputs, given: List[GivenParts], t_max: float, wants_delays: bool,
               kw: Mapping) -> Tuple[np.ndarray, np.ndarray]:
    """Worker side: the chunk's row of dL/dw (and dL/dd) in kernel synapse order."""
    from ..eventprop import value_and_grad as _vg

    limit_numba_threads()
    n = n_samples_of(inputs)
    _, grads = _vg(net, inputs, np.zeros(n, np.int64), given, t_max, n_chunks=1, wants_delays=wants_delays,
                   progress=False, **kw)
    return flat_rows(net, grads, wants_delays)


# ------------------------------------------------------------------------------------- on the driver
def simulate(client, net: Network, inputs, t_max: float, *, n_chunks: Optional[int] = None, **kw) -> Result:
    """``eventsim.simulate(net, inputs, t_max, **kw)`` with the samples split over a Dask cluster.

    Args:
        client: a ``dask.distributed.Client``.
        net: the network.
        inputs: SpikeBatch or dict of them, as for ``eventsim.simulate`` (None: one sample without input).
        t_max: simulated time (ms).
        n_chunks: number of contiguous chunks of samples, one task each (default: the cluster's
            worker threads; capped at the number of samples).
        **kw: ``v_init`` (per-sample arrays are sliced), ``record``, ``record_times``, ``max_spikes``,
            ``capacity``, ``chunk`` as for ``eventsim.simulate``; ``progress`` is accepted and ignored.

    Returns:
        the Result of the whole batch, equal (spikes, currents, read-outs, recordings, statistics,
        tape) to ``eventsim.simulate`` in one process.
    """
    _check_client(client)
    if not isinstance(net, Network):
        raise ValueError(f"net must be a Network, got {type(net).__name__}")
    kw.pop("progress", None)
    for k in kw:
        if k not in SIM_KW:
            raise ValueError(f"simulate: unknown keyword argument {k!r} (accepted: n_chunks, progress, {', '.join(SIM_KW)})")
    B = n_samples_of(inputs)
    n_chunks = total_threads(client) if n_chunks is None else positive_int("n_chunks", n_chunks)
    if B < 1:  # an invalid or empty batch: the local call gives the error or the empty Result
        from ..simulate import simulate as _simulate

        return _simulate(net, inputs, t_max, progress=False, **kw)
    net_f = ship(client, net)
    futures = []
    for b0, b1 in bounds(B, n_chunks):
        ckw = dict(kw, v_init=slice_v_init(kw.get("v_init"), b0, b1, B)) if "v_init" in kw else kw
        futures.append(client.submit(simulate_chunk, net_f, slice_inputs(inputs, b0, b1), t_max, ckw, pure=False))
    return assemble(net.layout(), client.gather(futures))


def _check_net_and_losses(net: Network, losses) -> None:
    if not isinstance(net, Network):
        raise ValueError(f"net must be a Network, got {type(net).__name__}")
    for name, pop in net.populations.items():
        if pop.params is not None and pop.params.t_ref != 0.0:
            raise ValueError(f"t_ref of population {name!r} is {pop.params.t_ref} ms; EventProp here "
                             "needs t_ref = 0 (the end of refractoriness would be an extra transition)")
    for l in losses:
        l.check(net)


def _slice_parts(p: LossParts, b0: int, b1: int, s0: int, s1: int) -> LossParts:
    out = LossParts()
    for f in ("first_spike_grad", "spike_kick", "vmax_grad", "vint_grad", "phantom_grad"):
        a = getattr(p, f)
        setattr(out, f, None if a is None else np.ascontiguousarray(a[b0:b1]))
    out.spike_grad = None if p.spike_grad is None else np.ascontiguousarray(p.spike_grad[s0:s1])
    return out


def value_and_grad(client, net: Network, inputs, labels, loss: LossSpec, t_max: float, *, n_chunks: int,
                   wants_delays: bool = False, v_init: Optional[Mapping] = None, return_result: bool = False,
                   **kw):
    """``eventsim.eventprop.value_and_grad(..., n_chunks=n_chunks)`` with the chunks on a Dask cluster.

    Args:
        client: a ``dask.distributed.Client``.
        net: the network (every LIF population with ``t_ref == 0``).
        inputs: SpikeBatch or dict of them, as for ``eventsim.simulate``.
        labels: one integer class index per sample.
        loss: a loss from ``eventsim.losses`` or a list of them (summed).
        t_max: simulated time (ms).
        n_chunks: chunks of samples (capped at the batch size); one task each. The result is bit for
            bit the one-process result with the same ``n_chunks``.
        wants_delays: also return dL/dd as ``grads["delay:src->dst"]`` (1/ms).
        v_init: initial voltages, as for ``simulate`` (per-sample arrays are sliced).
        return_result: also return the forward Result of the whole batch.
        **kw: ``max_spikes``, ``capacity``, ``chunk`` (passed to ``simulate``); ``progress`` is ignored.

    Returns:
        ``(loss_value, grads)`` or ``(loss_value, grads, result)`` as ``eventprop.value_and_grad``.
    """
    _check_client(client)
    kw.pop("progress", None)
    for k in kw:
        if k not in GRAD_SIM_KW:
            raise ValueError(f"value_and_grad: unknown keyword argument {k!r} "
                             f"(accepted: n_chunks, wants_delays, v_init, return_result, progress, {', '.join(GRAD_SIM_KW)})")
    if isinstance(n_chunks, bool):
        raise ValueError(f"n_chunks must be a positive integer, got {n_chunks!r}")
    n_chunks = positive_int("n_chunks", n_chunks)
    wants_delays = bool(wants_delays)
    losses = as_list(loss)
    _check_net_and_losses(net, losses)
    B = n_samples_of(inputs)
    if B < 1:  # empty or invalid: the one-process function answers (an error or the empty gradient)
        from ..eventprop import value_and_grad as _vg

        return _vg(net, inputs, labels, losses, t_max, v_init=v_init, return_result=return_result,
                   wants_delays=wants_delays, n_chunks=n_chunks, **kw)
    chunks = bounds(B, n_chunks)
    net_f = ship(client, net)
    sim_kw = [dict(kw, v_init=slice_v_init(v_init, b0, b1, B)) if v_init is not None else dict(kw)
              for b0, b1 in chunks]
    ins = [slice_inputs(inputs, b0, b1) for b0, b1 in chunks]
    keep = _backward_available()
    # 1. forward pass of every chunk (kept on its worker); the batch's Result on the driver
    if keep:
        kept = [client.submit(forward_chunk, net_f, x, t_max, k, pure=False) for x, k in zip(ins, sim_kw)]
        futures = [client.submit(chunk_arrays, f, pure=False) for f in kept]
    else:
        futures = [client.submit(simulate_chunk, net_f, x, t_max, k, pure=False) for x, k in zip(ins, sim_kw)]
    layout = net.layout()
    res = assemble(layout, client.gather(futures))
    # 2. the losses on the whole batch, as eventprop.value_and_grad evaluates them
    total = 0.0
    parts = []
    for l in losses:
        value, p = l.value_and_parts(res, labels)
        parts.append(LossParts.of(p, type(l).__name__))
        total += float(value)
    # 3. each chunk's row of the gradient, from its slice of the parts
    futures = []
    for c, ((b0, b1), x, k) in enumerate(zip(chunks, ins, sim_kw)):
        s0, s1 = int(res.offsets[b0]), int(res.offsets[b1])
        sliced = [_slice_parts(p, b0, b1, s0, s1) for p in parts]
        if keep:
            futures.append(client.submit(backward_chunk, net_f, kept[c],
                                         [(l.population, p) for l, p in zip(losses, sliced)], wants_delays, pure=False))
        else:
            given = [GivenParts(l.population, l.needs, p) for l, p in zip(losses, sliced)]
            futures.append(client.submit(grad_chunk, net_f, x, given, t_max, wants_delays, k, pure=False))
    rows = client.gather(futures)
    # 4. the rows summed as the one-process function sums them
    S = layout.n_synapses
    grad = np.stack([r[0] for r in rows]).sum(axis=0) if S else np.zeros(0)
    grads = layout.scatter(grad)
    if wants_delays:
        dgrad = np.stack([r[1] for r in rows]).sum(axis=0) if S else np.zeros(0)
        for name, arr in layout.scatter(dgrad).items():
            grads["delay:" + name] = arr
    if return_result:
        return total, grads, res
    return total, grads
