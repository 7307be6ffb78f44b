"""Pruning baselines at equal layer-wise density, all starting from ``twin.init_params(seed)``.

Every baseline keeps exactly k = max(1, round_half_up(d * n)) entries per weight tensor (``masks``)
and returns an ``NTTResult`` whose weights are the initial weights times the mask:

* ``'dense'``: no pruning (density 1).
* ``'random'``: a uniformly random mask (``numpy.random.default_rng([seed, 2])``); the weights are
  the unscaled initial weights, as the reference code's ``rand`` baseline.
* ``'random_scaled'``: the same mask with weights divided by sqrt(d) (the reference's "scaled rand."),
  which restores the variance of each unit's summed input.
* ``'magnitude'``: top-k of |W_init| (the NTT student before transfer).
* ``'snip'``: top-k of |W * dL/dW| at W_init, L = mean cross-entropy of the logits on ``n_samples``
  labelled training inputs (Lee et al. 2019).
* ``'snip_nolabel'``: the label-free variant of the reference code (``logit_snip``): top-k of
  |W * d(sum_x sum_a f_a(x)^2)/dW| on ``n_samples`` unlabelled inputs.

SNIP samples are ``n_samples`` rows drawn without replacement by ``default_rng([seed, 3])``; the
scores are computed in float64.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from ..checks import positive_int
from .core import _versions, check_inputs, check_keep_dense, layer_masks
from .masks import check_density, random_mask
from .result import NTTResult
from .twins import Twin, _check_seed

BASELINES = ("dense", "random", "random_scaled", "magnitude", "snip", "snip_nolabel")


def _result(twin: Twin, init: Dict[str, np.ndarray], masks: Dict[str, np.ndarray], prov: Dict[str, Any],
            scales: Optional[Dict[str, float]] = None) -> NTTResult:
    scales = scales or {}
    params = {k: (v * masks[k] * scales.get(k, 1.0) if k in masks else v.copy()) for k, v in init.items()}
    prov = dict(prov)
    prov.update(_versions())
    return NTTResult(twin_spec=twin.spec(), params=params, masks=masks, provenance=prov)


def prune_baseline(method: str, twin: Twin, density: float, seed: int = 0, X=None, y=None,
                   n_samples: int = 128, keep_dense: Sequence[str] = ()) -> NTTResult:
    """Baseline mask and initial weights (see module docstring) for ``method`` in ``BASELINES``.

    ``X`` (n, *input_shape) is needed by 'snip' and 'snip_nolabel'; ``y`` (n,) int labels in
    [0, n_out) by 'snip'. ``density`` is ignored by 'dense'.
    """
    if method not in BASELINES:
        raise ValueError(f"method must be one of {BASELINES}, got {method!r}")
    seed = _check_seed(seed)
    keep_dense = check_keep_dense(twin, keep_dense)
    t0 = time.perf_counter()
    init = twin.init_arrays(seed)
    d = 1.0 if method == "dense" else check_density(density)
    prov: Dict[str, Any] = {"method": method, "density": d, "seed": seed, "keep_dense": list(keep_dense)}
    scales: Dict[str, float] = {}
    if method == "dense":
        masks = {k: np.ones(init[k].shape, dtype=bool) for k in twin.weight_names}
    elif method in ("random", "random_scaled"):
        rng = np.random.default_rng([seed, 2])
        masks = {k: (np.ones(init[k].shape, dtype=bool) if k in keep_dense else random_mask(init[k].shape, d, rng))
                 for k in twin.weight_names}
        if method == "random_scaled":
            scales = {k: 1.0 / np.sqrt(d) for k in twin.weight_names if k not in keep_dense}
            prov["weight_scale"] = 1.0 / np.sqrt(d)
    elif method == "magnitude":
        masks = layer_masks(twin, {k: np.abs(init[k]) for k in twin.weight_names}, d, keep_dense)
    else:
        if method == "snip" and y is None:
            raise ValueError("y must be given for method 'snip' (labelled SNIP); use 'snip_nolabel' without labels")
        scores = snip_scores(twin, init, X, y if method == "snip" else None, seed, n_samples)
        masks = layer_masks(twin, scores, d, keep_dense)
        prov["n_samples"] = int(min(n_samples, np.shape(X)[0]))
    prov["wall_time_s"] = time.perf_counter() - t0
    return _result(twin, init, masks, prov, scales)


def snip_scores(twin: Twin, init: Dict[str, np.ndarray], X, y: Optional[np.ndarray], seed: int,
                n_samples: int = 128) -> Dict[str, np.ndarray]:
    """SNIP saliencies |W * dL/dW| per weight tensor at parameters ``init``.

    ``y=None``: label-free L = sum over samples and logits of f^2; else L = mean cross-entropy with
    integer labels ``y`` (n,). Uses ``n_samples`` rows of ``X`` chosen by ``default_rng([seed, 3])``.
    """
    if X is None:
        raise ValueError("X must be given for SNIP (inputs to score the weights on)")
    Xa = check_inputs(twin, X, "X")
    n_samples = positive_int("n_samples", n_samples)
    n = Xa.shape[0]
    rng = np.random.default_rng([seed, 3])
    idx = rng.choice(n, size=min(int(n_samples), n), replace=False)
    x = torch.as_tensor(Xa[idx], dtype=torch.float64)
    p = {k: torch.as_tensor(v, dtype=torch.float64).requires_grad_(k in twin.weight_names) for k, v in init.items()}
    f = twin.apply(p, x)
    if y is None:
        loss = (f ** 2).sum()
    else:
        ya = np.asarray(y)
        if ya.shape != (n,) or not np.issubdtype(ya.dtype, np.integer) or ya.min() < 0 or ya.max() >= twin.n_out:
            raise ValueError(f"y must be ({n},) integer labels in [0, {twin.n_out}), got shape {ya.shape} dtype {ya.dtype}")
        loss = torch.nn.functional.cross_entropy(f, torch.as_tensor(ya[idx], dtype=torch.long))
    grads = torch.autograd.grad(loss, [p[k] for k in twin.weight_names])
    return {k: (p[k] * g).abs().detach().numpy() for k, g in zip(twin.weight_names, grads)}
