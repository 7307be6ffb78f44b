"""Plots for the Loihi path (matplotlib; returned Figures, PNG when ``path`` is given).

- ``plot_emulation``: spike rasters of a discrete run (emulator or Lava) over the exact eventsim
  spikes of the same sample, optional voltage traces, and the quantisation summary.
- ``plot_quantization``: per projection the weight errors, per population the time constants
  before/after the 12-bit decays.
- ``plot_agreement``: agreement and accuracies against dt (rows of ``agreement``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from eventsim.files import atomic_savefig


def _plt():
    """pyplot with the backend the user has (inline in Jupyter, a window or Agg elsewhere; matplotlib
    itself falls back to Agg where there is no display)."""
    import matplotlib.pyplot as plt

    return plt


def plot_emulation(result, reference=None, sample: int = 0, populations: Optional[Sequence[str]] = None,
                   lnet=None, voltage_neurons: int = 3, path=None, title: str = ""):
    """Rasters (one panel per population) of ``result`` (DiscreteResult) for ``sample``, with the
    eventsim spikes of ``reference`` (an eventsim Result) as open circles; voltage traces of up to
    ``voltage_neurons`` recorded neurons (if ``record_v`` was used); the quantisation summary of
    ``lnet`` (LoihiNet made by ``quantize``) if given."""
    plt = _plt()
    pops = list(populations or result.populations)
    has_v = result.rec_v is not None
    n_rows = len(pops) + int(has_v) + int(lnet is not None and lnet.report is not None)
    fig, axes = plt.subplots(n_rows, 1, figsize=(9, 2.2 * n_rows + 0.5), squeeze=False)
    axes = axes[:, 0]
    k = 0
    for pop in pops:
        ax = axes[k]
        k += 1
        sb = result.spikes(pop)
        t, i = sb.sample(sample)
        ax.plot(t, i, "|", ms=6, color="C0", label=f"{result.backend} ({result.precision}, dt {result.dt} ms)")
        if reference is not None:
            rt, ri = reference.spikes(pop).sample(sample)
            ax.plot(rt, ri, "o", mfc="none", ms=4, color="C3", alpha=0.7, label="eventsim (exact)")
        ax.set_ylabel(f"{pop}\nneuron")
        ax.set_xlim(0, result.n_steps * result.dt)
        ax.set_ylim(-0.5, sb.n_neurons - 0.5)
        ax.legend(loc="upper right", fontsize=7)
    if has_v:
        ax = axes[k]
        k += 1
        tt = np.arange(result.n_steps) * result.dt
        for pop in pops:
            try:
                V = result.voltage(pop)
            except ValueError:
                continue
            for j in range(min(voltage_neurons, V.shape[2])):
                ax.step(tt, V[sample, :, j], where="post", lw=0.8, label=f"{pop}[{j}]")
        ax.set_ylabel("V (eventsim units)")
        ax.legend(loc="upper right", fontsize=7, ncol=3)
    for a in axes[:k]:
        a.set_xlabel("time (ms)")
    if lnet is not None and lnet.report is not None:
        _quant_axes(axes[k], lnet.report)
    fig.suptitle(title or f"sample {sample}")
    fig.tight_layout()
    if path is not None:
        atomic_savefig(fig, path, dpi=110)
    return fig


def _quant_axes(ax, rep) -> None:
    names = list(rep.projections)
    rel = [100 * rep.projections[n]["w_rel_err_max"] for n in names]
    rms = [100 * rep.projections[n]["w_abs_err_rms"] / max(rep.projections[n]["w_max"], 1e-300) for n in names]
    x = np.arange(len(names))
    ax.bar(x - 0.2, rel, 0.4, label="max |w_q - w| / max|w| (%)")
    ax.bar(x + 0.2, rms, 0.4, label="rms |w_q - w| / max|w| (%)")
    ax.set_xticks(x)
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("weight error (%)")
    taus = ", ".join(f"{n}: tau_s {p['tau_syn']:.3g}->{p['tau_syn_eff']:.4g}, tau_m {p['tau_mem']:.3g}->"
                     f"{p['tau_mem_eff']:.4g} ms" for n, p in rep.populations.items())
    ax.set_title(f"quantisation at dt {rep.dt} ms ({taus})", fontsize=8)
    ax.legend(fontsize=7)


def plot_quantization(lnet, path=None):
    """Weight errors per projection and effective time constants (``lnet.report``)."""
    plt = _plt()
    if lnet.report is None:
        raise ValueError("lnet has no quantisation report (make it with eventsim.hardware.loihi.quantize)")
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
    _quant_axes(ax[0], lnet.report)
    # weight transfer: quantised vs original weights of every projection part
    for n, pr in lnet.projections.items():
        w = getattr(pr, "source_weights", None)
        if w is None or not lnet.fixed:
            continue
        S = lnet.populations[pr.dst].scale
        g = lnet.report.populations[pr.dst]["psp_gain"]
        wq = pr.effective_weights() * 2.0 ** pr.weight_exp * 64 / (S * g)
        ax[1].plot(w, wq - w, ".", ms=2, label=n)
    ax[1].set_xlabel("eventsim weight")
    ax[1].set_ylabel("quantised - original")
    ax[1].legend(fontsize=7, markerscale=4)
    fig.tight_layout()
    if path is not None:
        atomic_savefig(fig, path, dpi=110)
    return fig


def _dt_axis(ax, dt) -> None:
    """Log dt axis with the scanned dt values as plain tick labels (no 2x10^-1 minor labels)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    dt = sorted(dt)
    labels, last = [], None
    for d in dt:   # label a tick only if it is not crowded by the previous labelled one
        keep = last is None or np.log10(d / last) > 0.08
        labels.append(f"{d:g}" if keep else "")
        last = d if keep else last
    ax.set_xticks(dt)
    ax.set_xticklabels(labels, fontsize=7)


def plot_agreement(rows: List[Dict], path=None, title: str = "", split: str = "test"):
    """Agreement (%) and accuracies (%) against dt from ``agreement`` result dicts (one network);
    ``split`` names the data the rows were measured on (the accuracy axis label)."""
    plt = _plt()
    rows = sorted([r for r in rows if r.get("backend", "numba") == "numba"], key=lambda r: r["dt"])
    dt = [r["dt"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(dt, [100 * r["agree"] for r in rows], "o-")
    ax[0].axhline(99, ls="--", color="gray", lw=0.8)
    _dt_axis(ax[0], dt)
    ax[0].set_xlabel("dt (ms)")
    ax[0].set_ylabel("same class as eventsim (%)")
    if rows and "acc_loihi" in rows[0]:
        ax[1].plot(dt, [100 * r["acc_loihi"] for r in rows], "o-", label="Loihi fixed point")
        ax[1].axhline(100 * rows[0]["acc_eventsim"], ls="--", color="C3", label="eventsim (exact)")
        _dt_axis(ax[1], dt)
        ax[1].set_xlabel("dt (ms)")
        ax[1].set_ylabel(f"{split} accuracy (%)")
        ax[1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        atomic_savefig(fig, path, dpi=110)
    return fig
