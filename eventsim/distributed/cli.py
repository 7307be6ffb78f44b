"""``eventsim sweep CONFIG.toml``: run a parameter sweep on a Dask cluster (wired into ``eventsim/cli.py``).

    eventsim sweep CONFIG.toml [--scheduler ADDRESS | --workers N] [--out TABLE.jsonl] [--no-progress]

Without ``--scheduler`` a LocalCluster of ``--workers`` processes (one task thread each) is started
for the sweep and closed at the end. The table (``table`` of the configuration, or ``--out``) gets
one row per finished run; runs already in it are skipped. Exit status 1 if a run failed.
"""
from __future__ import annotations

import argparse
import os


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="sweep configuration (TOML: recipe, [fixed], [vary]; see docs/distributed.md)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); default: a local cluster")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the local cluster (default: the number of CPU cores)")
    p.add_argument("--out", default=None, help="results table (.jsonl; default: the configuration's table)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cli_sweep(args: argparse.Namespace) -> int:
    from ..extras import require

    require("distributed", "eventsim sweep")
    from distributed import Client

    from .cluster import local_cluster
    from .sweep import load_sweep_config, run_sweep, sweep_runs

    config = load_sweep_config(args.config)
    n_runs = len(sweep_runs(config))
    cluster = None
    if args.scheduler:
        if args.workers is not None:
            raise ValueError("--workers applies to the local cluster; with --scheduler the cluster has its own")
        client = Client(args.scheduler)
    else:
        cluster = local_cluster(args.workers if args.workers is not None else (os.cpu_count() or 1),
                                numba_threads=config.numba_threads)
        client = Client(cluster)
    try:
        s = run_sweep(config, client=client, table=args.out, progress=not args.no_progress, log=print)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"sweep {config.name}: {n_runs} runs, {len(s.written)} written now, {len(s.skipped)} already in the "
          f"table, {len(s.failed)} failed; table {s.table}")
    return 1 if s.failed else 0
