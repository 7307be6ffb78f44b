"""Closed-form LIF dynamics with two synaptic currents, exact threshold-crossing search (Numba).

Neuron (times in ms, voltage dimensionless)::

    tau_m dV/dt = -(V - v_l) + I_e + I_i,   tau_e dI_e/dt = -I_e,   tau_i dI_i/dt = -I_i

From (V0, I_e0, I_i0) after ``s`` ms without input::

    V(s) = v_l + (V0 - v_l) e^{-s/tau_m} + I_e0 f_e(s) + I_i0 f_i(s)

with f_x the PSP kernel of ``lif`` for (tau_m, tau_x) (any of the three time constants may be
equal). In use I_e >= 0 >= I_i, but every function here is exact for any signs.

Extrema. With u = tau_m dV/ds = -(V - v_l) + I_e + I_i one has du/ds = -u/tau_m - I_e/tau_e - I_i/tau_i,
so w(s) = u(s) e^{s/tau_m} satisfies

    dw/ds = -e^{s/tau_m} h(s),   h(s) = (I_e0/tau_e) e^{-s/tau_e} + (I_i0/tau_i) e^{-s/tau_i}.

h is a sum of two exponentials (one if tau_e == tau_i): by Descartes' rule it has at most one zero
s_h, in closed form, and none unless I_e0 and I_i0 have opposite signs. So w (and with it the sign
of dV/ds) is strictly monotone on (0, s_h) and on (s_h, inf) (constant if h vanishes identically),
holds at most one sign change on each, and V has at most two extrema. This holds for all equal-tau
cases (they only change f_x, not h). A sign change is bracketed from the signs of dV/ds at the piece
ends and refined to float64 precision. Integrating, u(s) = u0 e^{-s/tau_m} - tau_m (I_e0/tau_e) f_e(s)
- tau_m (I_i0/tau_i) f_i(s); its sign is read from z(s) = e^{s/T} u(s), T the slowest time constant
among the terms present,
written with the ``expm1`` forms of ``lif``: no overflow for any s, and at s = 1e25 T every faster
term has decayed to exactly zero in float64, so the sign there is the limit sign (extrema later
than 1e25 T, where V - v_l has decayed by e^{-1e25}, are not reported). If the leading term cancels
exactly (z(1e25 T) == 0) the sign at the last s where z is nonzero in float64 is used.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from eventsim.kernels import lif

INF = np.inf
_FAR = 1e25  # extrema are searched up to _FAR times the slowest time constant


@njit(cache=True, inline="always")
def free_evolve_dual(V0, Ie0, Ii0, dt, tau_m, tau_e, tau_i, v_l, ke, ce, eqe, ki, ci, eqi):
    """State (V, I_e, I_i) after ``dt`` >= 0 ms of free evolution from (V0, Ie0, Ii0).

    (ke, ce, eqe) and (ki, ci, eqi) are ``lif.pop_consts(tau_m, tau_e)`` and ``(tau_m, tau_i)``.
    For Ii0 == 0 the V and I_e are bit-identical to ``lif.free_evolve``.
    """
    em, ee, fe = lif.decay_factors(dt, tau_m, tau_e, ke, ce, eqe)
    V = v_l + (V0 - v_l) * em + Ie0 * fe
    if Ii0 == 0.0:
        return V, Ie0 * ee, 0.0
    if not eqi and ci <= 0.0 and (eqe or ce <= 0.0):
        # tau_i < tau_m and decay_factors computed e_m = exp(-dt/tau_m) above: the same factor,
        # one exponential fewer (bit-identical to calling decay_factors again)
        x = math.expm1(ci * dt)
        return V + Ii0 * (-ki * em * x), Ie0 * ee, Ii0 * (em * (1.0 + x))
    _, ei, fi = lif.decay_factors(dt, tau_m, tau_i, ki, ci, eqi)
    return V + Ii0 * fi, Ie0 * ee, Ii0 * ei


@njit(cache=True, inline="always")
def _scaled_kernel(s, tau_m, tau_x, T):
    """e^{s/T} f_x(s) for the PSP kernel f_x of (tau_m, tau_x), T >= tau_m, tau_x (ms): no overflow."""
    if tau_m == tau_x:
        return s / tau_m * math.exp(-s * ((T - tau_m) / (tau_m * T)))
    k, c, _ = lif.pop_consts(tau_m, tau_x)
    if c <= 0.0:
        return -k * math.exp(-s * ((T - tau_m) / (tau_m * T))) * math.expm1(c * s)
    return k * math.exp(-s * ((T - tau_x) / (tau_x * T))) * math.expm1(-c * s)


@njit(cache=True, inline="always")
def _zs(s, u0, Ie0, Ii0, tau_m, tau_e, tau_i, T):
    """z(s) = e^{s/T} tau_m dV/ds (dimensionless), same sign as dV/ds; u0 = tau_m dV/ds at 0."""
    z = u0 * math.exp(-s * ((T - tau_m) / (tau_m * T)))
    if Ie0 != 0.0:
        z -= tau_m * Ie0 / tau_e * _scaled_kernel(s, tau_m, tau_e, T)
    if Ii0 != 0.0:
        z -= tau_m * Ii0 / tau_i * _scaled_kernel(s, tau_m, tau_i, T)
    return z


@njit(cache=True)
def _root_dv(a, b, za, zb, u0, Ie0, Ii0, tau_m, tau_e, tau_i, T):
    """Sign change of dV/ds in (a, b) (ms), z(a) z(b) < 0, to float64 precision.

    Secant steps alternate with bisection (the bracket at least halves every two steps); the
    bisection point is geometric while b > 4a (a bracket may span many decades).
    """
    for it in range(600):
        if b - a <= 4.5e-16 * b:
            break
        x = 0.5 * (a + b)
        if a == 0.0:
            if b * 1e-3 > 0.0:
                x = b * 1e-3
        elif b > 4.0 * a:
            x = math.sqrt(a) * math.sqrt(b)
        elif it % 2 == 0:
            xs = a - za * (b - a) / (zb - za)
            if xs > a and xs < b:
                x = xs
        if not (x > a and x < b):  # adjacent floats
            break
        zx = _zs(x, u0, Ie0, Ii0, tau_m, tau_e, tau_i, T)
        if zx == 0.0:
            return x
        if (zx > 0.0) == (za > 0.0):
            a, za = x, zx
        else:
            b, zb = x, zx
    return 0.5 * (a + b)


@njit(cache=True)
def _extrema(dv0, Ie0, Ii0, tau_m, tau_e, tau_i, s_end):
    """Sorted extrema (s1, s2) of V in (0, s_end) (ms; -1 if absent), dv0 = V0 - v_l; s_end may be inf."""
    T = tau_m  # the slowest time constant among the terms present
    if Ie0 != 0.0 and tau_e > T:
        T = tau_e
    if Ii0 != 0.0 and tau_i > T:
        T = tau_i
    if s_end > _FAR * T:
        s_end = _FAR * T
    u0 = -dv0 + Ie0 + Ii0
    # zero of h: (Ie0/tau_e) e^{-s/tau_e} = -(Ii0/tau_i) e^{-s/tau_i}, s = log(r) tau_e tau_i/(tau_e - tau_i)
    # with r = -Ii0 tau_e/(Ie0 tau_i); log1p of r - 1 near r = 1, a sum of logs otherwise (no underflow)
    sh = -1.0
    if tau_e != tau_i and (Ie0 > 0.0 and Ii0 < 0.0 or Ie0 < 0.0 and Ii0 > 0.0):
        x = -(Ii0 * tau_e + Ie0 * tau_i) / (Ie0 * tau_i)
        if abs(x) < 0.5:
            lr = math.log1p(x)
        else:
            lr = math.log(abs(Ii0)) - math.log(abs(Ie0)) + math.log(tau_e) - math.log(tau_i)
        sh = lr * (tau_e * tau_i / (tau_e - tau_i))
    pts0 = 0.0
    pts1 = sh if (sh > 0.0 and sh < s_end) else s_end
    pts2 = s_end
    out0 = -1.0
    out1 = -1.0
    a, za = pts0, u0
    for j in range(2):
        b = pts1 if j == 0 else pts2
        if b <= a:
            continue
        zb = _zs(b, u0, Ie0, Ii0, tau_m, tau_e, tau_i, T)
        if zb == 0.0 and b == s_end:
            # the leading term cancels (z -> 0): take the sign at the last s where z is nonzero
            lo, hi = a, b
            for _ in range(200):
                x = math.sqrt(lo) * math.sqrt(hi) if (lo > 0.0 and hi > 4.0 * lo) else 0.5 * (lo + hi)
                if x <= lo or x >= hi:
                    break
                zx = _zs(x, u0, Ie0, Ii0, tau_m, tau_e, tau_i, T)
                if zx == 0.0:
                    hi = x
                else:
                    lo, zb = x, zx
            b = lo
        if za != 0.0 and zb != 0.0 and (za > 0.0) != (zb > 0.0):
            r = _root_dv(a, b, za, zb, u0, Ie0, Ii0, tau_m, tau_e, tau_i, T)
            if r > 0.0 and r < s_end:
                if out0 < 0.0:
                    out0 = r
                elif r > out0:
                    out1 = r
        a, za = b, zb
    return out0, out1


@njit(cache=True)
def extrema_dual(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l):
    """Times (s1, s2) in ms, s1 < s2, of the extrema of V after (V0, Ie0, Ii0); -1.0 for absent ones.

    Only sign changes of dV/ds count (a double zero without sign change, an inflection, is not an
    extremum). Complete by the monotonicity argument in the module docstring, for any signs.
    """
    return _extrema(V0 - v_l, Ie0, Ii0, tau_m, tau_e, tau_i, INF)


@njit(cache=True, inline="always")
def _state(V0, Ie0, Ii0, s, tau_m, tau_e, tau_i, v_l):
    ke, ce, eqe = lif.pop_consts(tau_m, tau_e)
    ki, ci, eqi = lif.pop_consts(tau_m, tau_i)
    return free_evolve_dual(V0, Ie0, Ii0, s, tau_m, tau_e, tau_i, v_l, ke, ce, eqe, ki, ci, eqi)


class DualConsts(NamedTuple):
    """A two-current population's constants for the crossing search: ``lif.pop_consts`` of
    (tau_m, tau_e) and of (tau_m, tau_i), and the peak PSP of unit excitatory weight (dimensionless)."""
    ke: float
    ce: float
    eqe: bool
    ki: float
    ci: float
    eqi: bool
    fmax_e: float


@njit(cache=True)
def dual_consts(tau_m, tau_e, tau_i):
    """``DualConsts`` of a population with time constants tau_m, tau_e, tau_i (ms)."""
    ke, ce, eqe = lif.pop_consts(tau_m, tau_e)
    ki, ci, eqi = lif.pop_consts(tau_m, tau_i)
    return DualConsts(ke, ce, eqe, ki, ci, eqi, lif.psp_max(tau_m, tau_e))


@njit(cache=True, inline="always")
def _state_c(V0, Ie0, Ii0, s, tau_m, tau_e, tau_i, v_l, k):
    """``_state`` with the population's constants ``k`` (DualConsts)."""
    return free_evolve_dual(V0, Ie0, Ii0, s, tau_m, tau_e, tau_i, v_l, k.ke, k.ce, k.eqe, k.ki, k.ci, k.eqi)


