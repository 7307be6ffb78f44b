"""Agreement of the recipes' networks on Loihi (emulator and Lava) with eventsim, per time step.

    python benchmarks/loihi_agreement.py --trained          # the committed trained networks, at their dt
    python benchmarks/loihi_agreement.py --net models/trained/yinyang_seed0.h5 --task yinyang \\
        --dt 0.5 0.25 0.1225 0.1175 [--calibrate] [--split val] [--lava-samples 1000]
    python benchmarks/loihi_agreement.py --random 5 --task yinyang --dt 0.1175   # untrained 5-200-3 nets

``--task`` picks the recipe's data and encoding (``eventsim.models.yinyang`` or ``digits``); the
prediction rule comes from the network file (``Network.readout``) unless ``--readout`` is given.
``--trained`` runs every network of ``models/trained/`` at the dt chosen for it on the validation
split (``TRAINED``), calibrated, on the test split, with Lava on all test samples of two of them.
Columns: ``agree`` over all samples; ``agree*`` over the samples whose exact output first spikes
are more than one step apart (elsewhere the discrete model cannot resolve the order; untrained
networks have almost all samples there); the last column per population the fraction of first
spikes within two steps of the exact ones (and the mean absolute difference).

Each measurement (one network at one dt on one backend) is one row of
``benchmarks/results/loihi_agreement.jsonl`` (key: network, dt, backend, split, calibrated, headroom,
precision, readout, n_samples; a row measured again replaces the old one).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from eventsim.hardware.loihi.agreement import READOUTS, agreement, network_readout, output_population, predict

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "loihi_agreement"
KEY = ("network", "dt", "backend", "split", "calibrated", "headroom", "precision", "readout", "n_samples")

#: the committed trained networks, the task, the dt chosen on the validation split (highest agreement,
#: ties to the larger dt) and whether Lava itself runs on all test samples
TRAINED = [
    ("models/trained/yinyang_seed0.h5", "yinyang", 0.06, False),
    ("models/trained/yinyang_seed1.h5", "yinyang", 0.15, False),
    ("models/trained/yinyang_seed2.h5", "yinyang", 0.1225, True),
    ("models/trained/yinyang_seed3.h5", "yinyang", 0.09, False),
    ("models/trained/yinyang_seed4.h5", "yinyang", 0.075, False),
    ("models/trained/digits_seed0.h5", "digits", 0.25, True),
]


def task_data(task: str, split: str = "test"):
    """``(inputs, labels, t_max, calibration)`` of a models/ recipe's data (calibration: 500 training samples)."""
    if task == "yinyang":
        from eventsim.data import yin_yang
        from eventsim.models import yinyang as m

        X, y = yin_yang(split)
        Xc, _ = yin_yang("train")
        return m.encode(X), y, m.T_MAX, (m.encode(Xc[:500]), m.T_MAX)
    if task == "digits":
        from eventsim.models import digits as m

        (tr, _), (va, yv), (te, yt) = m.data()
        cal = (tr.subset(np.arange(min(500, len(tr)))), m.T_MAX)
        if split == "val":
            return va, yv, m.T_MAX, cal
        return te, yt, m.T_MAX, cal
    raise ValueError(f"task must be 'yinyang' or 'digits', got {task!r}")


def random_yinyang_nets(n: int, seed0: int = 0):
    """Untrained 5-200-3 networks of the Yin-Yang recipe (weights N(1.5, 0.78), N(0.93, 0.1))."""
    from eventsim.models import yinyang as m

    return [m.build(seed0 + k) for k in range(n)]


def flatten(d: Mapping, prefix: str = "") -> Dict[str, Any]:
    """Nested dicts as flat columns: ``{"first_spike": {"out": {"within_dt": x}}}`` -> ``first_spike_out_within_dt``."""
    out: Dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, name + "_"))
        else:
            out[name] = v
    return out


def table_row(r: Mapping, **config) -> Dict[str, Any]:
    """One ``agreement`` result as a table row: its figures (arrays and the raw result dropped, nested
    dicts flattened) with the configuration columns ``config`` first."""
    figures = {k: v for k, v in r.items() if k not in ("result", "predictions", "predictions_eventsim")
               and not isinstance(v, np.ndarray)}
    row = {**config, **flatten(figures)}
    for k, v in row.items():
        if isinstance(v, np.generic):
            row[k] = v.item()
    return row


