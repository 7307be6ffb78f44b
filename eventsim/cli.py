"""The ``eventsim`` command.

Sub-commands (each imports what it needs only when it runs):

    eventsim simulate NET.h5 SPIKES.h5 --t-max MS --out RESULT.h5   exact simulation of a saved network
    eventsim info FILE.h5                                            describe any eventsim file
    eventsim demo [--out DIR]                                        the end-to-end demo (``make demo``)
    eventsim train yinyang|digits|egru-digits ...                    training recipes (models/)
    eventsim ntt ...                                                 NTT sparse connectomes
    eventsim export --to lava|nir|netx NET.h5 / eventsim emulate ... Loihi path (hardware/)
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Callable, List, Optional, Tuple

# (sub-command, module, add_arguments, run function, help): wired only if the module is importable.
_OPTIONAL: List[Tuple[str, str, str, str, str]] = [
    ("ntt", "eventsim.ntt.cli", "add_arguments", "cli_ntt", "find a sparse connectome by Neural Tangent Transfer"),
    ("export", "eventsim.hardware.cli", "add_export_arguments", "cli_export", "export a network to lava|nir|netx"),
    ("emulate", "eventsim.hardware.cli", "add_emulate_arguments", "cli_emulate", "run a network on the Loihi emulator or Lava"),
]
_RECIPES: List[Tuple[str, str, str, str]] = [
    ("yinyang", "eventsim.models.yinyang", "add_arguments", "cli_train"),
    ("digits", "eventsim.models.digits", "add_arguments", "cli_train"),
    ("egru-digits", "eventsim.models.egru_digits", "add_arguments", "cli_train_egru_digits"),
]


def _optional(module: str, *names: str) -> Optional[Tuple[Callable, ...]]:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    try:
        return tuple(getattr(mod, n) for n in names)
    except AttributeError:
        return None


def cmd_simulate(args: argparse.Namespace) -> int:
    import eventsim as es
    from eventsim.io import load_network, load_spikes

    net = load_network(args.network)
    spikes = load_spikes(args.spikes)
    inputs = {k: v for k, v in spikes.items() if k in net.input_names}
    missing = [k for k in spikes if k not in net.input_names]
    if missing:
        raise ValueError(f"spikes file has populations {missing} that are not inputs of the network "
                         f"(inputs: {net.input_names})")
    if not inputs:
        raise ValueError(f"spikes file has none of the network's input populations {net.input_names}")
    res = es.simulate(net, inputs, args.t_max, progress=None if args.progress is None else args.progress)
    res.save(args.out)
    counts = {n: sb.n_spikes for n, sb in res.spike_dict().items()}
    print(f"simulated {res.n_samples} samples over {args.t_max} ms: spikes {counts}; wrote {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from eventsim.io import file_format, load

    fmt = file_format(args.file)
    obj = load(args.file)
    print(f"{args.file}: {fmt}")
    if fmt == "eventsim.network":
        for n, p in obj.populations.items():
            print(f"  population {n}: {p.size} {'input' if p.is_input else p.params}")
        for n, pr in obj.projections.items():
            print(f"  projection {n}: {pr.n_synapses} synapses")
    elif fmt == "eventsim.spikes":
        for n, sb in obj.items():
            print(f"  {n}: {sb}")
    else:
        print(f"  {obj!r}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Train the Yin-Yang recipe (quick mode) if it is available, else run the simulation demo."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recipe = _optional("eventsim.models.yinyang", "demo")
    if recipe is not None and not args.simulate_only:
        return int(recipe[0](out) or 0)
    return _simulation_demo(out)


def _simulation_demo(out: Path) -> int:
    import numpy as np

    import eventsim as es
    from eventsim.data import digits_arrays

    X, y = digits_arrays("test")
    n = 64
    # latency code: brighter pixel -> earlier spike (ms); blank pixels stay silent
    batch = es.SpikeBatch.from_arrays([20.0 * (1 - x[x > 0.05]) for x in X[:n]],
                                      [np.flatnonzero(x > 0.05) for x in X[:n]], n_neurons=64)
    net = es.Network.feedforward([64, 100, 10], seed=0)
    res = es.simulate(net, batch, 60.0)
    net.save(out / "demo_net.h5")
    res.save(out / "demo_result.h5")
    print(f"simulated {n} digits through 64-100-10 LIF: {res.n_spikes} spikes; wrote {out}/demo_net.h5, demo_result.h5")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="eventsim", description="Exact event-driven spiking networks.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="simulate a saved network on saved input spikes")
    p.add_argument("network", help="network file (eventsim.network HDF5)")
    p.add_argument("spikes", help="input spikes file (eventsim.spikes HDF5)")
    p.add_argument("--t-max", type=float, required=True, help="simulated time (ms)")
    p.add_argument("--out", required=True, help="result file to write (HDF5)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None, help="show a progress bar")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("info", help="describe an eventsim HDF5 file")
    p.add_argument("file")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="the end-to-end demo on built-in data")
    p.add_argument("--out", default="results/demo", help="output folder")
    p.add_argument("--simulate-only", action="store_true", help="only the simulation demo, no training")
    p.set_defaults(func=cmd_demo)

    recipes = [(name, _optional(mod, add, run)) for name, mod, add, run in _RECIPES]
    recipes = [(n, r) for n, r in recipes if r is not None]
    if recipes:
        p = sub.add_parser("train", help="train a ready recipe from models/")
        rs = p.add_subparsers(dest="recipe", required=True)
        for name, (add, run) in recipes:
            q = rs.add_parser(name)
            add(q)
            q.set_defaults(func=run)

    for name, mod, add, run, help_ in _OPTIONAL:
        fns = _optional(mod, add, run)
        if fns is not None:
            q = sub.add_parser(name, help=help_)
            fns[0](q)
            q.set_defaults(func=fns[1])
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as e:
        print(f"eventsim {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
