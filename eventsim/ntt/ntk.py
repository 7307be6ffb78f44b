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
dTheta/dW). ``ntk_func`` is the generic torch.func route (vmap over samples of jacrev), used for the
GRU twin and as the test oracle of the closed form.
"""
from __future__ import annotations

from typing import List, Mapping, Optional

import torch
from torch import Tensor

from .twins import DEFAULT_VARIANT, MLPTwin, Twin, check_variant


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
