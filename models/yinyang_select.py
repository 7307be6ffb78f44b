"""Which weights should the Yin-Yang recipe keep: the best-validation epoch's or the last epoch's?

    python -m eventsim.models.yinyang_select results/s3/yinyang_0 results/s3/yinyang_1 ...

Each folder is the ``--out`` of a full ``eventsim train yinyang`` run; its ``checkpoint.h5`` holds
the last epoch's weights and, from runs that kept the best-validation weights, those too. Both are
scored on a second validation split (``SECOND_VAL_SIZE`` samples from generator seed
``SECOND_VAL_SEED``), independent of the train/validation/test splits and used for nothing else.
Prints one line per run and the means; the recipe's ``SELECT`` was set from this comparison.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence, Tuple

import numpy as np

import eventsim as es
from eventsim.data import yin_yang
from eventsim.train import load_checkpoint

from . import yinyang as yy

SECOND_VAL_SEED = 43
SECOND_VAL_SIZE = 5000


def second_validation() -> Tuple[es.SpikeBatch, np.ndarray]:
    """The independent selection split: encoded inputs and labels."""
    X, y = yin_yang("val", size=SECOND_VAL_SIZE, seed=SECOND_VAL_SEED)
    return yy.encode(X), y


def compare(run_dirs: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """(accuracies of the best-validation weights, of the last-epoch weights) on the second split."""
    inputs, labels = second_validation()
    best, last = [], []
    for d in run_dirs:
        c = load_checkpoint(f"{d}/checkpoint.h5")
        if c["best"] is None:
            raise ValueError(f"{d}/checkpoint.h5 holds no best-validation weights (a run with select='last')")
        net = c["network"]
        last.append(es.train.evaluate(net, inputs, labels, yy.loss(), yy.T_MAX)[1])
        for k, w in c["best"][2].items():
            net.parameters()[k][...] = w
        best.append(es.train.evaluate(net, inputs, labels, yy.loss(), yy.T_MAX)[1])
        print(f"{d}: best-validation epoch {c['best'][1] + 1}: {100 * best[-1]:.2f} %   "
              f"last epoch: {100 * last[-1]:.2f} %", flush=True)
    return np.array(best), np.array(last)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", nargs="+")
    args = ap.parse_args(argv)
    best, last = compare(args.run_dirs)
    print(f"mean: best-validation weights {100 * best.mean():.2f} %, last-epoch weights {100 * last.mean():.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
