"""Loihi emulator vs Lava's CPU backend (fixed_pt) on the FF-1000 workload, identical spikes asserted.

    python benchmarks/bench_loihi_emulator.py [--repeats 15] [--steps 1000] [--no-lava]

Workload (``/work/shared/notes/peer-baselines.md`` section 4): ``RingBuffer`` (1000 inputs,
Bernoulli p = 0.02 per step) -> ``Sparse`` 1000x1000 (2 % density, integer weights
round(64 * U(0.25, 0.75)) = 16..48, weight_exp 0) -> ``LIF(1000)`` with du = 819, dv = 409,
vth = 640; drawn with ``numpy.random.default_rng(0)``; batch 1; 1000 timed steps after one
start-up step (Lava: compile + spawn + 1 step, as in the peer measurement).

Lava is timed for the 1000 steps with the spikes streamed out through an ``Extractor`` (needed
to compare them; 4 processes) and, separately, without any read-out (3 processes, the peer
set-up). The emulator (``eventsim.hardware.loihi.emulate``, Numba, bit-exact) is timed as the median of
``--repeats`` calls after a warm-up call, for the kernel alone and for the whole Python call
(input encoding and result assembly included). The spike rasters of all 1001 steps must be
identical or the script fails. Prints a table and writes ``benchmarks/results/loihi_emulator.json``.
"""
from __future__ import annotations

import argparse
import json
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
    if not readout:  # the peer set-up: no read-out process at all
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=1000, help="timed steps (one start-up step is added)")
    ap.add_argument("--no-lava", action="store_true", help="emulator only (no comparison)")
    ap.add_argument("--batch", type=int, default=32, help="also time the emulator on a batch of this size")
    args = ap.parse_args(argv)
    steps = args.steps + 1
    lnet, raster = ff1000(steps=steps)
    n_syn = lnet.projections["in->lif"].n_synapses
    emu = time_emulator(lnet, raster, steps, args.repeats)
    res = emu.pop("result")
    emu_raster = res.raster("lif", 0)
    in_spikes = int(raster[:, 1:].sum())
    out = {"workload": "FF-1000 (peer-baselines.md section 4): RingBuffer -> Sparse 1000x1000 2% -> LIF(1000)",
           "n_synapses": n_syn, "timed_steps": args.steps, "input_spikes_timed": in_spikes,
           "output_spikes": int(emu_raster.sum()), "emulator": emu,
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                       "load_avg_1min": os.getloadavg()[0], "numba_threads": os.environ.get("NUMBA_NUM_THREADS")}}
    # the emulator's timed part: steps 1..steps-1 of a steps-long run; report per 1000 steps
    per = args.steps / steps
    emu_wall = emu["kernel_s"] * per
    rows = [("emulator (numba, 1 sample), median", emu_wall, emu["full_call_s"] * per),
            ("emulator (numba, 1 sample), fastest run", emu["kernel_min_s"] * per, None)]
    if args.batch:
        bt = time_emulator_batch(lnet, 0, steps, args.batch)
        out["emulator_batch"] = bt
        rows.append((f"emulator (numba, batch {args.batch}, per sample)", bt["wall_s"] * per / args.batch, None))
    if not args.no_lava:
        lv = time_lava(lnet, raster, steps, readout=True)
        lava_raster = lv.pop("raster")
        n_diff = int(np.count_nonzero(lava_raster != emu_raster))
        out["lava_fixed_pt_with_readout"] = lv
        out["identical_spikes"] = n_diff == 0
        out["raster_entries_differing"] = n_diff
        lv2 = time_lava(lnet, raster, steps, readout=False)
        out["lava_fixed_pt_no_readout"] = lv2
        rows.insert(0, ("Lava fixed_pt, Extractor read-out (4 proc.)", lv["wall_s"], None))
        rows.insert(1, ("Lava fixed_pt, no read-out (3 proc.)", lv2["wall_s"], None))
        out["speedup_vs_lava_readout"] = lv["wall_s"] / emu_wall
        out["speedup_vs_lava_no_readout"] = lv2["wall_s"] / emu_wall
    print(f"FF-1000, {args.steps} steps, {n_syn} synapses, {in_spikes} input spikes, "
          f"{out['output_spikes']} output spikes (load avg {out['machine']['load_avg_1min']:.1f})")
    print(f"{'backend':<48} {'wall s / 1000 steps':>20} {'steps/s':>10} {'full call s':>12}")
    for name, w, f in rows:
        w1k = w * 1000 / args.steps
        print(f"{name:<48} {w1k:>20.4f} {args.steps / w:>10.0f} {'' if f is None else f'{f * 1000 / args.steps:.4f}':>12}")
    if not args.no_lava:
        print(f"speed-up of the emulator: {out['speedup_vs_lava_readout']:.0f}x vs Lava with read-out, "
              f"{out['speedup_vs_lava_no_readout']:.0f}x vs Lava without; identical spikes: {out['identical_spikes']}")
    path = HERE / "results" / "loihi_emulator.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {path.relative_to(ROOT)}")
    if not args.no_lava and not out["identical_spikes"]:
        print(f"FAIL: {n_diff} raster entries differ between the emulator and Lava", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
