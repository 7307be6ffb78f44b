"""Connection rules and weight/delay distributions for ``Network.connect``.

A **rule** says which (pre, post) pairs of two populations get a synapse; a **distribution**
gives the weight (dimensionless) or delay (ms) of each synapse. With them,
``net.connect("exc", "inh", FixedProbability(0.1), weight=Normal(0.3, 0.05), delay=1.0, seed=0)``
builds the projection the way Brian2's ``Synapses.connect(p=...)`` or NEST's ``nest.Connect``
with a ``conn_spec`` and a ``syn_spec`` do.

Rules (``n_pre``, ``n_post``: sizes of the source and target populations):

| rule | synapses | NEST / Brian2 equivalent |
|---|---|---|
| ``AllToAll(allow_autapses=True)`` | every pair | ``all_to_all`` / ``connect()`` |
| ``OneToOne()`` | ``i -> i``; needs ``n_pre == n_post`` | ``one_to_one`` / ``connect(j='i')`` |
| ``FixedProbability(p, allow_autapses=True)`` | each pair independently with probability ``p`` | ``pairwise_bernoulli`` / ``connect(p=p)`` |
| ``FixedInDegree(k, allow_autapses=True)`` | every target gets exactly ``k`` distinct sources, drawn uniformly | ``fixed_indegree`` with ``allow_multapses=False`` |
| ``FixedOutDegree(k, allow_autapses=True)`` | every source gets exactly ``k`` distinct targets, drawn uniformly | ``fixed_outdegree`` with ``allow_multapses=False`` |

An *autapse* is a synapse from a neuron onto itself; it can exist only when a population projects
onto itself (``src == dst``), and ``allow_autapses=False`` then leaves the pairs ``i -> i`` out
(for the degree rules, ``k`` is drawn from the ``n - 1`` other neurons). A pair of neurons has at
most one synapse in eventsim (a *multapse*, two synapses on one pair, is one synapse with the
summed weight), so the degree rules always draw distinct partners: NEST's default
``allow_multapses=True`` has no equivalent, and ``multapses=True`` is refused.

Distributions (``sample(rng, n)`` returns ``n`` float64 values):

| distribution | values |
|---|---|
| ``Constant(value)`` (or a plain number) | ``value`` |
| ``Uniform(low, high)`` | uniform on ``[low, high)`` |
| ``Normal(mean, std, low=None, high=None)`` | normal; with ``low``/``high`` truncated to ``[low, high]`` by **redrawing** the values outside (the truncated normal distribution, not values clipped onto the bounds) |
| ``LogNormal(mean, std)`` | log-normal with the given ``mean`` and ``std`` **of the values themselves** (not of their logarithm, unlike NEST's ``lognormal(mu, sigma)``; ``LogNormal.from_log(mu, sigma)`` takes those); a negative ``mean`` gives the mirror image, for inhibitory weights |

Random numbers come from one ``numpy.random.Generator`` per ``connect`` call, made from its
``seed``, and are drawn in a fixed order: the pairs, then the weights, then the delays. The same
seed therefore gives the same projection, and two projections with different seeds are
independent. This module imports only NumPy and ``eventsim.checks``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np

from .checks import finite_number, is_real, nonnegative_int, nonnegative_number, probability, show

__all__ = ["ConnectionRule", "AllToAll", "OneToOne", "FixedProbability", "FixedInDegree", "FixedOutDegree",
           "Distribution", "Constant", "Uniform", "Normal", "LogNormal", "as_distribution", "make_rng",
           "Synapses", "draw_synapses"]

#: most uniform keys drawn at once by the degree rules (bounds their memory to ~32 MiB)
_BLOCK = 1 << 22

Pairs = Tuple[np.ndarray, np.ndarray]


def _bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {show(value)}")
    return bool(value)


def _sizes(n_pre, n_post) -> Tuple[int, int]:
    return nonnegative_int("n_pre", n_pre), nonnegative_int("n_post", n_post)


# ------------------------------------------------------------------------------------------ rules
class ConnectionRule:
    """Base of the connection rules: ``pairs`` returns the synapses to make."""

    #: True when ``pairs`` uses its random generator (``Network.connect`` then needs a seed)
    random = False

    def pairs(self, n_pre: int, n_post: int, rng: np.random.Generator, same_population: bool) -> Pairs:
        """``(pre, post)``: int64 arrays of equal length, one entry per synapse, no pair twice.

        Args:
            n_pre: size of the source population.
            n_post: size of the target population.
            rng: the generator random rules draw from.
            same_population: True when the population projects onto itself (autapses possible).
        """
        raise NotImplementedError


@dataclass(frozen=True)
class AllToAll(ConnectionRule):
    """Every (pre, post) pair; with ``allow_autapses=False`` and ``src == dst``, not ``i -> i``."""

    allow_autapses: bool = True

    def __post_init__(self) -> None:
        _bool("allow_autapses", self.allow_autapses)

    def pairs(self, n_pre, n_post, rng, same_population):
        """Every pair, ordered by target then source (see ``ConnectionRule.pairs``)."""
        n_pre, n_post = _sizes(n_pre, n_post)
        post, pre = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), max(n_pre, 1))
        if same_population and not self.allow_autapses:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post


@dataclass(frozen=True)
class OneToOne(ConnectionRule):
    """Neuron ``i`` of the source onto neuron ``i`` of the target; the sizes must be equal."""

    def pairs(self, n_pre, n_post, rng, same_population):
        """``i -> i`` for every ``i`` (see ``ConnectionRule.pairs``); ValueError if the sizes differ."""
        n_pre, n_post = _sizes(n_pre, n_post)
        if n_pre != n_post:
            raise ValueError(f"OneToOne needs populations of equal size, got n_pre={n_pre}, n_post={n_post}")
        i = np.arange(n_pre, dtype=np.int64)
        return i, i.copy()


@dataclass(frozen=True)
class FixedProbability(ConnectionRule):
    """Each pair independently with probability ``p`` (NEST ``pairwise_bernoulli``, Brian2
    ``connect(p=p)``): the number of synapses is Binomial(n_pairs, p)."""

    p: float
    allow_autapses: bool = True
    random = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", probability("p", self.p))
        _bool("allow_autapses", self.allow_autapses)

    def pairs(self, n_pre, n_post, rng, same_population):
        """Bernoulli(p) per pair, ordered by target then source (see ``ConnectionRule.pairs``).

        The pairs are found by geometric skipping over the flattened ``n_post x n_pre`` grid (the
        gap between two successive synapses is Geometric(p)), which is exact and costs time and
        memory in proportion to the number of synapses, not of pairs."""
        n_pre, n_post = _sizes(n_pre, n_post)
        total = n_pre * n_post
        if total == 0 or self.p == 0.0:
            flat = np.zeros(0, dtype=np.int64)
        elif self.p == 1.0:
            flat = np.arange(total, dtype=np.int64)
        else:
            chunks, pos = [], -1
            expected = total * self.p
            step = int(expected + 6.0 * math.sqrt(expected * (1.0 - self.p)) + 16)
            while pos < total:
                # a gap past the grid ends it: clipping keeps the sums far from int64 overflow
                gaps = np.minimum(rng.geometric(self.p, size=step), total + 1).astype(np.int64)
                flat = pos + np.cumsum(gaps)
                pos = int(flat[-1])
                chunks.append(flat[flat < total])
                step = max(16, int((total - pos) * self.p * 1.2) + 16)
            flat = np.concatenate(chunks)
        post, pre = np.divmod(flat, max(n_pre, 1))
        if same_population and not self.allow_autapses:
            keep = pre != post
            pre, post = pre[keep], post[keep]
        return pre, post


def _distinct_per_row(n_rows: int, n_choices: int, k: int, rng: np.random.Generator,
                      exclude_diagonal: bool) -> np.ndarray:
    """(n_rows, k): for every row, ``k`` distinct column indices in ``[0, n_choices)`` drawn
    uniformly (the ``k`` smallest of iid uniform keys), column ``row`` excluded if asked."""
    out = np.empty((n_rows, k), dtype=np.int64)
    if k == 0 or n_rows == 0:
        return out
    rows_per_block = max(1, _BLOCK // max(n_choices, 1))
    for r0 in range(0, n_rows, rows_per_block):
        r1 = min(n_rows, r0 + rows_per_block)
        keys = rng.random((r1 - r0, n_choices))
        if exclude_diagonal:
            r = np.arange(r0, r1)
            inside = r < n_choices
            keys[np.flatnonzero(inside), r[inside]] = 2.0  # above every uniform key: never chosen
        if k < n_choices:
            idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
        else:
            idx = np.broadcast_to(np.arange(n_choices), keys.shape)
        out[r0:r1] = np.sort(idx, axis=1)
    return out


def _check_degree(rule: str, k: int, available: int, partners: str) -> None:
    if k > available:
        raise ValueError(f"k of {rule} is {k}, but only {available} distinct {partners} are available"
                         " (a pair of neurons has at most one synapse)")


def _refuse_multapses(rule: str, multapses) -> None:
    if _bool("multapses", multapses):
        raise ValueError(f"multapses=True is not supported by {rule}: a pair of neurons has at most one "
                         "synapse in eventsim (two synapses on one pair are one with the summed weight)")


@dataclass(frozen=True)
class _FixedDegree(ConnectionRule):
    """The settings shared by ``FixedInDegree`` and ``FixedOutDegree``."""

    k: int
    allow_autapses: bool = True
    multapses: bool = False
    random = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", nonnegative_int("k", self.k))
        _bool("allow_autapses", self.allow_autapses)
        _refuse_multapses(type(self).__name__, self.multapses)

    def _partners(self, n_rows: int, n_partners: int, rng, same_population: bool, what: str) -> np.ndarray:
        """(n_rows, k) distinct partners per row; ValueError if ``k`` exceeds those available."""
        no_self = same_population and not self.allow_autapses
        if n_rows:
            _check_degree(type(self).__name__, self.k, n_partners - (1 if no_self else 0), what)
        return _distinct_per_row(n_rows, n_partners, self.k, rng, no_self)


@dataclass(frozen=True)
class FixedInDegree(_FixedDegree):
    """Every target neuron receives exactly ``k`` synapses from ``k`` distinct source neurons,
    drawn uniformly without replacement (NEST ``fixed_indegree`` with ``allow_multapses=False``)."""

    def pairs(self, n_pre, n_post, rng, same_population):
        """``k`` distinct sources per target, ordered by target (see ``ConnectionRule.pairs``);
        ValueError if ``k`` exceeds the sources available."""
        n_pre, n_post = _sizes(n_pre, n_post)
        pre = self._partners(n_post, n_pre, rng, same_population, "sources")
        post = np.repeat(np.arange(n_post, dtype=np.int64), self.k)
        return pre.reshape(-1), post


@dataclass(frozen=True)
class FixedOutDegree(_FixedDegree):
    """Every source neuron makes exactly ``k`` synapses onto ``k`` distinct target neurons, drawn
    uniformly without replacement (NEST ``fixed_outdegree`` with ``allow_multapses=False``)."""

    def pairs(self, n_pre, n_post, rng, same_population):
        """``k`` distinct targets per source, ordered by source (see ``ConnectionRule.pairs``);
        ValueError if ``k`` exceeds the targets available."""
        n_pre, n_post = _sizes(n_pre, n_post)
        post = self._partners(n_pre, n_post, rng, same_population, "targets")
        pre = np.repeat(np.arange(n_pre, dtype=np.int64), self.k)
        return pre, post.reshape(-1)


# ---------------------------------------------------------------------------------- distributions
class Distribution:
    """Base of the weight and delay distributions: ``sample`` draws values."""

    #: True when ``sample`` uses its random generator
    random = True

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` values as a float64 array of shape (n,)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Distribution):
    """The same ``value`` for every synapse (a plain number passed as weight or delay means this)."""

    value: float
    random = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", finite_number("value", self.value))

    def sample(self, rng, n):
        """``n`` copies of ``value``."""
        return np.full(nonnegative_int("n", n), self.value)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on ``[low, high)``; ``low < high``, both finite."""

    low: float
    high: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", finite_number("low", self.low))
        object.__setattr__(self, "high", finite_number("high", self.high))
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high, got low={self.low!r}, high={self.high!r}")

    def sample(self, rng, n):
        """``n`` uniform values in ``[low, high)``."""
        return rng.uniform(self.low, self.high, nonnegative_int("n", n))