@njit(cache=True)
def _refine_dual(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l, v_th, lo, hi, t0, V, Ie, Ii, k):
    """Root of V(s) = v_th in [lo, hi], V(lo) < v_th <= V(hi), V monotone: Halley from ``lo``, safeguarded.

    (V, Ie, Ii) is the state at ``lo``; ``k`` the population's ``DualConsts``. Returns s with V(s) >= v_th within a few ulp of the crossing.
    """
    x = lo
    fx = V - v_th
    last = INF  # length of the last Halley step
    for _ in range(300):
        # float64 resolution at the crossing (the smaller bracket end: a far ``hi`` must not widen it)
        tol = 4.5e-16 * (min(abs(t0 + lo), abs(t0 + hi)) + 1e-12)
        d = (-(V - v_l) + Ie + Ii) / tau_m
        # Halley's step; V'' = (-V' - I_e/tau_e - I_i/tau_i)/tau_m costs no extra evaluation
        d2 = (-d - Ie / tau_e - Ii / tau_i) / tau_m
        den = 2.0 * d * d - fx * d2
        # bisection point (geometric while hi > 4 lo: the bracket may end at a far horizon)
        xn = math.sqrt(lo) * math.sqrt(hi) if (lo > 0.0 and hi > 4.0 * lo) else 0.5 * (lo + hi)
        halley = False
        if d > 0.0 and den > 0.0:
            xh = x - 2.0 * fx * d / den
            # accepted inside the bracket and while the steps at least halve (else bisect once)
            if xh > lo and xh < hi and abs(xh - x) <= 0.5 * last:
                xn, halley = xh, True
        last = abs(xn - x) if halley else INF
        V, Ie, Ii = _state_c(V0, Ie0, Ii0, xn, tau_m, tau_e, tau_i, v_l, k)
        fn = V - v_th
        if fn >= 0.0:
            hi = xn
        else:
            lo = xn
        if halley and abs(xn - x) <= 1e-5:
            # a short Halley step leaves an error ~step^3: probe just across xn to close the bracket
            xp = xn + tol if fn < 0.0 else xn - tol
            if xp > lo and xp < hi:
                Vp, _, _ = _state_c(V0, Ie0, Ii0, xp, tau_m, tau_e, tau_i, v_l, k)
                if Vp >= v_th:
                    hi = xp
                else:
                    lo = xp
        if hi - lo <= 2.0 * tol:
            return hi
        x, fx = xn, fn
    return hi


