"""Cost of one NTT step on the GRU twin: closed-form NTK (``gru_ntk``) against torch.func (``ntk_func``).

    python benchmarks/bench_gru_ntk.py [--hidden 128,512] [--batch 32,64] [--reps 5] [--func-max-hidden 128]
                                       [--variant all|active] [--summary]

One NTT step = the teacher's NTK (no grad) + the student's NTK and logits + backward of the NTT
loss, as in ``run_ntt``; ``GRUTwin(8, H, 10, T=8)`` on row-wise digits, student at 5 % density
(student-NTK ``--variant``, default 'all'; 'active': only the kept weights, whose closed form gathers
the kept entries), float32, one torch thread, median of ``--reps`` steps after one warm-up. Both
routes are run side by side in this process, and their student NTKs are checked to agree. torch.func
builds the (n, C, P) parameter Jacobian (P = 3H(I + H) + ...), so it is only run up to
``--func-max-hidden`` units.

Each timed configuration is one row of ``benchmarks/results/gru_ntk.jsonl`` (``--results DIR`` for another
folder), written as soon as it is measured; key: ``variant``, ``hidden``, ``batch``, ``density``,
``torch_func`` (whether torch.func was timed too); a configuration measured again replaces its row.
Columns: ``closed_form_s`` and ``torch_func_s`` (seconds per step), ``speedup``, ``max_rel_diff`` (largest
difference of the two student NTKs over the largest entry), ``reps``, ``threads``, ``platform``, ``torch``.
``--summary`` prints the rows of the configurations the command names, without measuring.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import results_table  # noqa: E402

STUDY = "gru_ntk"
ROW_KEY = ("variant", "hidden", "batch", "density", "torch_func")
DENSITY = 0.05


def step_seconds(twin, ntk_fn, x, teacher, W, masks, variant: str, reps: int) -> float:
    """Median wall time of one NTT loss evaluation + backward with ``ntk_fn``."""
    import torch

    B = x.shape[0] // 2
    times = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            ft, kt = twin.apply(teacher, x), ntk_fn(twin, teacher, x[:B], x[B:])
        eff = {k: (W[k] * masks[k] if k in masks else W[k]) for k in W}
        ks = ntk_fn(twin, eff, x[:B], x[B:], masks, variant)
        loss = torch.mean((ks - kt) ** 2) + torch.mean((twin.apply(eff, x) - ft) ** 2)
        for v in W.values():
            v.grad = None
        loss.backward()
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def print_rows(rows) -> None:
    print("| variant | H | batch | closed form (s/step) | torch.func (s/step) | speed-up | max rel. NTK difference |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        func, sp, diff = r.get("torch_func_s"), r.get("speedup"), r.get("max_rel_diff")
        print(f"| {r['variant']} | {r['hidden']} | {r['batch']} | {r['closed_form_s']:.3f} | "
              f"{'not run' if func is None else f'{func:.3f}'} | {'' if sp is None else f'{sp:.1f}x'} | "
              f"{'' if diff is None else f'{diff:.1e}'} |", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", default="128,512")
    ap.add_argument("--batch", default="32,64", help="inputs per step (half on each side of the NTK)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--func-max-hidden", type=int, default=128)
    ap.add_argument("--variant", choices=("all", "active"), default="all", help="the student's NTK variant")
    ap.add_argument("--results", default=None, help="folder of the results table (default benchmarks/results)")
    ap.add_argument("--summary", action="store_true", help="print the rows of these configurations, measure nothing")
    args = ap.parse_args(argv)
    if args.reps < 1:
        raise ValueError(f"--reps must be >= 1, got {args.reps!r}")
    try:
        hidden = [int(h) for h in args.hidden.split(",") if h]
        batches = [int(b) for b in args.batch.split(",") if b]
    except ValueError:
        raise ValueError(f"--hidden and --batch must be comma-separated integers, got {args.hidden!r}, "
                         f"{args.batch!r}") from None
    if not hidden or not batches or min(hidden) < 1 or min(batches) < 2 or any(b % 2 for b in batches):
        raise ValueError(f"--hidden must list positive sizes and --batch even sizes >= 2, got {args.hidden!r}, "
                         f"{args.batch!r}")
    configs = [{"variant": args.variant, "hidden": H, "batch": bs, "density": DENSITY,
                "torch_func": H <= args.func_max_hidden} for H in hidden for bs in batches]
    if args.summary:
        wanted = {tuple(c[k] for k in ROW_KEY) for c in configs}
        print_rows([r for r in results_table.read_rows(STUDY, args.results)
                    if tuple(r.get(k) for k in ROW_KEY) in wanted])
        return 0

    import numpy as np
    import torch

    from eventsim.egru import tasks
    from eventsim.ntt import GRUTwin, gru_ntk, ntk_func, topk_mask

    torch.set_num_threads(1)
    X = torch.as_tensor(tasks.digits_sequences("train", "row")[0], dtype=torch.float32)
    machine = {"platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads()}
    rows = []
    for H in hidden:
        twin = GRUTwin(8, H, 10, 8)
        teacher = twin.init_params(0, "float32")
        masks = {k: torch.as_tensor(topk_mask(np.abs(teacher[k].numpy()), DENSITY), dtype=torch.float32)
                 for k in twin.weight_names}
        W = {k: v.clone().requires_grad_(k in twin.trainable_names) for k, v in teacher.items()}
        for bs in batches:
            x = X[:bs]
            closed = step_seconds(twin, gru_ntk, x, teacher, W, masks, args.variant, args.reps)
            func = diff = None
            if H <= args.func_max_hidden:
                func = step_seconds(twin, ntk_func, x, teacher, W, masks, args.variant, args.reps)
                with torch.no_grad():
                    eff = {k: (W[k] * masks[k] if k in masks else W[k]) for k in W}
                    x1, x2 = x[:bs // 2], x[bs // 2:]
                    a, b = gru_ntk(twin, eff, x1, x2, masks, args.variant), ntk_func(twin, eff, x1, x2, masks, args.variant)
                diff = float((a - b).abs().max() / b.abs().max())
            row = {"variant": args.variant, "hidden": H, "batch": bs, "density": DENSITY, "torch_func": func is not None,
                   "closed_form_s": closed, "torch_func_s": func, "speedup": None if func is None else func / closed,
                   "max_rel_diff": diff, "reps": args.reps, **machine}
            results_table.append_rows(STUDY, [row], key=ROW_KEY, folder=args.results)
            rows.append(row)
    print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
