"""Stimulus generators against statistical oracles at fixed seeds (Poisson counts, exponential
intervals, the stationary renewal process with a dead time) and closed forms (regular trains)."""
import numpy as np
import pytest
from scipy import stats

from eventsim.data import poisson, regular, spike_generator, spike_trains

P_MIN = 1e-3


def _intervals(batch, neuron):
    """All inter-spike intervals of one neuron over the samples, and its first spike times."""
    isi, first = [], []
    for s in range(batch.n_samples):
        t, i = batch.sample(s)
        tt = t[i == neuron]
        if tt.size:
            first.append(tt[0])
            isi.append(np.diff(tt))
    return np.concatenate(isi), np.array(first)


def test_poisson_counts_have_poisson_mean_and_variance():
    rates = np.array([5.0, 20.0, 50.0, 0.0])
    t_max, n = 400.0, 3000
    b = poisson(rates, t_max, n, seed=123)
    assert b.n_samples == n and b.n_neurons == 4
    assert b.times.min() >= 0 and b.times.max() <= t_max
    c = b.counts()
    assert c[:, 3].sum() == 0                                       # 0 Hz: silent
    for j, r in enumerate(rates[:3]):
        lam = r * t_max / 1000.0
        x = c[:, j]
        # the mean within 4 standard errors; the dispersion index sum (x - m)^2 / m ~ chi2(n - 1)
        assert abs(x.mean() - lam) < 4 * np.sqrt(lam / n), (r, x.mean(), lam)
        d = np.sum((x - x.mean()) ** 2) / x.mean()
        p = 2 * min(stats.chi2.cdf(d, n - 1), stats.chi2.sf(d, n - 1))
        assert p > P_MIN, (r, d / (n - 1))
        assert abs(x.var(ddof=1) / x.mean() - 1.0) < 0.1                # Fano factor ~ 1
        # the whole count distribution is Poisson(lam): chi-square goodness of fit
        k_max = int(lam + 5 * np.sqrt(lam))
        obs = np.bincount(np.minimum(x, k_max), minlength=k_max + 1)
        exp = stats.poisson.pmf(np.arange(k_max + 1), lam) * n
        exp[-1] = stats.poisson.sf(k_max - 1, lam) * n
        keep = exp >= 5
        obs_k = np.append(obs[keep], obs[~keep].sum())
        exp_k = np.append(exp[keep], exp[~keep].sum())
        if exp_k[-1] == 0:
            obs_k, exp_k = obs_k[:-1], exp_k[:-1]
        assert stats.chisquare(obs_k, exp_k * obs_k.sum() / exp_k.sum()).pvalue > P_MIN


def test_poisson_intervals_and_first_spikes_are_exponential():
    # the intervals of one long train (intervals inside a short window are biased towards short ones)
    long = poisson([40.0, 8.0], 200_000.0, 1, seed=7)
    b = poisson([40.0, 8.0], 1000.0, 300, seed=8)
    for j, r in enumerate((40.0, 8.0)):
        isi = np.diff(long.sample(0)[0][long.sample(0)[1] == j])
        assert isi.size > 1000
        assert stats.kstest(isi, stats.expon(scale=1000.0 / r).cdf).pvalue > P_MIN
        # memoryless: the first spike after 0 ms is exponential as well
        first = _intervals(b, j)[1]
        assert first.size > 290
        assert stats.kstest(first, stats.expon(scale=1000.0 / r).cdf).pvalue > P_MIN
    # times are continuous, not binned: essentially no two spikes share a time
    assert np.unique(b.times).size == b.n_spikes


def test_dead_time_renewal_process_is_stationary_with_the_given_rate():
    r, d, t_max, n = 50.0, 8.0, 300.0, 4000
    b = poisson([r], t_max, n, seed=99, t_ref=d)
    mu = 1000.0 / r                 # mean interval (ms), dead time included
    m = mu - d                      # mean of the exponential part
    isi = np.diff(poisson([r], 100_000.0, 1, seed=98, t_ref=d).times)     # one long train
    assert isi.min() >= d and isi.size > 4000
    assert stats.kstest(isi - d, stats.expon(scale=m).cdf).pvalue > P_MIN
    first = _intervals(b, 0)[1]
    assert _intervals(b, 0)[0].min() >= d

    def forward_recurrence_cdf(t):
        """First spike of the stationary renewal process: int_0^t (1 - F_isi(s)) ds / mu."""
        t = np.asarray(t, dtype=float)
        return np.where(t < d, t / mu, (d + m * (1.0 - np.exp(-(t - d) / m))) / mu)
    assert stats.kstest(first, forward_recurrence_cdf).pvalue > P_MIN
    # stationary: the expected count is exactly t_max / mu, and so in any window
    c = b.counts()[:, 0]
    assert abs(c.mean() - t_max / mu) < 4 * c.std() / np.sqrt(n)
    late = np.array([np.sum(b.sample(s)[0] > 200.0) for s in range(n)])
    assert abs(late.mean() - 100.0 / mu) < 4 * late.std() / np.sqrt(n)
    # regular-ish: the Fano factor of a long window approaches CV^2 = (m / mu)^2
    long = poisson([r], 4000.0, 400, seed=5, t_ref=d).counts()[:, 0]
    assert abs(long.var(ddof=1) / long.mean() - (m / mu) ** 2) < 0.06