@njit(cache=True, inline="always")
def _lower_bound(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l, v_th, fmax_e):
    """Valid lower bound (ms) on the crossing time: the single-current bound for I = Ie0+ + Ii0+.

    I_e(s) + I_i(s) <= Ie0+ + Ii0+ and I_e0 f_e + I_i0 f_i <= (Ie0+ + Ii0+) max(psp_max) (over the
    currents with a positive part), so ``lif.crossing_lower_bound`` holds; for Ie0 >= 0 >= Ii0 this is
    exactly the bound of the excitatory current alone. ``fmax_e`` = ``lif.psp_max(tau_m, tau_e)``.
    """
    ip = 0.0
    fmax = 0.0
    if Ie0 > 0.0:
        ip += Ie0
        fmax = fmax_e
    if Ii0 > 0.0:
        ip += Ii0
        fmax = max(fmax, lif.psp_max(tau_m, tau_i))
    return lif.crossing_lower_bound(V0, ip, tau_m, v_l, v_th, fmax)


@njit(cache=True)
def next_crossing_dual(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l, v_th, horizon, t0):
    """Time s in [0, horizon] (ms) of the first time V reaches v_th after (V0, Ie0, Ii0), or inf.

    [0, horizon] is split at the (at most two) extrema; V is monotone on each piece and the first
    piece whose end is >= v_th holds the crossing (a maximum touching the threshold is a piece
    end, so it is found before any later rise). Any signs of Ie0, Ii0. Distant or impossible
    crossings are rejected first by a closed-form lower bound: ``lif.crossing_lower_bound`` for the
    current Ie0+ + Ii0+ (positive parts) with the larger ``psp_max`` of the currents that have one;
    for Ie0 >= 0 >= Ii0 that is the excitatory current alone (inhibition only lowers V). ``t0`` is
    the absolute time of the state (ms, used only for the float64 tolerance).
    """
    return crossing_search_dual(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l, v_th, horizon, t0,
                                dual_consts(tau_m, tau_e, tau_i))


