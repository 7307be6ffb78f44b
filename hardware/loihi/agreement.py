"""Agreement of Loihi (fixed point, discrete time) with eventsim (exact, continuous time).

``agreement(net, inputs, labels, t_max, dt)`` simulates ``net`` exactly with ``eventsim.simulate``,
quantises it for step ``dt`` and runs the discrete model (bit-exact emulator, or Lava itself),
then compares the predicted classes: ``agree`` = fraction of samples where the two predict the
same class, and the accuracies of both. The class is read from the output population: the
earliest first spike (spiking output; -1 if none fires, ties to the lowest index, as
``FirstSpikeCE.predict``) or the largest maximum voltage (non-spiking read-out, as
``MaxVoltageCE.predict``).

Command line (prints a table, writes JSON)::

    python -m eventsim.hardware.loihi.agreement --net results/yinyang/yinyang_net.h5 --task yinyang \\
        --dt 0.5 0.25 0.1225 0.1175 [--lava-samples 1000] [--out agreement.json]
    python -m eventsim.hardware.loihi.agreement --random 5 --task yinyang --dt 0.1175   # untrained 5-200-3 nets

Columns: ``agree`` over all samples; ``agree*`` over the samples whose exact output first spikes
are more than one step apart (elsewhere the discrete model cannot resolve the order; untrained
networks have almost all samples there); ``1st spk<=dt``: per population the fraction of first
spikes within two steps of the exact ones (and the mean absolute difference).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy as np


def _output_population(net) -> str:
    lifs = [n for n, p in net.populations.items() if not p.is_input]
    sinks = [n for n in lifs if not any(pr.src == n for pr in net.projections.values())]
    if len(sinks) != 1:
        raise ValueError(f"cannot tell the output population (sinks: {sinks}); pass population=")
    return sinks[0]


READOUTS = ("max", "integral")


def predict(result, net, population: Optional[str] = None, readout: str = "max") -> np.ndarray:
    """Predicted class per sample from an eventsim Result or a DiscreteResult.

    Spiking output population: the neuron that fires first (-1 if none fires). Non-spiking
    read-outs: the largest maximum voltage (``readout='max'``, as ``MaxVoltageCE``) or the largest
    voltage integral (``'integral'``, as ``VoltageIntegralCE``).
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    pop = population or _output_population(net)
    if net.populations[pop].params.spiking:
        t = result.first_spike_times(pop)
        pred = np.argmin(t, axis=1) if t.size else np.zeros(t.shape[0], np.int64)
        pred[~np.isfinite(t.min(axis=1, initial=np.inf))] = -1
        return pred
    if readout == "integral":
        return np.argmax(result.voltage_integral(pop), axis=1)
    return np.argmax(result.max_voltage(pop), axis=1)


def first_spike_agreement(ref, res, net, dt: float) -> Dict[str, Dict[str, float]]:
    """Per LIF population: fraction of (sample, neuron) pairs whose fire/silent status agrees,
    fractions of first spikes (fired in both) within one and two steps of eventsim's, mean
    |difference| (ms). (A discrete spike is reported at the end of the step of its threshold
    crossing and inputs are rounded to the grid: per layer the error is within (-dt/2, 3dt/2).)"""
    out = {}
    for pop, p in net.populations.items():
        if p.is_input or not p.params.spiking:
            continue
        a, b = ref.first_spike_times(pop), res.first_spike_times(pop)
        fa, fb = np.isfinite(a), np.isfinite(b)
        both = fa & fb
        d = np.abs(a[both] - b[both])
        out[pop] = {"status_agree": float(np.mean(fa == fb)) if a.size else 1.0,
                    "within_dt": float(np.mean(d <= dt + 1e-9)) if d.size else 1.0,
                    "within_2dt": float(np.mean(d <= 2 * dt + 1e-9)) if d.size else 1.0,
                    "mean_abs_diff_ms": float(d.mean()) if d.size else 0.0, "n_first_spikes": int(fa.sum())}
    return out


