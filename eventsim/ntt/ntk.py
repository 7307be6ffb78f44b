"""Empirical neural tangent kernels on the logits, with a weight mask.

For a network f(x; theta) with C logits the empirical NTK between inputs x (from x1) and y (from x2) is::

    Theta(x, y)_ab = sum_p  df_a(x)/dtheta_p  df_b(y)/dtheta_p            shape (n1, n2, C, C)

The weights enter the network as W~ = m * W (mask m in {0, 1}). Two variants of the sum over p:

* ``'active'``: p runs over the kept weights (m = 1) and all biases -- the NTK of the
  sparse network that is trained afterwards (df/dW = m * df/dW~).
* ``'all'`` (default, ``twins.DEFAULT_VARIANT``): p runs over every entry of W~, pruned (zero)
  positions included, and all biases -- what the reference implementation (Liu & Zenke 2020) computes.

For an unmasked (teacher) network both variants coincide.

Closed form for the ReLU MLP (``mlp_ntk``), with z_l = W~_l h_{l-1} + b_l, h_l = ReLU(z_l),
delta_l^a(x) = df_a/dz_l (delta_L^a = e_a, delta_l = ReLU'(z_l) * (W~_{l+1}^T delta_{l+1}))::

    Theta(x, y)_ab = sum_l sum_i delta_l^a(x)_i delta_l^b(y)_i K_l(x, y)_i
    K_l(x, y)_i = sum_j M_l[i, j] h_{l-1}(x)_j h_{l-1}(y)_j + 1          ('active')
    K_l(x, y)_i = h_{l-1}(x) . h_{l-1}(y) + 1                            ('all' or no mask)

(the +1 is the bias). Everything is plain tensor algebra, so autograd differentiates it (NTT needs
dTheta/dW). ``ntk_func`` is the generic torch.func route (vmap over samples of jacrev), the test
oracle of the closed forms.

Closed form for the GRU twin (``gru_ntk``). The weights enter only through
a_t = x_t W + b_x and q_t = y_{t-1} R + b_r (and the read-out), so with d_t^a = df_a/da_t and
e_t^a = df_a/dq_t (both (3H,), obtained as gradients with respect to zero perturbations of a_t and
q_t, one backward pass per logit over the whole batch)::

    Theta(x, y)_ab = sum_{t,s} (x~_t . y~_s) (d_t^a(x) . d_s^b(y))          W and b_x, x~ = [x, 1]
                   + sum_{t,s} (u~_t . v~_s) (e_t^a(x) . e_s^b(y))          R and b_r, u~ = [y_{t-1}(x), 1]
                   + [a = b] (tr(x) . tr(y) + 1)                            W_out and b_out

Each sum is evaluated either through the per-sample Jacobian sum_t x~_t (x) d_t^a (cheap when the
input dimension is small, e.g. W) or in the order above (cheap when it is large, e.g. R), whichever
needs fewer multiply-adds. It never forms the (n, C, P) parameter Jacobian.

``'active'`` with masks: the sum over a masked weight runs over its kept entries only. The
Jacobian entry of W[i, j] is J^a_ij(x) = sum_t x_t[i] d_t^a(x)[j], so with the kept entries
(i_k, j_k), k = 1..K, gathered once::

    Theta_W(x, y)_ab = sum_k J^a_{i_k j_k}(x) J^b_{i_k j_k}(y)        (n1 C x K) @ (K x n2 C)

plus the biases' unmasked term (x~ = 1), the same for R with y_{t-1}, and for the read-out
[a = b] (sum_h M_out[a, h] tr(x)_h tr(y)_h + 1). The cost is proportional to the kept entries
(C n T K per side; at H = 512 and 5 % about 2-3x that of the 'all' form, ``benchmarks/bench_gru_ntk.py``).
"""
from __future__ import annotations

from typing import List, Mapping, Optional

import torch
from torch import Tensor

from .twins import DEFAULT_VARIANT, GRUTwin, MLPTwin, Twin, check_variant


