"""Closed-form LIF dynamics between events, exact threshold-crossing search (Numba).

Neuron (times in ms)::

    tau_m dV/dt = -(V - v_l) + I,      tau_s dI/dt = -I

From (V0, I0) after ``dt`` ms without input::

    I(dt) = I0 exp(-dt/tau_s)
    V(dt) = v_l + (V0 - v_l) exp(-dt/tau_m) + I0 f(dt)
    f(dt) = k (exp(-dt/tau_m) - exp(-dt/tau_s)),   k = tau_s / (tau_m - tau_s)     (tau_m != tau_s)
    f(dt) = (dt / tau_m) exp(-dt/tau_m)                                          (tau_m == tau_s)

``f`` is evaluated as ``-k exp(-dt/tau_m) expm1(c dt)`` with ``c = (tau_s - tau_m)/(tau_m tau_s)``
(``k exp(-dt/tau_s) expm1(-c dt)`` when tau_s > tau_m), which stays accurate when tau_m and tau_s
are close and cannot overflow. V has at most one extremum between events,
so a threshold crossing is bracketed exactly: between 0 and the extremum if the extremum is above
threshold, else between the extremum (or 0) and the horizon. The root is refined by safeguarded
Halley iteration to float64 precision.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

INF = np.inf


@njit(cache=True, inline="always")
def pop_consts(tau_m, tau_s):
    """(k, c, equal) for a population: k = tau_s/(tau_m - tau_s), c = (tau_s - tau_m)/(tau_m tau_s)."""
    if tau_m == tau_s:
        return 0.0, 0.0, True
    return tau_s / (tau_m - tau_s), (tau_s - tau_m) / (tau_m * tau_s), False


@njit(cache=True, inline="always")
def decay_factors(dt, tau_m, tau_s, k, c, equal):
    """(exp(-dt/tau_m), exp(-dt/tau_s), f(dt)) for ``dt`` >= 0 ms, f the PSP kernel of ``free_evolve``.

    f = k (e_m - e_s) is written as the slower of the two exponentials times an ``expm1`` of
    ``-|c| dt``, which lies in (-1, 0]: accurate for close time constants and free of overflow for
    any dt (the faster-decaying factor never multiplies ``exp(+|c| dt)``, which overflows for
    |c| dt > 709, e.g. after 1.4 ms with tau_m = 1 us, tau_s = 2 us).
    """
    if equal:
        em = math.exp(-dt / tau_m)
        return em, em, dt / tau_m * em
    if c <= 0.0:  # tau_s <= tau_m: e_s = e_m e^{c dt} decays faster
        em = math.exp(-dt / tau_m)
        x = math.expm1(c * dt)
        return em, em * (1.0 + x), -k * em * x
    es = math.exp(-dt / tau_s)  # tau_s > tau_m: e_m = e_s e^{-c dt} decays faster
    y = math.expm1(-c * dt)
    return es * (1.0 + y), es, k * es * y


@njit(cache=True, inline="always")
def free_evolve(V0, I0, dt, tau_m, tau_s, v_l, k, c, equal):
    """State (V, I) after ``dt`` >= 0 ms of free evolution from (V0, I0)."""
    em, es, f = decay_factors(dt, tau_m, tau_s, k, c, equal)
    return v_l + (V0 - v_l) * em + I0 * f, I0 * es


@njit(cache=True, inline="always")
def dvdt(V, I, tau_m, v_l):
    """dV/dt (1/ms) for state (V, I)."""
    return (-(V - v_l) + I) / tau_m


@njit(cache=True, inline="always")
def extremum_time(V0, I0, tau_m, tau_s, v_l, k, c, equal):
    """Time s > 0 (ms) of the unique extremum of V after (V0, I0), or -1 if there is none."""
    if equal:
        B = I0 / tau_m
        if B == 0.0:
            return -1.0
        s = tau_m - (V0 - v_l) / B
        return s if s > 0.0 else -1.0
    # V(s) = v_l + A e^{-s/tau_m} + B e^{-s/tau_s} with B = -I0 k, A = V0 - v_l - B; V' = 0 at
    # s = log(r)/c, r = -A tau_s/(B tau_m) = (1 - u)(1 + w), u = (V0 - v_l)/B, w = (tau_s - tau_m)/tau_m.
    # r - 1 is formed from u and w and taken through log1p: for close time constants r is within
    # ~|w| of 1 and log(r) of the rounded r would lose digits (an error ~1e-16 tau/|w| ms).
    B = -I0 * k
    if B == 0.0:
        return -1.0
    u = (V0 - v_l) / B
    w = (tau_s - tau_m) / tau_m
    x = (w - u) - u * w
    if not x > -1.0:
        return -1.0
    s = math.log1p(x) / c
    return s if s > 0.0 else -1.0


@njit(cache=True, inline="always")
def psp_max(tau_m, tau_s):
    """max over s of f(s), the peak PSP of unit weight (dimensionless).

    The peak is (tau_s/tau_m)^(tau_m/(tau_m - tau_s)) = exp(-log1p(w)/w), w = (tau_s - tau_m)/tau_m,
    accurate to rounding for any ratio (k times a difference of two nearly equal exponentials
    would lose ~1e-16/|w| relative, 4e-7 at |w| = 1e-10, and the crossing bounds need the peak
    from above).
    """
    if tau_m == tau_s:
        return math.exp(-1.0)
    w = (tau_s - tau_m) / tau_m
    return math.exp(-math.log1p(w) / w)


@njit(cache=True, inline="always")
def crossing_lower_bound(V, I, tau_m, v_l, v_th, f_max, cut=INF):
    """A lower bound s >= 0 (ms) on the time until V reaches v_th with no further input (inf: never).

    Two upper bounds on V(s) = v_l + (V - v_l) e^{-s/tau_m} + I f(s), each inverted in closed form;
    the larger of the two resulting time bounds is returned (both are valid):

    1. I(s) <= I+ = max(I, 0) gives V(s) <= V_a + (V - V_a) e^{-s/tau_m} with V_a = v_l + I+
       (tight for short times);
    2. I f(s) <= I+ f_max gives V(s) <= v_l + I+ f_max + (V - v_l) e^{-s/tau_m}
       (tight for long times, when the synaptic current has decayed).

    If the second bound already reaches ``cut`` the first is not computed (the caller only needs
    to know that the bound is >= cut); the value returned is then still a valid lower bound.

    Each bound is tau_m log(a/b) with a > b > 0, evaluated as tau_m log1p((a - b)/b): when a/b is
    close to 1 (a large current, a crossing much sooner than tau_m) ``log`` of the rounded ratio
    would err by ~tau_m 1e-16 ms (1e-11 ms for tau_m = 1e5 ms) and could land past the crossing.
    """
    ip = I if I > 0.0 else 0.0
    if V >= v_th:
        return 0.0
    v_a = v_l + ip
    if v_a <= v_th:
        return INF
    v_b = v_l + ip * f_max
    s2 = 0.0
    if V < v_l:
        if v_b <= v_th:
            return INF
        s2 = tau_m * math.log1p(((v_th - V) - ip * f_max) / (v_b - v_th))
        if s2 >= cut:
            return s2
    elif v_b <= v_th and V <= v_l:
        return INF
    s1 = tau_m * math.log1p((v_th - V) / (v_a - v_th))
    return s1 if s1 > s2 else s2


@njit(cache=True, inline="always")
def _probe(V0, I0, x, tau_m, tau_s, v_l, v_th, k, c, equal, lo, hi):
    """Evaluate the closed form at ``x`` and shrink the bracket: returns (V, I, V - v_th, lo, hi)."""
    V, I = free_evolve(V0, I0, x, tau_m, tau_s, v_l, k, c, equal)
    f = V - v_th
    if f >= 0.0:
        hi = x
    else:
        lo = x
    return V, I, f, lo, hi


@njit(cache=True)
def _refine(V0, I0, tau_m, tau_s, v_l, v_th, k, c, equal, lo, hi, t0, V, I):
    """Root of V(s) = v_th in [lo, hi], V(lo) < v_th <= V(hi): Halley from ``lo``, safeguarded by the bracket.

    ``(V, I)`` is the state at ``lo``. Returns a point s with V(s) >= v_th within a few ulp of the
    crossing (float64 precision).
    """
    x = lo
    fx = V - v_th
    for _ in range(200):
        tol = 4.5e-16 * (abs(t0 + x) + 1e-12)
        d = dvdt(V, I, tau_m, v_l)
        # Halley's step (cubic convergence; V'' = (-V' - I/tau_s)/tau_m costs no extra evaluation)
        d2 = (-d - I / tau_s) / tau_m
        den = 2.0 * d * d - fx * d2
        if d > 0.0 and den > 0.0:
            xn = x - 2.0 * fx * d / den
            if abs(xn - x) <= 1e-5:
                # A Halley step this short leaves an error ~step^3, far below the tolerance: the root
                # is at xn to within rounding. Close the bracket with a probe just across it.
                if xn <= lo or xn >= hi:
                    xn = x
                    fn = fx
                else:
                    V, I, fn, lo, hi = _probe(V0, I0, xn, tau_m, tau_s, v_l, v_th, k, c, equal, lo, hi)
                xp = xn + tol if fn < 0.0 else xn - tol
                if xp > lo and xp < hi:
                    _, _, _, lo, hi = _probe(V0, I0, xp, tau_m, tau_s, v_l, v_th, k, c, equal, lo, hi)
                if hi - lo <= 2.0 * tol:
                    return hi
                xn = 0.5 * (lo + hi)  # not closed (rounding noise): bisect on
            elif not (xn > lo and xn < hi):
                xn = 0.5 * (lo + hi)
        else:
            xn = 0.5 * (lo + hi)
        V, I, fn, lo, hi = _probe(V0, I0, xn, tau_m, tau_s, v_l, v_th, k, c, equal, lo, hi)
        if hi - lo <= tol:
            return hi
        x, fx = xn, fn
    return hi


@njit(cache=True)
def next_crossing(V0, I0, tau_m, tau_s, v_l, v_th, horizon, t0):
    """Time s in [0, horizon] (ms) of the first crossing of v_th after (V0, I0), or inf.

    ``t0`` is the absolute time of the state (used only for the float64 tolerance).
    """
    if V0 >= v_th:
        return 0.0
    if horizon <= 0.0:
        return INF
    s_lb = crossing_lower_bound(V0, I0, tau_m, v_l, v_th, psp_max(tau_m, tau_s))
    if s_lb > horizon:
        return INF
    k, c, equal = pop_consts(tau_m, tau_s)
    s_ext = extremum_time(V0, I0, tau_m, tau_s, v_l, k, c, equal)
    lo = s_lb
    if s_ext > 0.0 and s_ext < horizon:
        Ve, _ = free_evolve(V0, I0, s_ext, tau_m, tau_s, v_l, k, c, equal)
        if Ve >= v_th:
            if s_ext <= lo:  # cannot happen for a valid bound; keep the bracket sound anyway
                lo = 0.0
            Vl, Il = free_evolve(V0, I0, lo, tau_m, tau_s, v_l, k, c, equal)
            if Vl >= v_th:  # rounding at a bound that is already the crossing
                return lo
            return _refine(V0, I0, tau_m, tau_s, v_l, v_th, k, c, equal, lo, s_ext, t0, Vl, Il)
        if s_ext > lo:
            lo = s_ext
    Vh, _ = free_evolve(V0, I0, horizon, tau_m, tau_s, v_l, k, c, equal)
    if Vh >= v_th:
        Vl, Il = free_evolve(V0, I0, lo, tau_m, tau_s, v_l, k, c, equal)
        if Vl >= v_th:  # rounding at a bound that is already the crossing
            return lo
        return _refine(V0, I0, tau_m, tau_s, v_l, v_th, k, c, equal, lo, horizon, t0, Vl, Il)
    return INF


@njit(cache=True)
def crossing_possible(V0, I0, tau_m, tau_s, v_l, v_th):
    """Whether V will ever reach v_th from (V0 < v_th, I0) without further input (exact, no root solve).

    V has at most one extremum: a crossing happens iff the extremum is a value >= v_th, or V tends
    to an asymptote v_l > v_th.
    """
    if V0 >= v_th:
        return True
    if v_l + (I0 if I0 > 0.0 else 0.0) <= v_th:
        return False
    if v_l > v_th:
        return True
    k, c, equal = pop_consts(tau_m, tau_s)
    s_ext = extremum_time(V0, I0, tau_m, tau_s, v_l, k, c, equal)
    if s_ext <= 0.0:
        return False
    Ve, _ = free_evolve(V0, I0, s_ext, tau_m, tau_s, v_l, k, c, equal)
    return Ve >= v_th


@njit(cache=True, inline="always")
def interval_max_state(V0, I0, dt, tau_m, tau_s, v_l, k, c, equal):
    """Maximum of V over the open-closed interval (0, dt] and the state at its end:
    (V_max, I at the maximum, s_max in (0, dt], V(dt), I(dt)).

    V has at most one extremum: the maximum is the end, or that extremum if V rises at 0 and falls
    at dt (only then is the extremum, a ``log1p``, computed).
    """
    V1, I1 = free_evolve(V0, I0, dt, tau_m, tau_s, v_l, k, c, equal)
    vm, im, sm = V1, I1, dt
    if dvdt(V0, I0, tau_m, v_l) > 0.0 and dvdt(V1, I1, tau_m, v_l) < 0.0:
        s_ext = extremum_time(V0, I0, tau_m, tau_s, v_l, k, c, equal)
        if s_ext > 0.0 and s_ext < dt:
            Ve, Ie = free_evolve(V0, I0, s_ext, tau_m, tau_s, v_l, k, c, equal)
            if Ve > vm:
                vm, im, sm = Ve, Ie, s_ext
    return vm, im, sm, V1, I1


@njit(cache=True)
def interval_max(V0, I0, dt, tau_m, tau_s, v_l):
    """(V_max, s_max) of V over the open-closed interval (0, dt]; s_max in (0, dt]."""
    k, c, equal = pop_consts(tau_m, tau_s)
    vm, _, sm, _, _ = interval_max_state(V0, I0, dt, tau_m, tau_s, v_l, k, c, equal)
    return vm, sm