@njit(cache=True)
def crossing_search_dual(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l, v_th, horizon, t0, k):
    """``next_crossing_dual`` with the population's constants ``k`` (``dual_consts``, computed once
    per population by the caller instead of at every evaluation of V)."""
    if V0 >= v_th:
        return 0.0
    if horizon <= 0.0:
        return INF
    if Ii0 == 0.0:  # the single-current dynamics, bit for bit: its one-extremum search is cheaper
        return lif.next_crossing(V0, Ie0, tau_m, tau_e, v_l, v_th, horizon, t0)
    lo = _lower_bound(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l, v_th, k.fmax_e)
    if lo > horizon:
        return INF
    e1, e2 = _extrema(V0 - v_l, Ie0, Ii0, tau_m, tau_e, tau_i, horizon)
    for j in range(3):
        b = e1 if j == 0 else (e2 if j == 1 else horizon)
        if b < 0.0 or b < lo:
            continue
        Vb, _, _ = _state_c(V0, Ie0, Ii0, b, tau_m, tau_e, tau_i, v_l, k)
        if Vb >= v_th:
            V, Ie, Ii = _state_c(V0, Ie0, Ii0, lo, tau_m, tau_e, tau_i, v_l, k)
            if V >= v_th:  # rounding at a bound or piece start that is already the crossing
                return lo
            return _refine_dual(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l, v_th, lo, b, t0, V, Ie, Ii, k)
        lo = b
    return INF