def _mlp_cache(twin: MLPTwin, params: Mapping[str, Tensor], x: Tensor):
    hs: List[Tensor] = []
    zs: List[Tensor] = []
    h = x
    for l in range(twin.n_layers):
        hs.append(h)
        z = h @ params[f"W{l}"].T
        if twin.bias:
            z = z + params[f"b{l}"]
        zs.append(z)
        h = torch.relu(z) if l < twin.n_layers - 1 else z
    return hs, zs


def _mlp_deltas(twin: MLPTwin, params: Mapping[str, Tensor], zs: List[Tensor]) -> List[Tensor]:
    L, C = twin.n_layers, twin.n_out
    B = zs[0].shape[0]
    d = torch.eye(C, dtype=zs[0].dtype).expand(B, C, C)
    ds: List[Tensor] = [d] * L
    for l in range(L - 2, -1, -1):
        d = (d @ params[f"W{l + 1}"]) * (zs[l] > 0).to(d.dtype)[:, None, :]
        ds[l] = d
    return ds


def mlp_ntk(twin: MLPTwin, params: Mapping[str, Tensor], x1: Tensor, x2: Tensor,
            masks: Optional[Mapping[str, Tensor]] = None, variant: str = DEFAULT_VARIANT) -> Tensor:
    """Closed-form layer-wise NTK of an MLP twin, shape (n1, n2, C, C).

    ``params``: effective parameters (weights already multiplied by their masks), ``x1`` (n1, n_in),
    ``x2`` (n2, n_in). ``masks``: {"W0": (n_1, n_0), ...} 0/1 tensors, used only by ``variant='active'``;
    ``masks=None`` means dense.
    """
    check_variant(variant)
    hs1, zs1 = _mlp_cache(twin, params, x1)
    hs2, zs2 = _mlp_cache(twin, params, x2)
    ds1 = _mlp_deltas(twin, params, zs1)
    ds2 = _mlp_deltas(twin, params, zs2)
    n1, n2 = x1.shape[0], x2.shape[0]
    one = 1.0 if twin.bias else 0.0
    theta = None
    for l in range(twin.n_layers):
        h1, h2, d1, d2 = hs1[l], hs2[l], ds1[l], ds2[l]
        M = None if (masks is None or variant == "all") else masks.get(f"W{l}")
        if M is None:
            K = h1 @ h2.T + one  # (n1, n2)
            t = torch.einsum("xai,ybi->xyab", d1, d2) * K[:, :, None, None]
        else:
            hh = (h1[:, None, :] * h2[None, :, :]).reshape(n1 * n2, -1)
            K = (hh @ M.to(hh.dtype).T).reshape(n1, n2, -1) + one  # (n1, n2, n_l)
            A = d1[:, None, :, :] * K[:, :, None, :]  # (n1, n2, C, n_l)
            t = torch.einsum("xyai,ybi->xyab", A, d2)
        theta = t if theta is None else theta + t
    return theta


def ntk_func(twin: Twin, params: Mapping[str, Tensor], x1: Tensor, x2: Tensor,
             masks: Optional[Mapping[str, Tensor]] = None, variant: str = DEFAULT_VARIANT) -> Tensor:
    """Empirical NTK by torch.func (vmap over samples of jacrev), shape (n1, n2, C, C).

    Differentiable with respect to ``params`` by ordinary autograd (for the NTT loss). ``params``
    are the effective parameters (W~ = m * W); the Jacobian is taken over ``twin.trainable_names``;
    for ``variant='active'`` the Jacobian columns of masked weights are multiplied by the mask.
    """
    from torch.func import jacrev, vmap

    check_variant(variant)
    names = list(twin.trainable_names)
    fixed = {k: v for k, v in params.items() if k not in names}
    p = {k: params[k] for k in names}

    def f1(pp, x):
        return twin.apply({**pp, **fixed}, x.unsqueeze(0)).squeeze(0)

    j1 = vmap(jacrev(f1), in_dims=(None, 0))(p, x1)
    j2 = vmap(jacrev(f1), in_dims=(None, 0))(p, x2)
    n1, n2 = x1.shape[0], x2.shape[0]
    theta = None
    for k in names:
        a = j1[k].reshape(n1, twin.n_out, -1)
        b = j2[k].reshape(n2, twin.n_out, -1)
        if variant == "active" and masks is not None and k in masks:
            a = a * masks[k].reshape(-1).to(a.dtype)
        t = torch.einsum("xap,ybp->xyab", a, b)
        theta = t if theta is None else theta + t
    return theta


