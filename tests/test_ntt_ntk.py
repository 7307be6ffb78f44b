"""NTK oracles: closed form vs torch.func vs explicit autograd; the GRU twin vs a NumPy loop."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eventsim.ntt.masks import topk_mask  # noqa: E402
from eventsim.ntt.ntk import _kept_entries_term, _time_factorised, gru_ntk, mlp_ntk, ntk_explicit, ntk_func  # noqa: E402
from eventsim.ntt.twins import GRUTwin, MLPTwin, heaviside_triangle  # noqa: E402

torch.set_num_threads(1)
F64 = torch.float64


def _masked(twin, seed, density):
    p = twin.init_params(seed, "float64")
    m = {k: torch.as_tensor(topk_mask(np.abs(p[k].numpy()), density), dtype=F64) for k in twin.weight_names}
    pe = {k: (v * m[k] if k in m else v) for k, v in p.items()}
    return pe, m


def _x(n, *shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, dtype=F64, generator=g)


@pytest.mark.parametrize("variant", ["active", "all"])
@pytest.mark.parametrize("bias", [True, False])
def test_closed_form_matches_torch_func(variant, bias):
    tw = MLPTwin([7, 23, 11, 5], bias=bias)
    pe, m = _masked(tw, 3, 0.2)
    x1, x2 = _x(6, 7, seed=1), _x(4, 7, seed=2)
    a = mlp_ntk(tw, pe, x1, x2, m, variant)
    b = ntk_func(tw, pe, x1, x2, m, variant)
    assert a.shape == (6, 4, 5, 5)
    assert torch.max(torch.abs(a - b)) <= 1e-10 * torch.max(torch.abs(b))
    assert float(torch.max(torch.abs(b))) > 1e-3  # not trivially zero


def test_closed_form_matches_explicit_jacobian():
    tw = MLPTwin([4, 9, 3])
    pe, m = _masked(tw, 0, 0.3)
    x1, x2 = _x(3, 4, seed=4), _x(2, 4, seed=5)
    for v in ("active", "all"):
        a = mlp_ntk(tw, pe, x1, x2, m, v)
        c = ntk_explicit(tw, pe, x1, x2, m, v)
        assert torch.allclose(a, c, rtol=1e-12, atol=1e-12)


def test_variants_differ_on_sparse_and_agree_on_dense():
    tw = MLPTwin([6, 20, 4])
    pe, m = _masked(tw, 1, 0.1)
    x1, x2 = _x(5, 6, seed=6), _x(5, 6, seed=7)
    act, all_ = mlp_ntk(tw, pe, x1, x2, m, "active"), mlp_ntk(tw, pe, x1, x2, m, "all")
    assert torch.max(torch.abs(act - all_)) > 1e-3 * torch.max(torch.abs(all_))
    ones = {k: torch.ones_like(v) for k, v in m.items()}
    p = tw.init_params(1, "float64")
    assert torch.allclose(mlp_ntk(tw, p, x1, x2, ones, "active"), mlp_ntk(tw, p, x1, x2, None, "all"), rtol=1e-12)


def test_ntk_symmetry():
    tw = MLPTwin([5, 12, 3])
    pe, m = _masked(tw, 2, 0.5)
    x = _x(4, 5, seed=8)
    K = mlp_ntk(tw, pe, x, x, m, "active")  # (4, 4, 3, 3)
    assert torch.allclose(K, K.permute(1, 0, 3, 2), rtol=1e-12, atol=1e-12)


def test_gradient_of_ntk_loss_agrees_between_routes():
    tw = MLPTwin([5, 14, 8, 3])
    pe, m = _masked(tw, 4, 0.4)
    x1, x2 = _x(4, 5, seed=9), _x(3, 5, seed=10)
    target = torch.randn(4, 3, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(11))
    grads = []
    for fn in (mlp_ntk, ntk_func):
        p = {k: v.clone().requires_grad_(True) for k, v in pe.items()}
        loss = ((fn(tw, p, x1, x2, m, "active") - target) ** 2).mean()
        loss.backward()
        grads.append({k: (torch.zeros_like(v) if v.grad is None else v.grad.clone()) for k, v in p.items()})
    for k in pe:
        assert torch.allclose(grads[0][k], grads[1][k], rtol=1e-9, atol=1e-12), k
    assert max(float(g.abs().max()) for g in grads[0].values()) > 0


def test_heaviside_triangle_value_and_derivative():
    v = torch.linspace(-1.5, 1.5, 61, dtype=F64).requires_grad_(True)
    o = heaviside_triangle(v, gamma=0.7, width=1.0)
    assert torch.equal(o.detach(), (v.detach() > 0).to(F64))  # exact forward, H(0) = 0
    (g,) = torch.autograd.grad(o.sum(), v)
    expect = 0.7 * torch.clamp(1 - v.detach().abs(), min=0)
    assert torch.allclose(g, expect, atol=1e-14)


def _egru_numpy(p, x, gamma_unused=None, decay=0.9):
    """Plain NumPy EGRU forward (EvNN conventions) + linear read-out of the trace."""
    W, R, bx, br, thr = (p[k] for k in ("W", "R", "b_x", "b_r", "thr"))
    H = thr.size
    B, T, _ = x.shape
    y = np.zeros((B, H)); c = np.zeros((B, H)); tr = np.zeros((B, H))
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    for t in range(T):
        a = x[:, t] @ W + bx
        q = y @ R + br
        z = sig(a[:, :H] + q[:, :H]); r = sig(a[:, H:2 * H] + q[:, H:2 * H])
        g = np.tanh(a[:, 2 * H:] + r * q[:, 2 * H:])
        ch = z * c + (1 - z) * g
        o = (ch - thr > 0).astype(float)
        y = o * ch
        c = ch - o * thr
        tr = decay * tr + (1 - decay) * y
    return tr @ p["W_out"].T + p["b_out"]


def test_gru_twin_forward_matches_numpy_loop():
    tw = GRUTwin(3, 10, 4, n_steps=6)
    p = tw.init_params(5, "float64")
    x = _x(5, 6, 3, seed=12)
    f = tw.apply(p, x).numpy()
    ref = _egru_numpy({k: v.numpy() for k, v in p.items()}, x.numpy())
    np.testing.assert_allclose(f, ref, rtol=1e-12, atol=1e-14)
    _, o = tw.run(p, x)
    act = float(o.mean())
    assert 0.0 < act < 1.0  # some events, not all


@pytest.mark.parametrize("variant", ["active", "all"])
def test_gru_ntk_torch_func_matches_explicit(variant):
    tw = GRUTwin(2, 6, 3, n_steps=4)
    pe, m = _masked(tw, 7, 0.4)
    x = _x(4, 4, 2, seed=13)
    a = ntk_func(tw, pe, x[:2], x[2:], m, variant)
    c = ntk_explicit(tw, pe, x[:2], x[2:], m, variant)
    assert a.shape == (2, 2, 3, 3)
    assert torch.allclose(a, c, rtol=1e-10, atol=1e-12)


def test_gru_ntk_is_differentiable():
    tw = GRUTwin(2, 5, 3, n_steps=3)
    pe, m = _masked(tw, 8, 0.5)
    p = {k: v.clone().requires_grad_(k != "thr") for k, v in pe.items()}
    x = _x(4, 3, 2, seed=14)
    ntk_func(tw, p, x[:2], x[2:], m, "active").pow(2).sum().backward()
    assert float(p["W"].grad.abs().sum()) > 0 and torch.isfinite(p["R"].grad).all()


@pytest.mark.parametrize("n_steps", [2, 5])  # T = 2: R's term through the time order (D = 7 > T^2); T = 5: Jacobians
def test_gru_closed_form_ntk_matches_torch_func_and_explicit(n_steps):
    tw = GRUTwin(3, 6, 4, n_steps=n_steps)
    pe, m = _masked(tw, 3, 0.3)
    x = _x(5, n_steps, 3, seed=21)
    a = gru_ntk(tw, pe, x[:2], x[2:], m, "all")
    assert a.shape == (2, 3, 4, 4)
    assert torch.allclose(a, ntk_func(tw, pe, x[:2], x[2:], m, "all"), rtol=1e-10, atol=1e-13)
    assert torch.allclose(a, ntk_explicit(tw, pe, x[:2], x[2:], m, "all"), rtol=1e-10, atol=1e-13)
    assert tw.ntk(pe, x[:2], x[2:], m, "all").equal(a)  # the twin's ntk() is the closed form


@pytest.mark.parametrize("mask_out", [False, True])
def test_gru_closed_form_active_ntk_matches_torch_func_and_explicit(mask_out):
    """'active' over the kept entries only: the gathered closed form against both oracles,
    with the read-out dense (all-ones mask, as ntt_egru.py keeps it) or pruned too."""
    tw = GRUTwin(3, 6, 4, n_steps=4)
    pe, m = _masked(tw, 3, 0.3)
    if not mask_out:
        m["W_out"] = torch.ones_like(m["W_out"])
        pe["W_out"] = tw.init_params(3, "float64")["W_out"]
    x = _x(5, 4, 3, seed=22)
    act = gru_ntk(tw, pe, x[:2], x[2:], m, "active")
    assert act.shape == (2, 3, 4, 4)
    assert torch.allclose(act, ntk_func(tw, pe, x[:2], x[2:], m, "active"), rtol=1e-10, atol=1e-13)
    assert torch.allclose(act, ntk_explicit(tw, pe, x[:2], x[2:], m, "active"), rtol=1e-10, atol=1e-13)
    # the variants differ on a masked network (the pruned entries' Jacobian columns are not zero)
    assert float((gru_ntk(tw, pe, x[:2], x[2:], m, "all") - act).abs().max()) > 1e-3 * float(act.abs().max())
    # all-ones masks: 'active' is the dense NTK
    ones = {k: torch.ones_like(v) for k, v in m.items()}
    p = tw.init_params(3, "float64")
    assert torch.allclose(gru_ntk(tw, p, x[:2], x[2:], ones, "active"), gru_ntk(tw, p, x[:2], x[2:]),
                          rtol=1e-12, atol=1e-14)


def test_kept_entries_term_matches_direct_sum_over_the_kept_entries():
    """The gathered 'active' term against its definition, sum over kept (i, j) of J^a_ij(x) J^b_ij(y) with
    J^a_ij = sum_t u_t[i] d_t^a[j], for a sparse mask and for an all-ones one (gru_ntk sends a layer kept
    dense to the 'all' form instead, so the gather's dense case is checked here)."""
    g = torch.Generator().manual_seed(6)
    u1, u2 = torch.randn(3, 4, 6, dtype=F64, generator=g), torch.randn(2, 4, 6, dtype=F64, generator=g)
    d1, d2 = torch.randn(5, 3, 4, 7, dtype=F64, generator=g), torch.randn(5, 2, 4, 7, dtype=F64, generator=g)
    J1, J2 = torch.einsum("ntd,antk->andk", u1, d1), torch.einsum("msd,bmsk->bmdk", u2, d2)
    for mask in (torch.rand(6, 7, generator=g) < 0.3, torch.ones(6, 7, dtype=torch.bool)):
        ref = torch.einsum("andk,bmdk,dk->nmab", J1, J2, mask.to(F64))
        assert torch.allclose(_kept_entries_term(u1, d1, u2, d2, mask), ref, rtol=1e-12, atol=1e-12)


def test_time_factorised_orders_agree_with_direct_sum():
    g = torch.Generator().manual_seed(5)
    u1, u2 = torch.randn(3, 4, 20, dtype=F64, generator=g), torch.randn(2, 4, 20, dtype=F64, generator=g)
    d1, d2 = torch.randn(5, 3, 4, 7, dtype=F64, generator=g), torch.randn(5, 2, 4, 7, dtype=F64, generator=g)
    ref = torch.einsum("ntd,msd,antk,bmsk->nmab", u1, u2, d1, d2)
    got_time = _time_factorised(u1, d1, u2, d2)              # D = 20 > T^2 = 16: time order
    got_jac = _time_factorised(u1[..., :16], d1, u2[..., :16], d2)  # D = 16: Jacobian order
    ref_jac = torch.einsum("ntd,msd,antk,bmsk->nmab", u1[..., :16], u2[..., :16], d1, d2)
    assert torch.allclose(got_time, ref, rtol=1e-12, atol=1e-12)
    assert torch.allclose(got_jac, ref_jac, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", ["all", "active"])
def test_gru_closed_form_gradient_matches_torch_func(variant):
    tw = GRUTwin(2, 5, 3, n_steps=3)
    pe, m = _masked(tw, 9, 0.5)
    x = _x(4, 3, 2, seed=15)
    target = _x(2, 2, 3, 3, seed=16)
    grads = []
    for fn in (gru_ntk, ntk_func):
        p = {k: v.clone().requires_grad_(k != "thr") for k, v in pe.items()}
        ((fn(tw, p, x[:2], x[2:], m, variant) - target) ** 2).sum().backward()
        grads.append({k: p[k].grad for k in ("W", "R", "b_x", "b_r", "W_out")})
    for k in grads[0]:
        assert float(grads[0][k].abs().max()) > 0
        assert torch.allclose(grads[0][k], grads[1][k], rtol=1e-9, atol=1e-12), k


def test_gru_closed_form_under_no_grad_equals_with_grad():
    tw = GRUTwin(2, 5, 3, n_steps=3)
    pe, m = _masked(tw, 4, 0.5)
    x = _x(4, 3, 2, seed=17)
    with torch.no_grad():
        a = gru_ntk(tw, pe, x[:2], x[2:])
    assert not a.requires_grad
    assert torch.allclose(a, ntk_func(tw, pe, x[:2], x[2:]), rtol=1e-10, atol=1e-13)
