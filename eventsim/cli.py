"""The ``eventsim`` command.

Sub-commands (each imports what it needs only when it runs):

    eventsim simulate NET.h5 SPIKES.h5 --t-max MS --out RESULT.h5   exact simulation of a saved network
    eventsim info FILE                                               describe any file eventsim writes
    eventsim demo [--out DIR]                                        the end-to-end demo (``make demo``)
    eventsim train yinyang|digits|egru-digits|randman ...            training recipes (eventsim.models)
    eventsim ntt ...                                                 NTT sparse connectomes (torch extra)
    eventsim export --to lava|nir|netx NET.h5 / eventsim emulate ... Loihi path (eventsim.hardware)
    eventsim sweep CONFIG.toml [--scheduler ADDRESS]                 a parameter sweep on Dask (dask extra)

A sub-command whose optional dependency is missing is still listed; run, it says in one line which
extra to install (``pip install "eventsim[torch]"`` and so on).
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
    ("sweep", "eventsim.distributed.cli", "add_arguments", "cli_sweep", "run a parameter sweep on a Dask cluster"),
]
_RECIPES: List[Tuple[str, str, str, str]] = [
    ("yinyang", "eventsim.models.yinyang", "add_arguments", "cli_train"),
    ("digits", "eventsim.models.digits", "add_arguments", "cli_train"),
    ("egru-digits", "eventsim.models.egru_digits", "add_arguments", "cli_train_egru_digits"),
    ("randman", "eventsim.models.randman", "add_arguments", "cli_train"),
]


def _optional(module: str, *names: str) -> Tuple[Optional[Tuple[Callable, ...]], Optional[str]]:
    """``(functions, None)`` from ``module``, or ``(None, hint)`` when it cannot be imported (the hint
    names the extra to install when a missing extra is the cause)."""
    from .extras import missing_extra

    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        return None, missing_extra(e) or f"cannot import {module}: {e}"
    return tuple(getattr(mod, n) for n in names), None


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is nothing to show (required options,
    flags, options without a default) or the help already states it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        d = action.default
        if (action.required or d is None or isinstance(d, bool) or d is argparse.SUPPRESS or not action.option_strings
                or "default" in (action.help or "").lower()):
            return action.help or ""
        return super()._get_help_string(action)


def _unavailable(hint: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"eventsim {args.command}: {hint}", file=sys.stderr)
        return 2
    return run


def cmd_simulate(args: argparse.Namespace) -> int:
    import eventsim as es
    from eventsim.io import load_network, load_spikes
    from eventsim.spikes import select_populations

    net = load_network(args.network)
    spikes = load_spikes(args.spikes)
    inputs = select_populations(spikes, net.input_names, what=f"spikes file {args.spikes!r}")
    res = es.simulate(net, inputs, args.t_max, progress=None if args.progress is None else args.progress)
    res.save(args.out)
    counts = {n: sb.n_spikes for n, sb in res.spike_dict().items()}
    print(f"simulated {res.n_samples} samples over {args.t_max} ms: spikes {counts}; wrote {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Describe a file: any registered eventsim HDF5 format, a results table (.jsonl) or a recipe's
    metrics (.json)."""
    from .describe import describe_file

    for line in describe_file(args.file):
        print(line)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Train the Yin-Yang recipe (quick mode) if it is available, else run the simulation demo."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recipe, _ = _optional("eventsim.models.yinyang", "demo")
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
    from . import __version__

    fmt = HelpFormatter
    ap = argparse.ArgumentParser(prog="eventsim", description="Exact event-driven spiking networks.", formatter_class=fmt)
    ap.add_argument("--version", action="version", version=f"eventsim {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="simulate a saved network on saved input spikes", formatter_class=fmt)
    p.add_argument("network", help="network file (eventsim.network HDF5)")
    p.add_argument("spikes", help="input spikes file (eventsim.spikes HDF5)")
    p.add_argument("--t-max", type=float, required=True, help="simulated time (ms)")
    p.add_argument("--out", required=True, help="result file to write (HDF5)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None, help="show a progress bar")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("info", help="describe any file eventsim writes", formatter_class=fmt)
    p.add_argument("file", help="an eventsim HDF5 file (network, spikes, result, connectome, checkpoint, EGRU, "
                                "Loihi, NTT), a results table (.jsonl) or metrics (.json)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="the end-to-end demo on built-in data", formatter_class=fmt)
    p.add_argument("--out", default="results/demo", help="output folder")
    p.add_argument("--simulate-only", action="store_true", help="only the simulation demo, no training")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train a ready recipe (eventsim.models)", formatter_class=fmt)
    rs = p.add_subparsers(dest="recipe", required=True, metavar="RECIPE")
    for name, mod, add, run in _RECIPES:
        fns, hint = _optional(mod, add, run)
        if fns is None:
            q = rs.add_parser(name, help=f"(unavailable: {hint})", formatter_class=fmt)
            q.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            q.set_defaults(func=_unavailable(hint))
            continue
        q = rs.add_parser(name, formatter_class=fmt)
        fns[0](q)
        q.set_defaults(func=fns[1])

    for name, mod, add, run, help_ in _OPTIONAL:
        fns, hint = _optional(mod, add, run)
        if fns is None:
            q = sub.add_parser(name, help=f"{help_} (unavailable: {hint})", formatter_class=fmt)
            q.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            q.set_defaults(func=_unavailable(hint))
            continue
        q = sub.add_parser(name, help=help_, formatter_class=fmt)
        fns[0](q)
        q.set_defaults(func=fns[1])
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    from .extras import missing_extra

    try:
        return int(args.func(args) or 0)
    except ValueError as e:
        print(f"eventsim {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        hint = missing_extra(e)
        if hint is None:
            raise
        print(f"eventsim {args.command}: {hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
