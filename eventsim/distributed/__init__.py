"""eventsim on a Dask cluster (the ``dask`` extra): batches, data-parallel training and sweeps.

- ``simulate(client, net, inputs, t_max, n_chunks=...)``: the samples split into contiguous chunks,
  one task each; the Result equals ``eventsim.simulate``'s in one process.
- ``value_and_grad(client, net, inputs, labels, loss, t_max, n_chunks=...)``: bit for bit
  ``eventsim.eventprop.value_and_grad(..., n_chunks=...)``.
- ``fit(net, inputs, labels, loss, t_max, client=...)``: ``eventsim.train.fit`` with the mini-batch
  gradients computed on the cluster; the trained weights equal the one-process ones bit for bit.
- ``run_sweep(config, client=...)`` / ``eventsim sweep CONFIG.toml``: the cartesian product of a
  recipe's settings, one training per task, rows appended to a JSONL table as runs finish.

``import eventsim`` does not import this package; importing it without dask installed raises an
ImportError naming the extra (``pip install "eventsim[dask]"``). See docs/distributed.md.
"""
import importlib.util as _util

from ..extras import require as _require

if _util.find_spec("distributed") is None:  # dask itself is imported where it is used
    _require("distributed", "eventsim.distributed")

from .batch import simulate, value_and_grad  # noqa: E402
from .chunks import bounds  # noqa: E402
from .cluster import local_cluster  # noqa: E402
from .sweep import SweepConfig, SweepSummary, load_sweep_config, run_sweep, sweep_runs  # noqa: E402
from .training import fit  # noqa: E402

__all__ = ["simulate", "value_and_grad", "fit", "bounds", "local_cluster", "SweepConfig", "SweepSummary",
           "load_sweep_config", "run_sweep", "sweep_runs"]
