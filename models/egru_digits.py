"""Recipe: EGRU on sequential digits (pixel by pixel, 64 steps; row by row, 8 steps) and on the
delayed-XOR long-memory task (with a dense torch.nn.GRU baseline).

Commands (from the repository root)::

    eventsim train egru-digits --encoding pixel [--out DIR --plot]       # 64 steps, 1 input
    eventsim train egru-digits --encoding pixel --augment 5,0.05,0.3      # distorted training images
    eventsim train egru-digits --encoding row                             # 8 steps, 8 inputs
    eventsim train egru-digits --task adding --model egru|gru             # long-memory task (adding problem)
    eventsim train egru-digits --task delayed-xor --model egru|gru        # long-memory task (delayed XOR)
    python -m eventsim.models.egru_digits ...                                      # same, without the CLI

Digits: the 8x8 handwritten digits (UCI, as in scikit-learn), fixed train/test split of ``eventsim.data.digits`` (1438/359),
intensities in [0, 1]. Architecture: one EGRU layer (row by row) or two stacked layers (pixel by
pixel; EvNN conventions, see ``docs/egru.md``) and a linear read-out of the output trace at the last
step, softmax cross-entropy. Pixel by pixel, every training image is shifted by a random sub-pixel
offset in every epoch (``augment``, ``image_augmenter``). Training: Adam
(``eventsim.optim``), learning rate decayed by ``lr_decay`` every ``decay_every`` epochs, joint
gradient-norm clipping, thresholds clamped to [0, 1] after each step, and a one-sided activity
penalty ``activity_reg * max(0, mean(o) - activity_target)^2``. The model is trained on the full
training set for a fixed number of epochs and evaluated once on the test set (the hyper-parameters
below were chosen on a validation split of the training set, ``--val-fraction``).

Long-memory tasks, EGRU against a dense torch.nn.GRU with the same data, size and optimiser:
the adding problem (``eventsim.egru.tasks.adding_problem``: report the sum of two marked numbers of
a random sequence at its last step; mean squared error, trivial baseline 1/6) and delayed XOR
(``tasks.delayed_xor``: two marked +-1 values among +-1 distractors, the XOR of their signs at the
last step, >= T/2 steps after the second mark).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from eventsim.egru import EGRUClassifier, EGRUConfig, fit, tasks
from eventsim.files import atomic_savefig, atomic_write_text
from eventsim.optim import ExponentialDecay

from .digits import augment_arg

#: hyper-parameters per digits encoding (chosen on a validation split of the training set)
RECIPES: Dict[str, Dict[str, Any]] = {
    # two stacked layers; every training image shifted by its own random sub-pixel offset (up to
    # 0.3 pixel in x and y, bilinear) in every epoch
    "pixel": dict(hidden=[192, 192], epochs=120, batch_size=32, lr=1e-2, lr_decay=0.5, decay_every=30, clip=1.0,
                  thr_mean=0.3, gamma=0.7, width=1.0, weight_gain=1.0, activity_reg=0.0, activity_target=0.2,
                  readout="last", weight_decay=0.0, trace_decay=0.9, z_bias=0.0, augment=(0.0, 0.0, 0.3)),
    "row": dict(hidden=512, epochs=30, batch_size=32, lr=1e-2, lr_decay=0.5, decay_every=8, clip=1.0,
                thr_mean=0.3, gamma=0.7, width=1.0, weight_gain=1.0, activity_reg=1.0, activity_target=0.15,
                readout="last", weight_decay=0.0, trace_decay=0.9, z_bias=0.0, augment=None),
}
#: long-memory task settings (EGRU and the dense GRU baseline use the same data, sizes and optimiser)
LONG_RECIPES: Dict[str, Dict[str, Any]] = {
    "adding": dict(n_steps=50, n_train=10000, n_test=1000, hidden=64, epochs=30, batch_size=32, lr=3e-3,
                   lr_decay=0.5, decay_every=10, clip=1.0, thr_mean=0.3, gamma=0.7, width=1.0, activity_reg=0.0,
                   activity_target=0.2),
    "delayed-xor": dict(n_steps=50, n_train=4000, n_test=1000, hidden=64, epochs=40, batch_size=32, lr=3e-3,
                        lr_decay=0.5, decay_every=15, clip=1.0, thr_mean=0.3, gamma=0.7, width=1.0,
                        activity_reg=0.0, activity_target=0.2),
}


def recipe(encoding: str, **overrides: Any) -> Dict[str, Any]:
    """The hyper-parameters for ``encoding`` ('pixel' or 'row') with ``overrides`` applied (None ignored)."""
    if encoding not in RECIPES:
        raise ValueError(f"encoding must be one of {sorted(RECIPES)}, got {encoding!r}")
    return _with_overrides(RECIPES[encoding], overrides)


def _with_overrides(base: Dict[str, Any], overrides: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of ``base`` with ``overrides`` applied (None values ignored, unknown keys rejected)."""
    cfg = dict(base)
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in cfg:
            raise ValueError(f"unknown hyper-parameter {k!r} (known: {sorted(cfg)})")
        cfg[k] = v
    return cfg


