"""The ANN experiment on the digits data set: sparse MLPs from NTT against pruning baselines.

Protocol (``run_digits``):

* data: ``eventsim.data.digits_arrays`` (1437 train / 360 test), pixels in [0, 1] z-scored with the
  *training* set's global mean and standard deviation (one scalar each, as the reference's MNIST
  preprocessing); with ``validation=True`` the training set is split 80/20 by
  ``default_rng(1234)`` and the 20 % part replaces the test set (for tuning only);
* for every seed, density and method: build the initial sparse network (NTT on the unlabelled
  training inputs, or a baseline from ``baselines``; dense once per seed), then train it with
  ``train_sparse`` (mask fixed) and record the final test accuracy and the test accuracy after a
  short budget of Adam steps (``on_record`` is called with each record as soon as its training ends);
* the summary gives mean and sample standard deviation (ddof = 1) over seeds.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

DEFAULT_SIZES = (64, 300, 100, 10)
DEFAULT_DENSITIES = (0.01, 0.03, 0.05, 0.10)
DEFAULT_METHODS = ("ntt_all", "ntt_active", "random", "random_scaled", "magnitude", "snip", "snip_nolabel")
DEFAULT_SEEDS = (0, 1, 2)
DEFAULT_NTT = {"steps": 2000, "batch_size": 64, "lr": 5e-4, "lambda_k": 1e-2, "lambda_2": 1e-4,
               "mask_every": 100, "variant": "all"}
DEFAULT_TRAIN = {"epochs": 300, "batch_size": 64, "lr": 1e-3, "eval_steps": (100, 500, 2300)}


def digits_data(validation: bool = False) -> Dict[str, np.ndarray]:
    """Z-scored digits arrays: ``X_train`` (n, 64), ``y_train``, ``X_test``, ``y_test`` (see module docstring)."""
    from ..data import digits_arrays

    X, y = digits_arrays("train")
    if validation:
        rng = np.random.default_rng(1234)
        perm = rng.permutation(X.shape[0])
        n_val = int(round(0.2 * X.shape[0]))
        va, tr = perm[:n_val], perm[n_val:]
        Xtr, ytr, Xte, yte = X[tr], y[tr], X[va], y[va]
    else:
        Xtr, ytr = X, y
        Xte, yte = digits_arrays("test")
    mu, sd = Xtr.mean(), Xtr.std()
    return {"X_train": (Xtr - mu) / sd, "y_train": ytr, "X_test": (Xte - mu) / sd, "y_test": yte,
            "mean": float(mu), "std": float(sd)}


def _ntt_variant(method: str) -> Optional[str]:
    if method == "ntt":
        return None
    if method.startswith("ntt_"):
        return method[4:]
    return None


def make_init(method: str, twin, density: float, seed: int, X: np.ndarray, y: np.ndarray,
              ntt_kwargs: Optional[Mapping[str, Any]] = None, cache_dir: Optional[str] = None,
              progress: bool = False, keep_dense: Sequence[str] = ()):
    """Initial sparse network for ``method``: 'ntt' (ntt_kwargs variant), 'ntt_active', 'ntt_all', or a baseline.

    ``X`` (n, n_in) unlabelled inputs for NTT/SNIP, ``y`` (n,) labels for SNIP; ``keep_dense``: weight
    names left unpruned (e.g. the read-out). NTT results are cached as HDF5 files in ``cache_dir``
    (keyed by a hash of the configuration) when it is given.
    """
    from .baselines import BASELINES, prune_baseline

    if method in BASELINES:
        return prune_baseline(method, twin, density, seed, X=X, y=y, keep_dense=keep_dense)
    if not (method == "ntt" or method.startswith("ntt_")):
        raise ValueError(f"method must be 'ntt', 'ntt_active', 'ntt_all' or one of {BASELINES}, got {method!r}")
    from .core import run_ntt
    from .io import load_result

    kw = dict(DEFAULT_NTT)
    kw.update(ntt_kwargs or {})
    if keep_dense:
        kw["keep_dense"] = list(keep_dense)
    v = _ntt_variant(method)
    if v is not None:
        kw["variant"] = v
    path = None
    if cache_dir is not None:
        key = json.dumps({"twin": twin.spec(), "d": float(density), "seed": int(seed), "kw": kw,
                          "X": hashlib.sha1(np.ascontiguousarray(X, dtype=np.float64).tobytes()).hexdigest()},
                         sort_keys=True)
        path = os.path.join(cache_dir, f"ntt_{hashlib.sha1(key.encode()).hexdigest()[:16]}.h5")
        if os.path.exists(path):
            return load_result(path)
    res = run_ntt(twin, X, density, seed=seed, progress=progress,
                  desc=f"NTT d={density:g} seed={seed} {kw['variant']}", **kw)
    if path is not None:
        os.makedirs(cache_dir, exist_ok=True)
        res.save(path)
    return res


def run_digits(sizes: Sequence[int] = DEFAULT_SIZES, densities: Sequence[float] = DEFAULT_DENSITIES,
               seeds: Sequence[int] = DEFAULT_SEEDS, methods: Sequence[str] = DEFAULT_METHODS,
               ntt_kwargs: Optional[Mapping[str, Any]] = None, train_kwargs: Optional[Mapping[str, Any]] = None,
               validation: bool = False, include_dense: bool = True, cache_dir: Optional[str] = None,
               dense_readout: bool = False, progress: bool = True,
               log: Callable[[str], None] = print,
               on_record: Optional[Callable[[Dict[str, Any], Dict[str, Any]], None]] = None) -> Dict[str, Any]:
    """Run the digits ANN experiment; returns {"config", "records", "summary"} (JSON-serialisable).

    ``sizes``: MLP layer sizes; ``densities``: kept fraction per layer; ``methods``: NTT and/or
    baselines; ``ntt_kwargs``/``train_kwargs`` override ``DEFAULT_NTT``/``DEFAULT_TRAIN``;
    ``dense_readout``: do not prune the last weight tensor (all methods alike); ``on_record(record,
    config)``: called after every training with its record and the run's configuration (e.g. to store
    the record at once, so that an interrupted run keeps what it finished).
    """
    import torch

    from .masks import check_density
    from .train import train_sparse
    from .twins import MLPTwin

    twin = MLPTwin(sizes)
    dens = [check_density(d, "densities") for d in densities]
    data = digits_data(validation)
    tk = dict(DEFAULT_TRAIN)
    tk.update(train_kwargs or {})
    nk = dict(DEFAULT_NTT)
    nk.update(ntt_kwargs or {})
    keep = (twin.weight_names[-1],) if dense_readout else ()
    records: List[Dict[str, Any]] = []
    t_start = time.perf_counter()
    cfg = {"sizes": list(twin.sizes), "densities": dens, "seeds": list(seeds), "methods": list(methods),
           "ntt": {k: (list(v) if isinstance(v, tuple) else v) for k, v in nk.items()},
           "train": {k: (list(v) if isinstance(v, tuple) else v) for k, v in tk.items()},
           "validation": bool(validation), "dense_readout": bool(dense_readout),
           "data": "digits, eventsim.data.digits_arrays, z-scored",
           "torch_threads": torch.get_num_threads(), "torch_version": str(torch.__version__)}

    def one(method: str, d: float, seed: int) -> None:
        init = make_init(method, twin, d, seed, data["X_train"], data["y_train"], nk, cache_dir, progress, keep)
        tr = train_sparse(init, data["X_train"], data["y_train"], data["X_test"], data["y_test"], seed=seed, **tk)
        prov = init.provenance
        rec = {"method": method, "density": d, "seed": seed,
               "test_acc": tr["test_acc"], "train_acc": tr["train_acc"],
               "test_acc_at": {str(k): v for k, v in tr["test_acc_at"].items()},
               "init_time_s": prov.get("wall_time_s"), "train_time_s": tr["wall_time_s"],
               "layer_density": init.densities(), "overall_density": init.overall_density(),
               "max_abs_pruned": tr["max_abs_pruned"]}
        if prov.get("method") == "ntt":
            rec.update({k: prov[k] for k in ("variant", "eval_ntk_initial", "eval_ntk_final", "eval_out_initial",
                                              "eval_out_final", "torch_threads")})
        records.append(rec)
        if on_record is not None:
            on_record(rec, cfg)
        short = ", ".join(f"@{k}: {100 * v:.1f}" for k, v in tr["test_acc_at"].items())
        log(f"{method:>13s} d={d:<5g} seed={seed}  test {100 * tr['test_acc']:.2f} %  ({short})  "
            f"init {prov.get('wall_time_s', 0):.1f} s, train {tr['wall_time_s']:.1f} s")

    for seed in seeds:
        if include_dense:
            one("dense", 1.0, seed)
        for d in dens:
            for m in methods:
                one(m, d, seed)
    cfg["total_time_s"] = time.perf_counter() - t_start
    return {"config": cfg, "records": records, "summary": summarize(records)}


def summarize(records: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Mean and sample std (ddof=1) over seeds of final and short-budget test accuracy, per (method, density)."""
    groups: Dict[tuple, List[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["method"], float(r["density"])), []).append(r)

    def ms(vals: List[float]) -> Dict[str, float]:
        a = np.asarray(vals, dtype=np.float64)
        return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "n": int(a.size)}

    rows = []
    for (m, d), rs in groups.items():
        row: Dict[str, Any] = {"method": m, "density": d, "test_acc": ms([r["test_acc"] for r in rs])}
        for k in rs[0]["test_acc_at"]:
            row[f"test_acc_at_{k}"] = ms([r["test_acc_at"][k] for r in rs])
        row["init_time_s"] = ms([r["init_time_s"] or 0.0 for r in rs])
        rows.append(row)
    return rows


def format_table(summary: Sequence[Mapping[str, Any]], key: str = "test_acc", title: Optional[str] = None) -> str:
    """Markdown table: one row per method, one column per density, cells 'mean ± std' in percent."""
    dens = sorted({r["density"] for r in summary if r["method"] != "dense"})
    methods: List[str] = []
    for r in summary:
        if r["method"] not in methods:
            methods.append(r["method"])
    cell = {(r["method"], r["density"]): r.get(key) for r in summary}
    head = "| method | " + " | ".join(f"{100 * d:g} %" for d in dens) + " |"
    lines = ([f"**{title}**", ""] if title else []) + [head, "|---" * (len(dens) + 1) + "|"]
    for m in methods:
        cells = []
        for d in dens:
            c = cell.get((m, d)) or (cell.get((m, 1.0)) if m == "dense" else None)
            cells.append("—" if c is None else f"{100 * c['mean']:.2f} ± {100 * c['std']:.2f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
