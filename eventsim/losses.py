"""Losses for EventProp training, with their derivatives with respect to what the simulation exposes.

Every loss is a mean over the batch. ``loss.value_and_parts(result, labels)`` returns the value and a
dict of the pieces the adjoint pass (``eventsim.eventprop``) needs, all already divided by the batch
size (arrays of shape (n_samples, n_neurons_of_population) unless noted):

- ``first_spike_grad``: dL/dt of each neuron's first spike (ms^-1), 0 for silent neurons;
- ``spike_grad``: dL/dt_k for every recorded spike k (shape (n_spikes,), aligned with ``Result.times``);
- ``vmax_grad``: dL/dVmax of non-spiking read-outs (Vmax = max of V over [0, t_max]), or of spiking
  neurons in samples where they stayed silent (then Vmax is ``Result.silent_peak``);
- ``vint_grad``: dL/dQ of non-spiking read-outs (Q = integral of V over [0, t_max], ms);
- ``phantom_grad``: heuristic dL/dt of a *missing* spike, applied as if it occurred at t_max;
- ``spike_kick``: heuristic kick added to dL/dV just before every spike of a neuron.

Exact (the gradient returned is the true gradient of the value for the current spike pattern):
``FirstSpikeCE`` (for samples whose label neuron fires), ``MaxVoltageCE``, ``VoltageIntegralCE``,
``SilentPeakReg`` (pulls up the peak V of silent neurons; ``vmax_grad`` on a spiking population).
Heuristic (documented, not a gradient of anything): ``FirstSpikeCE(silent="phantom")`` for samples
whose label neuron is silent, and ``SpikeCountReg``. Losses are combined by passing a list.
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
    """Labels as int64 of shape (n_samples,) in [0, n_classes); ValueError naming ``labels`` otherwise."""
    y = np.asarray(labels)
    if y.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},) (one per sample), got {y.shape}")
    if y.size and not (np.issubdtype(y.dtype, np.integer) and not np.issubdtype(y.dtype, np.bool_)):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must be in [0, {n_classes}) (the population size), "
                         f"got range [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


class Loss:
    """Base class. ``population`` names the population the loss reads; ``kind`` is 'spiking' or 'readout'."""

    population: str = "out"
    needs = "spiking"

    def check(self, net) -> None:
        """ValueError if ``population`` does not exist in ``net`` or is of the wrong kind."""
        pop = net.population(self.population)  # ValueError naming it if absent
        if pop.is_input:
            raise ValueError(f"{type(self).__name__}: population {self.population!r} is an input population")
        spiking = pop.params.spiking
        if self.needs == "spiking" and not spiking:
            raise ValueError(f"{type(self).__name__} needs a spiking population; {self.population!r} is a "
                             "non-spiking read-out (v_th=inf)")
        if self.needs == "readout" and spiking:
            raise ValueError(f"{type(self).__name__} needs a non-spiking read-out population "
                             f"(LIFParams.readout(), v_th=inf); {self.population!r} spikes")

    def value_and_parts(self, result, labels) -> Tuple[float, Dict[str, np.ndarray]]:  # pragma: no cover
        raise NotImplementedError

    def value(self, result, labels) -> float:
        """The loss value only."""
        return float(self.value_and_parts(result, labels)[0])

    def predict(self, result) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _check_pos(name, v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {v!r}")
    return v


@dataclass
class FirstSpikeCE(Loss):
    """Cross-entropy on first-spike times with the Wunderlich & Pehle (2021) regulariser (exact).

    ``L = mean_b[ -log softmax(-t_b / tau0)[label_b] + alpha (exp(t_b[label_b] / tau1) - 1) ]``, with
    t = first spike time (ms) of each neuron of ``population``. Paper (Yin-Yang) values tau0 = 0.5 ms,
    tau1 = 6.4 ms, alpha = 3e-3. Only the first spike of each neuron receives dL/dt:
    ``(1 - s_l)/tau0 + (alpha/tau1) exp(t_l/tau1)`` for the label neuron l, ``-s_k/tau0`` for the
    others (s = softmax(-t/tau0)), divided by the batch size.

    Silent neurons (``silent``): output neurons that never fire are left out of the softmax, as in
    the reference code. If the label neuron is silent the value counts it as firing at t_max in
    the cross-entropy and leaves out its regulariser term; the gradient for that sample is:

    - ``"none"`` (default, as the reference code): zero (no spike, no gradient);
    - ``"phantom"``: a heuristic push towards firing: dL/dV of the label neuron is kicked at t_max by
      ``-G tau_mem / (v_th - v_leak)``, where G = (1 - s_l)/tau0 is the cross-entropy part of the
      dL/dt a label spike at t_max would get (the adjoint jump of a spike at t_max with the
      reference slope (v_th - v_leak)/tau_mem). The regulariser's part is left out, as in the value:
      at t_max = 100 ms it would be (alpha/tau1) exp(t_max/tau1), about 3000 with the paper's
      constants, and such kicks made even dense Yin-Yang networks fall silent. This is not the
      gradient of the value (the value is flat in the label neuron's weights there).
    """

    population: str = "out"
    tau0: float = 0.5
    tau1: float = 6.4
    alpha: float = 3e-3
    silent: str = "none"
    needs = "spiking"

    def __post_init__(self):
        self.tau0 = _check_pos("tau0", self.tau0)
        self.tau1 = _check_pos("tau1", self.tau1)
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0, got {self.alpha!r}")
        if self.silent not in ("none", "phantom"):
            raise ValueError(f"silent must be 'none' or 'phantom', got {self.silent!r}")

    def _terms(self, t: np.ndarray, y: np.ndarray, t_max: float):
        B, C = t.shape
        r = np.arange(B)
        fires = np.isfinite(t)
        lab_fires = fires[r, y]
        tt = np.where(fires, t, t_max)
        z = np.where(fires | (np.arange(C)[None, :] == y[:, None]), -tt / self.tau0, -np.inf)
        zmax = z.max(axis=1, keepdims=True)
        e = np.exp(z - zmax)
        s = e / e.sum(axis=1, keepdims=True)
        tl = tt[r, y]
        per = -np.log(s[r, y]) + np.where(lab_fires, self.alpha * np.expm1(tl / self.tau1), 0.0)
        g = np.where(fires, -s / self.tau0, 0.0)
        g_lab = (1.0 - s[r, y]) / self.tau0 + (self.alpha / self.tau1) * np.exp(tl / self.tau1)
        g[r, y] = g_lab
        g[~lab_fires] = 0.0
        return per, g, lab_fires, (1.0 - s[r, y]) / self.tau0

    def value_and_parts(self, result, labels):
        t = result.first_spike_times(self.population)
        B = t.shape[0]
        y = check_labels(labels, B, t.shape[1])
        if B == 0:
            return 0.0, {}
        per, g, lab_fires, g_ce = self._terms(t, y, result.t_max)
        parts = {"first_spike_grad": g / B}
        if self.silent == "phantom" and np.any(~lab_fires):
            ph = np.zeros_like(g)
            rows = np.flatnonzero(~lab_fires)
            ph[rows, y[rows]] = g_ce[rows] / B
            parts["phantom_grad"] = ph
        return float(per.mean()), parts

    def predict(self, result) -> np.ndarray:
        """Class of the earliest first spike; -1 if no neuron fires. Ties: lowest index."""
        t = result.first_spike_times(self.population)
        pred = np.argmin(t, axis=1) if t.size else np.zeros(t.shape[0], np.int64)
        pred[~np.isfinite(t.min(axis=1, initial=np.inf))] = -1
        return pred


@dataclass
class MaxVoltageCE(Loss):
    """Cross-entropy on the maximum over [0, t_max] of V of non-spiking read-outs (v_th = inf), exact.

    ``L = mean_b[ -log softmax(V_max,b)[label_b] ]``; ``dL/dV_max = (softmax - onehot) / B``, applied
    (envelope theorem) as a jump of dL/dV at the time of the maximum; a maximum sitting on an input
    arrival (a kink) moves with that arrival (handled in the adjoint pass).
    """

    population: str = "out"
    needs = "readout"

    def value_and_parts(self, result, labels):
        vm = result.max_voltage(self.population)
        B = vm.shape[0]
        y = check_labels(labels, B, vm.shape[1])
        if B == 0:
            return 0.0, {}
        s = _softmax(vm)
        per = -np.log(np.maximum(s[np.arange(B), y], 1e-300))
        g = s.copy()
        g[np.arange(B), y] -= 1.0
        return float(per.mean()), {"vmax_grad": g / B}

    def predict(self, result) -> np.ndarray:
        return np.argmax(result.max_voltage(self.population), axis=1)


@dataclass
class VoltageIntegralCE(Loss):
    """Cross-entropy on the time-averaged voltage of non-spiking read-outs ("sum" read-out), exact.

    Logits ``m = Q / t_max`` with ``Q = integral_0^t_max V dt``; ``L = mean_b[-log softmax(m_b)[label_b]]``;
    ``dL/dQ = (softmax - onehot) / (B t_max)``, a constant source of dL/dV over [0, t_max].
    """

    population: str = "out"
    needs = "readout"

    def value_and_parts(self, result, labels):
        q = result.voltage_integral(self.population) / result.t_max
        B = q.shape[0]
        y = check_labels(labels, B, q.shape[1])
        if B == 0:
            return 0.0, {}
        s = _softmax(q)
        per = -np.log(np.maximum(s[np.arange(B), y], 1e-300))
        g = s.copy()
        g[np.arange(B), y] -= 1.0
        return float(per.mean()), {"vint_grad": g / (B * result.t_max)}

    def predict(self, result) -> np.ndarray:
        return np.argmax(result.voltage_integral(self.population), axis=1)


@dataclass
class SpikeCountReg(Loss):
    """Spike-count regulariser for hidden activity: a documented HEURISTIC, not an exact gradient.

    Value (for monitoring): ``0.5 * strength * mean_b sum_n (c_bn - target)^2`` with c the spike
    count of neuron n in sample b (or its batch mean, ``per_batch=True``). Counts are piecewise
    constant in the weights, so the exact gradient of this value is zero almost everywhere. As in
    mlGeNN's EventProp compiler (``RegLambdaUpper/Lower``: ``lambda_V -= lambda_reg (count - target)``
    at each spike), every spike of neuron n instead kicks the adjoint voltage just before the spike::

        a_V,n += strength_(upper|lower) * (c_bn - target) / B      (a_V = dL/dV = -tau_mem lambda_V)

    with ``strength`` used when c > target and ``strength_lower`` (default: ``strength``) otherwise.
    A positive kick makes the gradient lower the neuron's input weights when it fires too much;
    a silent neuron has no spike to kick, so the lower branch cannot revive it.
    """

    population: str = "hidden"
    target: float = 1.0
    strength: float = 1e-3
    strength_lower: float = None
    per_batch: bool = False
    needs = "spiking"

    def __post_init__(self):
        for name in ("target", "strength"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.strength_lower is None:
            self.strength_lower = self.strength
        if not (isinstance(self.strength_lower, (int, float)) and math.isfinite(self.strength_lower)
                and self.strength_lower >= 0):
            raise ValueError(f"strength_lower must be a finite number >= 0, got {self.strength_lower!r}")

    def value_and_parts(self, result, labels):
        c = result.counts(self.population).astype(float)
        B = c.shape[0]
        if B == 0:
            return 0.0, {}
        if self.per_batch:
            c = np.broadcast_to(c.mean(axis=0, keepdims=True), c.shape)
        dev = c - self.target
        lam = np.where(dev > 0, self.strength, self.strength_lower)
        value = 0.5 * float(np.mean(np.sum(lam * dev ** 2, axis=1)))
        return value, {"spike_kick": lam * dev / B}

    def predict(self, result) -> np.ndarray:
        raise ValueError("SpikeCountReg is a regulariser; predict with the main loss")


@dataclass
class SilentPeakReg(Loss):
    """Pulls up the peak voltage of neurons that stayed silent, which spike-based gradients cannot reach.

    EventProp's gradient reaches a neuron only through its spikes: a hidden neuron that is silent on
    every sample gets no gradient from any spike-based loss, so its input weights never change and it
    stays silent for ever. For the neurons S of ``population`` that are silent on *every* sample of the
    batch (``scope="batch"``, default: neurons that fire on some sample are left to the main loss) or
    silent in the sample considered (``scope="sample"``), the value is::

        L = strength * mean_b sum_{n in S} (v_th - Vmax_bn)        (dimensionless voltage)

    with Vmax_bn the exact maximum of V over [0, t_max] (``Result.silent_peak``). A silent neuron's V
    is the free response to its arrivals, so Vmax is differentiable in the weights and the gradient
    (``vmax_grad = -strength / B`` on S, EventProp with the peak as a read-out's) is exact for the
    current spike pattern. As any term of a sum with Adam, its scale only matters relative to the
    main loss on weights that both reach; weights into neurons of S are moved by this term alone.
    It also pushes back up any neuron that training silences, so it keeps training from switching
    neurons off (on the dense digits LIF network that cost 1.1 points, docs/ntt.md); setting
    ``strength`` to 0 after the first epochs confines it to neurons that start silent.
    """

    population: str = "hidden"
    strength: float = 1e-3
    scope: str = "batch"
    needs = "spiking"

    def __post_init__(self):
        if not (isinstance(self.strength, (int, float)) and math.isfinite(self.strength) and self.strength >= 0):
            raise ValueError(f"strength must be a finite number >= 0, got {self.strength!r}")
        if self.scope not in ("batch", "sample"):
            raise ValueError(f"scope must be 'batch' or 'sample', got {self.scope!r}")

    def silent_set(self, result) -> np.ndarray:
        """(n_samples, n) bool: the (sample, neuron) pairs the term acts on."""
        silent = result.counts(self.population) == 0
        if self.scope == "batch":
            silent = np.broadcast_to(silent.all(axis=0, keepdims=True), silent.shape)
        return silent

    def value_and_parts(self, result, labels):
        if self.strength == 0:
            return 0.0, {}
        S = self.silent_set(result)
        B = S.shape[0]
        if B == 0 or not S.any():
            return 0.0, {}
        vmax, _ = result.silent_peak(self.population)
        v_th = float(result.layout.v_th[result.layout.pop_index[self.population]])
        value = self.strength * float(np.sum(np.where(S, v_th - vmax, 0.0))) / B
        return value, {"vmax_grad": np.where(S, -self.strength / B, 0.0)}

    def predict(self, result) -> np.ndarray:
        raise ValueError("SilentPeakReg is a regulariser; predict with the main loss")


LossSpec = Union[Loss, Sequence[Loss]]


def as_list(loss: LossSpec) -> List[Loss]:
    """A loss or a sequence of losses (summed) as a list; ValueError naming ``loss`` on anything else."""
    items = list(loss) if isinstance(loss, (list, tuple)) else [loss]
    if not items:
        raise ValueError("loss must be a Loss or a non-empty list of Loss objects")
    for it in items:
        if not isinstance(it, Loss):
            raise ValueError(f"loss must be a Loss from eventsim.losses, got {type(it).__name__}")
    return items