def build_model(n_in: int, n_out: int, cfg: Dict[str, Any], seed: int = 0) -> EGRUClassifier:
    """EGRU classifier (``cfg['hidden']`` units, or a list of sizes for stacked layers) from a recipe dict.

    ``z_bias``: initial bias of the update gate z (both bias vectors are zero in EvNN's
    initialisation); z_bias > 0 makes units keep their state longer at the start of training
    (c_t = z c_{t-1} + (1 - z) g), the "forget-gate bias" remedy for long sequences.
    """
    conf = EGRUConfig(thr_mean=cfg["thr_mean"], gamma=cfg["gamma"], width=cfg["width"],
                      weight_gain=cfg.get("weight_gain", 1.0), trace_decay=cfg.get("trace_decay", 0.9))
    model = EGRUClassifier(n_in, cfg["hidden"], n_out, readout=cfg.get("readout", "last"), config=conf, seed=seed)
    zb = float(cfg.get("z_bias", 0.0))
    if zb:
        for i, layer in enumerate(model.egru.layers):
            model.params[f"l{i}.b_x"][:layer.hidden_size] = zb
    return model


def image_augmenter(encoding: str, amplitudes):
    """``augment(X_batch, rng)`` for ``eventsim.egru.fit``: random small affine distortions of the
    digit images behind the sequences (``eventsim.data.random_affine_images``), or None.

    ``amplitudes``: None or False (no augmentation) or (max rotation in degrees, max relative scale, max
    shift in pixels).
    """
    if amplitudes is None or amplitudes is False:
        return None
    from eventsim.data import random_affine_images

    rot, sc, sh = (float(a) for a in amplitudes)

    def augment(xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        img = random_affine_images(xb.reshape(len(xb), 64), (8, 8), rng, rot, sc, sh)
        return tasks.sequential_digits(img, encoding)

    return augment


def _schedule(cfg: Dict[str, Any], n_train: int) -> ExponentialDecay:
    steps_per_epoch = -(-n_train // cfg["batch_size"])
    return ExponentialDecay(cfg["lr"], cfg["lr_decay"], every=max(1, cfg["decay_every"] * steps_per_epoch))


def train(encoding: str = "pixel", *, seed: int = 0, out_dir: Optional[str] = None, plot: bool = False,
          progress: bool = True, val_fraction: float = 0.0, model: Optional[EGRUClassifier] = None,
          **overrides: Any) -> Tuple[Dict[str, Any], EGRUClassifier]:
    """Train the digits recipe; returns (metrics, model).

    ``encoding``: 'pixel' (T = 64, I = 1) or 'row' (T = 8, I = 8); ``overrides``: any key of
    ``RECIPES[encoding]``; ``val_fraction`` > 0 holds out that fraction of the training set (seeded)
    and reports validation metrics instead of touching the test set for model selection. ``model``:
    start from this classifier (e.g. ``EGRUClassifier.from_ntt``, masks kept) instead of the recipe's
    initialisation; its sizes must fit the encoding (``hidden`` in ``overrides`` is then ignored). Metrics:
    ``test_accuracy``, ``test_activity`` (mean fraction of units emitting per step on the test set),
    ``test_activity_per_step``, ``fwd_mac_reduction`` (dense GRU / EGRU forward MACs, recurrent and
    total), ``train_time_s``, the recipe and the per-epoch ``history``. With ``out_dir``: writes
    ``egru_<encoding>.h5`` (model), ``egru_<encoding>.json`` (metrics) and, if ``plot``, a PNG of
    the learning curves.
    """
    cfg = recipe(encoding, **overrides)
    Xtr, ytr = tasks.digits_sequences("train", encoding)
    Xte, yte = tasks.digits_sequences("test", encoding)
    if not (0.0 <= val_fraction < 1.0):
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    X_eval, y_eval, eval_name = Xte, yte, "test"
    if val_fraction > 0:
        perm = np.random.default_rng([seed, 12345]).permutation(len(Xtr))
        n_val = int(round(val_fraction * len(Xtr)))
        X_eval, y_eval, eval_name = Xtr[perm[:n_val]], ytr[perm[:n_val]], "val"
        Xtr, ytr = Xtr[perm[n_val:]], ytr[perm[n_val:]]
    if model is None:
        model = build_model(Xtr.shape[2], 10, cfg, seed=seed)
    elif (model.egru.layers[0].input_size, model.n_out) != (Xtr.shape[2], 10):
        raise ValueError(f"model must have {Xtr.shape[2]} inputs and 10 outputs for the {encoding!r} encoding, "
                         f"got {model.egru.layers[0].input_size} and {model.n_out}")
    t0 = time.perf_counter()
    hist = fit(model, Xtr, ytr, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=_schedule(cfg, len(Xtr)),
               weight_decay=cfg.get("weight_decay", 0.0), clip=cfg["clip"], X_val=X_eval, y_val=y_eval, activity_reg=cfg["activity_reg"],
               activity_target=cfg["activity_target"], seed=seed, progress=progress,
               augment=image_augmenter(encoding, cfg.get("augment")))
    train_time = time.perf_counter() - t0
    ev = model.evaluate(X_eval, y_eval)
    _, out = model.forward(X_eval)
    macs = out.macs()
    metrics: Dict[str, Any] = {
        "task": f"digits-{encoding}", "encoding": encoding, "seed": seed, "split": eval_name,
        f"{eval_name}_accuracy": ev["accuracy"], f"{eval_name}_loss": ev["loss"],
        f"{eval_name}_activity": ev["activity"],
        f"{eval_name}_activity_per_step": [float(a) for a in out.runs[0].activity_per_step],
        "train_accuracy_last_epoch": hist["train_acc"][-1], "train_activity_last_epoch": hist["train_activity"][-1],
        "fwd_mac_reduction_recurrent": macs["rec_dense"] / max(1, macs["rec"]),
        "fwd_mac_reduction_total": macs["total_dense"] / max(1, macs["total"]),
        "bwd_mac_reduction_total_last_epoch": hist["bwd_macs_dense"][-1] / max(1.0, hist["bwd_macs"][-1]),
        "back_fraction_last_epoch": hist["back_fraction"][-1],
        "train_time_s": train_time, "n_train": len(Xtr), "n_eval": len(X_eval), "recipe": cfg, "history": hist,
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / f"egru_{encoding}.h5")
        atomic_write_text(out / f"egru_{encoding}.json", json.dumps(metrics, indent=2, default=float))
        if plot:
            plot_history(hist, out / f"egru_{encoding}.png", title=f"EGRU digits ({encoding})")
    return metrics, model


def plot_history(hist: Dict[str, Any], path, title: str = "EGRU") -> None:
    """Loss, accuracy and activity per epoch, saved as PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = hist["epoch"]
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.2))
    ax[0].plot(ep, hist["train_loss"], label="train")
    ax[0].plot(ep, hist["val_loss"], label="eval")
    ax[0].set_ylabel("loss")
    ax[1].plot(ep, hist["train_acc"], label="train")
    ax[1].plot(ep, hist["val_acc"], label="eval")
    ax[1].set_ylabel("accuracy")
    ax[2].plot(ep, hist["train_activity"], label="train")
    ax[2].plot(ep, hist["val_activity"], label="eval")
    ax[2].set_ylabel("activity (fraction emitting / step)")
    for a in ax:
        a.set_xlabel("epoch")
        a.legend()
    fig.suptitle(title)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------ long-memory tasks
LONG_TASKS = ("adding", "delayed-xor")
#: variance of the sum of two U(0, 1) numbers: the MSE of always answering 1 on the adding problem
ADDING_BASELINE_MSE = 1.0 / 6.0
#: the adding problem counts as solved below this test MSE (6 % of the trivial baseline)
ADDING_SOLVED_MSE = 0.01


def long_memory_recipe(task: str, **overrides: Any) -> Dict[str, Any]:
    """Settings of a long-memory task (``LONG_RECIPES[task]``) with ``overrides`` applied (None ignored)."""
    if task not in LONG_TASKS:
        raise ValueError(f"task must be one of {LONG_TASKS}, got {task!r}")
    return _with_overrides(LONG_RECIPES[task], overrides)


def train_long_memory(model: str = "egru", *, task: str = "adding", seed: int = 0, progress: bool = True,
                      **overrides: Any) -> Dict[str, Any]:
    """A long-memory task with an EGRU (``model='egru'``) or a dense torch.nn.GRU (``'gru'``, float64,
    read-out of the last hidden state, same data, optimiser and schedule).

    ``task='adding'`` (``tasks.adding_problem``): report the sum of the two marked numbers of a
    random sequence at the last step; mean squared error (trivial baseline 1/6, solved below
    ``ADDING_SOLVED_MSE``). ``'delayed-xor'``: XOR of the signs of two marked values among +-1
    distractors (accuracy, chance 0.5). Returns metrics: test MSE or accuracy, activity (EGRU),
    the settings and the history.
    """
    if model not in ("egru", "gru"):
        raise ValueError(f"model must be 'egru' or 'gru', got {model!r}")
    cfg = long_memory_recipe(task, **overrides)
    make = tasks.adding_problem if task == "adding" else tasks.delayed_xor
    Xtr, ytr = make(cfg["n_train"], cfg["n_steps"], seed=np.random.default_rng([seed, 1]))
    Xte, yte = make(cfg["n_test"], cfg["n_steps"], seed=np.random.default_rng([seed, 2]))
    regression = task == "adding"
    n_out = 1 if regression else 2
    t0 = time.perf_counter()
    if model == "gru":
        hist, score = _train_torch_gru(Xtr, ytr, Xte, yte, cfg, seed, progress, n_out, regression)
        metrics: Dict[str, Any] = {"test_activity": None}
    else:
        conf = EGRUConfig(thr_mean=cfg["thr_mean"], gamma=cfg["gamma"], width=cfg["width"])
        m = EGRUClassifier(Xtr.shape[2], cfg["hidden"], n_out, loss="mse" if regression else "ce", config=conf,
                           seed=seed)
        hist = fit(m, Xtr, ytr, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=_schedule(cfg, len(Xtr)),
                   clip=cfg["clip"], X_val=Xte, y_val=yte, activity_reg=cfg["activity_reg"],
                   activity_target=cfg["activity_target"], seed=seed, progress=progress)
        ev = m.evaluate(Xte, yte)
        score = ev["loss"] if regression else ev["accuracy"]
        metrics = {"test_activity": ev["activity"], "fwd_mac_reduction_total": ev["fwd_macs_dense"] / max(1, ev["fwd_macs"])}
    if regression:
        metrics.update({"test_mse": score, "baseline_mse": ADDING_BASELINE_MSE, "solved": bool(score < ADDING_SOLVED_MSE)})
    else:
        metrics["test_accuracy"] = score
    metrics.update({"task": task, "model": model, "seed": seed, "train_time_s": time.perf_counter() - t0,
                    "recipe": cfg, "history": hist})
    return metrics


def _train_torch_gru(Xtr, ytr, Xte, yte, cfg, seed: int, progress: bool, n_out: int, regression: bool):
    """Dense GRU baseline in torch (float64, CPU): GRU(I, H) -> Linear(H, n_out) on h_T; cross-entropy
    or MSE. Returns (history, final test accuracy or MSE)."""
    import torch

    torch.manual_seed(seed)
    dt = torch.float64
    gru = torch.nn.GRU(Xtr.shape[2], cfg["hidden"], batch_first=True).to(dt)
    head = torch.nn.Linear(cfg["hidden"], n_out).to(dt)
    params = list(gru.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    steps_per_epoch = -(-len(Xtr) // cfg["batch_size"])
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg["decay_every"] * steps_per_epoch, gamma=cfg["lr_decay"])
    Xt, yt = torch.tensor(Xtr, dtype=dt), torch.tensor(ytr)
    Xe, ye = torch.tensor(Xte, dtype=dt), torch.tensor(yte)

    def loss_fn(out, target):
        if regression:
            return torch.mean((out[:, 0] - target) ** 2)
        return torch.nn.functional.cross_entropy(out, target)

    hist: Dict[str, List[float]] = {"epoch": [], "train_loss": [], "val_score": []}
    for ep in range(cfg["epochs"]):
        order = np.random.default_rng([seed, ep]).permutation(len(Xtr))
        tot, nb = 0.0, 0
        for a in range(0, len(Xtr), cfg["batch_size"]):
            idx = torch.tensor(order[a:a + cfg["batch_size"]])
            _, h = gru(Xt[idx])
            loss = loss_fn(head(h[-1]), yt[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg["clip"])
            opt.step()
            sched.step()
            tot += loss.item()
            nb += 1
        with torch.no_grad():
            _, h = gru(Xe)
            out = head(h[-1])
            score = float(loss_fn(out, ye)) if regression else float((out.argmax(1) == ye).double().mean())
        hist["epoch"].append(ep + 1)
        hist["train_loss"].append(tot / nb)
        hist["val_score"].append(score)
        if progress:
            print(f"GRU epoch {ep + 1:3d}  loss {tot / nb:.4f}  test {'mse' if regression else 'acc'} {score:.4f}",
                  flush=True)
    return hist, hist["val_score"][-1]


# ------------------------------------------------------------------ CLI
def _sizes(text: str):
    """'256' -> 256; '192,192' -> [192, 192] (stacked layers)."""
    parts = [int(t) for t in str(text).split(",") if t.strip()]
    if not parts or any(p < 1 for p in parts):
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive integers, got {text!r}")
    return parts[0] if len(parts) == 1 else parts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``eventsim train egru-digits``."""
    parser.add_argument("--task", choices=["digits", *LONG_TASKS], default="digits",
                        help="sequential digits, or a long-memory task (adding problem, delayed XOR)")
    parser.add_argument("--encoding", choices=sorted(RECIPES), default="pixel",
                        help="digits: 'pixel' (64 steps x 1 input) or 'row' (8 steps x 8 inputs)")
    parser.add_argument("--model", choices=["egru", "gru"], default="egru",
                        help="long-memory tasks only: EGRU or the dense torch GRU baseline")
    parser.add_argument("--hidden", type=_sizes, default=None,
                        help="hidden units, or comma-separated sizes of stacked layers (default: recipe)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: recipe)")
    parser.add_argument("--lr", type=float, default=None, help="initial learning rate (default: recipe)")
    parser.add_argument("--activity-reg", type=float, default=None, help="activity penalty weight")
    parser.add_argument("--activity-target", type=float, default=None, help="activity above which it acts")
    parser.add_argument("--augment", type=augment_arg, default=None, metavar="ROT,SCALE,SHIFT",
                        help="digits: random affine distortion of the training images, max rotation (deg), "
                             "relative scale and shift (pixels), e.g. 10,0.1,0.5; 'none' turns it off "
                             "(default: recipe)")
    parser.add_argument("--steps", type=int, default=None, help="long-memory task: sequence length (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.0,
                        help="digits: hold out this fraction of the training set and evaluate on it")
    parser.add_argument("--out", default=None, help="folder for model (.h5), metrics (.json) and plots")
    parser.add_argument("--plot", action="store_true", help="save learning curves as PNG (needs --out)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch output")


def cli_train_egru_digits(args: argparse.Namespace) -> int:
    """Run the recipe selected by ``args`` (see ``add_arguments``) and print the headline metrics."""
    if args.task == "digits":
        metrics, _ = train(args.encoding, seed=args.seed, out_dir=args.out, plot=args.plot, progress=not args.quiet,
                           val_fraction=args.val_fraction, hidden=args.hidden, epochs=args.epochs, lr=args.lr,
                           activity_reg=args.activity_reg, activity_target=args.activity_target,
                           augment=args.augment)
        s = metrics["split"]
        print(f"EGRU digits ({args.encoding}): {s} accuracy {100 * metrics[f'{s}_accuracy']:.2f} %, "
              f"mean activity {100 * metrics[f'{s}_activity']:.1f} %, forward MACs {metrics['fwd_mac_reduction_total']:.1f}x "
              f"fewer than a dense GRU (recurrent {metrics['fwd_mac_reduction_recurrent']:.1f}x), "
              f"trained in {metrics['train_time_s']:.0f} s")
        return 0
    metrics = train_long_memory(args.model, task=args.task, seed=args.seed, progress=not args.quiet,
                                hidden=args.hidden, epochs=args.epochs, lr=args.lr, n_steps=args.steps,
                                activity_reg=args.activity_reg, activity_target=args.activity_target)
    act = metrics["test_activity"]
    if args.task == "adding":
        score = (f"test MSE {metrics['test_mse']:.4f} (trivial baseline {ADDING_BASELINE_MSE:.4f}; "
                 f"{'solved' if metrics['solved'] else 'not solved'}: < {ADDING_SOLVED_MSE})")
    else:
        score = f"test accuracy {100 * metrics['test_accuracy']:.2f} % (chance 50 %)"
    print(f"{args.task} (T={metrics['recipe']['n_steps']}) {args.model.upper()}: {score}"
          + ("" if act is None else f", mean activity {100 * act:.1f} %") + f", trained in {metrics['train_time_s']:.0f} s")
    if args.out is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / f"{args.task.replace('-', '_')}_{args.model}.json",
                          json.dumps(metrics, indent=2, default=float))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eventsim.models.egru_digits", description=__doc__.splitlines()[0])
    add_arguments(ap)
    return cli_train_egru_digits(ap.parse_args(argv))


if __name__ == "__main__":
    import sys

    sys.exit(main())