@njit(cache=True)
def crossing_possible_dual(V0, Ie0, Ii0, tau_m, tau_e, tau_i, v_l, v_th):
    """Whether V ever reaches v_th from (V0, Ie0, Ii0) without further input (exact, no root solve).

    True iff V0 >= v_th, or some extremum has V >= v_th, or the asymptote v_l lies above v_th.
    """
    if V0 >= v_th:
        return True
    if v_l + max(Ie0, 0.0) + max(Ii0, 0.0) <= v_th:
        return False  # V stays below max(V0, v_l + Ie0+ + Ii0+)
    if v_l > v_th:
        return True
    if Ii0 == 0.0:
        return lif.crossing_possible(V0, Ie0, tau_m, tau_e, v_l, v_th)
    e1, e2 = _extrema(V0 - v_l, Ie0, Ii0, tau_m, tau_e, tau_i, INF)
    for e in (e1, e2):
        if e > 0.0:
            Ve, _, _ = _state(V0, Ie0, Ii0, e, tau_m, tau_e, tau_i, v_l)
            if Ve >= v_th:
                return True
    return False


@njit(cache=True)
def interval_max_dual(V0, Ie0, Ii0, dt, tau_m, tau_e, tau_i, v_l):
    """(V_max, s_max) of V over the open-closed interval (0, dt] ms; s_max in (0, dt]."""
    best, _, _ = _state(V0, Ie0, Ii0, dt, tau_m, tau_e, tau_i, v_l)
    sbest = dt
    e1, e2 = _extrema(V0 - v_l, Ie0, Ii0, tau_m, tau_e, tau_i, dt)
    for e in (e1, e2):
        if e > 0.0 and e < dt:
            Ve, _, _ = _state(V0, Ie0, Ii0, e, tau_m, tau_e, tau_i, v_l)
            if Ve > best:
                best, sbest = Ve, e
    return best, sbest


@njit(cache=True, inline="always")
def interval_integral_dual(V0, Ie0, Ii0, dt, V1, Ie1, Ii1, tau_m, tau_e, tau_i, v_l):
    """Integral of V over [0, dt] (ms, dimensionless voltage times ms) from the start and end states.

    Integrating the three equations: v_l dt + tau_e (Ie0 - Ie1) + tau_i (Ii0 - Ii1) - tau_m (V1 - V0).
    """
    return v_l * dt + tau_e * (Ie0 - Ie1) + tau_i * (Ii0 - Ii1) - tau_m * (V1 - V0)
