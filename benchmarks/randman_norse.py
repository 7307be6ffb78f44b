"""Randman, recurrent LIF: eventsim's EventProp recipe side by side with Norse's surrogate-gradient BPTT.

    python benchmarks/randman_norse.py [--seeds 0,1,2] [--epochs E] [--threads 2] [--dt 1.0] [--show]

Both simulators train the same network on the same data (``eventsim`` and ``norse`` rows: no
delays, weights only; an ``eventsim-delays`` row runs the recipe as it is, its input and recurrent
delays drawn from [0, 5) ms and trained with the weights, which Norse's cells cannot express):

- data: ``eventsim.models.randman.randman_splits(Settings(...))``: the same samples, split, labels;
  Norse receives each spike in the time bin ``floor(t / dt)`` of a dense (steps, batch, inputs) tensor;
- network: n_in -> hidden LIF with all-to-all recurrence (no self-connections) -> non-spiking leaky
  integrators, tau_mem 20 ms, tau_syn 5 ms, threshold 1, reset 0; Norse starts from eventsim's
  initial weights of the same seed (``LIFRecurrentCell`` input and recurrent weights, then a
  bias-free ``Linear`` into an ``LICell``);
- loss: cross-entropy of each read-out's maximum voltage over [0, t_max];
- training: Adam, the same batch size, epochs, per-epoch learning-rate decay and shuffling
  generator; the weights of the best validation epoch are kept and the test set is evaluated once.

Each simulator has its own learning rate (``--lr-eventsim``, ``--lr-norse``), each chosen once on
the validation split of seed 0 (10 epochs), never on the test set: eventsim the recipe's default
1e-2 (against 5e-3), Norse 1e-2 (against 2e-3, the rate Zenke & Vogels 2021 use on Randman; with
it, 28 % against 50 % best validation accuracy after 10 epochs).

eventsim: exact event-driven simulation and EventProp gradients in Numba on ``--threads`` threads
(``numba.set_num_threads``), float64. Norse: forward-Euler steps of ``--dt`` ms, SuperSpike
surrogate (alpha 100), back-propagation through time by torch autograd on ``--threads`` CPU
threads (``torch.set_num_threads``), float32.

samples/s = training samples x epochs / the summed wall time of the epochs (each epoch's training
and its validation pass, for both simulators alike), after a warm-up batch (Numba compile or
cache load; torch start-up). One row per simulator and seed in
``benchmarks/results/randman_norse.jsonl`` (key: simulator, seed, epochs, samples_per_class,
hidden, dt); ``--show`` prints the table.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import results_table  # noqa: E402

STUDY = "randman_norse"
KEY = ("simulator", "seed", "epochs", "samples_per_class", "hidden", "dt")
LR_NORSE = 1e-2


def dense_inputs(batch, dt: float, t_max: float):
    """A SpikeBatch as a float32 tensor (steps, samples, neurons): each spike adds 1 to the bin
    ``floor(t / dt)``; spikes at or after ``t_max`` are dropped."""
    import torch

    n_steps = int(round(t_max / dt))
    x = np.zeros((n_steps, batch.n_samples, batch.n_neurons), np.float32)
    sample = np.repeat(np.arange(batch.n_samples), np.diff(batch.offsets))
    step = np.floor(np.asarray(batch.times) / dt).astype(np.int64)
    keep = step < n_steps
    np.add.at(x, (step[keep], sample[keep], np.asarray(batch.ids)[keep]), 1.0)
    return torch.from_numpy(x)


class NorseNet:
    """LIFRecurrentCell hidden layer + bias-free Linear + LICell read-out, weights from an eventsim network."""

    def __init__(self, net, s, dt: float):
        import torch
        from norse.torch import LICell, LIFParameters, LIFRecurrentCell, LIParameters

        with_delays = [k for k, p in net.projections.items() if np.any(p.delay_array())]
        if with_delays:
            raise ValueError(f"NorseNet has no synaptic delays; the network has delays on {with_delays}")
        w_in = torch.tensor(net.projections["in->hidden"].to_dense(), dtype=torch.float32)
        rec = net.projections.get("hidden->hidden")
        w_rec = torch.tensor(rec.to_dense() if rec is not None else np.zeros((s.hidden, s.hidden)), dtype=torch.float32)
        w_out = torch.tensor(net.projections["hidden->out"].to_dense(), dtype=torch.float32)

        def f32(v):
            return torch.tensor(v, dtype=torch.float32)

        p = LIFParameters(tau_syn_inv=f32(1.0 / s.tau_syn), tau_mem_inv=f32(1.0 / s.tau_mem),
                          v_leak=f32(0.0), v_th=f32(1.0), v_reset=f32(0.0),
                          method="super", alpha=f32(100.0))
        self.cell = LIFRecurrentCell(s.n_in, s.hidden, p=p, dt=dt, autapses=False,
                                     input_weights=torch.nn.Parameter(w_in),
                                     recurrent_weights=torch.nn.Parameter(w_rec))
        self.linear = torch.nn.Linear(s.hidden, s.n_classes, bias=False, dtype=torch.float32)
        with torch.no_grad():
            self.linear.weight.copy_(w_out)
        self.readout = LICell(p=LIParameters(tau_syn_inv=f32(1.0 / s.tau_syn),
                                             tau_mem_inv=f32(1.0 / s.tau_mem)), dt=dt)
        self.modules = torch.nn.ModuleList([self.cell, self.linear, self.readout])

    def parameters(self):
        return self.modules.parameters()

    def state_dict(self):
        return {k: v.detach().clone() for k, v in self.modules.state_dict().items()}

    def load_state_dict(self, d):
        self.modules.load_state_dict(d)

    def __call__(self, x):
        """Max over time of each read-out's voltage, shape (samples, classes); x: (steps, samples, inputs)."""
        import torch

        sh, so = None, None
        vmax = None
        for t in range(x.shape[0]):
            z, sh = self.cell(x[t], sh)
            v, so = self.readout(self.linear(z), so)
            vmax = v if vmax is None else torch.maximum(vmax, v)
        return vmax