def agreement(net, inputs, labels: Optional[np.ndarray], t_max: float, dt: float, *, backend: str = "numba",
              precision: str = "fixed", population: Optional[str] = None, quantize_kwargs: Optional[Mapping] = None,
              reference=None, copies: int = 16, lnet=None, readout: str = "max") -> Dict[str, Any]:
    """Compare eventsim and the discrete Loihi model on ``inputs`` (SpikeBatch, ms).

    ``reference``: a precomputed ``eventsim.simulate`` result (saves its recomputation in scans).
    ``backend``: ``'numba'`` (emulator) or ``'lava'`` (Lava Loihi2SimCfg; slow, ~1-2 ms per step).
    ``readout``: how a non-spiking output population predicts (see ``predict``); ``'integral'``
    records the output voltages of the discrete run.
    Returns a dict with agree, acc_eventsim, acc_loihi, drop_points, dt, n_samples, timings and
    the quantisation report summary.
    """
    import eventsim as es

    from .quantize import quantize

    t0 = time.perf_counter()
    ref = reference if reference is not None else es.simulate(net, inputs, t_max, progress=False)
    t_ref = time.perf_counter() - t0
    p_ref = predict(ref, net, population, readout)
    pop = population or _output_population(net)
    rec = {pop: "all"} if readout == "integral" and not net.populations[pop].params.spiking else None
    if lnet is None:
        lnet = quantize(net, dt, precision=precision, **dict(quantize_kwargs or {}))
    t0 = time.perf_counter()
    if backend == "numba":
        from .emulator import emulate

        res = emulate(lnet, inputs, t_max=t_max, record_v=rec)
    elif backend == "lava":
        from .lava_graph import run_lava

        res = run_lava(lnet, inputs, t_max=t_max, copies=copies, record_v=tuple(rec or ()))
    else:
        raise ValueError(f"backend must be 'numba' or 'lava', got {backend!r}")
    t_run = time.perf_counter() - t0
    p = predict(res, net, population, readout)
    out: Dict[str, Any] = {"dt": float(dt), "backend": backend, "precision": precision, "n_samples": int(p.size),
                           "agree": float(np.mean(p == p_ref)), "n_disagree": int(np.sum(p != p_ref)),
                           "eventsim_s": t_ref, "run_s": t_run, "n_steps": res.n_steps}
    out["first_spike"] = first_spike_agreement(ref, res, net, dt)
    if net.populations[pop].params.spiking:
        # samples whose exact output first spikes are not within one step of each other
        ft = np.sort(ref.first_spike_times(pop), axis=1)
        if ft.shape[1] > 1:
            with np.errstate(invalid="ignore"):
                gap = np.where(np.isfinite(ft[:, 0]), ft[:, 1] - ft[:, 0], 0.0)   # none fires: not clear
            clear = gap > dt
        else:
            clear = np.isfinite(ft[:, 0])
        out["n_clear"] = int(clear.sum())
        out["agree_clear"] = float(np.mean(p[clear] == p_ref[clear])) if clear.any() else float("nan")
    if labels is not None:
        y = np.asarray(labels)
        out["acc_eventsim"] = float(np.mean(p_ref == y))
        out["acc_loihi"] = float(np.mean(p == y))
        out["drop_points"] = 100.0 * (out["acc_eventsim"] - out["acc_loihi"])
    if getattr(res, "overflow", None):
        out["overflow"] = dict(res.overflow)
    if lnet.report is not None:
        rep = lnet.report
        out["quantisation"] = {
            "max_weight_rel_error": rep.max_weight_rel_error(),
            "tau_eff": {n: [p["tau_syn_eff"], p["tau_mem_eff"]] for n, p in rep.populations.items()},
            "vth": {n: p["vth"] for n, p in rep.populations.items()}}
    out["predictions"] = p
    out["predictions_eventsim"] = p_ref
    out["result"] = res
    return out


def task_readout(task: str) -> str:
    """How the task recipe's network predicts with non-spiking read-outs (``READOUT`` of models/<task>.py)."""
    import importlib

    if task not in ("yinyang", "digits"):
        raise ValueError(f"task must be 'yinyang' or 'digits', got {task!r}")
    return getattr(importlib.import_module(f"eventsim.models.{task}"), "READOUT", "max")


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
    ap = argparse.ArgumentParser(prog="python -m eventsim.hardware.loihi.agreement", description=__doc__.split("\n")[0])
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
                    help="prediction of non-spiking read-outs (default: the task recipe's, models/*.READOUT)")
    ap.add_argument("--out", default=None, help="JSON file to write")
    args = ap.parse_args(argv)
    readout = args.readout or task_readout(args.task)
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
            from .quantize import quantize
            from .emulator import emulate

            lnet = quantize(net, dt, **kw)
            r = agreement(net, sub, labels[idx], t_max, dt, backend="lava", lnet=lnet, copies=args.copies,
                          readout=readout)
            emu = emulate(lnet, sub, t_max=t_max, record_v={_output_population(net): "all"})
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
            json.dump({"task": args.task, "calibrated": args.calibrate, "readout": readout, "rows": clean}, f, indent=1, default=float)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