#: smallest probability mass a truncation window of ``Normal`` may hold (redrawing would take
#: more than 10 000 draws per value below it)
MIN_WINDOW_MASS = 1e-4


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal with ``mean`` and ``std`` (>= 0); with ``low`` and/or ``high``, truncated to
    ``[low, high]`` by redrawing every value that falls outside (so the result follows the
    truncated normal distribution; nothing is clipped onto a bound). The window must hold at least
    ``MIN_WINDOW_MASS`` of the normal's probability."""

    mean: float
    std: float
    low: Optional[float] = None
    high: Optional[float] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", finite_number("mean", self.mean))
        object.__setattr__(self, "std", nonnegative_number("std", self.std))
        for name in ("low", "high"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, finite_number(name, getattr(self, name)))
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        if not lo < hi:
            raise ValueError(f"Normal needs low < high, got low={self.low!r}, high={self.high!r}")
        mass = self.window_mass()
        if mass < MIN_WINDOW_MASS:
            raise ValueError(f"the window [low, high] = [{lo:g}, {hi:g}] of Normal(mean={self.mean:g}, "
                             f"std={self.std:g}) holds a probability of {mass:.3g}, below {MIN_WINDOW_MASS:g}: "
                             "move the bounds or the mean")

    def window_mass(self) -> float:
        """Probability that an untruncated draw falls in ``[low, high]``."""
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        if self.std == 0.0:
            return 1.0 if lo <= self.mean <= hi else 0.0

        def cdf(x: float) -> float:
            return 0.5 * math.erfc(-(x - self.mean) / (self.std * math.sqrt(2.0)))

        return cdf(hi) - cdf(lo)

    def sample(self, rng, n):
        """``n`` values; those outside ``[low, high]`` are redrawn until none is left."""
        n = nonnegative_int("n", n)
        out = rng.normal(self.mean, self.std, n)
        if self.low is None and self.high is None:
            return out
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        bad = np.flatnonzero((out < lo) | (out > hi))
        while bad.size:
            out[bad] = rng.normal(self.mean, self.std, bad.size)
            bad = bad[(out[bad] < lo) | (out[bad] > hi)]
        return out


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal whose values have mean ``mean`` and standard deviation ``std`` (>= 0).

    The values are ``exp(X)`` with ``X`` normal of mean ``mu = ln(mean**2 / sqrt(mean**2 + std**2))``
    and standard deviation ``sigma = sqrt(ln(1 + std**2 / mean**2))`` (properties ``mu`` and
    ``sigma``; ``from_log(mu, sigma)`` builds one from them, as NEST's ``lognormal`` takes them). A
    negative ``mean`` gives ``-exp(X)`` for ``|mean|``: a negative (inhibitory) weight whose size
    is log-normal."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", finite_number("mean", self.mean))
        object.__setattr__(self, "std", nonnegative_number("std", self.std))
        if self.mean == 0.0:
            raise ValueError("mean of LogNormal must be non-zero, got 0.0")

    @classmethod
    def from_log(cls, mu: float, sigma: float) -> "LogNormal":
        """The log-normal ``exp(X)``, ``X`` normal with mean ``mu`` and standard deviation ``sigma`` (>= 0)."""
        mu, sigma = finite_number("mu", mu), nonnegative_number("sigma", sigma)
        mean = math.exp(mu + 0.5 * sigma * sigma)
        return cls(mean, mean * math.sqrt(math.expm1(sigma * sigma)))

    @property
    def sigma(self) -> float:
        """Standard deviation of ``ln |value|``."""
        return math.sqrt(math.log1p((self.std / self.mean) ** 2))

    @property
    def mu(self) -> float:
        """Mean of ``ln |value|``."""
        return math.log(abs(self.mean)) - 0.5 * self.sigma ** 2

    def sample(self, rng, n):
        """``n`` log-normal values (negative when ``mean`` is)."""
        v = rng.lognormal(self.mu, self.sigma, nonnegative_int("n", n))
        return -v if self.mean < 0 else v


