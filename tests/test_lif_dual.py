"""Two-current LIF kernel (eventsim.kernels.lif_dual) against independent oracles.

Oracles: the closed form evaluated in mpmath at 40 digits, scipy ODE integration with an event
function, and a dense-grid search whose sign changes (of V' and of V - v_th) are refined in mpmath.
"""
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from eventsim.kernels import lif, lif_dual as ld
from fuzzing import examples

mp.mp.dps = 40


# --- mpmath oracle --------------------------------------------------------------------------

def mp_kernel(s, tm, tx):
    s, tm, tx = mp.mpf(s), mp.mpf(tm), mp.mpf(tx)
    if tm == tx:
        return s / tm * mp.exp(-s / tm)
    return tx / (tm - tx) * (mp.exp(-s / tm) - mp.exp(-s / tx))


def mp_V(s, V0, Ie, Ii, tm, te, ti, vl):
    return (mp.mpf(vl) + (mp.mpf(V0) - vl) * mp.exp(-mp.mpf(s) / tm)
            + mp.mpf(Ie) * mp_kernel(s, tm, te) + mp.mpf(Ii) * mp_kernel(s, tm, ti))


def mp_dV(s, V0, Ie, Ii, tm, te, ti, vl):
    s = mp.mpf(s)
    V = mp_V(s, V0, Ie, Ii, tm, te, ti, vl)
    return (-(V - vl) + Ie * mp.exp(-s / te) + Ii * mp.exp(-s / ti)) / tm


def mp_root(f, a, b):
    """Root of f in [a, b] (f(a), f(b) of opposite signs): bisection, then mpmath.findroot polish."""
    a, b = mp.mpf(a), mp.mpf(b)
    fa = f(a)
    for _ in range(60):
        m = (a + b) / 2
        fm = f(m)
        if (fm >= 0) == (fa >= 0):
            a, fa = m, fm
        else:
            b = m
    return mp.findroot(f, (a, b), solver="illinois")


def grid(H, tmin):
    return np.unique(np.concatenate([np.linspace(0.0, H, 4000), np.geomspace(1e-7 * tmin, H, 4000)]))


def np_kernel(s, tm, tx):
    if tm == tx:
        return s / tm * np.exp(-s / tm)
    return tx / (tm - tx) * (np.exp(-s / tm) - np.exp(-s / tx))


def np_V(s, V0, Ie, Ii, tm, te, ti, vl):
    return vl + (V0 - vl) * np.exp(-s / tm) + Ie * np_kernel(s, tm, te) + Ii * np_kernel(s, tm, ti)


def np_dV(s, V0, Ie, Ii, tm, te, ti, vl):
    V = np_V(s, V0, Ie, Ii, tm, te, ti, vl)
    return (-(V - vl) + Ie * np.exp(-s / te) + Ii * np.exp(-s / ti)) / tm


def oracle_extrema(p, H):
    """Extrema in (0, H): sign changes of V' on a dense float grid, confirmed and refined in mpmath."""
    g = grid(H, min(p[3:6]))
    d = np_dV(g, *p)
    f = lambda x: mp_dV(x, *p)
    out = []
    for j in np.nonzero(np.sign(d[1:]) * np.sign(d[:-1]) < 0)[0]:
        if (f(g[j]) > 0) != (f(g[j + 1]) > 0):  # not a rounding artefact of the float grid
            out.append(mp_root(f, g[j], g[j + 1]))
    return out, g


def oracle_crossing(p, v_th, H, ext=None):
    """First s in [0, H] with V(s) = v_th: dense grid plus the oracle extrema, refined in mpmath."""
    if ext is None:
        ext, g = oracle_extrema(p, H)
    else:
        g = grid(H, min(p[3:6]))
    f = lambda x: mp_V(x, *p) - v_th
    pts = sorted([(float(x), np_V(x, *p) - v_th) for x in g] + [(x, float(f(x))) for x in ext])
    vals = np.array([v for _, v in pts])
    hit = np.nonzero(vals >= 0)[0]
    if hit.size == 0:
        return None
    j = hit[0]
    while j < len(pts) - 1 and f(pts[j][0]) < 0:  # float grid values near v_th: decide in mpmath
        j += 1
    while j > 0 and f(pts[j - 1][0]) >= 0:
        j -= 1
    if j == 0:
        return mp.mpf(0)
    return mp_root(f, pts[j - 1][0], pts[j][0])


