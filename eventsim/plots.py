"""Plots as PNG files (matplotlib, Agg backend: no screen needed)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(history: Dict[str, List[float]], path, title: str = "") -> None:
    """Loss and accuracy per epoch (train and, if present, validation/test) to ``path`` (PNG)."""
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ep = np.arange(1, len(history["loss"]) + 1)
    ax[0].plot(ep, history["loss"], label="train")
    if history.get("val_loss"):
        ax[0].plot(ep, history["val_loss"], label="test")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("loss")
    ax[0].set_yscale("log")
    ax[1].plot(ep, 100 * np.asarray(history["acc"]), label="train")
    if history.get("val_acc"):
        ax[1].plot(ep, 100 * np.asarray(history["val_acc"]), label="test")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("accuracy (%)")
    for a in ax:
        a.legend()
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def raster(result, populations: Sequence[str], path, sample: int = 0, title: str = "",
           label: Optional[int] = None) -> None:
    """Spike raster of one sample for the given populations (stacked), to ``path`` (PNG)."""
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
    fig.savefig(path, dpi=110)
    plt.close(fig)
