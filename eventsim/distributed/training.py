"""Data-parallel EventProp training on a Dask cluster: ``eventsim.train.fit`` whose mini-batch
gradients are computed by ``eventsim.distributed.value_and_grad``.

Everything else (shuffling, optimiser, clipping, checkpoints, resume, validation, callbacks) is
``eventsim.train.fit`` itself, run on the driver: with the same seed and ``n_chunks`` the trained
weights and the history's losses are bit for bit those of ``eventsim.train.fit`` in one process.
"""
from __future__ import annotations

from typing import Optional

from ..checks import positive_int
from ..network import Network
from .batch import value_and_grad


def default_chunks(n_samples: int) -> int:
    """The chunk count ``eventsim.eventprop.value_and_grad`` uses when it is not given:
    ``max(8, numba threads of this process)``, capped at the batch size."""
    import numba

    return max(1, min(max(8, numba.get_num_threads()), int(n_samples)))


class ClusterGradient:
    """``value_and_grad(net, batch, labels, losses, t_max, ...)`` for ``eventsim.train.fit``, computed on a
    Dask cluster with ``n_chunks`` chunks per mini-batch (None: ``default_chunks``, as in one process)."""

    def __init__(self, client, n_chunks: Optional[int] = None):
        self.client = client
        self.n_chunks = None if n_chunks is None else positive_int("n_chunks", n_chunks)

    def __call__(self, net: Network, inputs, labels, loss, t_max: float, **kw):
        n = kw.pop("n_chunks", None) or self.n_chunks
        if n is None:
            n = default_chunks(inputs.n_samples)
        return value_and_grad(self.client, net, inputs, labels, loss, t_max, n_chunks=n, **kw)


def fit(net: Network, inputs, labels, loss, t_max: float, *, client, n_chunks: Optional[int] = None, **kw):
    """``eventsim.train.fit`` with every mini-batch's loss and gradient computed on a Dask cluster.

    Args:
        net: the network, trained in place.
        inputs: training inputs (SpikeBatch).
        labels: one integer class index per sample.
        loss: a loss or list of losses (``eventsim.losses``).
        t_max: simulated time per sample (ms).
        client: a ``dask.distributed.Client``.
        n_chunks: chunks per mini-batch, one task each (default: ``max(8, numba threads)`` of this
            process, the one-process default, so that the result equals ``eventsim.train.fit``).
        **kw: every other keyword of ``eventsim.train.fit`` (epochs, batch_size, lr, seed, val,
            checkpoint, resume, ...). Validation runs on the driver.

    Returns:
        the history, as ``eventsim.train.fit``.
    """
    from ..train import fit as _fit

    if "value_and_grad" in kw:
        raise ValueError("value_and_grad: eventsim.distributed.fit sets it (use eventsim.train.fit for your own)")
    if not (hasattr(client, "submit") and hasattr(client, "scatter")):
        raise TypeError(f"client must be a dask.distributed Client, got {type(client).__name__}")
    return _fit(net, inputs, labels, loss, t_max, value_and_grad=ClusterGradient(client, n_chunks), **kw)