def consts(tm, te, ti):
    return lif.pop_consts(tm, te) + lif.pop_consts(tm, ti)


def evolve(V0, Ie, Ii, s, tm, te, ti, vl):
    return ld.free_evolve_dual(V0, Ie, Ii, s, tm, te, ti, vl, *consts(tm, te, ti))


# --- closed form ----------------------------------------------------------------------------

TAUS = [
    (10.0, 3.0, 30.0), (10.0, 10.0, 30.0), (10.0, 3.0, 10.0), (10.0, 5.0, 5.0), (10.0, 10.0, 10.0),
    (10.0, 10.0 * (1 + 1e-9), 30.0), (10.0, 3.0, 10.0 * (1 - 1e-9)), (10.0, 4.0, 4.0 * (1 + 1e-9)),
    (10.0, 10.0 * (1 - 1e-9), 10.0 * (1 + 1e-9)), (0.5, 200.0, 1e-2),
]


@pytest.mark.parametrize("taus", TAUS)
def test_free_evolve_matches_mpmath(taus):
    tm, te, ti = taus
    rng = np.random.default_rng(1)
    for _ in range(20):
        V0, vl = rng.uniform(-2, 2, 2)
        Ie, Ii = rng.uniform(-5, 5, 2)
        s = float(rng.choice([rng.uniform(0, 3 * tm), rng.uniform(0, 1e-3), 50 * max(taus)]))
        V, Ie1, Ii1 = evolve(V0, Ie, Ii, s, tm, te, ti, vl)
        scale = abs(V0 - vl) + abs(Ie) + abs(Ii) + abs(vl)
        assert abs(V - float(mp_V(s, V0, Ie, Ii, tm, te, ti, vl))) <= 4e-15 * scale
        assert abs(Ie1 - float(Ie * mp.exp(-mp.mpf(s) / te))) <= 4e-16 * abs(Ie) + 1e-300
        assert abs(Ii1 - float(Ii * mp.exp(-mp.mpf(s) / ti))) <= 4e-16 * abs(Ii) + 1e-300


def test_zero_inhibition_is_bit_identical_to_single_current():
    rng = np.random.default_rng(2)
    for tm, te, ti in TAUS + [(5.0, 5.0, 7.0)]:
        ke, ce, eqe = lif.pop_consts(tm, te)
        for _ in range(50):
            V0, Ie, vl = rng.uniform(-3, 3, 3)
            s = float(rng.exponential(2 * tm))
            V, I = lif.free_evolve(V0, Ie, s, tm, te, vl, ke, ce, eqe)
            Vd, Ied, Iid = evolve(V0, Ie, 0.0, s, tm, te, ti, vl)
            assert (Vd, Ied, Iid) == (V, I, 0.0)


# --- crossings against an ODE integrator -----------------------------------------------------

def test_crossing_times_match_scipy_ode():
    rng = np.random.default_rng(3)
    checked = silent = 0
    for _ in range(60):
        tm, te, ti = rng.uniform(2, 30), rng.uniform(0.5, 10), rng.uniform(5, 100)
        V0, Ie, Ii = rng.uniform(-1, 0.9), rng.uniform(2, 15), rng.uniform(-4, 0)
        vl, vth, H = 0.0, 1.0, 150.0

        def rhs(t, y):
            return [(-(y[0] - vl) + y[1] + y[2]) / tm, -y[1] / te, -y[2] / ti]

        ev = lambda t, y: y[0] - vth
        ev.terminal, ev.direction = True, 1
        sol = solve_ivp(rhs, (0, H), [V0, Ie, Ii], method="DOP853", rtol=1e-12, atol=1e-14,
                        events=ev, dense_output=True)
        s = ld.next_crossing_dual(V0, Ie, Ii, tm, te, ti, vl, vth, H, 0.0)
        # near-tangent cases are ill-conditioned for the ODE event (the mpmath tests cover them)
        if sol.t_events[0].size:
            t_ode = sol.t_events[0][0]
            if abs(rhs(t_ode, sol.y_events[0][0])[0]) < 1e-3:
                continue
            assert abs(s - t_ode) <= 1e-9, (s, t_ode)
            checked += 1
        elif sol.sol(np.linspace(0, H, 20001))[0].max() < vth - 1e-6:
            assert s == math.inf
            silent += 1
    assert checked >= 15 and silent >= 5