def as_distribution(name: str, value) -> Distribution:
    """``value`` as a Distribution: a Distribution as is, a finite number as ``Constant``;
    ValueError naming ``name`` for a non-finite number, TypeError for anything else."""
    if isinstance(value, Distribution):
        return value
    if is_real(value):
        return Constant(finite_number(name, value))
    raise TypeError(f"{name} must be a number or a distribution (Constant, Uniform, Normal, LogNormal), "
                    f"got {show(value)} of type {type(value).__name__}")


def make_rng(seed) -> np.random.Generator:
    """A Generator from ``seed``: an int >= 0, or a ``numpy.random.Generator`` used as is (and
    advanced); TypeError for anything else."""
    if isinstance(seed, np.random.Generator):
        return seed
    if is_real(seed) and not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int >= 0 or a numpy.random.Generator, got {show(seed)}")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return np.random.default_rng(nonnegative_int("seed", seed))
    raise TypeError(f"seed must be an int >= 0 or a numpy.random.Generator, got {show(seed)} "
                    f"of type {type(seed).__name__}")


class Synapses(NamedTuple):
    """Synapses drawn by ``draw_synapses``: one entry per synapse."""

    pre: np.ndarray     #: (n,) int64, source neuron (local to the source population)
    post: np.ndarray    #: (n,) int64, target neuron (local to the target population)
    weight: np.ndarray  #: (n,) float64, dimensionless
    delay: Optional[np.ndarray]  #: (n,) float64 ms, or None when no delay was given (all zero)


