"""jaxsnn 0.3.0 EventProp Yin-Yang training (the example shipped in the wheel); prints ONE JSON object.

    .venv-bench-jax/bin/python benchmarks/peers/jaxsnn_yinyang.py [--epochs 10] [--seed 0]
                                 [--example layered|recurrent] [-- EXTRA EXAMPLE ARGS]

Runs ``jaxsnn.examples.event.yinyang_layered_event_prop`` (or ``..._recurrent_event_prop``)
through its own ``get_parser()`` / ``main()`` with the example's defaults (5-100-3, batch 64,
4992 train / 2944 test samples from jaxsnn's own Yin-Yang generator, EventProp backward,
Adam 5e-3; 10 epochs): the configuration ``benchmarks/bench_train_yinyang.py`` compares against.
Arguments after ``--`` go to the example's parser unchanged (e.g. ``-- --hidden-size 50``).

One intervention, for timing only: ``jaxsnn.event.training.time_it`` (which times the
training ``lax.scan`` of each epoch) is replaced by a version that calls
``jax.block_until_ready`` on the result; the stock one times only the asynchronous dispatch.
The example's ``epoch`` is also wrapped (same call, plus ``block_until_ready`` and a timer) to
record each epoch's wall time including the test pass and its test accuracy.

Reported: ``train_samples_per_s`` = train samples / median training time of epochs >= 1
(forward + EventProp backward + Adam update; ``null`` with --epochs 1), ``first_epoch_train_s``
(epoch 0's training scan: includes the JIT compilation), ``first_epoch_wall_s`` (epoch 0 incl.
data shuffling and the test pass), ``test_acc`` (after the last epoch, as returned by main()).
Everything jaxsnn logs goes to stderr; stdout carries only the JSON line.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from peer_io import HelpFormatter, emit  # noqa: E402  (first: stdout -> stderr)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = []
    if "--" in argv:
        k = argv.index("--")
        argv, extra = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--epochs", type=int, default=None, help="epochs (None: the example's own default, 10)")
    ap.add_argument("--seed", type=int, default=None, help="seed (None: the example's own default, 0)")
    ap.add_argument("--example", default="layered", choices=["layered", "recurrent"],
                    help="which of jaxsnn's EventProp Yin-Yang examples to run")
    args = ap.parse_args(argv)

    t_proc = time.perf_counter()
    import importlib
    import importlib.metadata as md

    import jax
    import jaxsnn.event.training as training

    def time_it(timed_function, *a):  # replaces jaxsnn.event.utils.time_it inside training.epoch
        start = time.perf_counter()
        res = timed_function(*a)
        jax.block_until_ready(res)
        return res, time.perf_counter() - start

    training.time_it = time_it
    mod_name = {"layered": "yinyang_layered_event_prop", "recurrent": "yinyang_recurrent_event_prop"}[args.example]
    ex = importlib.import_module(f"jaxsnn.examples.event.{mod_name}")
    import_s = time.perf_counter() - t_proc

    ex_argv = []
    if args.epochs is not None:
        ex_argv += ["--epochs", str(args.epochs)]
    if args.seed is not None:
        ex_argv += ["--seed", str(args.seed)]
    ex_args = ex.get_parser().parse_args(ex_argv + extra)

    epochs = []  # (t_start, wall_s, train_s, test_acc)
    orig_epoch = ex.epoch

    def timed_epoch(*a, **k):
        t0 = time.perf_counter()
        res = orig_epoch(*a, **k)
        jax.block_until_ready(res)
        wall = time.perf_counter() - t0
        _, (test_result, _params, duration) = res
        epochs.append((t0, wall, float(duration), float(test_result[1])))
        return res

    ex.epoch = timed_epoch
    t0 = time.perf_counter()
    acc = ex.main(ex_args)
    main_s = time.perf_counter() - t0
    ex.epoch = orig_epoch

    bs = ex_args.batch_size
    train_samples = bs * (ex_args.trainset_size // bs)
    test_samples = bs * (ex_args.testset_size // bs)
    train_later = [e[2] for e in epochs[1:]]
    wall_later = [e[1] for e in epochs[1:]]
    train_s = statistics.median(train_later) if train_later else None
    emit({
        "simulator": "jaxsnn", "version": md.version("jaxsnn"), "jax": jax.__version__,
        "jaxlib": md.version("jaxlib"), "optax": md.version("optax"), "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "example": f"jaxsnn.examples.event.{mod_name}", "mode": "eventprop", "seed": ex_args.seed,
        "epochs": len(epochs), "hidden_size": ex_args.hidden_size, "batch_size": bs,
        "train_samples": train_samples, "test_samples": test_samples,
        "train_s_per_epoch": train_s,
        "train_samples_per_s": train_samples / train_s if train_s else None,
        "train_samples_per_s_def": "train samples / median over epochs >= 1 of the training scan time "
                                   "(forward + EventProp backward + update; JIT excluded)",
        "epoch_wall_s": statistics.median(wall_later) if wall_later else None,
        "first_epoch_train_s": epochs[0][2] if epochs else None,
        "first_epoch_wall_s": epochs[0][1] if epochs else None,
        "pre_epoch_s": (epochs[0][0] - t0) if epochs else None,
        "main_s": main_s, "import_s": import_s,
        "train_s_by_epoch": [e[2] for e in epochs],
        "test_acc": round(float(acc), 4),
        "test_acc_by_epoch": [round(e[3], 4) for e in epochs],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