# --- constructed hard cases against the mpmath oracle ----------------------------------------

# fast excitation, slow strong inhibition, V starting below rest: rise -> maximum -> dip -> minimum
# -> slow rise towards v_l (same shape with tau_m == tau_e and with tau_m == tau_i)
HARD = [
    (-1.0, 3.0, -1.0, 10.0, 1.0, 50.0, 0.0),
    (-1.0, 2.0, -1.2, 5.0, 5.0, 40.0, 0.0),
    (-1.0, 6.0, -2.0, 20.0, 1.0, 20.0, 0.0),
]


@pytest.mark.parametrize("p", HARD)
def test_hard_cases_two_extrema(p):
    H = 2000.0
    ext, _ = oracle_extrema(p, H)
    assert len(ext) == 2  # the construction really has two extrema: a maximum, then a minimum
    s_max, s_min = ext
    v_max = mp_V(s_max, *p)
    assert mp_V(s_min, *p) < v_max < p[-1]
    e1, e2 = ld.extrema_dual(*p)
    assert abs(e1 - float(s_max)) <= 1e-12 * float(s_max) and abs(e2 - float(s_min)) <= 1e-12 * float(s_min)

    # maximum 1e-9 below threshold: the crossing is on the later rise, after the minimum
    vth = float(v_max + mp.mpf("1e-9"))
    s = ld.next_crossing_dual(*p, vth, H, 0.0)
    ref = oracle_crossing(p, vth, H, ext)
    assert ref > s_min and abs(s - float(ref)) <= 1e-9
    assert ld.crossing_possible_dual(*p, vth)

    # maximum touching 1e-12 above threshold: found next to the maximum, not on the later rise
    vth = float(v_max - mp.mpf("1e-12"))
    s = ld.next_crossing_dual(*p, vth, H, 0.0)
    ref = oracle_crossing(p, vth, H, ext)
    assert ref < s_max and abs(s - float(ref)) <= 1e-8  # time ill-conditioned at a touch: V' ~ 1e-6
    assert s <= float(s_max) * (1 + 1e-15) and mp_V(s, *p) >= vth - 1e-15
    assert ld.crossing_possible_dual(*p, vth)

    # crossing after the second extremum only, well above the maximum
    vth = float((v_max + p[-1]) / 2)
    s = ld.next_crossing_dual(*p, vth, H, 0.0)
    ref = oracle_crossing(p, vth, H, ext)
    assert ref > s_min and abs(s - float(ref)) <= 1e-9
    assert mp_V(s, *p) >= vth - 1e-15
    # a horizon before that rise: none
    assert ld.next_crossing_dual(*p, vth, float(ref) * 0.999, 0.0) == math.inf


# --- property test against the grid oracle ---------------------------------------------------

tau = st.floats(-2.0, 3.0).map(lambda x: 10.0 ** x)
state = st.tuples(st.floats(-2.0, 0.99), st.floats(-3.0, 8.0), st.floats(-8.0, 3.0))