def ntk_explicit(twin: Twin, params: Mapping[str, Tensor], x1: Tensor, x2: Tensor,
                 masks: Optional[Mapping[str, Tensor]] = None, variant: str = DEFAULT_VARIANT) -> Tensor:
    """Slow oracle: per-sample, per-logit ``torch.autograd.grad`` rows contracted explicitly.

    Independent of torch.func; meant for tests on tiny networks. Shape (n1, n2, C, C).
    """
    check_variant(variant)
    names = list(twin.trainable_names)

    def jac(x: Tensor) -> Tensor:
        rows = []
        for s in range(x.shape[0]):
            p = {k: (v.detach().clone().requires_grad_(k in names)) for k, v in params.items()}
            f = twin.apply(p, x[s:s + 1])[0]
            per_out = []
            for a in range(twin.n_out):
                g = torch.autograd.grad(f[a], [p[k] for k in names], retain_graph=True, allow_unused=True)
                flat = []
                for k, gk in zip(names, g):
                    gk = torch.zeros_like(p[k]) if gk is None else gk
                    if variant == "active" and masks is not None and k in masks:
                        gk = gk * masks[k]
                    flat.append(gk.reshape(-1))
                per_out.append(torch.cat(flat))
            rows.append(torch.stack(per_out))
        return torch.stack(rows)  # (n, C, P)

    J1, J2 = jac(x1), jac(x2)
    return torch.einsum("xap,ybp->xyab", J1, J2)


def _gru_grads(twin: GRUTwin, params: Mapping[str, Tensor], x: Tensor, create_graph: bool):
    """(trace (n, H), df/da (C, n, T, 3H), df/dq (C, n, T, 3H), y_{t-1} (n, T, H)) of inputs ``x``."""
    n, T = x.shape[0], x.shape[1]
    with torch.enable_grad():
        ea = x.new_zeros((n, T, 3 * twin.n_hidden), requires_grad=True)
        eq = x.new_zeros((n, T, 3 * twin.n_hidden), requires_grad=True)
        tr, _, ys = twin.run(params, x, ea, eq, keep_inputs=True)
        f = tr @ params["W_out"].T + params["b_out"]
        onehot = torch.eye(twin.n_out, dtype=f.dtype)[:, None, :].expand(twin.n_out, n, twin.n_out)
        da, dq = torch.autograd.grad(f, (ea, eq), onehot, create_graph=create_graph, is_grads_batched=True)
    return tr, da, dq, ys


def _with_one(u: Tensor) -> Tensor:
    return torch.cat([u, u.new_ones(u.shape[:-1] + (1,))], dim=-1)


def _time_factorised(u1: Tensor, d1: Tensor, u2: Tensor, d2: Tensor) -> Tensor:
    """sum_{t,s} (u1_t . u2_s) (d1_t^a . d2_s^b), shape (n1, n2, C, C); u: (n, T, D), d: (C, n, T, K).

    Two orders, both one large matrix product: through the per-sample Jacobians
    sum_t u_t (x) d_t^a (C^2 n1 n2 D K multiply-adds) or through all products d1_t^a . d2_s^b
    (C^2 n1 n2 T^2 K); the first when D <= T^2.
    """
    C, n1, T, K = d1.shape
    n2, D = u2.shape[0], u2.shape[2]
    if D <= T * T:
        j1 = torch.einsum("ntd,cntk->ncdk", u1, d1).reshape(n1 * C, D * K)
        j2 = torch.einsum("ntd,cntk->ncdk", u2, d2).reshape(n2 * C, D * K)
        return (j1 @ j2.T).reshape(n1, C, n2, C).permute(0, 2, 1, 3)
    p = d1.permute(1, 2, 0, 3).reshape(n1 * T * C, K) @ d2.permute(1, 2, 0, 3).reshape(n2 * T * C, K).T
    g = torch.einsum("ntd,msd->ntms", u1, u2)
    return torch.einsum("ntms,ntamsb->nmab", g, p.reshape(n1, T, C, n2, T, C))