def train_norse(s, splits, *, dt: float, lr: float, threads: int) -> dict:
    """Train the Norse network of ``s`` on ``splits``; returns the row's figures."""
    import torch

    from eventsim.models import randman as rm

    torch.set_num_threads(threads)
    torch.manual_seed(s.seed)
    (tr, y), (va, yv), (te, yt) = splits
    X, Xv, Xt = (dense_inputs(b, dt, s.t_max) for b in (tr, va, te))
    Y, Yv, Yt = (torch.from_numpy(np.asarray(v, np.int64)) for v in (y, yv, yt))
    model = NorseNet(rm.build(s), s, dt)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=s.lr_decay)
    ce = torch.nn.CrossEntropyLoss()

    def accuracy(Xa, Ya):
        with torch.no_grad():
            return float((model(Xa).argmax(1) == Ya).float().mean())

    warm = model.state_dict()
    loss = ce(model(X[:, :s.batch_size]), Y[:s.batch_size])  # warm-up, then restore the initial weights
    loss.backward()
    model.load_state_dict(warm)
    opt.zero_grad()
    rng = np.random.Generator(np.random.PCG64(s.seed))
    n = len(y)
    best, best_state, best_epoch, epoch_s, val_acc = -1.0, None, -1, [], []
    for epoch in range(s.epochs):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        for a in range(0, n, s.batch_size):
            idx = torch.from_numpy(order[a:a + s.batch_size])
            opt.zero_grad()
            loss = ce(model(X[:, idx]), Y[idx])
            loss.backward()
            opt.step()
        sched.step()
        va_acc = accuracy(Xv, Yv)
        epoch_s.append(time.perf_counter() - t0)
        val_acc.append(va_acc)
        if va_acc > best:
            best, best_state, best_epoch = va_acc, model.state_dict(), epoch
    model.load_state_dict(best_state)
    return {"test_acc": accuracy(Xt, Yt), "best_val_acc": best, "best_epoch": best_epoch + 1,
            "val_acc": val_acc, "epoch_s": epoch_s, "train_samples_per_s": n * s.epochs / sum(epoch_s),
            "lr": lr, "threads": threads, "backend": f"torch {torch.__version__} CPU, float32, BPTT"}


