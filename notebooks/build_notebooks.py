"""Build the notebooks with their outputs: ``python notebooks/build_notebooks.py``.

Jupyter is not a dependency; this script runs each code cell in one namespace (like a kernel),
captures printed output and matplotlib figures (PNG), and writes nbformat-4 ``.ipynb`` files that
Jupyter, VS Code and GitHub display. Cells are plain Python and can be re-run in Jupyter as they are.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip("\n").splitlines(True)}


def run_cells(cells, ns):
    out_cells = []
    for kind, src in cells:
        if kind == "md":
            out_cells.append(md(src))
            continue
        src = src.strip("\n")
        buf = io.StringIO()
        t0 = time.time()
        with contextlib.redirect_stdout(buf):
            exec(compile(src, "<cell>", "exec"), ns)
        outputs = []
        if buf.getvalue():
            outputs.append({"output_type": "stream", "name": "stdout", "text": buf.getvalue().splitlines(True)})
        for num in plt.get_fignums():
            fig = plt.figure(num)
            b = io.BytesIO()
            fig.savefig(b, format="png", dpi=90, bbox_inches="tight")
            outputs.append({"output_type": "display_data", "metadata": {},
                            "data": {"image/png": base64.b64encode(b.getvalue()).decode(), "text/plain": ["<Figure>"]}})
        plt.close("all")
        out_cells.append({"cell_type": "code", "execution_count": len(out_cells) + 1, "metadata": {},
                          "source": src.splitlines(True), "outputs": outputs})
        print(f"cell done in {time.time() - t0:.1f} s", file=sys.stderr)
    return out_cells


def write(path, cells):
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                       "language_info": {"name": "python", "version": "3.10"}}}
    Path(path).write_text(json.dumps(nb, indent=1))


TOUR = [
    ("md", """
# eventsim: from data to a trained spiking network (and on towards Loihi)

This notebook walks the whole path on built-in data: the Yin-Yang data set, latency coding, exact
event-driven simulation, EventProp training, saving the network, and (when the `hardware` package
is installed) the Loihi fixed-point emulation. Times are in ms, voltages dimensionless.
"""),
    ("code", """
import numpy as np, matplotlib.pyplot as plt
import eventsim as es
from eventsim.data import yin_yang, latency_encode
X, y = yin_yang("train"); Xt, yt = yin_yang("test")
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(X[:1500, 0], X[:1500, 1], c=y[:1500], s=4, cmap="viridis"); ax.set_aspect("equal")
ax.set_title("Yin-Yang (train, first 1500)"); print(X.shape, np.bincount(y))
"""),
    ("md", "Each sample becomes five input spikes: x, y, 1-x, 1-y at 30 ms x value, and a bias spike at 0 ms."),
    ("code", """
enc = lambda X: latency_encode(X, t_max=30.0, bias_time=0.0)
train_in, test_in = enc(X), enc(Xt)
print(train_in, train_in.to_lists()[0])
"""),
    ("md", """
## Exact simulation
A 5-200-3 LIF network (tau_mem 20 ms, tau_syn 5 ms). No time grid: spike times are roots of
V(t) = v_th found by bracketing, and V can be recorded exactly at any times.
"""),
    ("code", """
net = es.Network.feedforward([5, 200, 3], params=es.LIFParams(tau_mem=20.0, tau_syn=5.0), seed=0,
                             init=[(1.5, 0.78), (0.93, 0.1)])
t = np.linspace(0, 60, 601)
res = es.simulate(net, test_in.subset([0]), 100.0, record={"hidden": [0, 1, 2], "out": "all"}, record_times=t)
fig, ax = plt.subplots(1, 2, figsize=(10, 3))
ax[0].plot(t, res.voltage("hidden")[0]); ax[0].axhline(1.0, ls="--", c="k"); ax[0].set_title("V of 3 hidden neurons")
h = res.spikes("hidden").sample(0); ax[1].scatter(h[0], h[1], s=4, marker="|"); ax[1].set_title("hidden raster")
for a in ax: a.set_xlabel("time (ms)")
print("first output spikes (ms):", res.first_spike_times("out")[0])
"""),
    ("md", """
## EventProp training
The loss is the first-spike-time cross-entropy of the EventProp paper; gradients are exact
(checked against finite differences in the tests). Twelve epochs here; the recipe
`eventsim train yinyang` runs longer and keeps the best-on-validation weights.
"""),
    ("code", """
from eventsim.losses import FirstSpikeCE
Xv, yv = yin_yang("val"); val_in = enc(Xv)
hist = es.train.fit(net, train_in, y, FirstSpikeCE(), 100.0, epochs=12, batch_size=32, lr=5e-3, seed=0,
                    val=(val_in, yv), restore_best=True, progress=False)
loss, acc = es.train.evaluate(net, test_in, yt, FirstSpikeCE(), 100.0)
print(f"test accuracy {100*acc:.1f} %  (best validation epoch {int(hist['best_epoch'][0]) + 1})")
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
ax[0].plot(hist["loss"]); ax[0].set_yscale("log"); ax[0].set_title("training loss")
ax[1].plot(100*np.array(hist["acc"]), label="train"); ax[1].plot(100*np.array(hist["val_acc"]), label="val"); ax[1].legend()
ax[1].set_title("accuracy (%)")
"""),
    ("code", """
res = es.simulate(net, test_in, 100.0)
pred = FirstSpikeCE().predict(res)
fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(Xt[:, 0], Xt[:, 1], c=pred, s=6, cmap="viridis"); ax.scatter(*Xt[pred != yt, :2].T, s=20, facecolors="none", edgecolors="r")
ax.set_aspect("equal"); ax.set_title("test predictions (red: errors)")
net.save("/tmp/yinyang_tour.h5"); net2 = es.load("/tmp/yinyang_tour.h5")
print("reloaded network predicts identically:",
      np.array_equal(FirstSpikeCE().predict(es.simulate(net2, test_in, 100.0)), pred))
"""),
    ("md", "## Towards Loihi\nThe `hardware` package quantises the trained network to Loihi's fixed-point LIF and runs it bit-exactly (Numba emulator) and in Lava's CPU simulation."),
    ("code", """
try:
    import hardware.loihi as loihi
    print("hardware.loihi available:", [n for n in dir(loihi) if not n.startswith("_")])
except ImportError as e:
    print("hardware package not installed in this build:", e)
"""),
]

if __name__ == "__main__":
    ns = {}
    write(HERE / "eventsim_tour.ipynb", run_cells(TOUR, ns))
    print("wrote", HERE / "eventsim_tour.ipynb")
