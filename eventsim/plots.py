"""Plots as PNG files (matplotlib, Agg backend: no screen needed).

- ``training_curves(history, path)``: loss (log scale) and accuracy (%) per epoch, training and
  validation, from the history dict of ``eventsim.train.fit``; the selected (best validation) epoch
  is marked when the history has ``best_epoch``.
- ``raster(result, populations, path, sample)``: spike raster of one sample (time in ms), one panel
  per population; the label neuron can be highlighted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

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