@settings(max_examples=examples(60))
@given(state, tau, tau, tau)
def test_crossing_and_extrema_match_grid_oracle(s0, tm, te, ti):
    V0, Ie, Ii = s0
    vl, vth = 0.0, 1.0
    p = (V0, Ie, Ii, tm, te, ti, vl)
    H = 60.0 * max(tm, te, ti)  # beyond H, |V - v_l| < 1e-20: no crossing of v_th = 1 is left

    ext, g = oracle_extrema(p, H)
    e = [x for x in ld.extrema_dual(*p) if x > 0.0]
    assert e == sorted(e)
    scale = (abs(V0) + abs(Ie) + abs(Ii)) / min(tm, te, ti)
    for r in e:  # roots of V': |V'| at rounding level
        if r < H:
            d2 = abs(mp.diff(lambda x: mp_dV(x, *p), r))
            assert abs(mp_dV(r, *p)) <= 1e-13 * d2 * r + 1e-14 * scale + 1e-300
    for r in ext:  # no sign change of V' on the grid is missed
        assert any(abs(x - float(r)) <= 1e-9 * float(r) for x in e), (e, ext)

    s = ld.next_crossing_dual(*p, vth, H, 0.0)
    ref = oracle_crossing(p, vth, H, ext)
    vpeak = max([mp_V(x, *p) for x in ext] + [mp.mpf(V0)])
    if ref is None:
        assert s == math.inf or abs(vpeak - vth) < 1e-12
    elif s == math.inf:
        assert abs(vpeak - vth) < 1e-12
    else:
        slope = abs(mp_dV(ref, *p))
        assert abs(s - float(ref)) <= 1e-10 * (1 + float(ref)) + 1e-14 * (1 + abs(Ie) + abs(Ii)) / slope
        assert mp_V(s, *p) >= vth - 1e-14
    possible = ld.crossing_possible_dual(*p, vth)
    assert possible == (ld.next_crossing_dual(*p, vth, 1e30, 0.0) < math.inf)
    assert possible == (s < math.inf)


# --- interval maximum and integral -----------------------------------------------------------

def test_interval_max_matches_dense_grid():
    rng = np.random.default_rng(4)
    for p in HARD + [tuple(rng.uniform(-1, 1, 3)) + (10.0, 2.0, 30.0, 0.0) for _ in range(10)]:
        for dt in (1.0, 5.0, 30.0, 300.0):
            vmax, smax = ld.interval_max_dual(*p[:3], dt, *p[3:])
            assert 0.0 < smax <= dt
            assert vmax == evolve(*p[:3], smax, *p[3:])[0]
            gs = np.linspace(0.0, dt, 20001)[1:]
            gv = np.array([evolve(*p[:3], x, *p[3:])[0] for x in gs])
            # like lif.interval_max: the supremum V0 of a descent from s = 0 is not attained in (0, dt]
            # and not reported; past the initial descent the grid never exceeds V_max
            rise = np.nonzero(np.diff(gv) > 0)[0]
            k = rise[0] if rise.size else gv.size - 1
            assert gv[k:].max() <= vmax + 1e-14
            # at an interior maximum the grid is below it by at most V'' h^2/8 (h the spacing)
            assert vmax - gv[k:].max() <= 0.2 * np.abs(np.diff(gv, 2)).max() + 1e-14


@pytest.mark.parametrize("taus", TAUS[:6])
def test_interval_integral_matches_mpmath_quad(taus):
    tm, te, ti = taus
    rng = np.random.default_rng(5)
    for _ in range(5):
        V0, Ie, Ii, vl = rng.uniform(-2, 2, 4)
        dt = float(rng.uniform(0.1, 40))
        V1, Ie1, Ii1 = evolve(V0, Ie, Ii, dt, tm, te, ti, vl)
        got = ld.interval_integral_dual(V0, Ie, Ii, dt, V1, Ie1, Ii1, tm, te, ti, vl)
        ref = mp.quad(lambda x: mp_V(x, V0, Ie, Ii, tm, te, ti, vl), [0, dt])
        assert abs(got - float(ref)) <= 1e-12 * (1 + dt) * (abs(V0) + abs(Ie) + abs(Ii) + abs(vl))


def test_extrema_far_and_degenerate():
    # a tiny slow current makes a second extremum late (V' ~ 1e-304 there): still found
    p = (0.38557742093203196, -2.099076688305293, 1e-300, 1.0, 1.0, 1000.0, 0.0)
    f = lambda x: mp_dV(x, *p)
    e1, e2 = ld.extrema_dual(*p)
    assert abs(e1 - float(mp_root(f, 1.0, 2.0))) <= 1e-14
    assert abs(e2 - float(mp_root(f, 700.0, 710.0))) <= 1e-12
    # without it (or with the two slow currents cancelling exactly) there is only the first
    f1, f2 = ld.extrema_dual(*p[:2], 0.0, *p[3:])
    assert abs(f1 - e1) <= 1e-14 and f2 == -1.0
    assert ld.extrema_dual(0.5, 2.0, -2.0, 1.0, 1000.0, 1000.0, 0.0) == (-1.0, -1.0)
