"""Agreement of Loihi (fixed point, discrete time) with eventsim (exact, continuous time).

``agreement(net, inputs, labels, t_max, dt)`` simulates ``net`` exactly with ``eventsim.simulate``,
quantises it for step ``dt`` and runs the discrete model (bit-exact emulator, or Lava itself),
then compares the predicted classes: ``agree`` = fraction of samples where the two predict the
same class, and the accuracies of both. The class is read from the output population: the
earliest first spike (spiking output; -1 if none fires, ties to the lowest index, as
``FirstSpikeCE.predict``) or, for non-spiking read-outs, the largest maximum voltage (as
``MaxVoltageCE.predict``) or the largest voltage integral (as ``VoltageIntegralCE.predict``).

The prediction rule of non-spiking read-outs is the one the network was saved with
(``Network.readout``) unless a ``readout`` is passed. The study over the recipes' trained networks
(a table per time step, Lava runs) is ``benchmarks/loihi_agreement.py``.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy as np


def output_population(net) -> str:
    """The network's one LIF population that projects nowhere (its output); ValueError if not exactly one."""
    lifs = [n for n, p in net.populations.items() if not p.is_input]
    sinks = [n for n in lifs if not any(pr.src == n for pr in net.projections.values())]
    if len(sinks) != 1:
        raise ValueError(f"cannot tell the output population (sinks: {sinks}); pass population=")
    return sinks[0]


READOUTS = ("max", "integral")


def predict(result, net, population: Optional[str] = None, readout: Optional[str] = None) -> np.ndarray:
    """Predicted class per sample from an eventsim Result or a DiscreteResult.

    Spiking output population: the neuron that fires first (-1 if none fires). Non-spiking
    read-outs: the largest maximum voltage (``readout='max'``, as ``MaxVoltageCE``) or the largest
    voltage integral (``'integral'``, as ``VoltageIntegralCE``); ``None``: the network's own rule
    (``network_readout``).
    """
    readout = network_readout(net, readout)
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    pop = population or output_population(net)
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
              reference=None, copies: int = 16, lnet=None, readout: Optional[str] = None) -> Dict[str, Any]:
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
    readout = network_readout(net, readout)
    p_ref = predict(ref, net, population, readout)
    pop = population or output_population(net)
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


def network_readout(net, override: Optional[str] = None) -> str:
    """The prediction rule of ``net``'s non-spiking read-outs: ``override`` if given, else the rule the
    network was saved with (``Network.readout``), else ``'max'``. A spiking output ignores it."""
    rule = override or net.readout
    if rule in (None, "first_spike"):
        return "max"
    return rule
