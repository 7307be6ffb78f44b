"""EGRU gradients against torch autograd in float64 (the ``torch`` extra): a straightforward dense
torch implementation of the EvNN equations is the oracle for single layers (with and without a
recurrent mask), a two-layer classifier with the activity regulariser, and the MSE loss."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from eventsim.egru import EGRUClassifier, EGRUConfig, EGRULayer  # noqa: E402
from test_egru import CASES, _grads_external, random_layer, random_state  # noqa: E402



@pytest.fixture(autouse=True)
def _float64_default():
    """float64 as torch's default inside this module only; the previous default comes back after each test."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v, gamma, width):
        ctx.save_for_backward(v)
        ctx.gamma, ctx.width = gamma, width
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        return g * ctx.gamma * torch.clamp(1.0 - v.abs() / ctx.width, min=0.0), None, None


def torch_egru(x, W, R, b_x, b_r, thr, y, c, tr, gamma, width, alpha=0.9):
    """Straightforward torch implementation of the EvNN equations (all units dense)."""
    H = R.shape[0]
    ys, trs, os = [], [], []
    for t in range(x.shape[1]):
        a = x[:, t] @ W + b_x
        q = y @ R + b_r
        z = torch.sigmoid(a[:, :H] + q[:, :H])
        r = torch.sigmoid(a[:, H:2 * H] + q[:, H:2 * H])
        g = torch.tanh(a[:, 2 * H:] + r * q[:, 2 * H:])
        chat = z * c + (1 - z) * g
        o = _Spike.apply(chat - thr, gamma, width)
        y = o * chat
        c = chat - o * thr
        tr = alpha * tr + (1 - alpha) * y
        ys.append(y)
        trs.append(tr)
        os.append(o)
    return torch.stack(ys, 1), torch.stack(trs, 1), torch.stack(os, 1)


@pytest.mark.parametrize("B,T,I,H,width,seed", CASES + [(3, 9, 3, 12, 2.0, 7)])
def test_gradients_match_torch_autograd(B, T, I, H, width, seed):
    layer = random_layer(I, H, seed, width=width)
    x = np.random.default_rng(seed + 10).normal(size=(B, T, I))
    st = random_state(B, H, seed + 20)
    dy, dtr, do = _grads_external(B, T, H, seed + 30)
    run = layer.forward(x, st)
    ours = layer.backward(run, dy, dtr, do, need_dx=True, need_dstate=True)

    names = ["W", "R", "b_x", "b_r", "thr"]
    tp = {k: torch.tensor(layer.params[k], requires_grad=True) for k in names}
    tx = torch.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in st]
    y, tr, o = torch_egru(tx, *(tp[k] for k in names), *ts, gamma=0.7, width=width)
    np.testing.assert_allclose(run.y, y.detach().numpy(), atol=1e-12)
    loss = (y * torch.tensor(dy)).sum() + (tr * torch.tensor(dtr)).sum() + (o * torch.tensor(do)).sum()
    loss.backward()
    for k in names:
        np.testing.assert_allclose(ours.grads[k], tp[k].grad.numpy(), rtol=1e-10, atol=1e-11, err_msg=k)
    np.testing.assert_allclose(ours.dx, tx.grad.numpy(), rtol=1e-10, atol=1e-11)
    for a, t_ in zip(ours.dstate, ts):
        np.testing.assert_allclose(a, t_.grad.numpy(), rtol=1e-10, atol=1e-11)


