"""Gradient-descent optimisers in NumPy, shared by EventProp, EGRU and NTT training.

Parameters are a ``dict[str, np.ndarray]`` that the optimiser updates **in place**; gradients are a
dict with the same keys and shapes. Sparse (CSR) weights are optimised through their ``data``
array, so the sparsity pattern never changes.

Adam (Kingma & Ba 2015), per parameter array p with gradient g at step k = 1, 2, ...::

    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
    p -= lr_k * (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)

SGD with optional momentum mu: ``u = mu u + g; p -= lr_k u``.
The learning rate ``lr_k`` comes from a schedule (a float, or a callable of the step count).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Union

import numpy as np

Params = Dict[str, np.ndarray]
Schedule = Union[float, Callable[[int], float]]


def _is_number(v) -> bool:
    """A real number (int, float or NumPy scalar), not a bool or a string."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


@dataclass(frozen=True)
class ExponentialDecay:
    """Learning rate ``lr0 * gamma ** (step // every)`` (step counted from 0)."""

    lr0: float
    gamma: float
    every: int = 1

    def __post_init__(self) -> None:
        if not (_is_number(self.lr0) and self.lr0 > 0 and np.isfinite(self.lr0)):
            raise ValueError(f"lr0 must be positive and finite, got {self.lr0!r}")
        if not (_is_number(self.gamma) and 0 < self.gamma <= 1):
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma!r}")
        if not (_is_number(self.every) and self.every >= 1):
            raise ValueError(f"every must be a number >= 1 (steps), got {self.every!r}")

    def __call__(self, step: int) -> float:
        return float(self.lr0 * self.gamma ** (step // self.every))


def _check_lr(lr: Schedule) -> None:
    if callable(lr):
        return
    if not (_is_number(lr) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number or a schedule, got {lr!r}")


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Scale all gradients in place so that their joint L2 norm is at most ``max_norm``.

    Returns the norm before clipping.
    """
    if not (_is_number(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be positive, got {max_norm!r}")
    total = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))
    if total > max_norm:
        scale = max_norm / (total + 1e-12)
        for g in grads.values():
            g *= scale
    return total


class Optimizer:
    """Base class: holds the parameter dict, the step count and the learning-rate schedule."""

    def __init__(self, params: Params, lr: Schedule):
        _check_lr(lr)
        if not params:
            raise ValueError("params must be a non-empty dict of arrays")
        for k, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise ValueError(f"params[{k!r}] must be a floating-point ndarray, got {type(p).__name__}")
        self.params = params
        self.lr = lr
        self.step_count = 0

    def current_lr(self) -> float:
        """Learning rate that the next ``step`` will use."""
        return float(self.lr(self.step_count) if callable(self.lr) else self.lr)

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

    def __init__(self, params: Params, lr: Schedule = 1e-2, momentum: float = 0.0):
        super().__init__(params, lr)
        if not (_is_number(momentum) and 0.0 <= momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.buf = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        self._check_grads(grads)
        lr = self.current_lr()
        for k, p in self.params.items():
            if self.momentum > 0:
                self.buf[k] *= self.momentum
                self.buf[k] += grads[k]
                p -= lr * self.buf[k]
            else:
                p -= lr * grads[k]
        self.step_count += 1

    def state_dict(self) -> Dict[str, np.ndarray]:
        d = super().state_dict()
        d.update({f"buf/{k}": v.copy() for k, v in self.buf.items()})
        return d

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        for k in self.buf:
            self.buf[k][...] = state[f"buf/{k}"]


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction; defaults b1=0.9, b2=0.999, eps=1e-8.

    ``weight_decay`` > 0 adds decoupled weight decay (AdamW, Loshchilov & Hutter 2019): every step
    also does ``p -= lr * weight_decay * p`` (before the Adam update, as torch.optim.AdamW).
    """

    def __init__(self, params: Params, lr: Schedule = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not (_is_number(weight_decay) and np.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0 and finite, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (b1, b2) in [0, 1), got {betas!r}") from None
        if not (_is_number(b1) and _is_number(b2) and 0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
        if not (_is_number(eps) and np.isfinite(eps) and eps > 0):
            raise ValueError(f"eps must be positive, got {eps!r}")
        self.b1, self.b2, self.eps = float(b1), float(b2), float(eps)
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
            if self.weight_decay:
                p *= 1.0 - lr * self.weight_decay
            m, v = self.m[k], self.v[k]
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            p -= lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
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