def train_eventsim(s, *, threads: int) -> dict:
    """Train eventsim's recipe with ``s``; returns the row's figures."""
    import numba

    import eventsim as es
    from eventsim.models import randman as rm

    numba.set_num_threads(threads)
    (tr, y), _, _ = rm.randman_splits(s)
    net = rm.build(s)
    es.eventprop.value_and_grad(net, tr.subset(np.arange(s.batch_size)), y[:s.batch_size], rm.loss(), s.t_max)
    m = rm.train(s, None, progress=False)
    return {"test_acc": m["test_acc"], "best_val_acc": m["best_val_acc"], "best_epoch": m["best_epoch"],
            "train_samples_per_s": m["train_samples_per_s"], "lr": s.lr, "threads": threads,
            "backend": f"numba {numba.__version__}, {threads} threads, float64, exact EventProp"}


def print_table(rows) -> None:
    print("| simulator | seeds | test accuracy % (per seed) | samples/s (median) |")
    print("|---|---|---|---|")
    groups = {}
    for r in rows:
        groups.setdefault((r["simulator"], r.get("dt"), r.get("epochs"), r.get("samples_per_class"), r.get("hidden")),
                          []).append(r)
    for (sim, dt, ep, spc, hid), g in groups.items():
        accs = ", ".join(f"{100 * r['test_acc']:.1f}" for r in sorted(g, key=lambda r: r["seed"]))
        rate = statistics.median(r["train_samples_per_s"] for r in g)
        name = f"{sim} (hidden {hid}, {ep} epochs, {spc}/class" + (f", dt {dt} ms)" if sim == "norse" else ")")
        print(f"| {name} | {len(g)} | {accs} | {rate:.0f} |")


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT))
    from eventsim.models import randman as rm

    d = rm.Settings()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=results_table.HelpFormatter)
    ap.add_argument("--seeds", default="0", help="comma-separated weight/shuffling seeds")
    ap.add_argument("--epochs", type=int, default=d.epochs, help="epochs per run")
    ap.add_argument("--samples-per-class", type=int, default=d.samples_per_class, help="Randman samples per class")
    ap.add_argument("--hidden", type=int, default=d.hidden, help="recurrent LIF neurons")
    ap.add_argument("--threads", type=int, default=2, help="Numba threads (eventsim) and torch threads (Norse)")
    ap.add_argument("--dt", type=float, default=1.0, help="Norse time step (ms)")
    ap.add_argument("--lr-eventsim", type=float, default=d.lr, help="eventsim's Adam learning rate")
    ap.add_argument("--lr-norse", type=float, default=LR_NORSE, help="Norse's Adam learning rate")
    ap.add_argument("--simulators", default="eventsim,eventsim-delays,norse",
                    help="comma-separated: eventsim, eventsim-delays, norse")
    results_table.add_table_arguments(ap)
    args = ap.parse_args(argv)
    folder = Path(args.results)
    if args.show:
        print_table(results_table.read_rows(STUDY, folder))
        return 0
    sims = [x.strip() for x in args.simulators.split(",") if x.strip()]
    bad = [x for x in sims if x not in ("eventsim", "eventsim-delays", "norse")]
    if bad:
        ap.error(f"unknown --simulators {bad}")
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    for seed in [int(x) for x in args.seeds.split(",")]:
        s_delays = dataclasses.replace(d, seed=seed, epochs=args.epochs, samples_per_class=args.samples_per_class,
                                       hidden=args.hidden, lr=args.lr_eventsim)
        s = dataclasses.replace(s_delays, delay_max=0.0, learn_delays=False)
        for sim in sims:
            load0 = list(os.getloadavg())
            if sim == "eventsim-delays":
                fig = train_eventsim(s_delays, threads=args.threads)
            elif sim == "eventsim":
                fig = train_eventsim(s, threads=args.threads)
            else:
                fig = train_norse(s, rm.randman_splits(s), dt=args.dt, lr=args.lr_norse, threads=args.threads)
            row = {"simulator": sim, "seed": seed, "epochs": s.epochs, "samples_per_class": s.samples_per_class,
                   "hidden": s.hidden, "dt": args.dt if sim == "norse" else None, "n_in": s.n_in,
                   "n_classes": s.n_classes, "t_max": s.t_max, "batch": s.batch_size, **fig,
                   "load_avg_before": load0, "load_avg_after": list(os.getloadavg()), **machine}
            results_table.append_rows(STUDY, [row], key=KEY, folder=folder)
            print(f"  seed {seed}, {sim}: test {100 * fig['test_acc']:.1f} %, "
                  f"{fig['train_samples_per_s']:.0f} samples/s", flush=True)
    print_table(results_table.read_rows(STUDY, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
