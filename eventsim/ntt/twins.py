"""Differentiable stand-ins ("twins") for eventsim networks, with the same connectome shapes.

A twin is a *functional* model: parameters live in a ``dict[str, torch.Tensor]`` so that NTT can
evaluate the same architecture at the teacher's and at the student's parameters, and torch.func can
take Jacobians with respect to them. Every twin provides

* ``init_params(seed, dtype)``: parameters drawn from ``numpy.random.default_rng(seed)``;
* ``apply(params, x)``: logits of shape (batch, n_out);
* ``ntk(params, x1, x2, masks, variant)``: the empirical NTK on the logits, shape (n1, n2, C, C);
* ``weight_names``: the maskable weight tensors (one per projection; biases are never masked);
* ``projections()``: (param name, source population, target population) per weight tensor and
  ``post_pre(name, W)``: that weight as ``W[post, pre]`` (the eventsim connectome convention).

MLPTwin (stand-in for feed-forward LIF networks, e.g. [5, 200, 3] or [64, 128, 10])::

    h_0 = x;  z_l = h_{l-1} W_l^T + b_l;  h_l = ReLU(z_l) (l < L);  f = z_L (linear logits)
    W_l: (n_l, n_{l-1}) = (post, pre);  init W ~ N(0, 2 / (n_{l-1} + n_l)) (Glorot normal), b ~ N(0, 0.01^2)

GRUTwin (stand-in for an EGRU layer plus a linear read-out; EvNN conventions, gates [z, r, g],
W: (I, 3H), R: (H, 3H), reset applied after the recurrent matmul)::

    a = x_t W + b_x;  q = y_{t-1} R + b_r
    z = sigmoid(a_z + q_z);  r = sigmoid(a_r + q_r);  g = tanh(a_g + r * q_g)
    c^_t = z c_{t-1} + (1 - z) g;  o_t = H(c^_t - thr)  (H(0) = 0)
    y_t = o_t c^_t;  c_t = c^_t - o_t thr;  tr_t = 0.9 tr_{t-1} + 0.1 y_t
    f = tr_T W_out^T + b_out               (W_out: (C, H) = (post, pre))

with the triangular pseudo-derivative dH/dv ~ gamma * max(0, 1 - |v| / width) (gamma = 0.7,
half-width 1 by default), implemented as H(v) + psi(v) - stop_grad(psi(v)) with psi' the triangle,
so it is exact in the forward pass and twice differentiable almost everywhere (NTT differentiates the
NTK, i.e. needs second derivatives). y_0 = c_0 = tr_0 = 0. Thresholds are per unit, drawn from
Beta(3 m / (1 - m), 3) with mean m = ``thr_mean`` (EvNN v0.2), and are *not* trained by NTT nor part
of the NTK. Inputs x have shape (batch, T, I).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..checks import nonnegative_int

from .masks import check_density  # noqa: F401  (re-export convenience)

Params = Dict[str, Tensor]
VARIANTS = ("active", "all")
#: default student-NTK variant (docs/ntt.md: chosen on a validation split of digits; also the reference's)
DEFAULT_VARIANT = "all"


def check_variant(variant: str) -> str:
    """Return ``variant`` if it is 'active' or 'all', else raise ValueError naming ``variant``."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be 'active' or 'all', got {variant!r}")
    return variant


def torch_dtype(dtype) -> torch.dtype:
    """Map 'float32'/'float64' (or numpy/torch dtypes) to a torch floating dtype."""
    if isinstance(dtype, torch.dtype) and dtype in (torch.float32, torch.float64):
        return dtype
    name = str(np.dtype(dtype)) if not isinstance(dtype, torch.dtype) else str(dtype)
    if name in ("float32", "torch.float32"):
        return torch.float32
    if name in ("float64", "torch.float64"):
        return torch.float64
    raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")


def _glorot(rng: np.random.Generator, n_out: int, n_in: int, shape) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=shape)


