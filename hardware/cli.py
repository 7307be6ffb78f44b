"""``eventsim export`` and ``eventsim emulate`` (wired into ``eventsim/cli.py``).

    eventsim export --to lava|nir|netx NET.h5 --dt MS [--out PATH] [--precision fixed|float]
                    [--method exact|euler] [--calibrate SPIKES.h5 --t-max MS] [--headroom H]
    eventsim emulate NET.h5 --backend numba|lava (--spikes SPIKES.h5 | --random-rate HZ) (--t-max MS | --steps N)
                    [--dt MS] [--precision fixed|float] [--out SPIKES_OUT.h5] [--compare]

``NET.h5`` is an eventsim network file (then ``--dt`` chooses the time step) or, for ``emulate``,
an ``eventsim.loihi`` file written by ``export --to lava``. ``export --to lava`` writes the
quantised network (CSR arrays, Lava values, source weights, quantisation report, provenance and
the source network) as ``eventsim.loihi`` HDF5 and prints the quantisation and resource reports.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", help="eventsim network file (HDF5)")
    p.add_argument("--to", required=True, choices=["lava", "nir", "netx"], help="target format")
    p.add_argument("--dt", type=float, required=True, help="time step of the discrete model (ms)")
    p.add_argument("--out", default=None, help="output file (default: next to NET.h5 with .loihi.h5/.nir/.net)")
    p.add_argument("--precision", choices=["fixed", "float"], default="fixed", help="lava: fixed_pt or floating_pt")
    p.add_argument("--method", choices=["exact", "euler"], default="exact", help="discretisation (lava, netx)")
    p.add_argument("--headroom", type=float, default=None, help="voltage head-room factor (default 4)")
    p.add_argument("--calibrate", default=None, metavar="SPIKES.h5",
                   help="calibrate the voltage scale on these input spikes (eventsim.spikes file)")
    p.add_argument("--t-max", type=float, default=None, help="simulated time per calibration sample (ms)")
    p.add_argument("--limits", choices=["loihi2", "loihi1"], default="loihi2", help="core limits of the report")
    p.add_argument("--quiet", action="store_true", help="do not print the reports")


def add_emulate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", help="eventsim network file or eventsim.loihi file (HDF5)")
    p.add_argument("--backend", choices=["numba", "lava"], default="numba",
                   help="numba: bit-exact emulator; lava: Lava Loihi2SimCfg (CPU)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--spikes", help="input spikes (eventsim.spikes file; populations named as the inputs)")
    g.add_argument("--random-rate", type=float, help="Poisson-like random inputs at this rate (Hz) per input neuron")
    p.add_argument("--samples", type=int, default=1, help="samples of random input")
    p.add_argument("--seed", type=int, default=0)
    t = p.add_mutually_exclusive_group(required=True)
    t.add_argument("--t-max", type=float, help="simulated time per sample (ms)")
    t.add_argument("--steps", type=int, help="steps per sample")
    p.add_argument("--dt", type=float, default=None, help="time step (ms); required for an eventsim network")
    p.add_argument("--precision", choices=["fixed", "float"], default=None)
    p.add_argument("--copies", type=int, default=1, help="lava: samples advanced together as network copies")
    p.add_argument("--compare", action="store_true", help="also run the other backend and compare the spikes")
    p.add_argument("--out", default=None, help="write the output spikes (eventsim.spikes file)")


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _provenance(path, args: argparse.Namespace) -> dict:
    import datetime
    import importlib.metadata as md

    import eventsim

    def ver(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    return {"source_file": str(path), "source_sha256": _sha256(path), "eventsim_version": eventsim.__version__,
            "lava_nc_version": ver("lava-nc"), "nir_version": ver("nir"),
            "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": {k: v for k, v in vars(args).items() if k != "func" and not callable(v)}}


def cli_export(args: argparse.Namespace) -> int:
    from eventsim.files import file_format
    from eventsim.io import load_network

    src = Path(args.network)
    fmt = file_format(src)
    if fmt != "eventsim.network":
        raise ValueError(f"network: {str(src)!r} has format {fmt!r}; export needs an eventsim.network file")
    net = load_network(src)
    stem = src.name[:-3] if src.name.endswith(".h5") else src.stem
    if args.to == "nir":
        from .nir import write_nir

        out = Path(args.out or src.with_name(stem + ".nir"))
        write_nir(net, out, args.dt)
        print(f"wrote NIR graph {out} (dt {args.dt} ms; time constants in seconds, w_in = tau_syn/dt)")
        return 0
    qkw = {"method": args.method}
    if args.headroom is not None:
        qkw["headroom"] = args.headroom
    if args.calibrate:
        from eventsim.io import load_spikes

        if args.t_max is None:
            raise ValueError("--t-max is required with --calibrate")
        from eventsim.spikes import select_populations

        sp = select_populations(load_spikes(args.calibrate), net.input_names, what=f"calibration spikes {args.calibrate!r}")
        qkw["calibration"] = (sp, args.t_max)
    if args.to == "netx":
        from .netx import write_netx

        out = Path(args.out or src.with_name(stem + ".net"))
        qkw.pop("method", None)
        lnet = write_netx(net, out, dt=args.dt, method=args.method, **qkw)
        print(f"wrote lava-dl netx file {out}")
    else:
        from .loihi.model import save_loihi
        from .loihi.quantize import quantize

        out = Path(args.out or src.with_name(stem + ".loihi.h5"))
        lnet = quantize(net, args.dt, precision=args.precision, **qkw)
        lnet.provenance.update(_provenance(src, args))
        save_loihi(lnet, out, source=net)
        print(f"wrote {out} (eventsim.loihi: CSR arrays, Lava values, quantisation report, provenance)")
    if not args.quiet:
        from .loihi.resources import estimate_resources

        print(lnet.report.table())
        if lnet.fixed:
            print(estimate_resources(lnet, args.limits).table())
    return 0


def _load_lnet(args: argparse.Namespace):
    from eventsim.files import file_format
    from eventsim.io import load_network

    from .loihi.model import FILE_FORMAT, load_loihi
    from .loihi.quantize import quantize

    fmt = file_format(args.network)
    if fmt == FILE_FORMAT:
        lnet = load_loihi(args.network)
        if args.dt is not None and abs(args.dt - lnet.dt) > 1e-12:
            raise ValueError(f"--dt {args.dt} differs from the file's dt {lnet.dt} ms")
        if args.precision is not None and args.precision != lnet.precision:
            raise ValueError(f"--precision {args.precision} differs from the file's {lnet.precision}")
        return lnet
    if fmt == "eventsim.network":
        if args.dt is None:
            raise ValueError("--dt (ms) is required to emulate an eventsim network")
        return quantize(load_network(args.network), args.dt, precision=args.precision or "fixed")
    raise ValueError(f"network: {args.network!r} has format {fmt!r}; expected eventsim.network or {FILE_FORMAT}")


def _inputs(args: argparse.Namespace, lnet, n_steps: int):
    import numpy as np

    if args.spikes:
        from eventsim.io import load_spikes

        from eventsim.spikes import select_populations

        return select_populations(load_spikes(args.spikes), lnet.input_names, what=f"spikes file {args.spikes!r}",
                                  require_all=True)
    if args.random_rate < 0:
        raise ValueError(f"random-rate must be >= 0 Hz, got {args.random_rate!r}")
    if args.samples < 1:
        raise ValueError(f"samples must be >= 1, got {args.samples!r}")
    rng = np.random.default_rng(args.seed)
    p = args.random_rate * lnet.dt / 1000.0
    return {k: rng.random((args.samples, lnet.populations[k].size, n_steps)) < p for k in lnet.input_names}


def cli_emulate(args: argparse.Namespace) -> int:
    from .loihi.emulator import emulate, steps_for

    lnet = _load_lnet(args)
    T = steps_for(lnet, args.steps, args.t_max)
    inputs = _inputs(args, lnet, T)
    if args.copies < 1:
        raise ValueError(f"copies must be >= 1, got {args.copies!r}")

    def run(backend):
        t0 = time.perf_counter()
        if backend == "numba":
            r = emulate(lnet, inputs, T)
        else:
            from .loihi.lava_graph import run_lava

            r = run_lava(lnet, inputs, T, copies=args.copies)
        return r, time.perf_counter() - t0

    res, wall = run(args.backend)
    counts = {n: res.spikes(n).n_spikes for n in res.populations}
    print(f"{args.backend} ({lnet.precision}, dt {lnet.dt} ms): {res.n_samples} sample(s) x {T} steps in {wall:.2f} s; "
          f"spikes {counts}")
    if getattr(res, "overflow", None):
        print(f"  24-bit events: {res.overflow}")
    if args.compare:
        other = "lava" if args.backend == "numba" else "numba"
        res2, wall2 = run(other)
        mm = res.mismatches(res2)
        print(f"{other}: {wall2:.2f} s; differing raster entries {mm} -> "
              f"{'identical spikes' if all(v == 0 for v in mm.values()) else 'SPIKES DIFFER'}")
    if args.out:
        from eventsim.io import save_spikes

        save_spikes(res.spike_dict(), args.out)
        print(f"wrote {args.out} (spike times = step * dt ms)")
    return 0