def test_poisson_seeds_samples_and_arguments():
    a = poisson([30.0, 10.0], 100.0, 4, seed=1)
    assert a == poisson([30.0, 10.0], 100.0, 4, seed=1)
    assert a != poisson([30.0, 10.0], 100.0, 4, seed=2)
    assert a == poisson([30.0, 10.0], 100.0, 4, seed=np.random.default_rng(1))
    assert not np.array_equal(a.sample(0)[0], a.sample(1)[0])       # samples are independent draws
    assert poisson(25.0, 50.0, seed=0, n_neurons=6).n_neurons == 6
    for kw, match in [(dict(rates=[-1.0]), "rates"), (dict(rates=[np.inf]), "rates"), (dict(t_max=0.0), "t_max"),
                      (dict(seed=-1), "seed"), (dict(seed=1.5), "seed"), (dict(t_ref=-1.0), "t_ref"),
                      (dict(rates=[200.0], t_ref=5.0), "t_ref"), (dict(n_samples=0), "n_samples")]:
        args = dict(rates=[10.0], t_max=100.0, seed=0)
        args.update(kw)
        with pytest.raises(ValueError, match=match):
            poisson(**args)


def test_poisson_high_rates_and_long_trains_are_complete():
    # many intervals per train (several drawing rounds): still Poisson counts with the right mean
    b = poisson([2000.0], 5000.0, 3, seed=4)
    c = b.counts()[:, 0]
    assert np.all(np.abs(c - 10000) < 5 * 100)
    isi = np.diff(b.sample(0)[0])
    assert isi.min() > 0 and stats.kstest(isi, stats.expon(scale=0.5).cdf).pvalue > P_MIN


def test_regular_trains_equal_the_closed_form():
    b = regular([10.0, 0.0, 40.0, 3.0], 200.0, phase=[0.0, 1.0, 2.5, 150.0], n_samples=2)
    want = sorted([(k * 100.0, 0) for k in range(3)] + [(2.5 + k * 25.0, 2) for k in range(8)] + [(150.0, 3)])
    assert b.n_samples == 2 and b.n_neurons == 4
    assert b.to_lists() == [want, want]                             # 200 ms (= t_max) included
    p = regular(periods=[0.1, 7.0], t_max=1000.0)
    t, i = p.sample(0)
    np.testing.assert_array_equal(t[i == 0], np.arange(10001) * 0.1)   # k * period, not a running sum
    np.testing.assert_array_equal(t[i == 1], np.arange(143) * 7.0)
    assert regular(20.0, 100.0, n_neurons=3).counts().tolist() == [[3, 3, 3]]
    with pytest.raises(ValueError, match="exactly one"):
        regular([1.0], 10.0, periods=[1.0])
    with pytest.raises(ValueError, match="periods"):
        regular(periods=[0.0], t_max=10.0)
    with pytest.raises(ValueError, match="phase"):
        regular([1.0, 2.0], 10.0, phase=[0.0])


def test_spike_generator_and_per_neuron_trains():
    g = spike_generator([3.0, 1.0, 2.0, 1.0], [0, 2, 1, 0], n_neurons=4)
    assert g.n_neurons == 4 and g.n_samples == 1
    assert g.to_lists() == [[(1.0, 2), (1.0, 0), (2.0, 1), (3.0, 0)]]    # ties keep their order
    s = spike_trains([[5.0, 1.0], [], np.array([1.0, 0.5])], n_neurons=5)
    assert s.n_neurons == 5
    assert s.to_lists() == [[(0.5, 2), (1.0, 0), (1.0, 2), (5.0, 0)]]
    with pytest.raises(ValueError, match="same length"):
        spike_generator([1.0, 2.0], [0])
    with pytest.raises(ValueError, match=">= 0"):
        spike_generator([-1.0], [0])
    with pytest.raises(ValueError, match="n_neurons"):
        spike_generator([1.0], [3], n_neurons=2)
    with pytest.raises(ValueError, match="n_neurons"):
        spike_trains([[1.0], [2.0]], n_neurons=1)
