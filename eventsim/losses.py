"""Losses for EventProp training, with their derivatives with respect to what the simulation exposes.

Each loss maps a ``Result`` and integer labels (shape (n_samples,)) to a scalar (mean over the
batch) and provides the pieces the adjoint pass needs:

- ``spike_time_grads``: dL/dt_k for individual spikes (first-spike-time losses),
- ``vmax_grads``: dL/dV_max for non-spiking read-outs (max-voltage loss),
- ``vint_grads``: dL/dQ with Q = integral of V over [0, t_max] (voltage-integral loss).

Exact losses: ``FirstSpikeCE``, ``MaxVoltageCE``, ``VoltageIntegralCE``. ``SpikeCountReg`` is a
documented heuristic (spike counts are piecewise constant, their exact gradient is zero).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def check_labels(labels, n_samples: int, n_classes: int) -> np.ndarray:
    """Labels as int64 of shape (n_samples,) in [0, n_classes); ValueError otherwise."""
    y = np.asarray(labels)
    if y.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},), got {y.shape}")
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be integers in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


class Loss:
    """Base class. ``population`` names the population the loss reads."""

    population: str = "out"
    kind = "none"

    def value_and_parts(self, result, labels) -> Tuple[float, Dict[str, np.ndarray]]:  # pragma: no cover
        raise NotImplementedError

    def predict(self, result) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


@dataclass
class FirstSpikeCE(Loss):
    """Cross-entropy on first-spike times with the Wunderlich & Pehle (2021) regulariser.

    ``L = mean_b[ -log softmax(-t_b / tau0)[label_b] + alpha (exp(t_b[label_b] / tau1) - 1) ]``,
    t = first spike time (ms) of each output neuron. Paper values tau0 = 0.5 ms, tau1 = 6.4 ms,
    alpha = 3e-3. Only the first spike of each output neuron receives dL/dt.

    Silent neurons (policy ``silent``): output neurons that never fire are left out of the softmax
    (as the reference code does). If the label neuron is silent: ``"none"`` (default) the sample
    contributes no gradient (no spike, no gradient); ``"phantom"`` injects, at t_max, the gradient a
    spike at t_max would receive, as a kick of the adjoint voltage (a heuristic that pushes the
    neuron towards firing). The loss value treats a silent label neuron as firing at t_max in the
    cross-entropy and leaves out its regulariser term.
    """

    population: str = "out"
    tau0: float = 0.5
    tau1: float = 6.4
    alpha: float = 3e-3
    silent: str = "none"
    kind = "first_spike"

    def __post_init__(self):
        for n in ("tau0", "tau1"):
            v = getattr(self, n)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{n} must be positive (ms), got {v!r}")
        if not (self.alpha >= 0):
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        if self.silent not in ("none", "phantom"):
            raise ValueError(f"silent must be 'none' or 'phantom', got {self.silent!r}")

    def _terms(self, t: np.ndarray, y: np.ndarray, t_max: float):
        B, C = t.shape
        fires = np.isfinite(t)
        lab_fires = fires[np.arange(B), y]
        tt = np.where(fires, t, t_max)
        z = np.where(fires | (np.arange(C)[None, :] == y[:, None]), -tt / self.tau0, -np.inf)
        zmax = z.max(axis=1, keepdims=True)
        e = np.exp(z - zmax)
        s = e / e.sum(axis=1, keepdims=True)
        tl = tt[np.arange(B), y]
        # a silent label neuron counts as firing at t_max in the cross-entropy; its regulariser term
        # is left out (exp(t_max / tau1) would swamp the value while carrying no gradient)
        per = -np.log(s[np.arange(B), y]) + np.where(lab_fires, self.alpha * (np.exp(tl / self.tau1) - 1.0), 0.0)
        # dL/dt per sample (before the 1/B of the mean):
        #   label l: (1 - s_l)/tau0 + (alpha/tau1) exp(t_l/tau1);  other firing k: -s_k/tau0
        g = np.where(fires, -s / self.tau0, 0.0)
        g[np.arange(B), y] = (1.0 - s[np.arange(B), y]) / self.tau0 + (self.alpha / self.tau1) * np.exp(tl / self.tau1)
        g[~lab_fires] = 0.0
        return per, g, lab_fires, s, tl

    def value_and_parts(self, result, labels):
        t = result.first_spike_times(self.population)
        y = check_labels(labels, t.shape[0], t.shape[1])
        B = t.shape[0]
        per, g, lab_fires, s, tl = self._terms(t, y, result.t_max)
        parts = {"first_spike_grad": g / B}
        if self.silent == "phantom" and np.any(~lab_fires):
            ph = np.zeros_like(g)
            rows = np.flatnonzero(~lab_fires)
            ph[rows, y[rows]] = ((1.0 - s[rows, y[rows]]) / self.tau0
                                 + (self.alpha / self.tau1) * np.exp(tl[rows] / self.tau1)) / B
            parts["phantom_grad"] = ph
        return float(per.mean()), parts

    def predict(self, result) -> np.ndarray:
        """Class of the earliest first spike; -1 if no output neuron fires. Ties: lowest index."""
        t = result.first_spike_times(self.population)
        pred = np.argmin(t, axis=1)
        pred[~np.isfinite(t.min(axis=1))] = -1
        return pred


@dataclass
class MaxVoltageCE(Loss):
    """Cross-entropy on the maximum over [0, t_max] of V of non-spiking read-outs (v_th = inf).

    ``L = mean_b[ -log softmax(V_max,b)[label_b] ]``; ``dL/dV_max = (softmax - onehot) / B``.
    """

    population: str = "out"
    kind = "vmax"

    def value_and_parts(self, result, labels):
        vm = result.max_voltage(self.population)
        y = check_labels(labels, vm.shape[0], vm.shape[1])
        B = vm.shape[0]
        s = _softmax(vm)
        per = -np.log(np.maximum(s[np.arange(B), y], 1e-300))
        g = s.copy()
        g[np.arange(B), y] -= 1.0
        return float(per.mean()), {"vmax_grad": g / B}

    def predict(self, result) -> np.ndarray:
        return np.argmax(result.max_voltage(self.population), axis=1)


@dataclass
class VoltageIntegralCE(Loss):
    """Cross-entropy on the time-averaged voltage of non-spiking read-outs ("sum" read-out).

    Logits ``m = Q / t_max`` with ``Q = integral_0^t_max V dt``; ``L = mean_b[-log softmax(m_b)[label_b]]``.
    """

    population: str = "out"
    kind = "vint"

    def value_and_parts(self, result, labels):
        q = result.voltage_integral(self.population) / result.t_max
        y = check_labels(labels, q.shape[0], q.shape[1])
        B = q.shape[0]
        s = _softmax(q)
        per = -np.log(np.maximum(s[np.arange(B), y], 1e-300))
        g = s.copy()
        g[np.arange(B), y] -= 1.0
        return float(per.mean()), {"vint_grad": g / (B * result.t_max)}

    def predict(self, result) -> np.ndarray:
        return np.argmax(result.voltage_integral(self.population), axis=1)


@dataclass
class SpikeCountReg(Loss):
    """Heuristic hidden-activity regulariser (NOT an exact gradient).

    Value ``0.5 * strength * mean_{b,n} (count_bn - target)^2``. Spike counts are piecewise constant,
    so their exact gradient is zero; as in mlGeNN, every spike of neuron n in sample b instead gets
    the spike-time derivative ``-strength * (count_bn - target) / (B * n)``, which moves spikes later
    (towards disappearing) when a neuron fires too much and earlier when it fires too little.
    """

    population: str = "hidden"
    target: float = 1.0
    strength: float = 1e-3
    kind = "count_reg"

    def value_and_parts(self, result, labels):
        c = result.counts(self.population).astype(float)
        B, n = c.shape
        dev = c - self.target
        return float(0.5 * self.strength * np.mean(dev ** 2)), {"count_dev": -self.strength * dev / (B * n)}

    def predict(self, result) -> np.ndarray:
        raise ValueError("SpikeCountReg is a regulariser; predict with the main loss")


LossSpec = Union[Loss, Sequence[Loss]]


def as_list(loss: LossSpec) -> List[Loss]:
    """A loss or a sequence of losses (summed) as a list; ValueError on anything else."""
    items = list(loss) if isinstance(loss, (list, tuple)) else [loss]
    if not items:
        raise ValueError("loss must be a Loss or a non-empty list of Loss objects")
    for it in items:
        if not isinstance(it, Loss):
            raise ValueError(f"loss must be a Loss from eventsim.losses, got {type(it).__name__}")
    return items
