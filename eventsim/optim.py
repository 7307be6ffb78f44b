"""Gradient-descent optimisers in NumPy, shared by EventProp, EGRU and NTT training.

Parameters are a ``dict[str, np.ndarray]`` that the optimiser updates **in place**; gradients are a
dict with the same keys and shapes. Sparse (CSR) weights are optimised through their ``data``
array, so the sparsity pattern never changes.

Adam (Kingma & Ba 2015), per parameter array p with gradient g at step k = 1, 2, ...::

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
    p -= lr_k * (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)

Decoupled weight decay (AdamW, Loshchilov & Hutter 2019; ``Adam(weight_decay=wd)`` or ``AdamW``)
first does ``p *= 1 - lr_k * wd`` for every parameter that the ``mask`` selects (all by default),
as torch.optim.AdamW does; the Adam moments never see the decay. ``mask`` is a dict
``name -> bool`` covering every parameter, or a callable ``name -> bool`` (like optax's ``mask=``),
e.g. ``lambda k: not k.endswith(".thr")`` to leave thresholds undecayed.

SGD with optional momentum mu: ``u = mu u + g; p -= lr_k u``.
The learning rate ``lr_k`` comes from a schedule (a float, or a callable of the step count).
``lr_scale`` (a dict ``name -> factor``) multiplies it for the parameters it names, like a torch
parameter group with its own learning rate (``eventsim.train.fit`` gives the delays theirs).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Mapping, Optional, Union

import numpy as np

from .checks import in_interval, is_real, nonnegative_number, positive_number, show

Params = Dict[str, np.ndarray]
Schedule = Union[float, Callable[[int], float]]
DecayMask = Union[Mapping[str, bool], Callable[[str], bool]]
LrScale = Optional[Mapping[str, float]]

_is_number = is_real


@dataclass(frozen=True)
class ExponentialDecay:
    """Learning rate ``lr0 * gamma ** (step // every)`` (step counted from 0)."""

    lr0: float
    gamma: float
    every: int = 1

    def __post_init__(self) -> None:
        positive_number("lr0", self.lr0)
        in_interval("gamma", self.gamma, 0.0, 1.0, low_open=True)
        if not (_is_number(self.every) and self.every >= 1):
            raise ValueError(f"every must be a number >= 1 (steps), got {show(self.every)}")

    def __call__(self, step: int) -> float:
        return float(self.lr0 * self.gamma ** (step // self.every))


def _check_lr(lr: Schedule) -> None:
    if callable(lr):
        return
    if not (_is_number(lr) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number or a schedule, got {show(lr)}")


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients in place so that their joint L2 norm is at most ``max_norm``.

    Returns the norm before clipping.
    """
    positive_number("max_norm", max_norm)
    total = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))
    if total > max_norm:
        scale = max_norm / (total + 1e-12)
        for g in grads.values():
            g *= scale
    return total


def _check_lr_scale(params: Params, lr_scale: LrScale) -> Dict[str, float]:
    if lr_scale is None:
        return {}
    if not isinstance(lr_scale, Mapping):
        raise ValueError(f"lr_scale must be None or a dict name -> positive factor, got {type(lr_scale).__name__}")
    unknown = [k for k in lr_scale if k not in params]
    if unknown:
        raise ValueError(f"lr_scale names parameters that do not exist: {unknown} (have {sorted(params)})")
    return {k: positive_number(f"lr_scale[{k!r}]", v) for k, v in lr_scale.items()}


class Optimizer:
    """Base class: holds the parameter dict, the step count, the learning-rate schedule and the
    per-parameter learning-rate factors ``lr_scale`` (name -> positive factor; 1 for the others)."""

    def __init__(self, params: Params, lr: Schedule, lr_scale: LrScale = None):
        _check_lr(lr)
        if not params:
            raise ValueError("params must be a non-empty dict of arrays")
        for k, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise ValueError(f"params[{k!r}] must be a floating-point ndarray, got {type(p).__name__}")
        self.params = params
        self.lr = lr
        self.lr_scale = _check_lr_scale(params, lr_scale)
        self.step_count = 0

    def current_lr(self) -> float:
        """Learning rate that the next ``step`` will use (before ``lr_scale``)."""
        return float(self.lr(self.step_count) if callable(self.lr) else self.lr)

    def _lr_of(self, name: str, lr: float) -> float:
        f = self.lr_scale.get(name)
        return lr if f is None else lr * f

    def _check_grads(self, grads: Mapping[str, np.ndarray]) -> None:
        for k, p in self.params.items():
            if k not in grads:
                raise ValueError(f"grads is missing the key {k!r}")
            g = grads[k]
            if g.shape != p.shape:
                raise ValueError(f"grads[{k!r}] has shape {g.shape}, parameter has {p.shape}")
            if not np.all(np.isfinite(g)):
                raise ValueError(f"grads[{k!r}] contains NaN or inf")

    def step(self, grads: Mapping[str, np.ndarray]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> Dict[str, np.ndarray]:
        """Flat dict of arrays (for HDF5 checkpoints); restores exactly with ``load_state_dict``."""
        return {"step_count": np.asarray(self.step_count, dtype=np.int64)}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        self.step_count = int(state["step_count"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional (heavy-ball) momentum."""

    def __init__(self, params: Params, lr: Schedule = 1e-2, momentum: float = 0.0, lr_scale: LrScale = None):
        super().__init__(params, lr, lr_scale)
        self.momentum = in_interval("momentum", momentum, 0.0, 1.0, high_open=True)
        self.buf = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        self._check_grads(grads)
        lr = self.current_lr()
        for k, p in self.params.items():
            lr_k = self._lr_of(k, lr)
            if self.momentum > 0:
                self.buf[k] *= self.momentum
                self.buf[k] += grads[k]
                p -= lr_k * self.buf[k]
            else:
                p -= lr_k * grads[k]
        self.step_count += 1

    def state_dict(self) -> Dict[str, np.ndarray]:
        d = super().state_dict()
        d.update({f"buf/{k}": v.copy() for k, v in self.buf.items()})
        return d

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        for k in self.buf:
            self.buf[k][...] = state[f"buf/{k}"]


def decay_mask(params: Mapping[str, np.ndarray], mask: Optional[DecayMask]) -> FrozenSet[str]:
    """The names of ``params`` that weight decay applies to: all with ``mask=None``; else those
    whose entry in the dict ``mask`` (which must name every parameter and no other) or whose
    value of the callable ``mask(name)`` is true."""
    if mask is None:
        return frozenset(params)
    if callable(mask):
        return frozenset(k for k in params if bool(mask(k)))
    if not isinstance(mask, Mapping):
        raise ValueError(f"mask must be None, a dict name -> bool or a callable name -> bool, "
                         f"got {type(mask).__name__}")
    missing = [k for k in params if k not in mask]
    extra = [k for k in mask if k not in params]
    if missing or extra:
        raise ValueError(f"mask must name every parameter and no other: missing {missing}, unknown {extra}")
    for k, v in mask.items():
        if not isinstance(v, (bool, np.bool_)):
            raise ValueError(f"mask[{k!r}] must be a bool, got {show(v)}")
    return frozenset(k for k in params if mask[k])


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction; defaults b1=0.9, b2=0.999, eps=1e-8.

    ``weight_decay`` > 0 adds decoupled weight decay (AdamW, Loshchilov & Hutter 2019): every step
    also does ``p -= lr * weight_decay * p`` (before the Adam update, as torch.optim.AdamW) for the
    parameters that ``mask`` selects: None (all), a dict ``name -> bool`` naming every parameter,
    or a callable ``name -> bool``. ``decayed`` holds the selected names.
    """

    def __init__(self, params: Params, lr: Schedule = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, mask: Optional[DecayMask] = None, lr_scale: LrScale = None):
        super().__init__(params, lr, lr_scale)
        self.weight_decay = nonnegative_number("weight_decay", weight_decay)
        self.decayed = decay_mask(params, mask)
        self.masked = mask is not None
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (b1, b2) in [0, 1), got {show(betas)}") from None
        if not (_is_number(b1) and _is_number(b2) and 0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must lie in [0, 1), got {show(betas)}")
        self.eps = positive_number("eps", eps)
        self.b1, self.b2 = float(b1), float(b2)
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        self._check_grads(grads)
        lr = self.current_lr()
        k_step = self.step_count + 1
        c1 = 1.0 - self.b1 ** k_step
        c2 = 1.0 - self.b2 ** k_step
        for k, p in self.params.items():
            g = grads[k]
            lr_k = self._lr_of(k, lr)
            if self.weight_decay and k in self.decayed:
                p *= 1.0 - lr_k * self.weight_decay
            m, v = self.m[k], self.v[k]
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            p -= lr_k * (m / c1) / (np.sqrt(v / c2) + self.eps)
        self.step_count = k_step

    def state_dict(self) -> Dict[str, np.ndarray]:
        d = super().state_dict()
        d.update({f"m/{k}": v.copy() for k, v in self.m.items()})
        d.update({f"v/{k}": v.copy() for k, v in self.v.items()})
        return d

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        for k in self.m:
            self.m[k][...] = state[f"m/{k}"]
            self.v[k][...] = state[f"v/{k}"]


class AdamW(Adam):
    """``Adam`` with decoupled weight decay on by default (``weight_decay=1e-2``, torch.optim.AdamW's
    default); ``mask`` selects the decayed parameters as in ``Adam``."""

    def __init__(self, params: Params, lr: Schedule = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, mask: Optional[DecayMask] = None, lr_scale: LrScale = None):
        super().__init__(params, lr, betas, eps, weight_decay, mask, lr_scale)
