"""Plots as PNG files (matplotlib, Agg backend: no screen needed).

- ``training_curves(history, path)``: loss (log scale) and accuracy (%) per epoch, training and
  validation, from the history dict of ``eventsim.train.fit``; the selected (best validation) epoch
  is marked when the history has ``best_epoch``.
- ``raster(result, populations, path, sample)``: spike raster of one sample (time in ms), one panel
  per population; the label neuron can be highlighted.
- ``voltage_trace(result, population, path, sample, neurons)``: recorded membrane potentials of
  one sample against time (ms), with the threshold as a dashed line and the neurons' spikes
  marked on it.
- ``population_rate_plot(result, populations, path, bin_ms, sample)``: population rate (Hz) in
  bins of ``bin_ms`` (``eventsim.analysis.population_rate``) of one sample or averaged over all.

Each writes its PNG through ``eventsim.files.atomic_savefig`` and refuses an unknown population,
an unrecorded one (``voltage_trace``) or an out-of-range sample with a ValueError naming it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .checks import nonnegative_int, show
from .files import atomic_savefig


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(history: Dict[str, List[float]], path, title: str = "") -> None:
    """Loss and accuracy per epoch (train and, if present, validation) to ``path`` (PNG)."""
    if not isinstance(history, dict) or not history.get("loss") or len(history.get("acc", [])) != len(history["loss"]):
        raise ValueError("history must be a dict with non-empty 'loss' and 'acc' lists of equal length")
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ep = np.arange(1, len(history["loss"]) + 1)
    ax[0].plot(ep, history["loss"], label="train")
    if history.get("val_loss"):
        ax[0].plot(ep, history["val_loss"], label="validation")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("loss")
    ax[0].set_yscale("log")
    ax[1].plot(ep, 100 * np.asarray(history["acc"]), label="train")
    if history.get("val_acc"):
        ax[1].plot(ep, 100 * np.asarray(history["val_acc"]), label="validation")
    if history.get("best_epoch"):
        for a in ax:
            a.axvline(int(history["best_epoch"][0]) + 1, color="0.6", ls=":", lw=1, label="selected")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("accuracy (%)")
    for a in ax:
        a.legend()
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def raster(result, populations: Sequence[str], path, sample: int = 0, title: str = "",
           label: Optional[int] = None) -> None:
    """Spike raster of one sample for the given populations (stacked), to ``path`` (PNG)."""
    if isinstance(populations, str) or not populations:
        raise ValueError(f"populations must be a non-empty list of population names, got {populations!r}")
    if not 0 <= int(sample) < result.n_samples:
        raise ValueError(f"sample must be in [0, {result.n_samples}), got {sample!r}")
    plt = _plt()
    fig, axes = plt.subplots(len(populations), 1, figsize=(7, 1.2 + 1.6 * len(populations)), sharex=True,
                             squeeze=False)
    for ax, pop in zip(axes[:, 0], populations):
        t, i = result.spikes(pop).sample(sample)
        ax.scatter(t, i, s=6, marker="|", color="k")
        ax.set_ylabel(pop)
        ax.set_xlim(0, result.t_max)
        if label is not None and pop == populations[-1]:
            ax.axhline(label, color="tab:red", alpha=0.3, lw=6)
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(title)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def _sample(result, sample) -> int:
    s = nonnegative_int("sample", sample)
    if s >= result.n_samples:
        raise ValueError(f"sample must be in [0, {result.n_samples}), got {show(sample)}")
    return s


def voltage_trace(result, population: str, path, sample: int = 0, neurons: Optional[Sequence[int]] = None,
                  title: str = "") -> None:
    """Recorded V of ``population`` in one ``sample`` against time (ms), to ``path`` (PNG).

    ``neurons``: local ids to draw (default: every recorded neuron of the population); each must
    have been recorded (``simulate(..., record=..., record_times=...)``). The threshold ``v_th`` is
    drawn as a dashed line (not for a read-out, ``v_th = inf``) and each spike of a drawn neuron as
    a dot on it: V is sampled only at the recording times, so a spike between two of them is seen
    only as the drop to ``v_reset``. ValueError naming the population if it was not recorded.
    """
    if not isinstance(population, str):
        raise ValueError(f"population must be a population name, got {population!r}")
    result._pop(population)  # ValueError for an unknown population
    s = _sample(result, sample)
    if result.record_V is None or result.recorded_neurons(population).size == 0:
        raise ValueError(f"population {population!r} was not recorded: pass record={{{population!r}: 'all'}} "
                         "and record_times= to simulate()")
    V = result.voltage(population)
    recorded = result.recorded_neurons(population)
    if neurons is None:
        cols = np.arange(recorded.size)
    else:
        want = [nonnegative_int("neurons", i) for i in np.asarray(neurons).reshape(-1).tolist()]
        if not want:
            raise ValueError("neurons must name at least one neuron, got an empty list")
        missing = sorted(set(want) - set(recorded.tolist()))
        if missing:
            raise ValueError(f"neurons {missing} of {population!r} were not recorded (recorded: {recorded.tolist()})")
        where = {int(n): c for c, n in enumerate(recorded)}
        cols = np.array([where[i] for i in want])
    lay = result.layout
    v_th = float(lay.neurons.v_th[lay.pop_index[population]])
    t_spk, i_spk = result.spikes(population).sample(s) if np.isfinite(v_th) else (np.zeros(0), np.zeros(0))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for c in cols:
        line, = ax.plot(result.record_times, V[s, :, c], lw=1, label=f"neuron {int(recorded[c])}")
        if np.isfinite(v_th):
            t = t_spk[i_spk == recorded[c]]
            ax.plot(t, np.full(t.size, v_th), "o", ms=3, color=line.get_color())
    if np.isfinite(v_th):
        ax.axhline(v_th, color="0.4", ls="--", lw=1, label="threshold")
    ax.set_xlim(0, result.t_max)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"V of {population}")
    if len(cols) <= 10:
        ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def population_rate_plot(result, populations: Union[str, Sequence[str]], path, bin_ms: float = 5.0,
                         sample: Optional[int] = None, title: str = "") -> None:
    """Population rate (Hz) of one or more populations in bins of ``bin_ms`` (ms) against time, to
    ``path`` (PNG): of one ``sample``, or with ``sample=None`` the mean over all samples.

    The rates are ``eventsim.analysis.population_rate`` over ``[0, t_max]``; the mean firing rate
    of each population is given in the legend.
    """
    from .analysis import population_rate

    pops = [populations] if isinstance(populations, str) else list(populations)
    if not pops or not all(isinstance(p, str) for p in pops):
        raise ValueError(f"populations must be a population name or a non-empty list of them, got {populations!r}")
    s = None if sample is None else _sample(result, sample)
    rates = [population_rate(result, p, bin_ms) for p in pops]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for p, r in zip(pops, rates):
        y = r.rate.mean(axis=0) if s is None else r.rate[s]
        mean = r.mean_rate.mean() if s is None else r.mean_rate[s]
        ax.stairs(y, r.edges, label=f"{p} (mean {mean:.3g} Hz)")
    ax.set_xlim(0, result.t_max)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if s is None and result.n_samples == 1:
        s_label = "sample 0"
    else:
        s_label = f"sample {s}" if s is not None else f"mean over {result.n_samples} samples"
    which = s_label
    ax.set_title(f"{title} ({which})" if title else which)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)
