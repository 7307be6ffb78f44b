"""``eventsim ntt``: run Neural Tangent Transfer from the command line.

Example::

    eventsim ntt --layers 64,300,100,10 --density 0.05 --steps 2000 --seed 0 --out conn.h5 --plot loss.png

writes an ``eventsim.ntt`` HDF5 file (all projections, masks, weights, loss history, provenance;
``eventsim.ntt.load_result``) and, with ``--connectome-dir``, one ``eventsim.connectome`` file per
projection. Unlabelled inputs: ``--data digits`` (scikit-learn digits training split, z-scored),
``gaussian`` (1024 standard-normal samples from the seed) or a ``.npy`` file of shape (n, n_in)
(MLP) or (n, T, I) (GRU).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

import numpy as np

from ..files import require_regular_file


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``eventsim ntt`` options to ``parser`` and return it."""
    parser.add_argument("--layers", required=True,
                        help="layer sizes, e.g. 64,300,100,10 (MLP) or I,H,C (GRU: inputs per step, units, outputs)")
    parser.add_argument("--twin", choices=("mlp", "gru"), default="mlp", help="differentiable stand-in (default mlp)")
    parser.add_argument("--density", type=float, required=True, help="kept fraction per weight tensor, in (0, 1]")
    parser.add_argument("--steps", type=int, default=2000, help="Adam steps (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the teacher init and batch order (default 0)")
    parser.add_argument("--out", required=True, help="output HDF5 file (format eventsim.ntt)")
    parser.add_argument("--plot", default=None, help="save a plot of the loss terms and layer densities here")
    parser.add_argument("--variant", choices=("active", "all"), default="all",
                        help="student NTK over all entries of m*W ('all', default, as the reference) or kept weights only ('active')")
    parser.add_argument("--data", default="digits", help="digits | gaussian | PATH.npy (default digits)")
    parser.add_argument("--seq-len", type=int, default=None, help="GRU with gaussian data: time steps T")
    parser.add_argument("--batch-size", type=int, default=64, help="inputs per step, split in two NTK halves (64)")
    parser.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (5e-4)")
    parser.add_argument("--lambda-k", type=float, default=1e-2, help="weight of the NTK distance (1e-2)")
    parser.add_argument("--lambda-2", type=float, default=1e-4, help="L2 weight, divided by the density (1e-4)")
    parser.add_argument("--balance", action="store_true",
                        help="choose --lambda-k and --lambda-2 so that the loss terms start in the ratios the defaults "
                             "give on MLP twins of digits (eventsim.ntt.balanced_lambdas); use it for --twin gru, whose "
                             "logits are ~100x smaller")
    parser.add_argument("--mask-every", type=int, default=100, help="mask update period in steps (100)")
    parser.add_argument("--dense-readout", action="store_true", help="do not prune the last weight tensor")
    parser.add_argument("--keep-dense", default="",
                        help="comma-separated weight tensors not pruned, e.g. W0 (the twin's names: W0, W1, ... for an "
                             "MLP; W, R, W_out for a GRU)")
    parser.add_argument("--freeze", default="",
                        help="comma-separated parameters NTT leaves at the initialisation, e.g. W0 with --keep-dense W0 "
                             "(only the other projections are chosen and trained)")
    parser.add_argument("--no-bias", action="store_true", help="MLP without biases (as LIF projections)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--connectome-dir", default=None,
                        help="also write one eventsim.connectome file per projection into this folder")
    parser.add_argument("--bias-neuron", action="store_true",
                        help="with --connectome-dir (MLP with biases): write the biases as the synapses of a bias "
                             "neuron, the last neuron of 'in', which must fire once at the start of every sample "
                             "(NTTResult.to_connectomes(bias_neuron=True)); without it the files hold the weights only")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _parse_layers(text: str) -> List[int]:
    try:
        sizes = [int(t) for t in str(text).replace(" ", "").split(",") if t]
    except ValueError:
        raise ValueError(f"--layers must be comma-separated integers, got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"--layers must list at least two positive sizes, got {text!r}")
    return sizes


def _load_inputs(args, twin) -> np.ndarray:
    kind = twin.kind
    if args.data == "digits":
        from .experiments import digits_data

        X = digits_data()["X_train"]
        if kind == "mlp":
            if twin.n_in != 64:
                raise ValueError(f"--layers: digits inputs have 64 pixels, the first size is {twin.n_in}")
            return X
        if 64 % twin.n_in:
            raise ValueError(f"--layers: the GRU input size must divide 64 for digits, got {twin.n_in}")
        return X.reshape(X.shape[0], 64 // twin.n_in, twin.n_in)
    if args.data == "gaussian":
        rng = np.random.default_rng([args.seed, 5])
        return rng.standard_normal((1024,) + twin.input_shape())
    if args.data.endswith(".npy"):
        require_regular_file(args.data, "--data")
        try:
            return np.load(args.data, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"--data: {args.data!r} is not a readable .npy array ({e})") from None
    raise ValueError(f"--data must be 'digits', 'gaussian' or a .npy file, got {args.data!r}")


def cli_ntt(args: argparse.Namespace) -> int:
    """Run ``eventsim ntt`` with parsed ``args`` (see ``add_arguments``); returns the exit code (0 on success)."""
    import torch

    from .core import run_ntt
    from .twins import GRUTwin, MLPTwin

    sizes = _parse_layers(args.layers)
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads!r}")
        torch.set_num_threads(args.threads)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise ValueError(f"--out: folder {out_dir!r} does not exist")
    if args.bias_neuron and (args.twin != "mlp" or args.no_bias or not args.connectome_dir):
        raise ValueError("--bias-neuron needs --twin mlp with biases (no --no-bias) and --connectome-dir")
    if args.twin == "mlp":
        twin = MLPTwin(sizes, bias=not args.no_bias)
    else:
        if len(sizes) != 3:
            raise ValueError(f"--layers for the GRU twin must be I,H,C, got {args.layers!r}")
        if args.data == "digits":
            T = 64 // sizes[0] if sizes[0] and 64 % sizes[0] == 0 else 1
        elif args.data == "gaussian":
            if args.seq_len is None:
                raise ValueError("--seq-len is required for --twin gru with --data gaussian")
            T = args.seq_len
        else:
            T = 1
            if args.data.endswith(".npy"):
                require_regular_file(args.data, "--data")
                shape = np.load(args.data, mmap_mode="r", allow_pickle=False).shape
                if len(shape) != 3:
                    raise ValueError(f"--data: a GRU needs an array (samples, steps, inputs), got shape {shape}")
                T = int(shape[1])
        twin = GRUTwin(sizes[0], sizes[1], sizes[2], T)
    X = _load_inputs(args, twin)
    keep = tuple(k for k in args.keep_dense.split(",") if k)
    if args.dense_readout and twin.weight_names[-1] not in keep:
        keep += (twin.weight_names[-1],)
    frozen = tuple(k for k in args.freeze.split(",") if k)
    if args.balance:
        from .core import balanced_lambdas

        args.lambda_k, args.lambda_2 = balanced_lambdas(twin, X, args.density, seed=args.seed,
                                                        batch_size=args.batch_size, keep_dense=keep, dtype=args.dtype)
        print(f"balanced loss weights: lambda_K {args.lambda_k:.4g}, lambda_2 {args.lambda_2:.4g}")
    res = run_ntt(twin, X, args.density, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                  lambda_k=args.lambda_k, lambda_2=args.lambda_2, mask_every=args.mask_every, variant=args.variant,
                  seed=args.seed, dtype=args.dtype, keep_dense=keep, frozen=frozen, progress=not args.quiet)
    res.provenance["data"] = args.data
    res.save(args.out)
    p = res.provenance
    dens = ", ".join(f"{k} {100 * v:.2f} %" for k, v in res.densities().items())
    print(f"NTT {twin!r} d={p['density']:g} seed={p['seed']} variant={p['variant']}: {p['steps']} steps in "
          f"{p['wall_time_s']:.1f} s ({p['torch_threads']} threads)")
    print(f"  eval NTK distance {p['eval_ntk_initial']:.4g} -> {p['eval_ntk_final']:.4g}, "
          f"output distance {p['eval_out_initial']:.4g} -> {p['eval_out_final']:.4g}")
    print(f"  densities: {dens}")
    print(f"  wrote {args.out}")
    if args.plot:
        from .plot import plot_ntt

        plot_ntt(res, args.plot)
        print(f"  wrote {args.plot}")
    if args.connectome_dir:
        if not os.path.isdir(args.connectome_dir):
            raise ValueError(f"--connectome-dir: folder {args.connectome_dir!r} does not exist")
        for name, c in res.to_connectomes(bias_neuron=args.bias_neuron).items():
            path = os.path.join(args.connectome_dir, name.replace("->", "_to_") + ".h5")
            c.save(path)
            print(f"  wrote {path} ({c!r})")
        if args.twin == "mlp" and not args.no_bias and not args.bias_neuron:
            print("  note: the connectome files hold the weights only, not the biases "
                  "(--bias-neuron writes them as a bias neuron's synapses)")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Stand-alone entry point: ``python -m eventsim.ntt.cli ...``."""
    parser = add_arguments(argparse.ArgumentParser(prog="eventsim ntt", description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    try:
        return cli_ntt(args)
    except ValueError as e:
        print(f"eventsim ntt: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
