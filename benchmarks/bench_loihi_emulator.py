"""Loihi emulator vs Lava's CPU backend (fixed_pt) on the FF-1000 workload, identical spikes asserted.

    python benchmarks/bench_loihi_emulator.py [--repeats 15] [--steps 1000] [--rounds 1] [--no-lava] [--show]

Workload FF-1000: ``RingBuffer`` (1000 inputs, Bernoulli p = 0.02 per step) -> ``Sparse``
1000x1000 (2 % density, integer weights round(64 * U(0.25, 0.75)) = 16..48, weight_exp 0) ->
``LIF(1000)`` with du = 819, dv = 409, vth = 640; drawn with ``numpy.random.default_rng(0)``;
batch 1; 1000 timed steps after one start-up step (Lava: compile + spawn + 1 step).

Lava is timed for the 1000 steps with the spikes streamed out through an ``Extractor`` (needed
to compare them; 4 processes) and, separately, without any read-out (3 processes). The emulator
(``eventsim.hardware.loihi.emulate``, Numba, bit-exact) is timed as the median of ``--repeats``
calls after a warm-up call, for the kernel alone and for the whole Python call (input encoding and
result assembly included); it runs all 1001 steps. The spike rasters of all 1001 steps must be
identical or the script fails.

Each backend configuration of each round is one row of ``benchmarks/results/loihi_emulator.jsonl``
(key: workload, backend, batch, readout, timed_steps, round; a row measured again replaces the old
one); ``wall_s`` covers ``wall_steps`` steps; ``readout`` is Lava's (none, or an ``Extractor``
streaming the spikes out) and null for the emulator, which returns the raster. The printed table
is the median over the rounds, per 1000 steps, and the emulator's speed-up.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "loihi_emulator"
KEY = ("workload", "backend", "batch", "readout", "timed_steps", "round")
WORKLOAD = {"workload": "FF-1000", "n_inputs": 1000, "n_neurons": 1000, "density": 0.02, "input_rate": 0.02,
            "seed": 0}


def ff1000(seed: int = 0, n: int = 1000, steps: int = 1001, density: float = 0.02, rate: float = 0.02):
    from eventsim.hardware.loihi import LoihiNet

    rng = np.random.default_rng(seed)
    mask = rng.random((n, n)) < density
    W = np.rint(64 * rng.uniform(0.25, 0.75, (n, n))).astype(np.int64)
    raster = rng.random((n, steps)) < rate
    lnet = LoihiNet("fixed", dt=1.0)
    lnet.add_input("in", n)
    lnet.add_lif("lif", n, du=819, dv=409, vth=640)
    lnet.connect("in", "lif", np.where(mask, W, 0), mask=mask)
    return lnet, raster


def time_emulator(lnet, raster, steps: int, repeats: int) -> dict:
    from eventsim.hardware.loihi import EmulatorLayout, emulate, encode_inputs

    t0 = time.perf_counter()
    res = emulate(lnet, raster, steps)           # compiles (or loads the numba cache)
    first = time.perf_counter() - t0
    L = EmulatorLayout(lnet)
    ev = encode_inputs(lnet, raster, steps)
    kern, full = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        emulate(lnet, ev, steps, layout=L)
        kern.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = emulate(lnet, raster, steps)
        full.append(time.perf_counter() - t0)
    return {"first_call_s": first, "kernel_s": statistics.median(kern), "kernel_min_s": min(kern),
            "full_call_s": statistics.median(full), "walls_kernel_s": kern, "walls_full_s": full, "result": res}


def time_emulator_batch(lnet, rng_seed: int, steps: int, batch: int) -> dict:
    from eventsim.hardware.loihi import EmulatorLayout, emulate, encode_inputs

    rng = np.random.default_rng(rng_seed + 1)
    n = lnet.populations["in"].size
    R = rng.random((batch, n, steps)) < 0.02
    ev = encode_inputs(lnet, R, steps)
    L = EmulatorLayout(lnet)
    emulate(lnet, ev, steps, layout=L)
    t0 = time.perf_counter()
    emulate(lnet, ev, steps, layout=L)
    return {"batch": batch, "wall_s": time.perf_counter() - t0}


def time_lava(lnet, raster, steps: int, readout: bool) -> dict:
    from eventsim.hardware.loihi.lava_graph import to_lava

    t0 = time.perf_counter()
    g = to_lava(lnet, {"in": raster}, sparse=True)
    build = time.perf_counter() - t0
    from lava.magma.core.run_conditions import RunSteps

    cfg = g.run_cfg("cpu")
    lif, ex = g.lifs["lif"], g.extractors["lif"]
    if not readout:  # no read-out process at all
        for port in list(lif.s_out.out_connections):
            lif.s_out.out_connections.remove(port)
        ex = None
    rows = []
    started = False
    try:
        t0 = time.perf_counter()
        started = True
        lif.run(condition=RunSteps(num_steps=1, blocking=not readout), run_cfg=cfg)
        if readout:
            rows.append(ex.receive())
            lif.wait()
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        lif.run(condition=RunSteps(num_steps=steps - 1, blocking=not readout), run_cfg=cfg)
        if readout:
            for _ in range(steps - 1):
                rows.append(ex.receive())
            lif.wait()
        wall = time.perf_counter() - t0
    finally:
        if started:
            try:
                lif.stop()
            except Exception:
                pass
    out = {"build_s": build, "startup_s": startup, "wall_s": wall, "processes": 4 if readout else 3}
    if readout:
        out["raster"] = np.array(rows, dtype=bool)
    return out


def measure(args) -> list:
    """One round: the table rows of every backend configuration (emulator batch 1 and batch B, Lava
    with and without read-out)."""
    steps = args.steps + 1
    lnet, raster = ff1000(steps=steps)
    n_syn = lnet.projections["in->lif"].n_synapses
    emu = time_emulator(lnet, raster, steps, args.repeats)
    res = emu.pop("result")
    emu_raster = res.raster("lif", 0)
    common = {**WORKLOAD, "timed_steps": args.steps, "n_synapses": int(n_syn),
              "input_spikes_timed": int(raster[:, 1:].sum()), "output_spikes": int(emu_raster.sum()),
              "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
              "load_avg_1min": os.getloadavg()[0], "numba_threads": os.environ.get("NUMBA_NUM_THREADS")}
    rows = [{**common, "backend": "emulator", "batch": 1, "readout": None, "repeats": args.repeats, "wall_steps": steps,
             "wall_s": emu["kernel_s"], "wall_min_s": emu["kernel_min_s"], "walls_s": emu["walls_kernel_s"],
             "full_call_s": emu["full_call_s"], "walls_full_s": emu["walls_full_s"],
             "first_call_s": emu["first_call_s"]}]
    if args.batch:
        bt = time_emulator_batch(lnet, 0, steps, args.batch)
        rows.append({**common, "backend": "emulator", "batch": args.batch, "readout": None, "wall_steps": steps,
                     "wall_s": bt["wall_s"]})
    if not args.no_lava:
        try:
            from importlib.metadata import version
            lava_version = version("lava-nc")
        except Exception:  # pragma: no cover - metadata missing
            lava_version = None
        lava = {"backend": "lava", "version": lava_version, "precision": "fixed_pt", "run_cfg": "Loihi2SimCfg",
                "batch": 1, "wall_steps": args.steps}
        lv = time_lava(lnet, raster, steps, readout=True)
        n_diff = int(np.count_nonzero(lv.pop("raster") != emu_raster))
        rows.append({**common, **lava, "readout": "extractor", **lv,
                     "identical_spikes": n_diff == 0, "raster_entries_differing": n_diff})
        lv2 = time_lava(lnet, raster, steps, readout=False)
        rows.append({**common, **lava, "readout": "none", **lv2})
    return rows


def summary(rows) -> list:
    """Per backend configuration: median over the rounds of the seconds per 1000 steps."""
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r.get(c) for c in KEY if c != "round"), []).append(r)
    out = []
    for g in groups.values():
        per = sorted(1000.0 * r["wall_s"] / r["wall_steps"] / r.get("batch", 1) for r in g)
        full = [1000.0 * r["full_call_s"] / r["wall_steps"] for r in g if r.get("full_call_s") is not None]
        out.append({**{c: g[0].get(c) for c in KEY if c != "round"}, "processes": g[0].get("processes"),
                    "rounds": len(g), "s_per_1000_steps": statistics.median(per), "min": per[0], "max": per[-1],
                    "full_call_s_per_1000_steps": statistics.median(full) if full else None,
                    "identical_spikes": all(r.get("identical_spikes", True) for r in g)})
    return out


def print_table(rows) -> None:
    s = summary(rows)
    emu = {(r["workload"], r["timed_steps"]): r["s_per_1000_steps"] for r in s
           if r["backend"] == "emulator" and r["batch"] == 1}
    print(f"{'backend':<44} {'rounds':>6} {'s / 1000 steps':>15} {'steps/s':>9} {'full call':>10} {'emulator x':>10}")
    for r in s:
        if r["backend"] == "emulator":
            name = f"emulator (numba), batch {r['batch']}" + (", per sample" if r["batch"] > 1 else "")
        else:
            name = f"Lava fixed_pt, read-out {r['readout']} ({r['processes']} proc.)"
        e = emu.get((r["workload"], r["timed_steps"]))
        x = f"{r['s_per_1000_steps'] / e:.0f}" if e and r["backend"] == "lava" else ""
        full = "" if r["full_call_s_per_1000_steps"] is None else f"{r['full_call_s_per_1000_steps']:.4f}"
        print(f"{name:<44} {r['rounds']:>6} {r['s_per_1000_steps']:>15.4f} {1000 / r['s_per_1000_steps']:>9.0f} "
              f"{full:>10} {x:>10}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--repeats", type=int, default=15, help="emulator calls timed per round (median)")
    ap.add_argument("--steps", type=int, default=1000, help="timed steps (one start-up step is added)")
    ap.add_argument("--rounds", type=int, default=1, help="times the whole set is run")
    ap.add_argument("--no-lava", action="store_true", help="emulator only (no comparison)")
    ap.add_argument("--batch", type=int, default=32, help="also time the emulator on a batch of this size (0: no)")
    results_table.add_table_arguments(ap)
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    new = []
    for rnd in range(1, max(1, args.rounds) + 1):
        rows = measure(args)
        new += [{**r, "round": rnd} for r in rows]
        print(f"round {rnd}: FF-1000, {args.steps} steps, {rows[0]['n_synapses']} synapses, "
              f"{rows[0]['input_spikes_timed']} input spikes, {rows[0]['output_spikes']} output spikes "
              f"(load avg {rows[0]['load_avg_1min']:.1f})", flush=True)
    path = results_table.append_rows(STUDY, new, key=KEY, folder=folder)
    print(f"{len(new)} rows written to {path}")
    print_table(results_table.read_rows(STUDY, folder))
    n_diff = sum(r.get("raster_entries_differing", 0) for r in new)
    if n_diff:
        print(f"FAIL: {n_diff} raster entries differ between the emulator and Lava", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