def _kept_entries_term(u1: Tensor, d1: Tensor, u2: Tensor, d2: Tensor, mask: Tensor) -> Tensor:
    """sum over the kept entries (i, j) of ``mask`` (D, K) of J^a_ij(x) J^b_ij(y), shape (n1, n2, C, C),
    with J^a_ij = sum_t u_t[i] d_t^a[j]; u: (n, T, D), d: (C, n, T, K) (module docstring, 'active')."""
    rows, cols = torch.nonzero(mask, as_tuple=True)
    C, n1 = d1.shape[0], d1.shape[1]
    n2 = d2.shape[1]
    g1 = (u1[:, :, rows].unsqueeze(0) * d1[..., cols]).sum(2)  # (C, n1, K)
    g2 = (u2[:, :, rows].unsqueeze(0) * d2[..., cols]).sum(2)
    t = g1.permute(1, 0, 2).reshape(n1 * C, -1) @ g2.permute(1, 0, 2).reshape(n2 * C, -1).T
    return t.reshape(n1, C, n2, C).permute(0, 2, 1, 3)


def _weight_term(u1: Tensor, d1: Tensor, u2: Tensor, d2: Tensor, mask: Optional[Tensor]) -> Tensor:
    """NTK term of one pre-major weight (u: its input (n, T, D), d: gradients (C, n, T, K)) and its bias:
    every entry (``mask`` None) or only the kept ones plus the bias. An all-ones mask (a layer kept dense)
    takes the first form: the same sum, without gathering all D x K entries (at H = 512 that gather of R
    alone would hold C n T 3H^2 numbers per side)."""
    if mask is None or bool(mask.all()):
        return _time_factorised(_with_one(u1), d1, _with_one(u2), d2)
    ones1, ones2 = u1.new_ones(u1.shape[:2] + (1,)), u2.new_ones(u2.shape[:2] + (1,))
    return _kept_entries_term(u1, d1, u2, d2, mask) + _time_factorised(ones1, d1, ones2, d2)


def gru_ntk(twin: GRUTwin, params: Mapping[str, Tensor], x1: Tensor, x2: Tensor,
            masks: Optional[Mapping[str, Tensor]] = None, variant: str = DEFAULT_VARIANT) -> Tensor:
    """Empirical NTK of the GRU twin, shape (n1, n2, C, C), in closed form (module docstring).

    ``params`` are the effective parameters (W~ = m * W); ``masks``: {"W": (I, 3H), "R": (H, 3H),
    "W_out": (C, H)} 0/1 tensors (any subset), used only by ``variant='active'``. Differentiable with
    respect to ``params`` when they require grad (the derivatives are taken with ``create_graph``).
    """
    check_variant(variant)
    masks = masks if (variant == "active" and masks) else {}
    create = torch.is_grad_enabled() and any(v.requires_grad for v in params.values())
    tr1, da1, dq1, y1 = _gru_grads(twin, params, x1, create)
    tr2, da2, dq2, y2 = _gru_grads(twin, params, x2, create)
    theta = _weight_term(x1, da1, x2, da2, masks.get("W"))
    theta = theta + _weight_term(y1, dq1, y2, dq2, masks.get("R"))
    eye = torch.eye(twin.n_out, dtype=theta.dtype)
    m_out = masks.get("W_out")
    if m_out is None:
        return theta + (tr1 @ tr2.T + 1.0)[:, :, None, None] * eye
    k_out = torch.einsum("nh,ch,mh->nmc", tr1, m_out.to(tr1.dtype), tr2) + 1.0  # (n1, n2, C): [a = b] terms
    return theta + k_out[:, :, :, None] * eye
