"""The result of NTT or of a pruning baseline: masks, weights, loss history and provenance (NumPy only).

``NTTResult`` fields:

* ``twin_spec``: ``Twin.spec()`` of the architecture (rebuild it with ``result.twin()``);
* ``params``: every parameter as a NumPy array; weights are the *effective* sparse weights
  ``m * W`` (exactly 0 at pruned positions), in the twin's own layout (MLP ``W_l``: (post, pre);
  GRU ``W``: (I, 3H), ``R``: (H, 3H), ``W_out``: (C, H));
* ``masks``: boolean mask per weight tensor (same shape as the weight);
* ``history``: per NTT step ``step`` (1-based), ``total``, ``ntk`` (mean squared NTK distance),
  ``out`` (mean squared logit distance), ``l2`` (sum of squared kept weights); empty for baselines;
* ``mask_history``: ``step`` (0 = the initial mask) and, per weight tensor in ``weight_names``
  order, ``density`` (n_steps, n_layers) and ``turnover`` (fraction of kept entries that are new);
* ``eval_history``: ``step``, ``ntk``, ``out`` on a fixed evaluation batch;
* ``provenance``: method, density, seed, hyper-parameters, NTK variant, wall time (s), versions.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np


def rescale_weights(weights: Mapping[str, np.ndarray],
                    scales: Union[Mapping[str, float], Sequence[float], float]) -> Dict[str, np.ndarray]:
    """Multiply each weight tensor by a per-layer factor (for a LIF operating point).

    A twin's weights are in the units of a ReLU/GRU network; a LIF network needs its weights in units
    of synaptic current such that hidden neurons reach threshold. The map between the two is a
    per-projection gain that depends on the neuron parameters and on the input encoding, so this
    function only applies it: ``W_out[name] = scale[name] * W[name]``. Masks (zeros) are unchanged.

    ``weights``: {name: array}; ``scales``: one float for all, a sequence in ``weights`` order, or a
    {name: float} mapping covering every name. Scales must be finite and > 0 (dimensionless).
    """
    names = list(weights)
    sc = _scale_dict(names, scales)
    out = {}
    for n in names:
        out[n] = np.asarray(weights[n], dtype=np.float64) * sc[n]
    return out


def _scale_dict(names: List[str], scales) -> Dict[str, float]:
    if isinstance(scales, Mapping):
        missing = [n for n in names if n not in scales]
        if missing:
            raise ValueError(f"scales must give a factor for every weight, missing {missing!r}")
        raw = {n: scales[n] for n in names}
    elif np.ndim(scales) == 0:
        raw = {n: scales for n in names}
    else:
        lst = list(scales)
        if len(lst) != len(names):
            raise ValueError(f"scales must have {len(names)} entries (one per layer), got {len(lst)}")
        raw = dict(zip(names, lst))
    out = {}
    for n, v in raw.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"scales[{n!r}] must be a number, got {v!r}") from None
        if not (np.isfinite(f) and f > 0):
            raise ValueError(f"scales[{n!r}] must be positive and finite, got {v!r}")
        out[n] = f
    return out


@dataclass
class NTTResult:
    """Masks, sparse weights, histories and provenance of one NTT run or baseline (see module docstring)."""

    twin_spec: Dict[str, Any]
    params: Dict[str, np.ndarray]
    masks: Dict[str, np.ndarray]
    history: Dict[str, np.ndarray] = field(default_factory=dict)
    mask_history: Dict[str, np.ndarray] = field(default_factory=dict)
    eval_history: Dict[str, np.ndarray] = field(default_factory=dict)
    provenance: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for k, m in self.masks.items():
            if k not in self.params:
                raise ValueError(f"masks: {k!r} is not a parameter")
            if np.shape(m) != np.shape(self.params[k]):
                raise ValueError(f"masks[{k!r}] has shape {np.shape(m)}, expected {np.shape(self.params[k])}")
            self.masks[k] = np.asarray(m, dtype=bool)
            if np.any(self.params[k][~self.masks[k]] != 0):
                raise ValueError(f"params[{k!r}] must be exactly 0 where masks[{k!r}] is False")

    @property
    def method(self) -> str:
        return str(self.provenance.get("method", "?"))

    @property
    def weight_names(self) -> List[str]:
        return list(self.masks)

    def twin(self):
        """The twin (torch model) of this architecture."""
        from .twins import twin_from_spec

        return twin_from_spec(self.twin_spec)

    def densities(self) -> Dict[str, float]:
        """Fraction of kept weights per weight tensor."""
        from .masks import layer_densities

        return layer_densities(self.masks)

    def overall_density(self) -> float:
        """Kept weights over all weights, all layers together."""
        n = sum(m.size for m in self.masks.values())
        return float(sum(np.count_nonzero(m) for m in self.masks.values())) / n

    def weights_post_pre(self) -> Dict[str, np.ndarray]:
        """{param name: W[post, pre]} (effective sparse weights)."""
        tw = self.twin()
        return {k: tw.post_pre(k, self.params[k]) for k in self.masks}

    def rescaled(self, scales: Union[Mapping[str, float], Sequence[float], float]) -> "NTTResult":
        """A copy with weights multiplied per layer (``rescale_weights``); scales recorded in provenance.

        An MLP twin's bias ``b_l`` is scaled with its layer's ``W_l`` (a bias is a weight from a constant
        input, so the layer's whole pre-activation is scaled, as for a LIF layer's gain)."""
        new = copy.deepcopy(self)
        w = rescale_weights({k: self.params[k] for k in self.masks}, scales)
        new.params.update(w)
        gains = _scale_dict(list(self.masks), scales)
        if self.twin_spec.get("kind") == "mlp":
            for name, g in gains.items():
                b = "b" + name[1:]
                if b in new.params:
                    new.params[b] = np.asarray(self.params[b], dtype=np.float64) * g
        new.provenance["weight_scales"] = gains
        return new

    def to_connectomes(self, scales: Union[Mapping[str, float], Sequence[float], float, None] = None,
                       bias_neuron: bool = False) -> Dict[str, Any]:
        """One ``eventsim.connectome.Connectome`` per projection, keyed ``"src->dst"``.

        Weights are ``W[post, pre]`` (the twin's effective weights, times ``scales`` if given, see
        ``rescale_weights``); the connectivity is the mask (kept weights that happen to be 0 stay
        synapses). Each connectome's provenance is this result's provenance plus ``projection``,
        ``param`` and the loss histories.

        ``bias_neuron=True`` (MLP twins with biases): the biases become the synapses of a bias neuron,
        an extra last neuron of the input population that the caller makes fire once at the start of
        every sample (as the twin's constant input 1). Layer 0's bias ``b0`` is appended to the
        first projection as its last column (so ``in`` has ``n_in + 1`` neurons); the bias ``b_l`` of a
        later layer is a projection of its own, ``"in->dst"``, whose only synapses are the bias
        neuron's. Biases are never pruned (every post neuron gets its bias synapse) and are scaled
        with their layer's weights (``scales``), since a bias is a weight from a constant input.
        """
        from ..connectome import Connectome

        res = self if scales is None else self.rescaled(scales)
        tw = res.twin()
        if bias_neuron and not (res.twin_spec.get("kind") == "mlp" and res.twin_spec.get("bias")):
            raise ValueError(f"bias_neuron=True needs an MLP twin with biases (MLPTwin(..., bias=True)), "
                             f"got twin {res.twin_spec!r}")
        out = {}
        for l, (name, src, dst) in enumerate(tw.projections()):
            prov = dict(res.provenance)
            prov.update({"projection": f"{src}->{dst}", "param": name, "twin": dict(res.twin_spec)})
            for k, v in res.history.items():
                prov[f"history_{k}"] = np.asarray(v)
            W = tw.post_pre(name, res.params[name])
            M = tw.post_pre(name, res.masks[name]).astype(bool)
            b = np.asarray(res.params[f"b{l}"], dtype=np.float64) if bias_neuron else None  # scaled by rescaled()
            if bias_neuron and l == 0:
                W = np.concatenate([W, b[:, None]], axis=1)
                M = np.concatenate([M, np.ones((M.shape[0], 1), bool)], axis=1)
            out[f"{src}->{dst}"] = Connectome.from_dense(W, mask=M, provenance=prov)
            if bias_neuron and l > 0:
                n_in = tw.sizes[0] + 1
                Wb = np.zeros((b.size, n_in))
                Wb[:, -1] = b
                Mb = np.zeros((b.size, n_in), bool)
                Mb[:, -1] = True
                prov_b = dict(prov, projection=f"{tw.names[0]}->{dst}", param=f"b{l}")
                out[f"{tw.names[0]}->{dst}"] = Connectome.from_dense(Wb, mask=Mb, provenance=prov_b)
        return out

    def save(self, path) -> None:
        """Write to HDF5 (format ``eventsim.ntt``; see ``eventsim.ntt.io``), atomically."""
        from .io import save_result

        save_result(self, path)

    @staticmethod
    def load(path) -> "NTTResult":
        """Read a file written by ``save``."""
        from .io import load_result

        return load_result(path)

    def __repr__(self) -> str:
        d = ", ".join(f"{k}={v:.4f}" for k, v in self.densities().items())
        return f"NTTResult(method={self.method}, {self.twin_spec.get('kind')}, densities: {d})"
