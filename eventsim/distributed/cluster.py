"""A Dask cluster on this machine for eventsim: worker processes with one task thread each."""
from __future__ import annotations

import os
from typing import Optional

from ..checks import positive_int


def limit_numba_threads(n: Optional[int] = None) -> int:
    """Worker side: use at most ``n`` Numba threads in this task thread (default: the worker's
    ``NUMBA_NUM_THREADS``, which a Nanny may set only after Numba was imported). Returns the count."""
    import numba

    if n is None:
        env = os.environ.get("NUMBA_NUM_THREADS", "")
        n = int(env) if env.isdigit() and int(env) > 0 else numba.config.NUMBA_NUM_THREADS
    k = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(k)
    return k


def local_cluster(n_workers: int, *, numba_threads: Optional[int] = 1, **kw):
    """A ``dask.distributed.LocalCluster`` of ``n_workers`` processes, one task thread each.

    ``numba_threads``: Numba threads per worker (``NUMBA_NUM_THREADS`` in the worker's environment;
    default 1, so that n workers use n cores; None leaves Numba's default, every core).
    ``**kw`` goes to ``LocalCluster`` (e.g. ``dashboard_address=None``, ``memory_limit``).
    """
    from distributed import LocalCluster

    n_workers = positive_int("n_workers", n_workers)
    env = dict(kw.pop("env", None) or {})
    if numba_threads is not None:
        env["NUMBA_NUM_THREADS"] = str(positive_int("numba_threads", numba_threads))
    kw.setdefault("dashboard_address", None)
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, env=env, **kw)
