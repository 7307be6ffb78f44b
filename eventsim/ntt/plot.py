"""Plot of an NTT run: the loss terms over steps and the per-layer densities / mask turnover.

Uses matplotlib's object API with the Agg canvas (no pyplot state, no display needed).
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ..checks import positive_int
from ..files import atomic_savefig
from .result import NTTResult


def plot_ntt(result: NTTResult, path: Optional[str] = None, smooth: int = 20):
    """Draw the NTT loss terms and layer densities; save to ``path`` (png/pdf/svg) if given; return the Figure.

    Left: weighted loss terms per step (lambda_K * NTK distance, output distance,
    (lambda_2/d) * ||m W||^2, total; running mean over ``smooth`` steps, log scale) and the
    evaluation-batch distances. Right: kept fraction per weight tensor at each mask update (solid)
    and the fraction of kept weights that are new at that update (dashed).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(result, NTTResult):
        raise ValueError(f"result must be an NTTResult, got {type(result).__name__}")
    smooth = positive_int("smooth", smooth)
    if path is not None:
        folder = os.path.dirname(os.path.abspath(str(path)))
        if not os.path.isdir(folder):
            raise ValueError(f"path: folder {folder!r} does not exist")
    fig = Figure(figsize=(11, 4))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    p = result.provenance
    h = result.history

    def run_mean(a: np.ndarray) -> np.ndarray:
        k = min(int(smooth), max(1, a.size))
        c = np.cumsum(np.insert(a, 0, 0.0))
        out = np.empty_like(a)
        out[k - 1:] = (c[k:] - c[:-k]) / k
        out[:k - 1] = c[1:k] / np.arange(1, k)
        return out

    if h and len(h.get("step", [])):
        s = h["step"]
        lk, l2, d = float(p.get("lambda_k", 1.0)), float(p.get("lambda_2", 0.0)), float(p.get("density", 1.0))
        ax1.plot(s, run_mean(lk * h["ntk"]), label=r"$\lambda_K\,$mean$(\Theta_s-\Theta_t)^2$")
        ax1.plot(s, run_mean(h["out"]), label=r"mean$(f_s-f_t)^2$")
        if l2 > 0:
            ax1.plot(s, run_mean(l2 / d * h["l2"]), label=r"$(\lambda_2/d)\|m\odot W\|^2$")
        ax1.plot(s, run_mean(h["total"]), "k", lw=1.5, label="total")
        e = result.eval_history
        if e and len(e.get("step", [])):
            ax1.plot(e["step"], lk * e["ntk"], "o", ms=3, color="C0", label="eval (NTK term)")
            ax1.plot(e["step"], e["out"], "s", ms=3, color="C1", label="eval (output term)")
        ax1.set_yscale("log")
        ax1.set_xlabel("NTT step")
        ax1.set_ylabel("loss term")
        ax1.legend(fontsize=7)
    else:
        ax1.text(0.5, 0.5, f"no loss history (method {result.method})", ha="center", transform=ax1.transAxes)
    ax1.set_title(f"{result.method}, d = {p.get('density', '?')}, seed {p.get('seed', '?')}, "
                  f"variant {p.get('variant', '-')}", fontsize=9)

    mh = result.mask_history
    names = result.weight_names
    if mh and len(mh.get("step", [])):
        steps = mh["step"]
        dens = np.atleast_2d(mh["density"])
        turn = np.atleast_2d(mh["turnover"])
        for i, n in enumerate(names):
            ax2.plot(steps, dens[:, i], "-o", ms=3, color=f"C{i}", label=f"{n} density")
            ok = turn[:, i] > 0
            ax2.plot(steps[ok], turn[ok, i], "--", color=f"C{i}", label=f"{n} turnover")
    else:
        for i, (n, dv) in enumerate(result.densities().items()):
            ax2.bar(i, dv, color=f"C{i}", label=n)
    ax2.set_xlabel("NTT step (mask update)")
    ax2.set_ylabel("fraction")
    ax2.set_yscale("log")
    ax2.set_ylim(min(0.5 * min(result.densities().values()), 0.5), 1.5)
    ax2.legend(fontsize=7)
    ax2.set_title("layer densities and mask turnover", fontsize=9)
    fig.tight_layout()
    if path is not None:
        atomic_savefig(fig, path, dpi=120)
    return fig
