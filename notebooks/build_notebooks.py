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
event-driven simulation, EventProp training, saving the network, and the mapping to Loihi: quantisation,
bit-exact fixed-point emulation and a run in Lava's CPU simulation. Times are in ms, voltages dimensionless.
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
    ("md", """
## Towards Loihi
The `hardware` package maps the trained network to Loihi's discrete-time fixed-point CUBA LIF
(8-bit weight mantissas with an exponent, 12-bit decays, 24-bit current and voltage), runs it in a
bit-exact Numba emulator of Lava's `fixed_pt` models, and in Lava 0.10 itself (`Loihi2SimCfg`, CPU).

**Mapping at dt = 0.1225 ms** (the step `docs/hardware.md` chose from its agreement scan). The
report lists every parameter's error: time constants of the 12-bit decays (ms), Lava's `du`, `dv`,
threshold `vth` (integer), and per projection the weight error in eventsim units (voltage is
dimensionless, so weights are too). The voltage scale is calibrated on 500 training samples.
"""),
    ("code", """
import time
from eventsim.hardware.loihi import quantize, emulate, run_lava, estimate_resources
from eventsim.hardware.loihi.agreement import agreement
from eventsim.hardware.loihi.plots import plot_quantization, plot_emulation, plot_agreement
DT, T_MAX = 0.1225, 100.0                      # ms
calib = (train_in.subset(np.arange(500)), T_MAX)
lnet = quantize(net, DT, calibration=calib)
print(lnet.report.table())
print(f"largest relative weight error {100 * lnet.report.max_weight_rel_error():.2f} % of the projection's max |w|")
fig = plot_quantization(lnet)
"""),
    ("md", """
Left: the largest and rms weight error per projection (% of the largest |w|; the `[+]`/`[-]` sign
split gives each part its own 8-bit mantissa and exponent). Right: quantised minus original weight
for every synapse (eventsim units), the staircase of the mantissa step.

**Resources.** Loihi 2's per-core limits are not public; the estimate divides the chip totals by
128 cores (Loihi 1's axon limits), so treat it as an estimate.
"""),
    ("code", """
rr = estimate_resources(lnet, "loihi2")
print(rr.table())
print("cores needed:", rr.total_cores, "| chips:", rr.chips, "| fits:", rr.fits)
"""),
    ("md", """
**Bit-exact emulation of the whole test set.** `emulate` runs the fixed-point model (what Lava's
`fixed_pt` computes, step by step) on all test samples; `agreement` compares its predicted class
(earliest first output spike) with eventsim's exact simulation (the `res` of the cell above).
Input spike times are rounded to the grid (error <= dt/2) and a spike is reported at the end of
its step, so first spikes differ from the exact ones by about a step.
"""),
    ("code", """
r = agreement(net, test_in, yt, T_MAX, DT, lnet=lnet, reference=res)
emu = r["result"]
print(emu, f"({r['run_s']:.2f} s)")
print(f"class agreement with eventsim: {100 * r['agree']:.1f} % ({r['n_disagree']} of {r['n_samples']} differ); "
      f"on the {r['n_clear']} samples whose exact output first spikes are > 1 step apart: {100 * r['agree_clear']:.1f} %")
print(f"test accuracy: eventsim (exact) {100 * r['acc_eventsim']:.1f} %, Loihi fixed point {100 * r['acc_loihi']:.1f} % "
      f"(drop {r['drop_points']:.1f} points)")
for pop, fs in r["first_spike"].items():
    print(f"  {pop}: first spikes within 2 steps of eventsim {100 * fs['within_2dt']:.1f} %, "
          f"mean |difference| {fs['mean_abs_diff_ms']:.3f} ms")
print("input grid:", emu.input_stats, "| overflow:", emu.overflow)
"""),
    ("md", """
**Lava itself.** The same LoihiNet as a Lava process graph (RingBuffer -> Dense -> LIF -> Dense -> LIF)
run by Lava 0.10's `Loihi2SimCfg(select_tag="fixed_pt")` on the CPU, on the first 100 test samples
(25 block-diagonal copies of the network per Lava step, 4 windows; state reset between windows).
Lava is much slower than the emulator, so only a part of the test set here; `python benchmarks/loihi_agreement.py ... --lava-samples 1000`
runs the whole test set. The check is strict: every entry of every spike raster must be equal.
"""),
    ("code", """
idx = np.arange(100)
sub = test_in.subset(idx)
t0 = time.perf_counter()
res_lava = run_lava(lnet, sub, t_max=T_MAX, copies=25)
t_lava = time.perf_counter() - t0
emu_sub = emulate(lnet, sub, t_max=T_MAX)
mm = emu_sub.mismatches(res_lava)
print(res_lava, f"(Lava run incl. build and start-up: {t_lava:.1f} s)")
print("differing raster entries Lava vs emulator:", mm,
      f"over {res_lava.n_samples} samples x {res_lava.n_steps} steps")
assert emu_sub.same_spikes(res_lava), mm
print("Lava fixed_pt spikes == emulator spikes:", emu_sub.same_spikes(res_lava),
      "| same as the emulator's whole-test-set run:",
      all(np.array_equal(emu.rasters(p)[idx], res_lava.rasters(p)) for p in emu.populations))
"""),
    ("md", """
**One sample, float vs Loihi.** Rasters of the emulator (bars, spike at the end of its step) over
eventsim's exact spike times (circles), the voltage of the three output neurons in the fixed-point
run (dimensionless, converted back to eventsim units: threshold 1, reset to 0 after a spike).
"""),
    ("code", """
s = 0
one = emulate(lnet, test_in.subset([s]), t_max=T_MAX, record_v={"out": "all"})
ref1 = es.simulate(net, test_in.subset([s]), T_MAX)
print("first output spikes (ms)  eventsim:", np.round(ref1.first_spike_times("out")[0], 3),
      " Loihi:", one.first_spike_times("out")[0], f" label {yt[s]}")
fig = plot_emulation(one, ref1, title=f"test sample {s}: eventsim (exact) vs Loihi fixed point, dt {DT} ms")
"""),
    ("md", """
**Choosing dt.** The agreement depends mostly on the time step (input and spike times on the
grid), and through the 12-bit decays a little on the exact value of dt. A scan on the emulator
(each point re-quantises and runs the whole test set). The network here was trained for only 12
epochs, so its numbers differ from the 60-epoch networks in `docs/hardware.md`, which picks dt on
validation data.
"""),
    ("code", """
rows = []
t0 = time.perf_counter()
for dt in [0.5, 0.25, 0.2, 0.15, 0.1225, 0.1175, 0.1]:
    rows.append(agreement(net, test_in, yt, T_MAX, dt, reference=res, quantize_kwargs={"calibration": calib}))
    print(f"dt {dt:>6} ms  {rows[-1]['n_steps']:>4} steps  agreement {100 * rows[-1]['agree']:5.1f} %  "
          f"accuracy eventsim {100 * rows[-1]['acc_eventsim']:.1f} %  Loihi {100 * rows[-1]['acc_loihi']:.1f} %")
print(f"scan took {time.perf_counter() - t0:.1f} s")
fig = plot_agreement(rows, title="Yin-Yang test set: Loihi fixed point (emulator) vs eventsim")
"""),
]

if __name__ == "__main__":
    ns = {}
    write(HERE / "eventsim_tour.ipynb", run_cells(TOUR, ns))
    print("wrote", HERE / "eventsim_tour.ipynb")
