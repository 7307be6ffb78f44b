"""Neural Tangent Transfer (Liu & Zenke, ICML 2020): sparse connectomes found before training.

torch is used only inside this package and only when one of its torch-based names is first used:
``import eventsim.ntt`` itself imports neither torch nor any submodule (names resolve lazily).

Main entry points (see ``docs/ntt.md``):

* ``MLPTwin``, ``GRUTwin``: differentiable stand-ins with the connectome shapes of a feed-forward
  LIF network or an EGRU layer;
* ``mlp_ntk``, ``gru_ntk`` (closed forms), ``ntk_func`` (torch.func): empirical NTKs, variants 'active'/'all';
* ``run_ntt``: the NTT loop, returning an ``NTTResult`` (masks, weights, losses, provenance);
  ``balanced_lambdas``: loss weights for twins whose outputs are on another scale (the GRU twin);
* ``prune_baseline``: 'dense', 'random', 'random_scaled', 'magnitude', 'snip', 'snip_nolabel';
* ``train_sparse``: supervised training with a fixed mask;
* ``rescale_weights`` / ``NTTResult.rescaled``: per-layer gains for a LIF operating point;
* ``NTTResult.to_connectomes``, ``save_result``/``load_result`` (HDF5), ``plot_ntt``.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MLPTwin": "twins", "GRUTwin": "twins", "Twin": "twins", "twin_from_spec": "twins",
    "heaviside_triangle": "twins",
    "mlp_ntk": "ntk", "gru_ntk": "ntk", "ntk_func": "ntk", "ntk_explicit": "ntk",
    "run_ntt": "core", "ntt_distances": "core", "layer_masks": "core", "balanced_lambdas": "core",
    "prune_baseline": "baselines", "snip_scores": "baselines", "BASELINES": "baselines",
    "train_sparse": "train",
    "NTTResult": "result", "rescale_weights": "result",
    "save_result": "io", "load_result": "io",
    "plot_ntt": "plot",
    "topk_mask": "masks", "random_mask": "masks", "n_keep": "masks", "layer_densities": "masks",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'eventsim.ntt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