def test_masked_recurrent_weights_match_torch_and_keep_sparsity():
    B, T, I, H = 3, 8, 3, 10
    layer = random_layer(I, H, 5, width=0.5, mask_density=0.3, r_scale=1.2)
    m = layer.masks["R"]
    assert np.all(layer.params["R"][~m] == 0) and 0.2 < m.mean() < 0.4
    x = np.random.default_rng(1).normal(size=(B, T, I))
    dy, dtr, do = _grads_external(B, T, H, 2)
    run = layer.forward(x)
    assert run.csr is not None and run.activity > 0.05
    g = layer.backward(run, dy, dtr, do, need_dx=True)
    # same model with a dense R that happens to contain zeros: same forward, same gradient on the mask
    dense_layer = EGRULayer(I, H, layer.config, params=layer.params)
    run2 = dense_layer.forward(x)
    np.testing.assert_array_equal(run.y, run2.y)
    g2 = dense_layer.backward(run2, dy, dtr, do, need_dx=True)
    np.testing.assert_allclose(g.grads["R"][m], g2.grads["R"][m], rtol=1e-12, atol=1e-13)
    assert np.all(g.grads["R"][~m] == 0) and np.any(g2.grads["R"][~m] != 0)
    for k in ("W", "b_x", "b_r", "thr"):
        np.testing.assert_allclose(g.grads[k], g2.grads[k], rtol=1e-12, atol=1e-13)
    # CSR path does fewer recurrent MACs: only the stored entries of the emitting rows
    assert run.rec_macs < 0.5 * run2.rec_macs
    # torch with the masked matrix
    names = ["W", "R", "b_x", "b_r", "thr"]
    tp = {k: torch.tensor(layer.params[k], requires_grad=True) for k in names}
    z = torch.zeros(B, H)
    y, tr, o = torch_egru(torch.tensor(x), *(tp[k] for k in names), z, z, z, gamma=0.7, width=0.5)
    ((y * torch.tensor(dy)).sum() + (tr * torch.tensor(dtr)).sum() + (o * torch.tensor(do)).sum()).backward()
    np.testing.assert_allclose(g.grads["R"], tp["R"].grad.numpy() * m, rtol=1e-10, atol=1e-11)



def test_two_layer_classifier_gradients_match_torch():
    B, T, I, Hs, C = 4, 6, 3, [7, 5], 3
    model = EGRUClassifier(I, Hs, C, readout="mean", config=EGRUConfig(width=0.6), seed=3)
    rng = np.random.default_rng(4)
    for l in model.egru.layers:  # stronger weights so that both layers emit
        l.params["W"][...] = rng.normal(0, 1.0, l.params["W"].shape)
        l.params["R"][...] = rng.normal(0, 0.6, l.params["R"].shape)
        l.params["b_x"][...] = rng.normal(0, 0.5, l.params["b_x"].shape)
        l.params["thr"][...] = rng.uniform(0.05, 0.5, l.params["thr"].shape)
    x = rng.normal(size=(B, T, I))
    labels = rng.integers(0, C, B)
    loss, grads, info = model.loss_and_grad(x, labels, activity_reg=0.5, activity_target=0.05)
    assert all(a > 0.1 for a in info["activity"])
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    h = torch.tensor(x)
    reg = 0.0
    for l in range(2):
        z = torch.zeros(B, Hs[l])
        y, tr, o = torch_egru(h, *(tp[f"l{l}.{k}"] for k in ("W", "R", "b_x", "b_r", "thr")), z, z, z,
                              gamma=0.7, width=0.6)
        reg = reg + 0.5 * torch.clamp(o.mean() - 0.05, min=0) ** 2
        h = y
    logits = tr.mean(1) @ tp["out.W"].T + tp["out.b"]
    tl = torch.nn.functional.cross_entropy(logits, torch.tensor(labels)) + reg
    tl.backward()
    assert abs(loss - tl.item()) < 1e-12
    for k in grads:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)
    # the MAC bookkeeping: sparse forward did less recurrent work than a dense GRU
    assert info["fwd_macs"]["rec"] < info["fwd_macs"]["rec_dense"]


def test_mse_loss_gradient_matches_torch():
    B, T, I, H = 3, 5, 2, 6
    model = EGRUClassifier(I, H, 1, loss="mse", seed=1)
    lay = model.egru.layers[0]
    rng = np.random.default_rng(2)
    lay.params["W"][...] = rng.normal(0, 1.0, lay.params["W"].shape)
    lay.params["thr"][...] = 0.1
    x = rng.normal(size=(B, T, I))
    t = rng.normal(size=B)
    loss, grads, _ = model.loss_and_grad(x, t)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    z = torch.zeros(B, H)
    _, tr, _ = torch_egru(torch.tensor(x), *(tp[f"l0.{k}"] for k in ("W", "R", "b_x", "b_r", "thr")), z, z, z,
                          gamma=0.7, width=1.0)
    out = tr[:, -1] @ tp["out.W"].T + tp["out.b"]
    tl = ((out[:, 0] - torch.tensor(t)) ** 2).mean()
    tl.backward()
    assert abs(loss - tl.item()) < 1e-12
    for k in grads:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
