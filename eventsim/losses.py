"""Losses for EventProp training, with their derivatives with respect to what the simulation exposes.

Every loss is a mean over the batch. ``loss.value_and_parts(result, labels)`` returns the value and a
``LossParts`` with the pieces the adjoint pass (``eventsim.eventprop``) needs, all already divided by
the batch size (arrays of shape (n_samples, n_neurons_of_population) unless noted; a piece a loss
does not use is None):

- ``first_spike_grad``: dL/dt of each neuron's first spike (ms^-1), 0 for silent neurons;
- ``spike_grad``: dL/dt_k for every recorded spike k (shape (n_spikes,), aligned with ``Result.times``);
- ``vmax_grad``: dL/dVmax of non-spiking read-outs (Vmax = max of V over [0, t_max]), or of spiking
  neurons in samples where they stayed silent (then Vmax is ``Result.silent_peak``);
- ``vint_grad``: dL/dQ of non-spiking read-outs (Q = integral of V over [0, t_max], ms);
- ``phantom_grad``: heuristic dL/dt of a *missing* spike, applied as if it occurred at t_max;
- ``spike_kick``: heuristic kick added to dL/dV just before every spike of a neuron.

Exact (the gradient returned is the true gradient of the value for the current spike pattern):
``FirstSpikeCE`` (for samples whose label neuron fires, and for silent outputs, where the value is
flat), ``MaxVoltageCE``, ``VoltageIntegralCE``,
``SilentPeakReg`` (pulls up the peak V of silent neurons; ``vmax_grad`` on a spiking population).
Heuristic (documented, not a gradient of anything): ``FirstSpikeCE(silent="phantom")`` for samples
whose label neuron is silent, and ``SpikeCountReg``. Losses are combined by passing a list.

Labels are integer class indices in [0, population size), one per sample; ``check_labels`` refuses
anything else with a ValueError naming ``labels`` (mixed types, strings, floats, NaN, negative or
too large values, a wrong length). A sample in which no neuron of a first-spike loss's population
fires emits a ``SilentOutputWarning`` and costs log(population size) (see ``FirstSpikeCE``).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .checks import nonnegative_number, positive_number


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class SilentOutputWarning(UserWarning):
    """A first-spike loss saw samples in which no neuron of its population fired.

    Such a sample cannot be classified (``predict`` returns -1 for it). ``FirstSpikeCE`` counts every
    neuron of a silent output as firing at t_max, so the sample costs log(n_classes), the loss of a
    uniform guess, and the loss gets no gradient from it unless a policy that pushes silent neurons
    to fire is used (``FirstSpikeCE(silent="phantom")``, or
    ``SilentPeakReg(population=..., scope="sample")`` in the list of losses). Emitted once per loss
    evaluation; the attributes ``n_silent`` and ``n_samples`` hold the counts.
    """

    def __init__(self, message: str, n_silent: int = 0, n_samples: int = 0):
        super().__init__(message)
        self.n_silent = int(n_silent)
        self.n_samples = int(n_samples)


def _label_kind(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    if isinstance(v, (str, bytes, np.str_, np.bytes_)):
        return "str"
    return type(v).__name__


def check_labels(labels, n_samples: int, n_classes=None, name: str = "labels") -> np.ndarray:
    """Class labels as int64 of shape (n_samples,), each in [0, n_classes); ValueError otherwise.

    Labels are class indices: one integer per sample, 0 <= label < ``n_classes`` (the size of the
    population the loss reads; ``None`` skips the upper bound). Integer arrays of any width and
    sequences of Python or NumPy integers are accepted. Refused, with a ValueError naming ``name``
    and the offending value: a length other than ``n_samples``, more than one dimension, mixed
    element types (e.g. ints and strings), strings, booleans, floats (even integer-valued ones:
    convert with ``labels.astype(int)``), NaN, negative values and values >= ``n_classes``.
    """
    if labels is None:
        raise ValueError(f"{name} are required: one integer class index per sample ({n_samples} samples)")
    if isinstance(labels, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of integer class indices, got a string {labels!r}")
    try:
        y = np.asarray(labels)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name} must be a one-dimensional sequence of integers ({e})") from None
    if y.ndim != 1:
        raise ValueError(f"{name} must have shape ({n_samples},) (one per sample), got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"{name}: {y.shape[0]} entries for {n_samples} samples "
                         f"(shape ({n_samples},) expected: one per sample)")
    if y.size == 0:
        return y.astype(np.int64)
    if y.dtype == object or not isinstance(labels, np.ndarray):
        elems = y.tolist() if y.dtype == object else list(labels)
        kinds = sorted({_label_kind(v) for v in elems})
        if len(kinds) > 1 and not set(kinds) <= {"int", "float"}:  # ints and floats: the float checks below
            first = {}
            for i, v in enumerate(elems):
                first.setdefault(_label_kind(v), (i, v))
            ex = ", ".join(f"{k} {first[k][1]!r} at index {first[k][0]}" for k in kinds)
            raise ValueError(f"{name} mix element types ({', '.join(kinds)}): {ex}; "
                             "labels must all be integer class indices")
        if kinds == ["int"] and y.dtype == object:
            try:
                y = np.array(elems, dtype=np.int64)
            except OverflowError:
                raise ValueError(f"{name} hold integers beyond the int64 range") from None
    kind = y.dtype.kind
    if kind == "b":
        raise ValueError(f"{name} must be integer class indices, got booleans")
    if kind in "USO":
        raise ValueError(f"{name} must be integer class indices, got {'strings' if kind in 'US' else 'objects'} "
                         f"(dtype {y.dtype}, e.g. {y[0].item()!r} at index 0)")
    if kind in "fc":
        bad = np.flatnonzero(np.isnan(y)) if kind == "f" else np.zeros(0, np.int64)
        if bad.size:
            raise ValueError(f"{name} contain NaN ({bad.size} of {y.size}, first at index {bad[0]})")
        frac = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if frac.size:
            raise ValueError(f"{name} must be integers, got the non-integer value {y[frac[0]].item()!r} at index {frac[0]}")
        raise ValueError(f"{name} must be an integer array, got dtype {y.dtype} (integer-valued: convert with "
                         "labels.astype(int))")
    if kind not in "iu":
        raise ValueError(f"{name} must be integer class indices, got dtype {y.dtype}")
    if kind == "u" and y.dtype.itemsize == 8 and y.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} hold integers beyond the int64 range")
    y = y.astype(np.int64)
    neg = np.flatnonzero(y < 0)
    if neg.size:
        raise ValueError(f"{name} must be >= 0 (class indices), got {int(y[neg[0]])} at index {neg[0]}")
    if n_classes is not None:
        high = np.flatnonzero(y >= n_classes)
        if high.size:
            raise ValueError(f"{name} must be in [0, {n_classes}) ({n_classes} = the size of the population the loss "
                             f"reads), got {int(y[high[0]])} at index {high[0]} (range [{y.min()}, {y.max()}])")
    return y


@dataclass
class LossParts:
    """The pieces of a loss's derivative that the adjoint pass reads (see the module docstring).

    Each is None when the loss has no such term. Shapes: (n_samples, n_neurons of the loss's
    population), except ``spike_grad``: (n_spikes,), aligned with ``Result.times``.
    """

    first_spike_grad: Optional[np.ndarray] = None  #: dL/dt of each neuron's first spike (1/ms)
    spike_grad: Optional[np.ndarray] = None        #: dL/dt of every recorded spike (1/ms)
    spike_kick: Optional[np.ndarray] = None        #: heuristic kick of dL/dV before every spike
    vmax_grad: Optional[np.ndarray] = None         #: dL/dVmax
    vint_grad: Optional[np.ndarray] = None         #: dL/dQ, Q the integral of V (1/ms)
    phantom_grad: Optional[np.ndarray] = None      #: heuristic dL/dt of a missing spike, at t_max (1/ms)

    @classmethod
    def of(cls, parts, loss_name: str) -> "LossParts":
        """``parts`` as LossParts; a dict with these keys (the form of older custom losses) is
        accepted, anything else is a ValueError naming the loss and the unknown keys."""
        if isinstance(parts, cls):
            return parts
        if isinstance(parts, Mapping):
            unknown = set(parts) - {f.name for f in fields(cls)}
            if unknown:
                raise ValueError(f"loss {loss_name} returned unknown parts {sorted(unknown)}")
            return cls(**parts)
        raise ValueError(f"loss {loss_name} must return (value, LossParts), got parts of type {type(parts).__name__}")


class Loss:
    """Base class. ``population`` names the population the loss reads; ``kind`` is 'spiking' or 'readout'."""

    population: str = "out"
    needs = "spiking"
    uses_labels = True  # False for regularisers, which ignore the labels

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

    def value_and_parts(self, result, labels) -> Tuple[float, "LossParts"]:  # pragma: no cover
        raise NotImplementedError

    def value(self, result, labels) -> float:
        """The loss value only."""
        return float(self.value_and_parts(result, labels)[0])

    def predict(self, result) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


@dataclass
class FirstSpikeCE(Loss):
    """Cross-entropy on first-spike times with the Wunderlich & Pehle (2021) regulariser (exact).

    ``L = mean_b[ -log softmax(-t_b / tau0)[label_b] + alpha (exp(t_b[label_b] / tau1) - 1) ]``, with
    t = first spike time (ms) of each neuron of ``population``. Paper (Yin-Yang) values tau0 = 0.5 ms,
    tau1 = 6.4 ms, alpha = 3e-3. Only the first spike of each neuron receives dL/dt:
    ``(1 - s_l)/tau0 + (alpha/tau1) exp(t_l/tau1)`` for the label neuron l, ``-s_k/tau0`` for the
    others (s = softmax(-t/tau0)), divided by the batch size.

    Silent neurons (``silent``): in a sample whose label neuron fires, output neurons that never
    fire are left out of the softmax, as in the reference code. In a sample whose label neuron is
    silent, every silent output neuron counts as firing at t_max in the cross-entropy and the label's
    regulariser term is left out. A sample with no output spike at all (a *silent output*) thus
    costs log(n), n the population size: the loss of a uniform guess, worse than any network that
    classifies better than chance, never the 0 that leaving all silent neurons out would give. Each
    evaluation with silent outputs emits one ``SilentOutputWarning`` naming how many samples had
    one. The gradient for a sample whose label neuron is silent is:

    - ``"none"`` (default, as the reference code): zero (no spike, no gradient);
    - ``"phantom"``: a heuristic push towards firing: dL/dV of the label neuron is kicked at t_max by
      ``-G tau_mem / (v_th - v_leak)``, where G = (1 - s_l)/tau0 is the cross-entropy part of the
      dL/dt a label spike at t_max would get (the adjoint jump of a spike at t_max with the
      reference slope (v_th - v_leak)/tau_mem). The regulariser's part is left out, as in the value:
      at t_max = 100 ms it would be (alpha/tau1) exp(t_max/tau1), about 3000 with the paper's
      constants, and such kicks made even dense Yin-Yang networks fall silent. This is not the
      gradient of the value (the value is flat in the label neuron's weights there).

    For a silent output the value is flat in every weight (all its neurons count as firing at the
    constant t_max), so the zero gradient of ``"none"`` is exact there. ``SilentPeakReg(population=
    "out", scope="sample")`` added to the list of losses is an exact alternative to ``"phantom"``: it
    pulls up the peak voltage of silent output neurons (``Result.silent_peak``).
    """

    population: str = "out"
    tau0: float = 0.5
    tau1: float = 6.4
    alpha: float = 3e-3
    silent: str = "none"
    needs = "spiking"

    def __post_init__(self):
        self.tau0 = positive_number("tau0", self.tau0)
        self.tau1 = positive_number("tau1", self.tau1)
        nonnegative_number("alpha", self.alpha)
        if self.silent not in ("none", "phantom"):
            raise ValueError(f"silent must be 'none' or 'phantom', got {self.silent!r}")

    def _terms(self, t: np.ndarray, y: np.ndarray, t_max: float):
        B, C = t.shape
        r = np.arange(B)
        fires = np.isfinite(t)
        lab_fires = fires[r, y]
        tt = np.where(fires, t, t_max)
        # silent neurons: left out where the label fires; at t_max (with the label) where it does not
        z = np.where(fires | ~lab_fires[:, None], -tt / self.tau0, -np.inf)
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
            return 0.0, LossParts()
        silent_out = ~np.isfinite(t).any(axis=1)
        if silent_out.any():
            k = int(silent_out.sum())
            warnings.warn(SilentOutputWarning(
                f"FirstSpikeCE: {k} of {B} samples had a silent output (no spike in population "
                f"{self.population!r} within t_max = {result.t_max:g} ms); each counts as all {t.shape[1]} neurons "
                f"firing at t_max, a loss of log({t.shape[1]}) = {math.log(t.shape[1]):.4g}, and gives no gradient "
                "unless silent='phantom' or SilentPeakReg(population=..., scope='sample') pushes it to fire",
                k, B), stacklevel=2)
        per, g, lab_fires, g_ce = self._terms(t, y, result.t_max)
        parts = LossParts(first_spike_grad=g / B)
        if self.silent == "phantom" and np.any(~lab_fires):
            ph = np.zeros_like(g)
            rows = np.flatnonzero(~lab_fires)
            ph[rows, y[rows]] = g_ce[rows] / B
            parts.phantom_grad = ph
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
            return 0.0, LossParts()
        s = _softmax(vm)
        per = -np.log(np.maximum(s[np.arange(B), y], 1e-300))
        g = s.copy()
        g[np.arange(B), y] -= 1.0
        return float(per.mean()), LossParts(vmax_grad=g / B)

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
            return 0.0, LossParts()
        s = _softmax(q)
        per = -np.log(np.maximum(s[np.arange(B), y], 1e-300))
        g = s.copy()
        g[np.arange(B), y] -= 1.0
        return float(per.mean()), LossParts(vint_grad=g / (B * result.t_max))

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
    uses_labels = False

    def __post_init__(self):
        nonnegative_number("target", self.target)
        nonnegative_number("strength", self.strength)
        if self.strength_lower is None:
            self.strength_lower = self.strength
        nonnegative_number("strength_lower", self.strength_lower)

    def value_and_parts(self, result, labels):
        c = result.counts(self.population).astype(float)
        B = c.shape[0]
        if B == 0:
            return 0.0, LossParts()
        if self.per_batch:
            c = np.broadcast_to(c.mean(axis=0, keepdims=True), c.shape)
        dev = c - self.target
        lam = np.where(dev > 0, self.strength, self.strength_lower)
        value = 0.5 * float(np.mean(np.sum(lam * dev ** 2, axis=1)))
        return value, LossParts(spike_kick=lam * dev / B)

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
    uses_labels = False

    def __post_init__(self):
        nonnegative_number("strength", self.strength)
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
            return 0.0, LossParts()
        S = self.silent_set(result)
        B = S.shape[0]
        if B == 0 or not S.any():
            return 0.0, LossParts()
        vmax, _ = result.silent_peak(self.population)
        v_th = float(result.layout.neurons.v_th[result.layout.pop_index[self.population]])
        value = self.strength * float(np.sum(np.where(S, v_th - vmax, 0.0))) / B
        return value, LossParts(vmax_grad=np.where(S, -self.strength / B, 0.0))

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
