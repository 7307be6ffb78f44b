"""eventsim on Dask (``eventsim.distributed``): sweep speed-up and the cost of data-parallel steps.

    python benchmarks/bench_distributed.py [--runs 8] [--n-train 3000] [--hidden 100] [--batches 2,32,128,512] [--show]

Sweep: ``--runs`` short Yin-Yang trainings (``eventsim.distributed.recipes.yinyang``: the recipe's
network with ``--hidden`` LIF neurons, ``--epochs`` epochs on the first ``--n-train`` training
samples, 200 validation and 200 test samples; seeds 0, 1, ...) as one sweep on a LocalCluster of 1
and of 2 worker processes (one task thread and one Numba thread each). Wall time of ``run_sweep``
after every worker has loaded the compiled kernels; speed-up = time on 1 worker / time on 2; "runs
in flight" = sum of the runs' wall times / the sweep's wall time (2 when both workers are always
busy), and the runs' CPU time shows whether other jobs took cores (a run's wall time above its CPU
time).

Data-parallel step: one EventProp gradient (``value_and_grad``) of a Yin-Yang batch of each size
in ``--batches`` (5-``--hidden``-3 network), median of ``--repeats`` calls:

- ``local-1`` / ``local-2``: ``eventsim.eventprop.value_and_grad`` in this process with 1 / 2 Numba
  threads (n_chunks 8);
- ``dask-2``: ``eventsim.distributed.value_and_grad`` on 2 workers (n_chunks 2: one chunk per worker;
  the network is shipped once per worker per call, and each chunk is simulated twice, once for the
  loss on the driver and once before its backward pass).

``overhead_s`` (row ``dask-2``) = dask-2 time - local-1 time at the smallest batch, the scheduling
and transfer cost of one step; ``break_even_batch``: the smallest batch at which dask-2 beats
local-1 (and local-2). Rows go to ``benchmarks/results/distributed.jsonl`` (key: part, method,
workers, batch, hidden, n_train). The machine may be shared: the load average is recorded.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "distributed"
KEY = ("part", "method", "workers", "batch", "hidden", "n_train")


def _warm(hidden: int) -> float:
    """Load (or compile) the kernels in this process: one tiny training step. Returns seconds."""
    import numpy as np

    import eventsim as es
    from eventsim.models import yinyang as yy

    t0 = time.perf_counter()
    (tr, y), _, _ = yy.data()
    net = yy.build(0, hidden)
    es.eventprop.value_and_grad(net, tr.subset(np.arange(4)), y[:4], yy.loss(), yy.T_MAX)
    return time.perf_counter() - t0


def sweep_time(workers: int, args) -> dict:
    from distributed import Client

    from eventsim import distributed as ed
    from eventsim.distributed.table import read_table

    cluster = ed.local_cluster(workers, numba_threads=1)
    client = Client(cluster)
    try:
        client.run(ed.sweep.run_one, "yinyang", dict(epochs=1, hidden=args.hidden, n_train=20, n_val=10, n_test=10))
        config = ed.SweepConfig(recipe="yinyang", name="bench", vary={"seed": list(range(args.runs))},
                                fixed={"epochs": args.epochs, "hidden": args.hidden, "n_train": args.n_train,
                                       "n_val": 200, "n_test": 200})
        with tempfile.TemporaryDirectory() as d:
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            s = ed.run_sweep(config, client=client, table=Path(d) / "bench.jsonl", progress=False)
            wall = time.perf_counter() - t0
            rows = read_table(Path(d) / "bench.jsonl")
    finally:
        client.close()
        cluster.close()
    if s.failed:
        raise RuntimeError(f"sweep runs failed: {s.failed}")
    return {"part": "sweep", "method": f"dask-{workers}", "workers": workers, "batch": None, "hidden": args.hidden,
            "n_train": args.n_train, "runs": args.runs, "epochs": args.epochs, "wall_s": wall,
            "run_s_median": statistics.median(r["seconds"] for r in rows),
            "run_cpu_s_sum": sum(r["cpu_s"] for r in rows),
            "parallelism": sum(r["seconds"] for r in rows) / wall,  # runs in flight on average
            "load_avg_before": load0, "load_avg_after": os.getloadavg()[0]}


def step_times(args) -> list:
    import numba
    import numpy as np
    from distributed import Client

    import eventsim as es
    from eventsim import distributed as ed
    from eventsim.models import yinyang as yy

    (tr, y), _, _ = yy.data()
    net = yy.build(0, args.hidden)
    loss = yy.loss()
    batches = [int(b) for b in args.batches.split(",")]
    out = []

    def median_time(fn) -> float:
        fn()
        ts = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    _warm(args.hidden)
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        for b in batches:
            idx = np.arange(b) % len(y)
            x, yb = tr.subset(idx), y[idx]
            t = median_time(lambda: es.eventprop.value_and_grad(net, x, yb, loss, yy.T_MAX, n_chunks=8, progress=False))
            out.append({"part": "step", "method": f"local-{threads}", "workers": 0, "batch": b, "hidden": args.hidden,
                        "n_train": None, "threads": threads, "step_s": t})
    cluster = ed.local_cluster(2, numba_threads=1)
    client = Client(cluster)
    try:
        client.run(_warm, args.hidden)
        for b in batches:
            idx = np.arange(b) % len(y)
            x, yb = tr.subset(idx), y[idx]
            t = median_time(lambda: ed.value_and_grad(client, net, x, yb, loss, yy.T_MAX, n_chunks=2))
            out.append({"part": "step", "method": "dask-2", "workers": 2, "batch": b, "hidden": args.hidden,
                        "n_train": None, "threads": 1, "step_s": t})
    finally:
        client.close()
        cluster.close()
    return out


def derived(rows) -> dict:
    """overhead_s and break-even batch sizes from the step rows."""
    step = {(r["method"], r["batch"]): r["step_s"] for r in rows if r.get("part") == "step"}
    batches = sorted({b for _, b in step})
    d = {}
    if batches and ("dask-2", batches[0]) in step and ("local-1", batches[0]) in step:
        d["overhead_s"] = step[("dask-2", batches[0])] - step[("local-1", batches[0])]
    for ref in ("local-1", "local-2"):
        wins = [b for b in batches if ("dask-2", b) in step and (ref, b) in step and step[("dask-2", b)] < step[(ref, b)]]
        d[f"break_even_vs_{ref}"] = wins[0] if wins else None
    return d


def print_table(rows) -> None:
    sw = {r["workers"]: r for r in rows if r.get("part") == "sweep"}
    if sw:
        print("| sweep | workers | runs | wall s | median run s | CPU s (all runs) | runs in flight | load avg | speed-up |")
        print("|---|---|---|---|---|---|---|---|---|")
        for w, r in sorted(sw.items()):
            sp = sw[1]["wall_s"] / r["wall_s"] if 1 in sw else float("nan")
            print(f"| Yin-Yang 5-{r['hidden']}-3, {r['n_train']} samples, {r['epochs']} epoch(s) | {w} | {r['runs']} "
                  f"| {r['wall_s']:.1f} | {r['run_s_median']:.2f} | {r.get('run_cpu_s_sum', float('nan')):.1f} "
                  f"| {r.get('parallelism', float('nan')):.2f} | {r.get('load_avg_before', float('nan')):.1f} | {sp:.2f}x |")
    step = [r for r in rows if r.get("part") == "step"]
    if step:
        methods = sorted({r["method"] for r in step})
        batches = sorted({r["batch"] for r in step})
        t = {(r["method"], r["batch"]): r["step_s"] for r in step}
        print("\n| batch | " + " | ".join(f"{m} ms" for m in methods) + " |")
        print("|---|" + "---|" * len(methods))
        for b in batches:
            print(f"| {b} | " + " | ".join(f"{1e3 * t[(m, b)]:.1f}" if (m, b) in t else "-" for m in methods) + " |")
        d = derived(rows)
        if "overhead_s" in d:
            print(f"\nscheduling and transfer overhead per dask-2 step: {1e3 * d['overhead_s']:.1f} ms; "
                  f"2 workers pay from batch {d['break_even_vs_local-1']} (vs 1 thread) / "
                  f"{d['break_even_vs_local-2']} (vs 2 threads in one process)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--runs", type=int, default=8, help="trainings in the sweep")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per training")
    ap.add_argument("--n-train", type=int, default=3000, help="training samples per training")
    ap.add_argument("--hidden", type=int, default=100, help="hidden LIF neurons")
    ap.add_argument("--batches", default="2,32,128,512,2048", help="batch sizes of the data-parallel step")
    ap.add_argument("--repeats", type=int, default=3, help="timed steps per batch size (median)")
    ap.add_argument("--skip-sweep", action="store_true", help="only the data-parallel step")
    ap.add_argument("--skip-step", action="store_true", help="only the sweep")
    results_table.add_table_arguments(ap)
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    import warnings

    warnings.simplefilter("ignore")  # silent outputs of the untrained networks
    rows = []
    machine = {"cpus": os.cpu_count(), "load_avg": list(os.getloadavg())}
    if not args.skip_sweep:
        for w in (1, 2):
            r = sweep_time(w, args)
            rows.append(r)
            print(f"  sweep on {w} worker(s): {r['wall_s']:.1f} s", flush=True)
        rows[-1]["speedup"] = rows[0]["wall_s"] / rows[-1]["wall_s"]
    if not args.skip_step:
        steps = step_times(args)
        d = derived(steps)
        for r in steps:
            if r["method"] == "dask-2":
                r.update(d)
        rows += steps
    rows = [{**r, **machine} for r in rows]
    path = results_table.append_rows(STUDY, rows, key=KEY, folder=folder)
    print(f"\n{len(rows)} rows written to {path}")
    print_table(results_table.read_rows(STUDY, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