def network_name(path: str) -> str:
    """A network file as a table key: relative to the repository when inside it, else as given."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(path)


def prediction_rule(net, override: Optional[str]) -> str:
    """How the class is read: ``first_spike`` for a spiking output, else the read-out rule."""
    return "first_spike" if net.populations[output_population(net)].params.spiking else network_readout(net, override)


def print_table(rows, header: bool = True) -> None:
    if header:
        print(f"{'network':<34} {'split':>5} {'dt ms':>7} {'steps':>6} {'n':>5} {'agree':>7} {'acc es':>7} "
              f"{'acc loihi':>9} {'drop pt':>8} {'backend':>8} {'run s':>7} {'agree*':>7} {'n*':>5}  "
              f"first spikes within 2 dt (mean |diff|)")
    for r in rows:
        fs = " ".join(f"{pop} {100 * r[f'first_spike_{pop}_within_2dt']:.1f}% "
                      f"({r[f'first_spike_{pop}_mean_abs_diff_ms']:.3f} ms)"
                      for pop in sorted({k[len("first_spike_"):-len("_within_2dt")] for k in r
                                         if k.startswith("first_spike_") and k.endswith("_within_2dt")}))
        if r.get("backend") == "lava":
            fs = (f"Lava == emulator: predictions {r.get('lava_equals_emulator_predictions')}, raster entries "
                  f"differing {sum(v for k, v in r.items() if k.startswith('raster_entries_differing_'))}")

        def pct(x):
            return f"{'-':>6}" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:>5.1f}%"

        print(f"{r['network']:<34} {r.get('split', '-'):>5} {r['dt']:>7.4g} {r['n_steps']:>6} {r['n_samples']:>5} "
              f"{pct(r['agree']):>7} {pct(r.get('acc_eventsim')):>7} {pct(r.get('acc_loihi')):>9} "
              f"{r.get('drop_points', float('nan')):>8.2f} {r['backend']:>8} {r['run_s']:>7.2f} "
              f"{pct(r.get('agree_clear')):>7} {r.get('n_clear', '-'):>5}  {fs}", flush=True)


def run(nets, task: str, dts: Sequence[float], args, lava_samples: int = 0, lava_dt: Optional[float] = None):
    """Agreement rows of ``nets`` (``[(name, network)]``) on ``task`` at every dt (emulator) and, with
    ``lava_samples``, on Lava at ``lava_dt`` (default: the last dt)."""
    import eventsim as es

    inputs, labels, t_max, cal = task_data(task, args.split)
    if args.samples:
        idx = np.arange(min(args.samples, len(labels)))
        inputs, labels = inputs.subset(idx), labels[idx]
    qkw: Dict[str, Any] = {}
    if args.headroom is not None:
        qkw["headroom"] = args.headroom
    if args.calibrate:
        qkw["calibration"] = cal
    rows = []
    print_table([])
    for label, net in nets:
        readout = network_readout(net, args.readout)
        config = {"task": task, "network": label, "split": args.split, "calibrated": bool(args.calibrate),
                  "headroom": args.headroom, "readout": prediction_rule(net, args.readout)}
        t0 = time.perf_counter()
        ref = es.simulate(net, inputs, t_max, progress=False)
        ref_s = time.perf_counter() - t0
        for dt in dts:
            r = agreement(net, inputs, labels, t_max, dt, quantize_kwargs=qkw, reference=ref, readout=readout)
            r["eventsim_s"] = ref_s  # the reference simulation, shared by every dt
            rows.append(table_row(r, **config))
            print_table(rows[-1:], header=False)
        if lava_samples:
            from eventsim.hardware.loihi import emulate, quantize

            dt = lava_dt or dts[-1]
            idx = np.arange(min(lava_samples, len(labels)))
            sub = inputs.subset(idx)
            lnet = quantize(net, dt, **qkw)
            r = agreement(net, sub, labels[idx], t_max, dt, backend="lava", lnet=lnet, copies=args.copies,
                          readout=readout)
            emu = emulate(lnet, sub, t_max=t_max, record_v={output_population(net): "all"})
            r["lava_equals_emulator_predictions"] = bool(np.array_equal(predict(emu, net, None, readout),
                                                                        r["predictions"]))
            r["raster_entries_differing_lava_vs_emulator"] = emu.mismatches(r["result"])
            r["copies"] = args.copies
            rows.append(table_row(r, **config))
            print_table(rows[-1:], header=False)
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/loihi_agreement.py", description=__doc__,
                                 formatter_class=results_table.HelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--net", help="trained network (eventsim network HDF5)")
    src.add_argument("--random", type=int, help="this many untrained networks of the task's recipe (yinyang only)")
    src.add_argument("--trained", action="store_true",
                     help="every committed trained network at its dt (TRAINED; implies --calibrate, test split)")
    src.add_argument("--show", action="store_true", help="print the table from the results file and exit")
    ap.add_argument("--task", choices=["yinyang", "digits"], help="the recipe whose data and encoding are used")
    ap.add_argument("--dt", type=float, nargs="+", help="time steps to try (ms)")
    ap.add_argument("--split", choices=["test", "val"], default="test", help="evaluation split (choose dt on val)")
    ap.add_argument("--samples", type=int, default=None, help="evaluate the first N samples of the split only")
    ap.add_argument("--calibrate", action="store_true", help="calibrate the voltage scale on 500 training samples")
    ap.add_argument("--headroom", type=float, default=None, help="quantisation headroom (None: quantize's own)")
    ap.add_argument("--lava-samples", type=int, default=0, help="also run Lava fixed_pt on the first N samples")
    ap.add_argument("--lava-dt", type=float, default=None, help="dt of the Lava run (None: the last --dt)")
    ap.add_argument("--copies", type=int, default=25, help="network copies per Lava step")
    ap.add_argument("--readout", choices=READOUTS, default=None,
                    help="prediction of non-spiking read-outs (None: the rule stored in the network file, "
                         "Network.readout, else max)")
    ap.add_argument("--results", default=str(results_table.RESULTS), help="folder of the results tables")
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    import eventsim as es

    rows = []
    if args.trained:
        if args.split != "test":
            ap.error("--trained runs the test split (the dt in TRAINED were chosen on val)")
        args.calibrate = True
        for path, task, dt, lava in TRAINED:
            net = es.load_network(ROOT / path)
            rows += run([(path, net)], task, [dt], args, lava_samples=10 ** 9 if lava else 0)
    else:
        if not args.task or not args.dt:
            ap.error("--net and --random need --task and --dt")
        if args.net:
            nets = [(network_name(args.net), es.load_network(args.net))]
        else:
            if args.task != "yinyang":
                ap.error("--random works with --task yinyang")
            nets = [(f"untrained yinyang seed {k}", n) for k, n in enumerate(random_yinyang_nets(args.random))]
        rows = run(nets, args.task, args.dt, args, lava_samples=args.lava_samples, lava_dt=args.lava_dt)
    path = results_table.append_rows(STUDY, rows, key=KEY, folder=folder)
    print(f"{len(rows)} rows written to {path}; the table:")
    print_table(results_table.read_rows(STUDY, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