def draw_synapses(rule: ConnectionRule, n_pre: int, n_post: int, *, weight, delay=None, seed=None,
                  same_population: bool = False) -> Synapses:
    """The synapses of ``rule`` between populations of ``n_pre`` and ``n_post`` neurons, with weights
    and delays (ms) drawn from their distributions (numbers mean ``Constant``).

    ``seed`` (int >= 0 or Generator) is required, ValueError otherwise, as soon as anything is
    random (the rule or a distribution); draws are made in the order pairs, weights, delays.
    ValueError names ``weight`` or ``delay`` if a drawn value is not finite or a delay is negative.
    """
    if not isinstance(rule, ConnectionRule):
        raise TypeError(f"rule must be a connection rule (AllToAll, OneToOne, FixedProbability, FixedInDegree, "
                        f"FixedOutDegree), got {type(rule).__name__}")
    w_dist = as_distribution("weight", weight)
    d_dist = None if delay is None else as_distribution("delay", delay)
    if isinstance(d_dist, Constant) and d_dist.value < 0:
        raise ValueError(f"delay must be >= 0 ms, got {d_dist.value!r}")
    random = rule.random or w_dist.random or (d_dist is not None and d_dist.random)
    if seed is None:
        if random:
            raise ValueError(f"seed is None, but {_random_part(rule, w_dist, d_dist)} is random: pass seed= "
                             "(an int or a numpy.random.Generator) so that the projection can be reproduced")
        rng = np.random.default_rng(0)  # not used by anything deterministic
    else:
        rng = make_rng(seed)
    same_population = _bool("same_population", same_population)
    pre, post = rule.pairs(n_pre, n_post, rng, same_population)
    n = int(pre.size)
    w = np.asarray(w_dist.sample(rng, n), dtype=np.float64)
    _check_drawn("weight", w_dist, w)
    d = None
    if d_dist is not None:
        d = np.asarray(d_dist.sample(rng, n), dtype=np.float64)
        _check_drawn("delay", d_dist, d)
        if n and d.min() < 0:
            raise ValueError(f"delay drawn from {d_dist!r} gave {d.min()!r} ms; delays must be >= 0: bound the "
                             "distribution (for example Normal(..., low=0.0))")
    return Synapses(pre, post, w, d)


def _random_part(rule, w_dist, d_dist) -> str:
    if rule.random:
        return f"the rule {rule!r}"
    if w_dist.random:
        return f"weight={w_dist!r}"
    return f"delay={d_dist!r}"


def _check_drawn(name: str, dist: Distribution, values: np.ndarray) -> None:
    if values.size and not np.all(np.isfinite(values)):
        bad = values[~np.isfinite(values)][0]
        raise ValueError(f"{name} drawn from {dist!r} gave {bad!r}; {name}s must be finite")
