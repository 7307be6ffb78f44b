"""Agreement of the recipes' networks on Loihi (emulator and Lava) with eventsim, per time step.

    python benchmarks/loihi_agreement.py --net models/trained/yinyang_seed0.h5 --task yinyang \\
        --dt 0.5 0.25 0.1225 0.1175 [--calibrate] [--lava-samples 1000] [--out agreement.json]
    python benchmarks/loihi_agreement.py --random 5 --task yinyang --dt 0.1175   # untrained 5-200-3 nets

``--task`` picks the recipe's data and encoding (``eventsim.models.yinyang`` or ``digits``); the
prediction rule comes from the network file (``Network.readout``) unless ``--readout`` is given.
Columns: ``agree`` over all samples; ``agree*`` over the samples whose exact output first spikes
are more than one step apart (elsewhere the discrete model cannot resolve the order; untrained
networks have almost all samples there); the last column per population the fraction of first
spikes within two steps of the exact ones (and the mean absolute difference).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Dict, Optional, Sequence

import numpy as np

from eventsim.hardware.loihi.agreement import READOUTS, output_population, agreement, network_readout, predict


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


def _fmt_pct(x) -> str:
    return f"{'-':>7}" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:>6.1f}%"


def _fs(r) -> str:
    return " ".join(f"{k} {100 * v['within_2dt']:.1f}% ({v['mean_abs_diff_ms']:.3f} ms)"
                    for k, v in r.get("first_spike", {}).items())


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/loihi_agreement.py", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--net", help="trained network (eventsim.network HDF5)")
    src.add_argument("--random", type=int, help="this many untrained networks of the task's recipe (yinyang only)")
    ap.add_argument("--task", choices=["yinyang", "digits"], required=True)
    ap.add_argument("--dt", type=float, nargs="+", required=True, help="time steps to try (ms)")
    ap.add_argument("--split", choices=["test", "val"], default="test", help="evaluation split (choose dt on val)")
    ap.add_argument("--calibrate", action="store_true", help="calibrate the voltage scale on 500 training samples")
    ap.add_argument("--headroom", type=float, default=None)
    ap.add_argument("--lava-samples", type=int, default=0, help="also run Lava fixed_pt on the first N test samples")
    ap.add_argument("--lava-dt", type=float, default=None, help="dt of the Lava run (default: the last --dt)")
    ap.add_argument("--copies", type=int, default=25, help="network copies per Lava step")
    ap.add_argument("--readout", choices=READOUTS, default=None,
                    help="prediction of non-spiking read-outs (default: the rule stored in the network file, "
                         "Network.readout, else max)")
    ap.add_argument("--out", default=None, help="JSON file to write")
    args = ap.parse_args(argv)
    import eventsim as es

    inputs, labels, t_max, cal = task_data(args.task, args.split)
    if args.net:
        nets = [(args.net, es.load_network(args.net))]
    else:
        if args.task != "yinyang":
            raise ValueError("--random works with --task yinyang")
        nets = [(f"random seed {k}", n) for k, n in enumerate(random_yinyang_nets(args.random))]
    qkw: Dict[str, Any] = {}
    if args.headroom is not None:
        qkw["headroom"] = args.headroom
    rows = []
    print(f"{'network':<28} {'dt ms':>7} {'steps':>6} {'agree':>7} {'acc es':>7} {'acc loihi':>9} {'drop pt':>8} "
          f"{'backend':>8} {'run s':>7} {'agree*':>7} {'n*':>5}  first spikes within 2 dt (mean |diff|)")
    for label, net in nets:
        readout = network_readout(net, args.readout)
        ref = es.simulate(net, inputs, t_max, progress=False)
        for dt in args.dt:
            kw = dict(qkw)
            if args.calibrate:
                kw["calibration"] = cal
            r = agreement(net, inputs, labels, t_max, dt, quantize_kwargs=kw, reference=ref, readout=readout)
            r["network"] = label
            rows.append(r)
            print(f"{label:<28} {dt:>7.4g} {r['n_steps']:>6} {100 * r['agree']:>6.1f}% {100 * r['acc_eventsim']:>6.1f}% "
                  f"{100 * r['acc_loihi']:>8.1f}% {r['drop_points']:>8.2f} {'numba':>8} {r['run_s']:>7.2f} "
                  f"{_fmt_pct(r.get('agree_clear'))} {r.get('n_clear', '-'):>5}  {_fs(r)}", flush=True)
        if args.lava_samples:
            dt = args.lava_dt or args.dt[-1]
            idx = np.arange(min(args.lava_samples, len(labels)))
            kw = dict(qkw)
            if args.calibrate:
                kw["calibration"] = cal
            sub = inputs.subset(idx)
            from eventsim.hardware.loihi import emulate, quantize

            lnet = quantize(net, dt, **kw)
            r = agreement(net, sub, labels[idx], t_max, dt, backend="lava", lnet=lnet, copies=args.copies,
                          readout=readout)
            emu = emulate(lnet, sub, t_max=t_max, record_v={output_population(net): "all"})
            r["lava_equals_emulator_predictions"] = bool(np.array_equal(predict(emu, net, None, readout),
                                                                        r["predictions"]))
            r["raster_entries_differing_lava_vs_emulator"] = emu.mismatches(r["result"])
            r["network"] = label
            rows.append(r)
            print(f"{label:<28} {dt:>7.4g} {r['n_steps']:>6} {100 * r['agree']:>6.1f}% {100 * r['acc_eventsim']:>6.1f}% "
                  f"{100 * r['acc_loihi']:>8.1f}% {r['drop_points']:>8.2f} {'lava':>8} {r['run_s']:>7.1f}   "
                  f"(Lava == emulator: predictions {r['lava_equals_emulator_predictions']}, differing raster "
                  f"entries {r['raster_entries_differing_lava_vs_emulator']})", flush=True)
    if args.out:
        clean = [{k: v for k, v in r.items() if not isinstance(v, np.ndarray) and k != "result"} for r in rows]
        with open(args.out, "w") as f:
            json.dump({"task": args.task, "calibrated": args.calibrate, "readout": args.readout, "rows": clean}, f, indent=1, default=float)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