class Twin:
    """Base class of the functional twins (see the module docstring)."""

    kind = "twin"
    n_in: int
    n_out: int

    # ----------------------------------------------------------------- interface to override
    @property
    def param_names(self) -> List[str]:
        raise NotImplementedError

    @property
    def weight_names(self) -> List[str]:
        """Maskable weight tensors, one per projection."""
        raise NotImplementedError

    @property
    def trainable_names(self) -> List[str]:
        """Parameters optimised by NTT / supervised training and included in the NTK."""
        return list(self.param_names)

    def init_arrays(self, seed: int) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def apply(self, params: Mapping[str, Tensor], x: Tensor) -> Tensor:
        raise NotImplementedError

    def projections(self) -> List[Tuple[str, str, str]]:
        raise NotImplementedError

    def spec(self) -> dict:
        raise NotImplementedError

    def input_shape(self) -> Tuple[int, ...]:
        """Shape of one input sample (without the batch axis)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- shared
    def init_params(self, seed: int, dtype="float32") -> Params:
        """Parameters at initialisation as torch tensors (no grad), from ``numpy.random.default_rng(seed)``."""
        seed = _check_seed(seed)
        td = torch_dtype(dtype)
        return {k: torch.as_tensor(v, dtype=td) for k, v in self.init_arrays(seed).items()}

    def is_pre_major(self, name: str) -> bool:
        """True if weight ``name`` is stored as (pre, post) by the twin (EvNN layout), else (post, pre)."""
        return False

    def post_pre(self, name: str, W: np.ndarray) -> np.ndarray:
        """Weight ``name`` as ``W[post, pre]`` (eventsim connectome convention)."""
        W = np.asarray(W)
        return W.T if self.is_pre_major(name) else W

    def check_x(self, x, name: str = "x") -> None:
        """Raise ValueError unless ``x`` has shape (batch, *input_shape()) and finite values."""
        shp = tuple(x.shape)
        want = self.input_shape()
        if len(shp) != 1 + len(want) or tuple(shp[1:]) != want:
            raise ValueError(f"{name} must have shape (batch, {', '.join(map(str, want))}), got {shp}")
        xa = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
        if not np.all(np.isfinite(xa)):
            raise ValueError(f"{name} must be finite (NaN or inf found)")

    def ntk(self, params: Mapping[str, Tensor], x1: Tensor, x2: Tensor,
            masks: Optional[Mapping[str, Tensor]] = None, variant: str = DEFAULT_VARIANT) -> Tensor:
        """Empirical NTK on the logits, shape (n1, n2, C, C); torch.func route (see ``ntk.ntk_func``)."""
        from .ntk import ntk_func

        return ntk_func(self, params, x1, x2, masks=masks, variant=variant)


def _check_seed(seed) -> int:
    """``seed`` as an int >= 0 (``eventsim.checks.nonnegative_int``)."""
    return nonnegative_int("seed", seed)


def _check_sizes(sizes, name: str = "sizes") -> List[int]:
    try:
        s = [int(v) for v in sizes]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of positive integers, got {sizes!r}") from None
    if len(s) < 2 or min(s) < 1 or any(float(a) != float(b) for a, b in zip(s, sizes)):
        raise ValueError(f"{name} must list at least two positive integer layer sizes, got {sizes!r}")
    return s


class MLPTwin(Twin):
    """ReLU MLP twin of a feed-forward LIF network; ``sizes`` = [n_in, hidden..., n_out].

    ``names``: population names (default as ``eventsim.Network.feedforward``: in, hidden / hidden1,
    hidden2, ..., out). Parameters ``W0, b0, W1, b1, ...`` with ``W_l`` of shape (post, pre).
    ``bias=False`` drops the biases (LIF projections have none), which also drops the +1 of the NTK.
    """

    kind = "mlp"

    def __init__(self, sizes: Sequence[int], names: Optional[Sequence[str]] = None, bias: bool = True):
        if not isinstance(bias, (bool, np.bool_)):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        self.bias = bool(bias)
        self.sizes = _check_sizes(sizes)
        L = len(self.sizes) - 1
        if names is None:
            hidden = ["hidden"] if L == 2 else [f"hidden{i + 1}" for i in range(L - 1)]
            names = ["in"] + hidden + ["out"]
        names = [str(n) for n in names]
        if len(names) != len(self.sizes) or len(set(names)) != len(names):
            raise ValueError(f"names must be {len(self.sizes)} distinct population names, got {names!r}")
        self.names = names
        self.n_in, self.n_out = self.sizes[0], self.sizes[-1]
        self.n_layers = L

    @property
    def param_names(self) -> List[str]:
        out = []
        for l in range(self.n_layers):
            out += [f"W{l}", f"b{l}"] if self.bias else [f"W{l}"]
        return out

    @property
    def weight_names(self) -> List[str]:
        return [f"W{l}" for l in range(self.n_layers)]

    def input_shape(self) -> Tuple[int, ...]:
        return (self.n_in,)

    def init_arrays(self, seed: int) -> Dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        p = {}
        for l in range(self.n_layers):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            p[f"W{l}"] = _glorot(rng, n_out, n_in, (n_out, n_in))
            b = rng.normal(0.0, 0.01, size=n_out)
            if self.bias:
                p[f"b{l}"] = b
        return p

    def apply(self, params: Mapping[str, Tensor], x: Tensor) -> Tensor:
        """Logits (batch, n_out) of inputs ``x`` (batch, n_in)."""
        h = x
        for l in range(self.n_layers):
            h = h @ params[f"W{l}"].T
            if self.bias:
                h = h + params[f"b{l}"]
            if l < self.n_layers - 1:
                h = torch.relu(h)
        return h

    def ntk(self, params: Mapping[str, Tensor], x1: Tensor, x2: Tensor,
            masks: Optional[Mapping[str, Tensor]] = None, variant: str = DEFAULT_VARIANT) -> Tensor:
        """Closed-form layer-wise NTK (see ``ntk.mlp_ntk``), shape (n1, n2, C, C)."""
        from .ntk import mlp_ntk

        return mlp_ntk(self, params, x1, x2, masks=masks, variant=variant)

    def projections(self) -> List[Tuple[str, str, str]]:
        return [(f"W{l}", self.names[l], self.names[l + 1]) for l in range(self.n_layers)]

    def spec(self) -> dict:
        return {"kind": "mlp", "sizes": list(self.sizes), "names": list(self.names), "bias": self.bias}

    def __repr__(self) -> str:
        return f"MLPTwin({'-'.join(map(str, self.sizes))})"


def heaviside_triangle(v: Tensor, gamma: float = 0.7, width: float = 1.0) -> Tensor:
    """H(v) (H(0) = 0) in the forward pass with derivative ``gamma * max(0, 1 - |v| / width)``.

    ``v``: any-shape tensor (membrane-like state minus threshold, dimensionless). Implemented as
    ``H(v) + psi(v) - psi(v).detach()`` with ``psi(u) = gamma (u - u|u| / (2 width))`` on
    ``u = clamp(v, -width, width)``, so it composes with autograd and torch.func at any order.
    """
    h = (v > 0).to(v.dtype)
    u = torch.clamp(v, -width, width)
    psi = gamma * (u - u * u.abs() / (2.0 * width))
    return h + (psi - psi.detach())


class GRUTwin(Twin):
    """EGRU-style GRU twin with a linear read-out of the output trace at the last step.

    ``n_in`` = I features per time step, ``n_hidden`` = H units, ``n_out`` = C logits,
    ``n_steps`` = T (inputs have shape (batch, T, I)). ``gamma``/``width``: pseudo-derivative height
    and half-width; ``thr_mean``: mean of the Beta-distributed thresholds in (0, 1); ``trace_decay``:
    alpha of the output trace. Parameters: W (I, 3H), R (H, 3H), b_x (3H), b_r (3H), thr (H, fixed),
    W_out (C, H), b_out (C).
    """

    kind = "gru"

    def __init__(self, n_in: int, n_hidden: int, n_out: int, n_steps: int, gamma: float = 0.7,
                 width: float = 1.0, thr_mean: float = 0.3, trace_decay: float = 0.9):
        self.n_in, self.n_hidden, self.n_out = _check_sizes([n_in, n_hidden, n_out], "sizes (n_in, n_hidden, n_out)")
        if isinstance(n_steps, bool) or int(n_steps) != n_steps or int(n_steps) < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
        self.n_steps = int(n_steps)
        for nm, v in (("gamma", gamma), ("width", width)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{nm} must be positive and finite, got {v!r}")
        if not (0 < thr_mean < 1):
            raise ValueError(f"thr_mean must be in (0, 1), got {thr_mean!r}")
        if not (0 <= trace_decay < 1):
            raise ValueError(f"trace_decay must be in [0, 1), got {trace_decay!r}")
        self.gamma, self.width = float(gamma), float(width)
        self.thr_mean, self.trace_decay = float(thr_mean), float(trace_decay)

    @property
    def param_names(self) -> List[str]:
        return ["W", "R", "b_x", "b_r", "thr", "W_out", "b_out"]

    @property
    def weight_names(self) -> List[str]:
        return ["W", "R", "W_out"]

    @property
    def trainable_names(self) -> List[str]:
        return ["W", "R", "b_x", "b_r", "W_out", "b_out"]

    def input_shape(self) -> Tuple[int, ...]:
        return (self.n_steps, self.n_in)

    def init_arrays(self, seed: int) -> Dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        I, H, C = self.n_in, self.n_hidden, self.n_out
        m = self.thr_mean
        return {
            "W": _glorot(rng, H, I, (I, 3 * H)),
            "R": _glorot(rng, H, H, (H, 3 * H)),
            "b_x": rng.normal(0.0, 0.01, size=3 * H),
            "b_r": rng.normal(0.0, 0.01, size=3 * H),
            "thr": np.clip(rng.beta(3.0 * m / (1.0 - m), 3.0, size=H), 0.0, 1.0),
            "W_out": _glorot(rng, C, H, (C, H)),
            "b_out": rng.normal(0.0, 0.01, size=C),
        }

    def run(self, params: Mapping[str, Tensor], x: Tensor, eps_a: Optional[Tensor] = None,
            eps_q: Optional[Tensor] = None, keep_inputs: bool = False) -> Tuple[Tensor, ...]:
        """Run the recurrence; returns (final trace (B, H), event indicators o (B, T, H)) and, with
        ``keep_inputs``, the recurrent matmul's inputs y_{t-1} (B, T, H) as a third element.

        ``eps_a``/``eps_q`` (B, T, 3H), optional: added to the input and recurrent pre-activations
        a_t and q_t (zeros give their gradients, used by the closed-form NTK ``ntk.gru_ntk``).
        """
        H = self.n_hidden
        W, R, b_x, b_r, thr = params["W"], params["R"], params["b_x"], params["b_r"], params["thr"]
        B, T = x.shape[0], x.shape[1]
        A = x @ W + b_x  # (B, T, 3H)
        if eps_a is not None:
            A = A + eps_a
        y = x.new_zeros((B, H))
        c = x.new_zeros((B, H))
        tr = x.new_zeros((B, H))
        os, ys = [], []
        for t in range(T):
            if keep_inputs:
                ys.append(y)
            q = y @ R + b_r
            if eps_q is not None:
                q = q + eps_q[:, t]
            a = A[:, t]
            z = torch.sigmoid(a[:, :H] + q[:, :H])
            r = torch.sigmoid(a[:, H:2 * H] + q[:, H:2 * H])
            g = torch.tanh(a[:, 2 * H:] + r * q[:, 2 * H:])
            chat = z * c + (1.0 - z) * g
            o = heaviside_triangle(chat - thr, self.gamma, self.width)
            y = o * chat
            c = chat - o * thr
            tr = self.trace_decay * tr + (1.0 - self.trace_decay) * y
            os.append(o)
        if keep_inputs:
            return tr, torch.stack(os, 1), torch.stack(ys, 1)
        return tr, torch.stack(os, 1)

    def apply(self, params: Mapping[str, Tensor], x: Tensor) -> Tensor:
        """Logits (batch, C) of input sequences ``x`` (batch, T, I)."""
        tr, _ = self.run(params, x)
        return tr @ params["W_out"].T + params["b_out"]

    def ntk(self, params: Mapping[str, Tensor], x1: Tensor, x2: Tensor,
            masks: Optional[Mapping[str, Tensor]] = None, variant: str = DEFAULT_VARIANT) -> Tensor:
        """Empirical NTK on the logits, shape (n1, n2, C, C): the time-factorised closed form
        (``ntk.gru_ntk``), for both variants."""
        from .ntk import gru_ntk

        return gru_ntk(self, params, x1, x2, masks=masks, variant=variant)

    def projections(self) -> List[Tuple[str, str, str]]:
        return [("W", "in", "egru"), ("R", "egru", "egru"), ("W_out", "egru", "out")]

    def is_pre_major(self, name: str) -> bool:
        """W (I, 3H) and R (H, 3H) are stored pre-major (EvNN); ``post_pre`` returns them as (3H, pre)."""
        return name in ("W", "R")

    def spec(self) -> dict:
        return {"kind": "gru", "n_in": self.n_in, "n_hidden": self.n_hidden, "n_out": self.n_out,
                "n_steps": self.n_steps, "gamma": self.gamma, "width": self.width,
                "thr_mean": self.thr_mean, "trace_decay": self.trace_decay}

    def __repr__(self) -> str:
        return f"GRUTwin(I={self.n_in}, H={self.n_hidden}, C={self.n_out}, T={self.n_steps})"


def twin_from_spec(spec: Mapping) -> Twin:
    """Rebuild a twin from ``Twin.spec()``."""
    kind = spec.get("kind")
    if kind == "mlp":
        return MLPTwin(spec["sizes"], spec.get("names"), bool(spec.get("bias", True)))
    if kind == "gru":
        kw = {k: spec[k] for k in ("gamma", "width", "thr_mean", "trace_decay") if k in spec}
        return GRUTwin(spec["n_in"], spec["n_hidden"], spec["n_out"], spec["n_steps"], **kw)
    raise ValueError(f"spec['kind'] must be 'mlp' or 'gru', got {kind!r}")
