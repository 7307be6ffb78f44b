"""Connection rules and weight/delay distributions (eventsim.connectivity) and Network.connect with them.

Oracles: binomial confidence bounds for Bernoulli connectivity (scipy.stats.binom), exact degree
and distinctness counts, chi-square uniformity of the chosen partners, Kolmogorov-Smirnov tests
of every distribution against scipy.stats (norm, truncnorm, uniform, lognorm), and the closed-form
mean and standard deviation of the log-normal.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

import eventsim as es
from eventsim.connectivity import (AllToAll, Constant, FixedInDegree, FixedOutDegree, FixedProbability, LogNormal,
                                   Normal, OneToOne, Uniform, draw_synapses)

KS_ALPHA = 1e-3  # the fixed seeds below pass with p-values far above this


def _net(*sizes):
    net = es.Network()
    net.add_input("in", sizes[0])
    for i, n in enumerate(sizes[1:]):
        net.add_population(f"p{i}", n)
    return net


def _pairs(rule, n_pre, n_post, seed=0, same=False):
    pre, post = rule.pairs(n_pre, n_post, np.random.default_rng(seed), same)
    assert pre.dtype == np.int64 and post.dtype == np.int64 and pre.shape == post.shape
    return pre, post


def _no_duplicates(pre, post, n_pre):
    key = post * n_pre + pre
    return np.unique(key).size == key.size


# ------------------------------------------------------------------------------------- rules
@pytest.mark.parametrize("same, allow", [(False, True), (True, True), (True, False)])
def test_fixed_probability_count_is_binomial(same, allow):
    n_pre, n_post, p = 300, 300, 0.07
    pre, post = _pairs(FixedProbability(p, allow_autapses=allow), n_pre, n_post, seed=11, same=same)
    n_pairs = n_pre * n_post - (n_pre if same and not allow else 0)
    lo, hi = stats.binom.interval(1 - 1e-6, n_pairs, p)
    assert lo <= pre.size <= hi
    assert _no_duplicates(pre, post, n_pre)
    assert pre.min() >= 0 and pre.max() < n_pre and post.min() >= 0 and post.max() < n_post
    if same and not allow:
        assert not np.any(pre == post)
    if allow:  # the diagonal is an ordinary pair: its count is Binomial(n, p) too
        assert stats.binom.ppf(1e-6, n_pre, p) <= np.sum(pre == post) <= stats.binom.ppf(1 - 1e-6, n_pre, p)


def test_fixed_probability_pairs_are_uniform_over_the_grid():
    """Bernoulli pairs: the flat positions of the synapses are uniform on the grid, per row the
    counts are Binomial(n_pre, p) (chi-square of the row counts against it)."""
    n_pre, n_post, p = 400, 500, 0.05
    pre, post = _pairs(FixedProbability(p), n_pre, n_post, seed=3)
    flat = (post * n_pre + pre + 0.5) / (n_pre * n_post)
    assert stats.kstest(flat, "uniform").pvalue > KS_ALPHA
    rows = np.bincount(post, minlength=n_post)
    assert abs(rows.mean() - n_pre * p) < 4 * math.sqrt(n_pre * p * (1 - p) / n_post)
    assert abs(rows.var(ddof=1) / (n_pre * p * (1 - p)) - 1) < 0.25


def test_fixed_probability_edges_and_seeds():
    assert _pairs(FixedProbability(0.0), 50, 40)[0].size == 0
    pre, post = _pairs(FixedProbability(1.0), 5, 4)
    assert pre.size == 20 and _no_duplicates(pre, post, 5)
    pre, post = _pairs(FixedProbability(1.0, allow_autapses=False), 5, 5, same=True)
    assert pre.size == 20 and not np.any(pre == post)
    assert _pairs(FixedProbability(1e-300), 1000, 1000)[0].size == 0  # gaps past the grid end it
    n_big = _pairs(FixedProbability(1e-9), 10 ** 6, 10 ** 6, seed=2)[0].size  # 1e12 pairs, ~1000 synapses
    assert stats.binom.ppf(1e-6, 10 ** 12, 1e-9) <= n_big <= stats.binom.ppf(1 - 1e-6, 10 ** 12, 1e-9)
    a, b = _pairs(FixedProbability(0.3), 30, 30, seed=1), _pairs(FixedProbability(0.3), 30, 30, seed=1)
    c = _pairs(FixedProbability(0.3), 30, 30, seed=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert a[0].size != c[0].size or not np.array_equal(a[0], c[0])
    for bad in (-0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(ValueError, match="p must"):
            FixedProbability(bad)


@pytest.mark.parametrize("allow", [True, False])
def test_fixed_indegree_exact_distinct_sources(allow):
    n, k = 60, 12
    pre, post = _pairs(FixedInDegree(k, allow_autapses=allow), n, n, seed=5, same=True)
    assert np.array_equal(np.bincount(post, minlength=n), np.full(n, k))
    assert _no_duplicates(pre, post, n)
    if not allow:
        assert not np.any(pre == post)


def test_fixed_indegree_sources_are_uniform():
    """Every source is chosen k * n_post / n_pre times on average: chi-square goodness of fit."""
    n_pre, n_post, k = 50, 2000, 5
    pre, post = _pairs(FixedInDegree(k), n_pre, n_post, seed=7)
    assert stats.chisquare(np.bincount(pre, minlength=n_pre)).pvalue > KS_ALPHA


def test_fixed_outdegree_exact_distinct_targets():
    n_pre, n_post, k = 40, 30, 7
    pre, post = _pairs(FixedOutDegree(k), n_pre, n_post, seed=9)
    assert np.array_equal(np.bincount(pre, minlength=n_pre), np.full(n_pre, k))
    assert _no_duplicates(pre, post, n_pre)
    assert stats.chisquare(np.bincount(post, minlength=n_post)).pvalue > KS_ALPHA
    pre, post = _pairs(FixedOutDegree(29, allow_autapses=False), 30, 30, seed=1, same=True)
    assert not np.any(pre == post) and pre.size == 30 * 29  # all the others: the whole off-diagonal


def test_degree_rules_refuse_multapses_and_impossible_degrees():
    for rule in (FixedInDegree, FixedOutDegree):
        with pytest.raises(ValueError, match="multapses"):
            rule(3, multapses=True)
        with pytest.raises(ValueError, match="k must"):
            rule(-1)
        with pytest.raises(ValueError, match="k must"):
            rule(2.0)
        with pytest.raises(TypeError, match="allow_autapses"):
            rule(2, allow_autapses=1)
    with pytest.raises(ValueError, match="k of FixedInDegree is 10, but only 9 distinct sources"):
        _pairs(FixedInDegree(10, allow_autapses=False), 10, 10, same=True)
    with pytest.raises(ValueError, match="k of FixedOutDegree is 5, but only 4"):
        _pairs(FixedOutDegree(5), 3, 4)
    pre, post = _pairs(FixedInDegree(10), 10, 10, same=True)  # every source, autapses allowed
    assert pre.size == 100 and _no_duplicates(pre, post, 10)


def test_one_to_one_and_all_to_all():
    pre, post = _pairs(OneToOne(), 7, 7)
    assert np.array_equal(pre, np.arange(7)) and np.array_equal(post, np.arange(7))
    with pytest.raises(ValueError, match="OneToOne needs populations of equal size, got n_pre=3, n_post=4"):
        _pairs(OneToOne(), 3, 4)
    pre, post = _pairs(AllToAll(), 3, 4)
    M = np.zeros((4, 3), bool)
    M[post, pre] = True
    assert M.all() and pre.size == 12
    pre, post = _pairs(AllToAll(allow_autapses=False), 4, 4, same=True)
    M = np.zeros((4, 4), bool)
    M[post, pre] = True
    assert np.array_equal(M, ~np.eye(4, dtype=bool))
    pre, _ = _pairs(AllToAll(allow_autapses=False), 4, 4, same=False)  # autapses exist only within a population
    assert pre.size == 16


# ------------------------------------------------------------------------------ distributions
def test_normal_and_uniform_follow_scipy():
    rng = np.random.default_rng(21)
    x = Normal(0.4, 0.1).sample(rng, 4000)
    assert x.dtype == np.float64 and x.shape == (4000,)
    assert stats.kstest(x, stats.norm(0.4, 0.1).cdf).pvalue > KS_ALPHA
    u = Uniform(-1.0, 3.0).sample(rng, 4000)
    assert stats.kstest(u, stats.uniform(-1.0, 4.0).cdf).pvalue > KS_ALPHA
    assert u.min() >= -1.0 and u.max() < 3.0


@pytest.mark.parametrize("low, high", [(0.0, None), (None, 0.2), (0.1, 0.6), (1.2, 2.0)])
def test_truncated_normal_redraws_to_the_truncated_distribution(low, high):
    mean, std = 0.3, 0.4
    x = Normal(mean, std, low=low, high=high).sample(np.random.default_rng(4), 4000)
    a = -np.inf if low is None else (low - mean) / std
    b = np.inf if high is None else (high - mean) / std
    assert (low is None or x.min() >= low) and (high is None or x.max() <= high)
    assert stats.kstest(x, stats.truncnorm(a, b, loc=mean, scale=std).cdf).pvalue > KS_ALPHA
    if low is not None:  # redrawn, not clipped: no value sits on the bound
        assert np.sum(x == low) == 0


def test_lognormal_parametrisation():
    d = LogNormal(0.5, 0.2)
    ref = stats.lognorm(s=d.sigma, scale=math.exp(d.mu))
    assert ref.mean() == pytest.approx(0.5, rel=1e-12) and ref.std() == pytest.approx(0.2, rel=1e-12)
    x = d.sample(np.random.default_rng(8), 4000)
    assert x.min() > 0 and stats.kstest(x, ref.cdf).pvalue > KS_ALPHA
    e = LogNormal.from_log(-1.0, 0.3)
    assert e.mu == pytest.approx(-1.0, abs=1e-12) and e.sigma == pytest.approx(0.3, rel=1e-12)
    assert e.mean == pytest.approx(stats.lognorm(s=0.3, scale=math.exp(-1.0)).mean(), rel=1e-12)
    neg = LogNormal(-0.5, 0.2).sample(np.random.default_rng(8), 4000)
    assert np.allclose(neg, -x)  # the mirror image, same draws
    assert Constant(0.25).sample(np.random.default_rng(0), 3).tolist() == [0.25, 0.25, 0.25]


def test_distributions_refuse_bad_arguments():
    with pytest.raises(ValueError, match="std must"):
        Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="low < high"):
        Normal(0.0, 1.0, low=1.0, high=1.0)
    with pytest.raises(ValueError, match="holds a probability of"):
        Normal(0.0, 1.0, low=10.0)
    with pytest.raises(ValueError, match="low < high"):
        Uniform(2.0, 1.0)
    with pytest.raises(ValueError, match="high must be a finite"):
        Uniform(0.0, math.inf)
    with pytest.raises(ValueError, match="mean of LogNormal must be non-zero"):
        LogNormal(0.0, 1.0)
    with pytest.raises(ValueError, match="value must be a finite"):
        Constant(float("nan"))


# --------------------------------------------------------------------------- Network.connect
def test_connect_with_a_rule_draws_pairs_then_weights_then_delays():
    rule, w, d = FixedProbability(0.3), Normal(0.5, 0.1, low=0.0), Uniform(0.5, 2.0)
    net = _net(20, 30)
    proj = net.connect("in", "p0", rule, weight=w, delay=d, seed=17)
    rng = np.random.default_rng(17)
    pre, post = rule.pairs(20, 30, rng, False)
    W, D = w.sample(rng, pre.size), d.sample(rng, pre.size)
    assert proj.n_synapses == pre.size
    dense = proj.to_dense()
    assert np.array_equal(dense[post, pre], W)
    delays = np.zeros((30, 20))
    delays[proj.indices, proj.pre_indices()] = proj.delays
    assert np.array_equal(delays[post, pre], D)
    again = _net(20, 30).connect("in", "p0", rule, weight=w, delay=d, seed=np.random.default_rng(17))
    assert np.array_equal(again.to_dense(), dense)
    other = _net(20, 30).connect("in", "p0", rule, weight=w, delay=d, seed=18)
    assert not np.array_equal(other.to_dense(), dense)


def test_connect_rules_within_a_population_and_saving(tmp_path):
    net = _net(5, 40)
    net.connect("in", "p0", AllToAll(), weight=0.3)  # deterministic: no seed needed
    proj = net.connect("p0", "p0", FixedInDegree(6, allow_autapses=False), weight=LogNormal(-0.1, 0.02), seed=1)
    M = proj.mask()
    assert np.array_equal(M.sum(axis=1), np.full(40, 6)) and not np.any(np.diag(M)) and proj.weights.max() < 0
    net.save(tmp_path / "n.h5")
    back = es.load_network(tmp_path / "n.h5")
    assert np.array_equal(back.projections["p0->p0"].to_dense(), proj.to_dense())
    assert np.array_equal(back.projections["in->p0"].to_dense(), np.full((40, 5), 0.3))


def test_connect_refuses_what_does_not_fit():
    net = _net(4, 4)
    with pytest.raises(ValueError, match="seed is None, but the rule FixedProbability"):
        net.connect("in", "p0", FixedProbability(0.5), weight=1.0)
    with pytest.raises(ValueError, match="seed is None, but weight=Uniform"):
        net.connect("in", "p0", AllToAll(), weight=Uniform(0.0, 1.0))
    with pytest.raises(ValueError, match="weight is required"):
        net.connect("in", "p0", OneToOne())
    with pytest.raises(ValueError, match="weight must be a finite number, got inf"):
        net.connect("in", "p0", OneToOne(), weight=math.inf)
    with pytest.raises(TypeError, match="weight must be a number or a distribution"):
        net.connect("in", "p0", OneToOne(), weight="1.0")
    with pytest.raises(ValueError, match="delay must be >= 0 ms, got -1.0"):
        net.connect("in", "p0", OneToOne(), weight=1.0, delay=-1.0)
    with pytest.raises(ValueError, match="delay drawn from Normal.* ms; delays must be >= 0"):
        net.connect("in", "p0", AllToAll(), weight=1.0, delay=Normal(0.5, 1.0), seed=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -3"):
        net.connect("in", "p0", FixedProbability(0.5), weight=1.0, seed=-3)
    with pytest.raises(TypeError, match="seed must be an int"):
        net.connect("in", "p0", FixedProbability(0.5), weight=1.0, seed=1.5)
    with pytest.raises(ValueError, match="mask does not go with a connection rule"):
        net.connect("in", "p0", AllToAll(), weight=1.0, mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="delays does not go with a connection rule"):
        net.connect("in", "p0", AllToAll(), 1.0, weight=1.0)
    with pytest.raises(ValueError, match="seed= goes with a connection rule"):
        net.connect("in", "p0", np.ones((4, 4)), seed=0)
    with pytest.raises(ValueError, match="OneToOne needs populations of equal size"):
        _net(3, 4).connect("in", "p0", OneToOne(), weight=1.0)
    assert not net.projections  # nothing was added by a refused call
    net.connect("in", "p0", OneToOne(), weight=1.0, delay=0.5)
    with pytest.raises(ValueError, match="already exists"):
        net.connect("in", "p0", OneToOne(), weight=1.0)


def test_connect_keeps_the_weight_array_forms():
    """Dense, dense with mask and delays (positional and keyword), sparse and Connectome still work."""
    rng = np.random.default_rng(0)
    net = _net(3, 4, 4, 4)
    W = rng.normal(size=(4, 3))
    assert np.array_equal(net.connect("in", "p0", W, 1.5).to_dense(), W)
    assert net.projections["in->p0"].delay_array().tolist() == [1.5] * 12
    mask = np.eye(4, dtype=bool)
    assert net.connect("p0", "p1", np.full((4, 4), 0.2), delays=None, mask=mask).n_synapses == 4
    assert net.connect("p1", "p2", sp.csr_matrix(np.eye(4))).n_synapses == 4
    conn = es.Connectome.from_dense(np.ones((4, 4)), mask=mask)
    assert net.connect("p2", "p0", conn).n_synapses == 4


def test_draw_synapses_checks_its_rule():
    with pytest.raises(TypeError, match="rule must be a connection rule"):
        draw_synapses("all_to_all", 2, 2, weight=1.0)
    syn = draw_synapses(OneToOne(), 3, 3, weight=0.5)
    assert syn.delay is None and syn.weight.tolist() == [0.5] * 3


def test_one_to_one_rule_drives_each_target_from_its_source():
    """One-to-one with a PSP peak of 1.1 x threshold: every target fires once per spike of its
    source and no other neuron fires. (After the reset at the crossing time t_c the current left is
    w exp(-t_c / tau_syn), whose PSP peaks at 1.1 exp(-t_c / 5 ms) < 1: no second spike.)"""
    net = _net(4, 4)
    peak = es.psp_peak(20.0, 5.0)
    net.connect("in", "p0", OneToOne(), weight=1.1 / peak)
    inputs = es.SpikeBatch.from_lists([[(1.0, 0), (5.0, 2), (30.0, 0)]], n_neurons=4)
    res = es.simulate(net, inputs, t_max=60.0)
    assert res.counts("p0").tolist() == [[2, 0, 1, 0]]
